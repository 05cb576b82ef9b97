"""Pictures of a decomposition as arrays and PNG bytes, without Streamlit: nearest-neighbour
upscaling, the patch grid drawn over an image, difference heatmaps, regional patterns on a
diverging map, component cards and PNG bytes.

The one home of the picture facts shared by the explorer and the exports (export.panels): the
colour maps, the luminance weights and the font helper. Imports `method` only.
"""
from __future__ import annotations

import io
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from regionprims.method.regions import grid_edges

DIFF_VMAX = 0.5                   # top of the difference heatmap's scale: mean |mix - x|, [0, 1] pixels
LUMA = (0.299, 0.587, 0.114)      # Rec. 601 weights: signed luminance of a pattern

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
    """Nearest-neighbour upscaling by an integer factor (pixels stay crisp squares)."""
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


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Signed luminance [..., H, W] of an image or pattern [..., 3, H, W] (Rec. 601 weights)."""
    return torch.einsum("c,...chw->...hw", torch.tensor(LUMA, dtype=image.dtype, device=image.device), image)


def pattern_rgb(pattern: torch.Tensor, vmax: float | None = None) -> np.ndarray:
    """A regional pattern [3, H, W] (signed, image units) as its luminance change on a diverging
    map: white = no change, red = brighter, blue = darker; scaled to `vmax` (default: the
    pattern's own largest change, so that the shape of weak components shows too)."""
    p = pattern.detach().float()
    lum = luminance(p).numpy() * 0.5                                         # [0, 1] pixel scale
    scale = float(np.abs(lum).max()) if vmax is None else vmax
    t = np.clip(lum / scale, -1, 1) if scale > 0 else np.zeros_like(lum)
    return _DIV_LUT[((t + 1) * 127.5).round().astype(np.uint8)]


def _grid_lines(draw: ImageDraw.ImageDraw, size: int, rows: int, cols: int, colour, width: int = 1) -> None:
    for y in grid_edges(size, rows)[1:-1]:
        draw.line([(0, y), (size, y)], fill=colour, width=width)
    for x in grid_edges(size, cols)[1:-1]:
        draw.line([(x, 0), (x, size)], fill=colour, width=width)


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.ImageFont:
    """Pillow's default font at `size` px; its bitmap font where Pillow has no FreeType."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):      # Pillow without FreeType
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
        font_ = font(max(10, min(30, side // 4)))
        pad = max(2, side // 40)
        for p in range(rows * cols):
            r, c = divmod(p, cols)
            is_player = not players or p in players
            x0, y0 = xs[c] + pad, ys[r] + pad
            box = draw.textbbox((x0 + pad, y0), str(p), font=font_)
            draw.rectangle([x0, y0, box[2] + pad, box[3] + pad], fill=(0, 0, 0, 150 if is_player else 90))
            draw.text((x0 + pad, y0), str(p), font=font_,
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
    """uint8 RGB [H, W, 3] as PNG bytes (fast compression: these are made while a slider moves)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def mix_pngs(rgb: np.ndarray, diff: np.ndarray, rows: int, cols: int,
             vmax: float = DIFF_VMAX) -> tuple[bytes, bytes]:
    """PNGs of a rendered mix (uint8 [h, w, 3]) and of its difference from x ([h, w], [0, 1]
    scale) as a heatmap up to `vmax`, both upscaled with the grid drawn over them."""
    f = scale_for(rgb.shape[0])
    mix = grid_overlay(upscale(rgb, f), rows, cols)
    heat = grid_overlay(upscale(heatmap(diff, vmax), f), rows, cols)
    return png_bytes(mix), png_bytes(heat)
