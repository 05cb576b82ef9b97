"""A decomposition prepared for live use, without Streamlit or pictures.

* `composite(dec, view)`: f0 + sum_S w_S Delta f_S + w_r r (render.compose_feature).
* `Mixer`: `render(view)` composes the view's feature, runs the tail once and computes the live
  metrics (PSNR on the players, the share of component strength switched on, the additivity
  error of the current mix: method.weighted). What it computes on first use (patterns,
  build-ups) is memoised in a store the caller may bound (the explorer passes a byte-bounded
  LRU); `nbytes` is what the mixer holds.
The pictures of a mix (PNG stills, cards) are made and kept by the front end (ui.mixer_pictures).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, MutableMapping, Sequence

import numpy as np
import torch

from regionprims.method import metrics as M
from regionprims.method.buildup import BuildUp, buildup
from regionprims.method.decomposition import Decomposition
from regionprims.method.ranking import component_norms
from regionprims.method.regions import patch_masks
from regionprims.method.render import compose_feature, pattern_energy, regional_patterns, render_features, to_rgb
from regionprims.method.weighted import WeightedAdditivity
from regionprims.mix.state import ViewState


def composite(dec: Decomposition, view: ViewState) -> torch.Tensor:
    """The feature of the current mix: f0 + sum_S w_S Delta f_S + w_r r."""
    w = view.effective(dec.components.shape[0])
    return compose_feature(dec.baseline, dec.components, dec.residual, w, view.residual)


@dataclass
class RenderedMix:
    """One view of the mix through the generator's tail, with what the page shows beside it."""

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


def _memo_value_bytes(value: Any) -> int:
    """Bytes of a memo entry: a tensor, bytes, or an object made of them (a BuildUp)."""
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return _tensor_bytes(value)
    fields = vars(value).values() if hasattr(value, "__dict__") else value if isinstance(value, (list, tuple)) else ()
    return sum(_memo_value_bytes(v) for v in fields)


class Mixer:
    """A decomposition prepared for live rendering. Everything per-decomposition is computed
    once here (norms, the baseline image; the Gram matrix of the live additivity error on first
    use).

    `memo` holds what is computed on first use (patterns per row, build-ups); any mapping with
    get and item assignment will do. Entries must be recomputable: a bounded memo (the
    explorer's byte-bounded LRU) may drop them at any time. By default it is a plain dict, fine
    for a mixer that lives for one export."""

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
        self._additivity = WeightedAdditivity(dec.components, dec.minimal)
        self._store: MutableMapping = {} if memo is None else memo

    @property
    def nbytes(self) -> int:
        """Bytes this mixer keeps alive: the decomposition's tensors, its own arrays and the
        memo (a bounded memo reports its own total; the generator is shared and not counted)."""
        d = self.dec
        own = _tensor_bytes(d.z, d.image, d.feature, d.baseline, d.subsets, d.minimal, d.components, d.residual,
                            d.player_masks, d.fit_loss, self.norms, self.player_mask, self.x_rgb,
                            self.baseline_image, self.baseline_rgb)
        memo = getattr(self._store, "nbytes", None)
        if not isinstance(memo, int):
            memo = sum(_memo_value_bytes(v) for v in list(self._store.values()))
        return own + memo + self._additivity.nbytes

    def additivity(self, w: torch.Tensor) -> float:
        """The additivity error of component weights `w` [rows] (method.weighted)."""
        return self._additivity.error(w)

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

    @torch.no_grad()
    def render(self, view: ViewState) -> RenderedMix:
        """The view's mix through the tail, its difference from x and its live metrics."""
        w = view.effective(self.rows)
        feat = compose_feature(self.dec.baseline, self.dec.components, self.dec.residual, w, view.residual)
        return self.rendered(view, render_features(self.gen, self.ctx, feat.unsqueeze(0))[0], w)

    def rendered(self, view: ViewState, image: torch.Tensor, w: torch.Tensor) -> RenderedMix:
        """A rendered mix `image` of `view` (effective weights `w`) with its difference from x and
        its live metrics: what the page shows beside it (render, and a transplant's render)."""
        diff = (np.abs(image.numpy() - self._x) * 0.5).mean(0)
        return RenderedMix(image=image, rgb=to_rgb(image), diff=diff, metrics=self.live_metrics(view, image, w))

    # -- per-decomposition analyses (computed on first use, then kept) ---------------------
    def _memo(self, key: object, compute: Callable[[], object]):
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
        return self._memo(("buildup", k_max, with_residual),
                          lambda: buildup(self.gen, self.ctx, self.dec, k_max, with_residual))
