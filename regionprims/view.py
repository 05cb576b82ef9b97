"""What the explorer shows, without Streamlit: the mixer state, the live composite and its
metrics, the pictures, and the URL encoding of the whole state.

* `ViewState`: a weight per component (subset row; default 1), which components are on (mute =
  off), which are soloed, and the residual's weight. Presets: all, none, top-k, only region i,
  everything but region i. The effective weight of row S is w_S if S is on and (nothing is
  soloed or S is soloed), else 0.
* `composite(dec, view)`: f0 + sum_S w_S Delta f_S + w_r r (render.compose_feature).
* `Mixer`: one decomposition prepared for live use: `frame(view)` composes, runs the tail once,
  and computes the live metrics (PSNR on the players, the share of component strength switched
  on, the additivity error of the current mix, exact and fast through a Gram matrix).
* Pictures: nearest-neighbour upscaling, grid overlays, difference heatmaps, component cards,
  PNG encoding.
* URL state: `encode_state` / `decode_state`. Only non-default values are written; every
  malformed value is reported (one message each) and replaced by its default, never raised.
"""
from __future__ import annotations

import base64
import binascii
import io
import math
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from regionprims.method import metrics as M
from regionprims.method.decomposition import Decomposition
from regionprims.errors import UserError
from regionprims.method.ranking import component_norms
from regionprims.method.regions import PAPER_PLAYERS, grid_edges, parse_layout, parse_players, patch_masks, subset_members
from regionprims.method.render import compose_feature, pattern_energy, render_features, to_rgb

W_MIN, W_MAX = -1.0, 2.0          # component weight slider range
R_MIN, R_MAX = -1.0, 2.0          # residual weight slider range
GRAM_MAX_PLAYERS = 10             # exact live additivity through a 2^n x 2^n Gram matrix up to here
DIFF_VMAX = 0.5                   # top of the difference heatmap's scale: mean |mix - x|, [0, 1] pixels


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


# ---------------------------------------------------------------------------------- live

def _subset_sums(x: np.ndarray, n: int) -> np.ndarray:
    """Z(U) = sum_{S ⊆ U} x(S) over axis 0 (2^n rows in binary counting order), on a copy.
    numpy on purpose: these small ops run single-threaded, so a busy machine does not stall
    them the way OpenMP's thread hand-offs do (measured 0.4 ms against 200 ms under load)."""
    z = np.array(x, copy=True)
    cube = z.reshape([2] * n + list(z.shape[1:]))
    for a in range(n):
        hi = [slice(None)] * a + [1]
        lo = [slice(None)] * a + [0]
        cube[tuple(hi)] += cube[tuple(lo)]
    return z


@dataclass
class Frame:
    image: torch.Tensor            # [3, H, W] in [-1, 1]
    rgb: np.ndarray                # uint8 [H, W, 3]
    diff: np.ndarray               # float [H, W]: mean |composite - x| over RGB, [0, 1] scale
    metrics: dict


class Mixer:
    """A decomposition prepared for live rendering. Everything per-decomposition is computed
    once here (norms, the Gram matrix for the live additivity error, the baseline image)."""

    def __init__(self, gen, dec: Decomposition, ctx):
        self.gen, self.dec, self.ctx = gen, dec, ctx
        self.rows = int(dec.components.shape[0])
        self.n = dec.n
        self.norms = component_norms(dec.components)
        self.total_strength = float(self.norms[1:].sum())
        self.player_mask = dec.player_masks.amax(0)
        self.x_rgb = to_rgb(dec.image)
        self.baseline_image = render_features(gen, ctx, dec.baseline.unsqueeze(0))[0]
        self.baseline_rgb = to_rgb(self.baseline_image)
        self._x = dec.image.numpy()
        self._pmask = self.player_mask.numpy()
        self._norms = self.norms.numpy()
        self._gram: np.ndarray | None = None
        self._den: np.ndarray | None = None
        self._additivity_memo: dict = {}
        self._store: dict = {}

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
        ah = h.sum(0, keepdims=True) - _subset_sums(h, self.n)[::-1]     # row T: sum over S∩T≠∅
        # err^2(T) = sum_{S'∩T≠∅} ah[T, S'] = total_T - sum_{S' ⊆ N\T} ah[T, S']
        inner = _subset_sums(ah.T, self.n)[::-1]                        # [U, T]: sum over S' ⊆ N\U
        sq = ah.sum(1) - np.diagonal(inner)
        return float((np.sqrt(np.clip(sq[1:], 0.0, None)) / self._den).mean())

    def live_metrics(self, view: ViewState, image: torch.Tensor, w: torch.Tensor) -> dict:
        """The metrics of the current mix (numpy: see _subset_sums for why)."""
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
    def _memo(self, key, compute):
        value = self._store.get(key)
        if value is None:
            value = self._store[key] = compute()
        return value

    def patterns(self, rows: Sequence[int], kind: str = "isolated") -> torch.Tensor:
        """Regional patterns [len(rows), 3, H, W] of the given component rows (memoised per row)."""
        from regionprims.method.render import regional_patterns
        rows = [int(r) for r in rows]
        store = self._store.setdefault(("patterns", kind), {})
        todo = [r for r in rows if r not in store]
        if todo:
            out = regional_patterns(self.gen, self.ctx, self.dec.feature, self.dec.baseline,
                                    self.dec.components, todo, kind)
            store.update(zip(todo, out))
        if not rows:
            return torch.empty(0, 3, *self.dec.image.shape[-2:])
        return torch.stack([store[r] for r in rows])

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

    def buildup(self, k_max: int = 20, with_residual: bool = False):
        from regionprims.method.buildup import buildup
        return self._memo(("buildup", k_max, with_residual),
                          lambda: buildup(self.gen, self.ctx, self.dec, k_max, with_residual))

    def card(self, row: int, factor: int | None = None) -> bytes:
        """PNG of one component's card (region set on the grid | regional pattern)."""
        lay = self.dec.spec.layout
        f = factor or scale_for(self.dec.image.shape[-1], 144)
        return self._memo(("card", row, f), lambda: png_bytes(region_card(
            self.x_rgb, self.patterns([row])[0], subset_members(row, lay.players), lay.rows, lay.cols, f)))

    def still(self, name: str) -> bytes:
        """PNG of the original (grid, numbered patches, players outlined) or the baseline image."""
        lay = self.dec.spec.layout
        f = scale_for(self.dec.image.shape[-1])

        def make():
            if name == "original":
                rgb = grid_overlay(upscale(self.x_rgb, f), lay.rows, lay.cols, players=lay.players,
                                   numbers=True, dim_others=len(lay.players) < lay.rows * lay.cols)
            else:
                rgb = grid_overlay(upscale(self.baseline_rgb, f), lay.rows, lay.cols)
            return png_bytes(rgb)
        return self._memo(("still", name), make)

    def frame_pngs(self, frame: "Frame", vmax: float = DIFF_VMAX) -> tuple[bytes, bytes]:
        """PNGs of the current composite and of its difference heatmap against x."""
        lay = self.dec.spec.layout
        f = scale_for(self.dec.image.shape[-1])
        mix = grid_overlay(upscale(frame.rgb, f), lay.rows, lay.cols)
        diff = grid_overlay(upscale(heatmap(frame.diff, vmax), f), lay.rows, lay.cols)
        return png_bytes(mix), png_bytes(diff)

    @torch.no_grad()
    def frame(self, view: ViewState) -> Frame:
        w = view.effective(self.rows)
        feat = compose_feature(self.dec.baseline, self.dec.components, self.dec.residual, w, view.residual)
        image = render_features(self.gen, self.ctx, feat.unsqueeze(0))[0]
        diff = (np.abs(image.numpy() - self._x) * 0.5).mean(0)
        return Frame(image=image, rgb=to_rgb(image), diff=diff, metrics=self.live_metrics(view, image, w))


# ---------------------------------------------------------------------------------- pictures

# Perceptually ordered dark-to-bright map (anchors sampled from matplotlib's "magma").
_MAGMA = np.array([[0, 0, 4], [28, 16, 68], [79, 18, 123], [129, 37, 129], [181, 54, 122],
                   [229, 80, 100], [251, 135, 97], [254, 194, 135], [252, 253, 191]], dtype=np.float64)
_LUT = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_MAGMA)), _MAGMA[:, c])
                 for c in range(3)], 1).round().astype(np.uint8)
PLAYER_COLOUR = (255, 196, 0)


def scale_for(size: int, target: int = 384) -> int:
    """Integer nearest-neighbour factor that brings `size` px close to `target` px."""
    return max(1, round(target / size))


def upscale(rgb: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return rgb
    return np.repeat(np.repeat(rgb, factor, 0), factor, 1)


def heatmap(values: np.ndarray, vmax: float) -> np.ndarray:
    """[H, W] floats in [0, vmax] -> uint8 RGB through the magma map."""
    idx = np.clip(values / max(vmax, 1e-12), 0, 1) * 255
    return _LUT[idx.astype(np.uint8)]


# Diverging map for signed changes (ColorBrewer RdBu, blue = darker, white = none, red = brighter),
# the colours of the exported panels.
_RDBU = np.array([[33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240], [247, 247, 247],
                  [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43]], dtype=np.float64)
_DIV_LUT = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_RDBU)), _RDBU[:, c])
                     for c in range(3)], 1).round().astype(np.uint8)


def pattern_rgb(pattern: torch.Tensor, vmax: float | None = None) -> np.ndarray:
    """A regional pattern [3, H, W] (signed, image units) as its luminance change on a diverging
    map: white = no change, red = brighter, blue = darker; scaled to `vmax` (default: the
    pattern's own largest change, so that the shape of weak components shows too)."""
    p = pattern.detach().float()
    lum = (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]).numpy() * 0.5        # [0, 1] pixel scale
    scale = float(np.abs(lum).max()) if vmax is None else vmax
    t = np.clip(lum / scale, -1, 1) if scale > 0 else np.zeros_like(lum)
    return _DIV_LUT[((t + 1) * 127.5).round().astype(np.uint8)]


def _grid_lines(draw: ImageDraw.ImageDraw, size: int, rows: int, cols: int, colour, width: int = 1) -> None:
    for y in grid_edges(size, rows)[1:-1]:
        draw.line([(0, y), (size, y)], fill=colour, width=width)
    for x in grid_edges(size, cols)[1:-1]:
        draw.line([(x, 0), (x, size)], fill=colour, width=width)


@lru_cache(maxsize=8)
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:        # Pillow without FreeType
        return ImageFont.load_default()


def grid_overlay(rgb: np.ndarray, rows: int, cols: int, players: Sequence[int] = (), numbers: bool = False,
                 dim_others: bool = False, highlight: Sequence[int] = (),
                 line: tuple = (255, 255, 255, 150), outline: tuple = PLAYER_COLOUR,
                 line_width: int | None = None) -> np.ndarray:
    """Draw the patch grid on an (upscaled) image; optionally number the patches, dim the
    non-player patches and outline `highlight` patches."""
    img = Image.fromarray(np.ascontiguousarray(rgb)).convert("RGB")
    size = img.width
    ys, xs = grid_edges(img.height, rows), grid_edges(size, cols)
    if dim_others and players:
        arr = np.asarray(img).astype(np.float32)
        keep = np.zeros(arr.shape[:2], bool)
        for p in players:
            r, c = divmod(p, cols)
            keep[ys[r]:ys[r + 1], xs[c]:xs[c + 1]] = True
        arr[~keep] = arr[~keep] * 0.35 + 20
        img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img, "RGBA")
    _grid_lines(draw, size, rows, cols, line, width=line_width or max(1, size // 160))
    lw = max(2, size // 96)
    for p in highlight:
        r, c = divmod(p, cols)
        draw.rectangle([xs[c], ys[r], xs[c + 1] - 1, ys[r + 1] - 1], outline=tuple(outline[:3]) + (255,), width=lw)
    if numbers:
        side = min(ys[1] - ys[0], xs[1] - xs[0])
        font = _font(max(10, min(30, side // 4)))
        pad = max(2, side // 40)
        for p in range(rows * cols):
            r, c = divmod(p, cols)
            is_player = not players or p in players
            x0, y0 = xs[c] + pad, ys[r] + pad
            box = draw.textbbox((x0 + pad, y0), str(p), font=font)
            draw.rectangle([x0, y0, box[2] + pad, box[3] + pad], fill=(0, 0, 0, 150 if is_player else 90))
            draw.text((x0 + pad, y0), str(p), font=font,
                      fill=(255, 255, 255, 255) if is_player else (160, 160, 160, 255))
    return np.asarray(img)


def region_card(x_rgb: np.ndarray, pattern: torch.Tensor, patches: Sequence[int], rows: int, cols: int,
                factor: int) -> np.ndarray:
    """One component's card: its region set on the grid (the image dimmed outside the set, the
    set outlined) next to its regional pattern (with the same outline, so leakage shows)."""
    lw = max(2, factor // 2)      # survives the browser's nearest-neighbour downscaling
    left = grid_overlay(upscale(x_rgb, factor), rows, cols, players=patches, dim_others=True, highlight=patches,
                        line_width=lw)
    right = grid_overlay(upscale(pattern_rgb(pattern), factor), rows, cols, highlight=patches,
                         line=(110, 110, 110, 150), outline=(20, 20, 20), line_width=lw)
    gap = np.full((left.shape[0], max(2, factor), 3), 255, np.uint8)
    return np.concatenate([left, gap, right], 1)


def png_bytes(rgb: np.ndarray, compress_level: int = 1) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


# ---------------------------------------------------------------------------------- URL state

@dataclass(frozen=True)
class AppState:
    """Everything a shared URL holds. None means 'the model's default'."""

    model: str = "demo"
    class_id: int = 0
    seed: int = 0
    truncation: float | None = None
    split: str | None = None
    layout: str = "3x3"
    players: tuple[int, ...] | None = None
    steps: int | None = None
    codes: int | None = None
    view: ViewState = field(default_factory=ViewState)

    def n_players(self) -> int:
        if self.players is not None:
            return len(self.players)
        try:
            lay = parse_layout(self.layout, None, force=True)
        except UserError:
            return 0
        return lay.n if lay.players else PAPER_PLAYERS


PARAMS = ("model", "cls", "seed", "trunc", "split", "layout", "players", "steps", "codes",
          "w", "off", "solo", "r")
_IGNORED = ("embed", "embed_options")


def model_names() -> tuple[str, ...]:
    from regionprims.models.registry import model_names as names
    return names()


def model_class_names(model: str) -> tuple[str, ...]:
    """Class names of a model (built-in: without loading it)."""
    from regionprims.models.registry import model_info
    return tuple(model_info(model)["class_names"])


def model_defaults(model: str) -> tuple[float, str, tuple[str, ...]]:
    """(default truncation, default split, split points) of a model."""
    from regionprims.models.registry import model_info
    info = model_info(model)
    return float(info["default_truncation"]), info["default_split"], tuple(info["split_points"])


def _fmt_num(v: float) -> str:
    return f"{v:.4g}"


def _encode_rows(rows: Iterable[int], n: int) -> str:
    """Shortest of: '3,7,9' (the rows), 'x3,7' (every row but these), 'b<base64url bitmask>'."""
    rows = sorted(set(rows))
    everything = set(_rows(n))
    listed = ",".join(map(str, rows))
    others = "x" + ",".join(map(str, sorted(everything - set(rows))))
    bits = bytearray((2 ** n + 7) // 8)
    for r in rows:
        bits[r // 8] |= 1 << (r % 8)
    mask = "b" + base64.urlsafe_b64encode(bytes(bits)).decode().rstrip("=")
    return min((listed, others, mask), key=len)


def _decode_rows(text: str, n: int, name: str, errors: list[str]) -> frozenset:
    rows_all = set(_rows(n))
    text = text.strip()
    try:
        if text.startswith("b"):
            raw = text[1:]
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            if len(data) != (2 ** n + 7) // 8:
                raise ValueError("wrong length")
            rows = {i for i in range(2 ** n) if data[i // 8] >> (i % 8) & 1}
        else:
            neg = text.startswith("x")
            body = text[1:] if neg else text
            rows = {int(t) for t in body.split(",") if t.strip() != ""}
    except (ValueError, binascii.Error):
        errors.append(f"{name}='{text}' is not a list of component rows; ignored")
        return frozenset()
    bad = sorted(rows - rows_all)
    if bad:
        errors.append(f"{name}: component row {bad[0]} is outside 1..{2 ** n - 1} for {n} players; ignored")
        return frozenset()
    if not text.startswith("b") and text.startswith("x"):
        rows = rows_all - rows
    return frozenset(rows)


def encode_state(state: AppState) -> dict[str, str]:
    """Query parameters of a state: only what differs from the defaults."""
    out: dict[str, str] = {}
    d = AppState()
    if state.model != d.model:
        out["model"] = state.model
    names = model_class_names(state.model)
    if state.class_id != 0:
        simple = len(names) <= 50 and re.fullmatch(r"[a-z0-9_-]+", names[state.class_id] or "")
        out["cls"] = names[state.class_id] if simple else str(state.class_id)
    if state.seed != d.seed:
        out["seed"] = str(state.seed)
    t_def, s_def, _ = model_defaults(state.model)
    if state.truncation is not None and state.truncation != t_def:
        out["trunc"] = _fmt_num(state.truncation)
    if state.split is not None and state.split != s_def:
        out["split"] = state.split
    if state.layout != d.layout:
        out["layout"] = state.layout
    if state.players is not None:
        out["players"] = ",".join(map(str, state.players))
    if state.steps is not None:
        out["steps"] = str(state.steps)
    if state.codes is not None:
        out["codes"] = str(state.codes)
    v, n = state.view, state.n_players()
    if v.weights:
        out["w"] = ",".join(f"{r}:{_fmt_num(w)}" for r, w in sorted(v.weights.items()))
    if v.off and n:
        out["off"] = _encode_rows(v.off, n)
    if v.solo and n:
        out["solo"] = _encode_rows(v.solo, n)
    if v.residual != 1.0:
        out["r"] = _fmt_num(v.residual)
    return out


def _one(params: Mapping, key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return None if value is None else str(value)


def _number(text: str, name: str, lo: float, hi: float, errors: list[str]) -> float | None:
    try:
        v = float(text)
    except ValueError:
        errors.append(f"{name}='{text}' is not a number; using the default")
        return None
    if not math.isfinite(v) or not lo <= v <= hi:
        errors.append(f"{name}={text} is outside [{_fmt_num(lo)}, {_fmt_num(hi)}]; using the default")
        return None
    return v


def _integer(text: str, name: str, lo: int, hi: int, errors: list[str]) -> int | None:
    if not re.fullmatch(r"\s*\d+\s*", text):
        errors.append(f"{name}='{text}' is not a whole number; using the default")
        return None
    v = int(text)
    if not lo <= v <= hi:
        errors.append(f"{name}={v} is outside {lo}..{hi}; using the default")
        return None
    return v


def decode_state(params: Mapping) -> tuple[AppState, list[str]]:
    """AppState from query parameters (str or list of str values). Never raises: each malformed
    value gives one message and its default."""
    from regionprims.models.classes import resolve_class
    from regionprims.pipeline import MAX_SEED
    errors: list[str] = []
    kw: dict = {}
    for key in params:
        if key not in PARAMS and key not in _IGNORED:
            errors.append(f"unknown parameter '{key}' ignored")

    model = _one(params, "model")
    if model is not None:
        key = model.strip() if model.strip() in model_names() else model.strip().lower()
        if key in model_names():
            kw["model"] = key
        else:
            errors.append(f"model='{model}' is unknown (known: {', '.join(model_names())}); using demo")
    mdl = kw.get("model", "demo")
    names = model_class_names(mdl)
    t_def, s_def, splits = model_defaults(mdl)

    cls = _one(params, "cls")
    if cls is not None:
        try:
            kw["class_id"] = resolve_class(cls, names)
        except UserError as exc:
            errors.append(f"cls: {exc}; using {names[0]}")
    seed = _one(params, "seed")
    if seed is not None:
        v = _integer(seed, "seed", 0, MAX_SEED, errors)
        if v is not None:
            kw["seed"] = v
    trunc = _one(params, "trunc")
    if trunc is not None:
        v = _number(trunc, "trunc", 0.0, 1.0, errors)
        if v is not None and v == 0.0:
            errors.append("trunc=0 is outside (0, 1]; using the default")
        elif v is not None:
            kw["truncation"] = v
    split = _one(params, "split")
    if split is not None:
        if split in splits:
            kw["split"] = split
        else:
            errors.append(f"split='{split}' is not a split point of {mdl} ({', '.join(splits)}); using {s_def}")
    layout = _one(params, "layout")
    if layout is not None:
        try:
            kw["layout"] = parse_layout(layout, None, force=True).name
        except UserError as exc:
            errors.append(f"layout: {exc}; using 3x3")
    players = _one(params, "players")
    if players is not None:
        try:
            chosen = parse_players(players)
            lay = parse_layout(kw.get("layout", "3x3"), chosen)
            kw["players"] = lay.players
        except UserError as exc:
            errors.append(f"players: {exc}; using the layout's default players")
    if "players" not in kw and kw.get("layout", "3x3") != "paper":
        try:
            parse_layout(kw.get("layout", "3x3"))
        except UserError as exc:
            errors.append(f"layout: {exc}; using 3x3")
            kw.pop("layout", None)
    steps = _one(params, "steps")
    if steps is not None:
        v = _integer(steps, "steps", 1, 100_000, errors)
        if v is not None:
            kw["steps"] = v
    codes = _one(params, "codes")
    if codes is not None:
        v = _integer(codes, "codes", 1, 4096, errors)
        if v is not None:
            kw["codes"] = v

    n = AppState(**kw).n_players()
    view = ViewState()
    w = _one(params, "w")
    if w is not None:
        weights: dict[int, float] = {}
        for item in w.split(","):
            if not item.strip():
                continue
            m = re.fullmatch(r"\s*(\d+):([-+0-9.eE]+)\s*", item)
            if not m:
                errors.append(f"w: '{item}' is not row:weight; ignored")
                continue
            row = int(m.group(1))
            if not 1 <= row < 2 ** n:
                errors.append(f"w: component row {row} is outside 1..{2 ** n - 1} for {n} players; ignored")
                continue
            val = _number(m.group(2), f"w[{row}]", W_MIN, W_MAX, errors)
            if val is not None and val != 1.0:
                weights[row] = val
        view = replace(view, weights=weights)
    for name in ("off", "solo"):
        text = _one(params, name)
        if text is not None and text.strip():
            view = replace(view, **{name: _decode_rows(text, n, name, errors)})
    r = _one(params, "r")
    if r is not None:
        v = _number(r, "r", R_MIN, R_MAX, errors)
        if v is not None:
            view = replace(view, residual=v)
    if "truncation" in kw and kw["truncation"] == t_def:
        kw.pop("truncation")
    if "split" in kw and kw["split"] == s_def:
        kw.pop("split")
    return AppState(**kw, view=view), errors
