"""Drawing primitives of the demo scenes: anti-aliased signed distance fields over a batch,
colours, layers and background gradients. Independent of any class or table."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

IMAGE_SIZE = 48
EDGE = 1.4            # anti-aliasing ramp width in px


# ----------------------------------------------------------------------------------------------
# Drawing primitives: signed distance fields over a batch. Coordinates in px, pixel centres at
# i + 0.5. Parameters are [B] tensors (or floats); results are [B, H, W].

_COORD_CACHE: dict[tuple[str, torch.dtype], tuple[Tensor, Tensor]] = {}


def grid(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    key = (str(device), dtype)
    if key not in _COORD_CACHE:
        c = torch.arange(IMAGE_SIZE, device=device, dtype=dtype) + 0.5
        _COORD_CACHE[key] = (c.view(1, 1, -1), c.view(1, -1, 1))   # x [1,1,W], y [1,H,1]
    return _COORD_CACHE[key]


def b(v: Tensor | float, like: Tensor) -> Tensor:
    if not torch.is_tensor(v):
        v = torch.full((like.shape[0],), float(v), dtype=like.dtype, device=like.device)
    return v.view(-1, 1, 1)


def ellipse(z: Tensor, cx, cy, rx, ry) -> Tensor:
    x, y = grid(z.device, z.dtype)
    cx, cy, rx, ry = (b(v, z) for v in (cx, cy, rx, ry))
    r = torch.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + 1e-12)
    return (r - 1.0) * torch.minimum(rx, ry)


def box(z: Tensor, cx, cy, hx, hy, radius=0.0) -> Tensor:
    """Rounded box centred at (cx, cy) with half-sizes (hx, hy)."""
    x, y = grid(z.device, z.dtype)
    cx, cy, hx, hy, radius = (b(v, z) for v in (cx, cy, hx, hy, radius))
    qx = (x - cx).abs() - (hx - radius)
    qy = (y - cy).abs() - (hy - radius)
    outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2 + 1e-12)
    inside = torch.maximum(qx, qy).clamp(max=0)
    return outside + inside - radius


def triangle_up(z: Tensor, cx, apex_y, base_y, half_base) -> Tensor:
    """Isosceles triangle with apex (cx, apex_y) and horizontal base at base_y."""
    x, y = grid(z.device, z.dtype)
    cx, apex_y, base_y, half_base = (b(v, z) for v in (cx, apex_y, base_y, half_base))
    h = base_y - apex_y
    norm = torch.sqrt(h ** 2 + half_base ** 2)
    side = (h * (x - cx).abs() - half_base * (y - apex_y)) / norm   # >0 outside the slanted sides
    bottom = y - base_y
    return torch.maximum(side, bottom)


def arc(z: Tensor, cx, cy, half_width, curvature, thickness) -> Tensor:
    """A thick parabola y = cy + k (x - cx)^2 for |x - cx| <= half_width (a mouth)."""
    x, y = grid(z.device, z.dtype)
    cx, cy, hw, k, t = (b(v, z) for v in (cx, cy, half_width, curvature, thickness))
    dx = x - cx
    curve = cy + k * dx ** 2
    slope = 2 * k * dx
    dist = (y - curve).abs() / torch.sqrt(1 + slope ** 2) - t
    ends = dx.abs() - hw
    return torch.maximum(dist, ends)


def coverage(sdf: Tensor) -> Tensor:
    return (0.5 - sdf / EDGE).clamp(0.0, 1.0)


def colour(base, da, db, a: Tensor, b: Tensor, amp: float = 0.18) -> Tensor:
    """[B, 3] colour in [0, 1]: base + amp * (a * da + b * db), clamped."""
    base_t = torch.tensor(base, dtype=a.dtype, device=a.device)
    da_t = torch.tensor(da, dtype=a.dtype, device=a.device)
    db_t = torch.tensor(db, dtype=a.dtype, device=a.device)
    return (base_t + amp * (a[:, None] * da_t + b[:, None] * db_t)).clamp(0.02, 0.98)


def const_colour(rgb, like: Tensor) -> Tensor:
    return torch.tensor(rgb, dtype=like.dtype, device=like.device).expand(like.shape[0], 3)


@dataclass
class Layer:
    name: str
    alpha: Tensor      # [B, H, W] coverage * soft presence
    colour: Tensor     # [B, 3]
    present: Tensor    # [B] bool
    part: int = 0      # which item of a "pair" interaction the layer draws


def layer(name: str, sdf: Tensor, colour: Tensor, weight: Tensor | None = None,
           present: Tensor | None = None, part: int = 0) -> Layer:
    a = coverage(sdf)
    B = sdf.shape[0]
    if weight is not None:
        a = a * weight.view(-1, 1, 1)
    if present is None:
        present = torch.ones(B, dtype=torch.bool, device=sdf.device)
    return Layer(name, a, colour, present, part)


# ----------------------------------------------------------------------------------------------
# Backgrounds: fixed per class (no latent dimension), so that every pixel change that z causes
# belongs to some object.

def vertical_gradient(top, bottom, like: Tensor, split: int | None = None, below=None) -> Tensor:
    y = torch.linspace(0, 1, IMAGE_SIZE, dtype=like.dtype, device=like.device).view(1, -1, 1)
    t = torch.tensor(top, dtype=like.dtype, device=like.device).view(3, 1, 1)
    b = torch.tensor(bottom, dtype=like.dtype, device=like.device).view(3, 1, 1)
    img = (t * (1 - y) + b * y).expand(3, IMAGE_SIZE, IMAGE_SIZE).clone()
    if split is not None:
        img[:, split:, :] = torch.tensor(below, dtype=like.dtype, device=like.device).view(3, 1, 1)
    return img
