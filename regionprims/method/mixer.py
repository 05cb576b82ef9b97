"""The explorer's mixer, without Streamlit or pictures: the state of the mix, its presets, and a
decomposition prepared for live use.

* `ViewState`: a weight per component (subset row; default 1), which components are on (mute =
  off), which are soloed, and the residual's weight. Presets: all, none, top-k, only region i,
  everything but region i. The effective weight of row S is w_S if S is on and (nothing is
  soloed or S is soloed), else 0.
* `composite(dec, view)`: f0 + sum_S w_S Delta f_S + w_r r (render.compose_feature).
* `Mixer`: one decomposition prepared for live use: `frame(view)` composes, runs the tail once,
  and computes the live metrics (PSNR on the players, the share of component strength switched
  on, the additivity error of the current mix, exact and fast through a Gram matrix). What it
  computes on first use (patterns, pictures, build-ups) is memoised in a store the caller may
  bound (the explorer passes a byte-bounded LRU); `nbytes` is what the mixer holds.
The pictures of a mix (PNG stills, cards) are in `regionprims.pictures`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, MutableMapping, Sequence

import numpy as np
import torch

from regionprims.errors import UserError
from regionprims.method import metrics as M
from regionprims.method.decomposition import Decomposition
from regionprims.method.interactions import subset_sums
from regionprims.method.ranking import component_norms
from regionprims.method.regions import patch_masks
from regionprims.method.buildup import BuildUp, buildup
from regionprims.method.render import compose_feature, pattern_energy, regional_patterns, render_features, to_rgb

W_MIN, W_MAX = -1.0, 2.0          # component weight slider range
R_MIN, R_MAX = -1.0, 2.0          # residual weight slider range
GRAM_MAX_PLAYERS = 10             # exact live additivity through a 2^n x 2^n Gram matrix up to here


# ---------------------------------------------------------------------------------- state

@dataclass(frozen=True)
class ViewState:
    """The mixer. `weights` holds only rows whose weight is not 1; `off` the muted rows."""

    weights: Mapping[int, float] = field(default_factory=dict)
    off: frozenset = frozenset()
    solo: frozenset = frozenset()
    residual: float = 1.0

    def weight(self, row: int) -> float:
        return float(self.weights.get(row, 1.0))

    def is_on(self, row: int) -> bool:
        return row not in self.off

    def is_default(self) -> bool:
        return not self.weights and not self.off and not self.solo and self.residual == 1.0

    def effective(self, rows: int) -> torch.Tensor:
        """Effective weights [rows] (row 0, the baseline, gets 0: compose_feature ignores it)."""
        w = torch.ones(rows)
        for r, v in self.weights.items():
            if 0 < r < rows:
                w[r] = v
        if self.off:
            idx = [r for r in self.off if 0 < r < rows]
            w[idx] = 0.0
        if self.solo:
            keep = torch.zeros(rows, dtype=torch.bool)
            keep[[r for r in self.solo if 0 < r < rows]] = True
            w[~keep] = 0.0
        w[0] = 0.0
        return w

    def with_weight(self, row: int, value: float) -> "ViewState":
        value = float(min(W_MAX, max(W_MIN, value)))
        weights = dict(self.weights)
        if value == 1.0:
            weights.pop(row, None)
        else:
            weights[row] = value
        return replace(self, weights=weights)

    def with_on(self, row: int, on: bool) -> "ViewState":
        return replace(self, off=self.off - {row} if on else self.off | {row})

    def mute(self, row: int) -> "ViewState":
        return self.with_on(row, False)

    def with_solo(self, row: int, solo: bool) -> "ViewState":
        return replace(self, solo=self.solo | {row} if solo else self.solo - {row})

    def with_residual(self, value: float) -> "ViewState":
        return replace(self, residual=float(min(R_MAX, max(R_MIN, value))))


# rows of at most 30 digits (int() refuses texts past 4300 digits; no row is that large), values
# of at most 40 characters: anything longer is a syntax problem, not a traceback
_WEIGHT_ITEM = re.compile(r"\s*(\d{1,30}|\*)\s*:\s*([-+0-9.eE]{1,40})\s*")


@dataclass(frozen=True)
class WeightItem:
    """One item of a component-weight list: `text` as written; the subset `row` (None for '*',
    every row not listed, or when unreadable); the weight as written and as a number; `problem`
    "" when usable, else 'syntax' (not ROW:W), 'row' (outside 1..2**n-1) or 'value' (not finite)."""

    text: str
    row: int | None = None
    value_text: str = ""
    value: float = math.nan
    problem: str = ""


def parse_row_weights(text: str, n: int, star: bool = False) -> list[WeightItem]:
    """The one grammar of a list of component weights, 'ROW:W,ROW:W' (with `star`, '*:W' sets
    every row not listed): `regionprims export --weights` and the explorer's URL (w=). Never
    raises: every item comes back, in order, with its problem if it has one; each caller words
    the problems its own way (the CLI stops at the first, the URL reports each)."""
    out: list[WeightItem] = []
    for item in text.split(","):
        if not item.strip():
            continue
        m = _WEIGHT_ITEM.fullmatch(item)
        if not m or (m.group(1) == "*" and not star):
            out.append(WeightItem(item, problem="syntax"))
            continue
        row = None if m.group(1) == "*" else int(m.group(1))
        try:
            value = float(m.group(2))
        except ValueError:
            value = math.nan
        problem = ("row" if row is not None and not 1 <= row < 2 ** n
                   else "value" if not math.isfinite(value) else "")
        out.append(WeightItem(item, row, m.group(2), value, problem))
    return out


def _rows(n: int) -> range:
    return range(1, 2 ** n)


def preset(view: ViewState, name: str, n: int, ranking: Sequence[int] = (), k: int = 20,
           region: int = 0) -> ViewState:
    """all | none | top-k | only-region | but-region. Component weights go back to 1 and solo is
    cleared; the residual weight is kept. Regions are player indices 0..n-1.
    `only-region` keeps the components whose region set contains region i: together they
    rebuild u({i}) exactly (f0 + sum_{S∋i} Df_S). `but-region` keeps all the others."""
    rows = _rows(n)
    if name == "all":
        off: Iterable[int] = ()
    elif name == "none":
        off = rows
    elif name == "top-k":
        on = set(list(ranking)[:max(0, int(k))])
        off = [r for r in rows if r not in on]
    elif name in ("only-region", "but-region"):
        if not 0 <= region < n:
            raise UserError(f"region must be a player index 0..{n - 1}, got {region}")
        has = [(r >> region) & 1 == 1 for r in rows]
        off = [r for r, h in zip(rows, has) if (not h if name == "only-region" else h)]
    else:
        raise UserError(f"unknown preset '{name}': use all, none, top-k, only-region or but-region")
    return ViewState(weights={}, off=frozenset(off), solo=frozenset(), residual=view.residual)


def composite(dec: Decomposition, view: ViewState) -> torch.Tensor:
    """The feature of the current mix: f0 + sum_S w_S Delta f_S + w_r r."""
    w = view.effective(dec.components.shape[0])
    return compose_feature(dec.baseline, dec.components, dec.residual, w, view.residual)


def _memo_value_bytes(value: Any) -> int:
    """Bytes of a memo entry: a tensor, bytes, or an object made of them (a BuildUp)."""
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return _tensor_bytes(value)
    fields = vars(value).values() if hasattr(value, "__dict__") else value if isinstance(value, (list, tuple)) else ()
    return sum(_memo_value_bytes(v) for v in fields)


@dataclass
class Frame:
    image: torch.Tensor            # [3, H, W] in [-1, 1]
    rgb: np.ndarray                # uint8 [H, W, 3]
    diff: np.ndarray               # float [H, W]: mean |composite - x| over RGB, [0, 1] scale
    metrics: dict


def _tensor_bytes(*values: Any) -> int:
    out = 0
    for v in values:
        if isinstance(v, torch.Tensor):
            out += v.numel() * v.element_size()
        elif isinstance(v, np.ndarray):
            out += v.nbytes
    return out


class Mixer:
    """A decomposition prepared for live rendering. Everything per-decomposition is computed
    once here (norms, the Gram matrix for the live additivity error, the baseline image).

    `memo` holds what is computed on first use (patterns per row, card and still PNGs,
    build-ups); any mapping with get and item assignment will do. Entries must be recomputable:
    a bounded memo (the explorer's byte-bounded LRU) may drop them at any time. By default it
    is a plain dict, fine for a mixer that lives for one export."""

    def __init__(self, gen, dec: Decomposition, ctx, memo: MutableMapping | None = None):
        self.gen, self.dec, self.ctx = gen, dec, ctx
        self.rows = int(dec.components.shape[0])
        self.n = dec.n
        self.norms = component_norms(dec.components)
        self.total_strength = float(self.norms[1:].sum())
        self.player_mask = dec.players_mask
        self.x_rgb = to_rgb(dec.image)
        self.baseline_image = render_features(gen, ctx, dec.baseline.unsqueeze(0))[0]
        self.baseline_rgb = to_rgb(self.baseline_image)
        self._x = dec.image.numpy()
        self._pmask = self.player_mask.numpy()
        self._norms = self.norms.numpy()
        self._gram: np.ndarray | None = None
        self._den: np.ndarray | None = None
        self._additivity_memo: dict = {}
        self._store: MutableMapping = {} if memo is None else memo

    @property
    def nbytes(self) -> int:
        """Bytes this mixer keeps alive: the decomposition's tensors, its own arrays and the
        memo (a bounded memo reports its own total; the generator is shared and not counted)."""
        d = self.dec
        own = _tensor_bytes(d.z, d.image, d.feature, d.baseline, d.subsets, d.minimal, d.components, d.residual,
                            d.player_masks, d.fit_loss, self.norms, self.player_mask, self.x_rgb,
                            self.baseline_image, self.baseline_rgb, self._gram, self._den)
        memo = getattr(self._store, "nbytes", None)
        if not isinstance(memo, int):
            memo = sum(_memo_value_bytes(v) for v in list(self._store.values()))
        return own + memo + 8 * len(self._additivity_memo)

    def _prepare_gram(self) -> None:
        c = self.dec.components.flatten(1).to(torch.float64)
        c[0] = 0.0
        self._gram = (c @ c.T).numpy()
        u = self.dec.minimal.flatten(1).to(torch.float64)
        self._den = (u[1:] - u[0]).norm(dim=1).clamp_min(M.EPS).numpy()

    def additivity(self, w: torch.Tensor) -> float:
        r"""Mean over T ≠ ∅ of ||f0 + sum_{S∩T≠∅} w_S Df_S - u(T)|| / ||u(T) - f0||. With 0/1
        weights this is metrics.additivity_error of the kept set. Exact and fast: the OR
        reconstruction is an identity, so the error of T is the norm of
        sum_{S∩T≠∅} (1 - w_S) Df_S, a quadratic form in the Gram matrix G of the components;
        with H = diag(v) G diag(v), v = 1 - w, the sums over S∩T≠∅ are (all S) minus (S ⊆ N\T),
        i.e. subset-sum transforms: O(n 4^n) instead of a 2^n x 2^n x 2^n product."""
        w = w.to(torch.float64)
        if self.n > GRAM_MAX_PLAYERS:
            if not bool(((w == 0) | (w == 1))[1:].all()):
                return float("nan")
            keep = tuple(int(r) for r in torch.nonzero(w[1:] == 1).squeeze(1) + 1)
            if keep not in self._additivity_memo:
                self._additivity_memo[keep] = M.additivity_error(self.dec.components, self.dec.minimal, keep)[0]
            return self._additivity_memo[keep]
        if self._gram is None:
            self._prepare_gram()
        v = 1.0 - w.numpy()
        v[0] = 0.0
        h = v[:, None] * self._gram * v[None, :]                        # [2^n (S), 2^n (S')]
        ah = h.sum(0, keepdims=True) - subset_sums(h)[::-1]     # row T: sum over S∩T≠∅
        # err^2(T) = sum_{S'∩T≠∅} ah[T, S'] = total_T - sum_{S' ⊆ N\T} ah[T, S']
        inner = subset_sums(ah.T)[::-1]                        # [U, T]: sum over S' ⊆ N\U
        sq = ah.sum(1) - np.diagonal(inner)
        return float((np.sqrt(np.clip(sq[1:], 0.0, None)) / self._den).mean())

    def live_metrics(self, view: ViewState, image: torch.Tensor, w: torch.Tensor) -> dict:
        """The metrics of the current mix (numpy: see interactions.subset_sums for why)."""
        on = (w[1:] != 0).numpy()
        err = np.square((image.numpy() - self._x) * 0.5).sum(0)        # [H, W]
        mse = float((err * self._pmask).sum() / (3 * max(self._pmask.sum(), 1.0)))
        full = float(err.mean() / 3)
        strength = float(self._norms[1:][on].sum()) / self.total_strength if self.total_strength > 0 else 0.0
        return {"player_psnr": M.psnr(mse), "player_mse": mse, "image_psnr": M.psnr(full),
                "components_on": int(on.sum()), "components": self.rows - 1,
                "strength_on": strength, "additivity_error": self.additivity(w),
                "residual_weight": view.residual}

    # -- per-decomposition analyses (computed on first use, then kept) ---------------------
    def memo(self, key: object, compute: Callable[[], object]):
        """The value stored under `key`, computed by `compute()` on first use (and again if a
        bounded memo has dropped it)."""
        value = self._store.get(key)
        if value is None:
            value = compute()
            self._store[key] = value
        return value

    def patterns(self, rows: Sequence[int], kind: str = "isolated") -> torch.Tensor:
        """Regional patterns [len(rows), 3, H, W] of the given component rows (memoised per row)."""
        rows = [int(r) for r in rows]
        if not rows:
            return torch.empty(0, 3, *self.dec.image.shape[-2:])
        have = {r: self._store.get(("pattern", kind, r)) for r in dict.fromkeys(rows)}
        todo = [r for r, v in have.items() if v is None]
        if todo:
            out = regional_patterns(self.gen, self.ctx, self.dec.feature, self.dec.baseline,
                                    self.dec.components, todo, kind)
            for r, pattern in zip(todo, out):
                have[r] = pattern.clone()       # its own storage: a memo entry must not pin the batch
                self._store[("pattern", kind, r)] = have[r]
        return torch.stack([have[r] for r in rows])

    def patch_energy(self, rows: Sequence[int]) -> np.ndarray:
        """[len(rows), grid patches]: share of each component's leave-one-out pattern energy
        in each patch of the grid (rows sum to 1)."""
        lay = self.dec.spec.layout
        energy = pattern_energy(self.patterns(rows, "loo"))                  # [K, H, W]
        masks = patch_masks(lay.rows, lay.cols, *energy.shape[-2:])          # [P, H, W]
        per = torch.einsum("khw,phw->kp", energy, masks)
        return (per / per.sum(1, keepdim=True).clamp_min(M.EPS)).numpy()

    def leakage(self, rows: Sequence[int]) -> np.ndarray:
        """Share of each component's leave-one-out pattern energy outside its own regions."""
        energy = pattern_energy(self.patterns(rows, "loo"))
        return M.leakage(energy, list(rows), self.dec.subsets, self.dec.player_masks).numpy()

    def additivity_curve(self, ks: Sequence[int]) -> list[float]:
        """Additivity error with only the top-k components kept, for each k (exact)."""
        out = []
        for k in ks:
            w = torch.zeros(self.rows)
            w[list(self.dec.ranking[:k])] = 1.0
            out.append(self.additivity(w))
        return out

    def buildup(self, k_max: int = 20, with_residual: bool = False) -> BuildUp:
        """buildup.buildup of this decomposition (memoised per k_max and residual choice)."""
        return self.memo(("buildup", k_max, with_residual),
                          lambda: buildup(self.gen, self.ctx, self.dec, k_max, with_residual))

    @torch.no_grad()
    def frame(self, view: ViewState) -> Frame:
        w = view.effective(self.rows)
        feat = compose_feature(self.dec.baseline, self.dec.components, self.dec.residual, w, view.residual)
        image = render_features(self.gen, self.ctx, feat.unsqueeze(0))[0]
        diff = (np.abs(image.numpy() - self._x) * 0.5).mean(0)
        return Frame(image=image, rgb=to_rgb(image), diff=diff, metrics=self.live_metrics(view, image, w))


