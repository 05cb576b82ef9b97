"""Procedural scenes for the demo generator: the training data and the ground truth.

A scene is a fixed, class-specific background plus a few *objects*. Every object sits in known
cells of the image (48 x 48 px; the 6x6 grid has 8 px cells, the 3x3 grid 16 px cells, and the
objects are placed so that each stays inside one 3x3 cell wherever possible) and reads its
presence and attributes from ITS OWN slice of the latent code ``z`` (``Z_DIM`` = 32 numbers,
drawn as truncation x N(0, 1) clamped to [-2, 2]). Dimensions that a class does not use are
ignored by the renderer (the generator has to learn to ignore them too).

Every shape is anti-aliased: its coverage is a linear ramp of ``EDGE`` px across the boundary
of a signed distance field, and presence is soft as well (a steep sigmoid of the presence
number around its threshold), so the image is a continuous function of ``z``. That is what lets
a small generator regress the renderer to > 25 dB.

Slices (``SLICES[class][object] = (start, stop)``; the first number of a slice is the presence
number where the object has one — present when ``z[start] > threshold`` — and the rest are
attributes, in the order listed in ``OBJECT_DOCS``) are the documentation *and* the code: the
render functions read them from this table.

`render_scene(z, class_id)`/`render_batch(z, class_ids)` give images in [-1, 1];
`scene_objects(z, class_id)` gives the ground truth: one `SceneObject` per object with a
boolean mask of the pixels where the object is *visible* in the final image (its own coverage
> 0.5 and not hidden by an object drawn later), so the masks of one scene are disjoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from regionprims.errors import UserError
from regionprims.validation import validate_class_index

IMAGE_SIZE = 48
Z_DIM = 32
EDGE = 1.4            # anti-aliasing ramp width in px
PRESENCE_SHARPNESS = 10.0

DEMO_CLASSES: tuple[str, ...] = ("face", "traffic", "garden", "shelf", "house", "checker")

# class -> object -> (start, stop) slice of z. Presence number first where the object has one.
SLICES: dict[str, dict[str, tuple[int, int]]] = {
    "face": {"head": (0, 4), "left_eye": (4, 9), "right_eye": (9, 14), "nose": (14, 18),
             "mouth": (18, 23)},
    "traffic": {"housing": (0, 3), "red_lamp": (3, 6), "amber_lamp": (6, 9),
                "green_lamp": (9, 12), "sign": (12, 16), "car": (16, 20), "pedestrian": (20, 23),
                "birds": (23, 26)},
    "garden": {"sun": (0, 3), "cloud": (3, 6), "balloon": (6, 9), "flower_left": (9, 13),
               "flower_mid": (13, 17), "flower_right": (17, 21), "rainbow": (21, 24),
               "butterflies": (24, 27)},
    "shelf": {"box": (0, 4), "jar": (4, 8), "ball": (8, 12), "books": (12, 16), "can": (16, 20),
              "vases": (20, 24), "bookend": (24, 27)},
    "house": {"body": (0, 3), "roof": (3, 6), "door": (6, 10), "window_left": (10, 14),
              "window_right": (14, 18), "chimney": (18, 21), "smoke": (21, 24), "hedges": (24, 27)},
    "checker": {**{f"tile_{r}{c}": (3 * (3 * r + c), 3 * (3 * r + c) + 3) for r in range(3) for c in range(3)},
                "domino": (27, 30), "dot": (30, 32)},
}

# Planted interactions: objects whose drawing ties several cells together (DESIGN §2; the model
# card scores whether a decomposition finds them). kind: "straddle" (one object across cells),
# "pair" (two items in different cells, one presence number: they appear only together) or
# "conditional" (drawn only when the named trigger object is present as well).
INTERACTIONS: dict[str, dict[str, tuple[str, str | None]]] = {
    "face": {},
    "traffic": {"pedestrian": ("conditional", "green_lamp"), "birds": ("pair", None)},
    "garden": {"rainbow": ("straddle", None), "butterflies": ("pair", None)},
    "shelf": {"vases": ("pair", None), "bookend": ("conditional", "books")},
    "house": {"smoke": ("conditional", "chimney"), "hedges": ("pair", None)},
    "checker": {"domino": ("straddle", None), "dot": ("conditional", "tile_00")},
}

# Human-readable meaning of each slice: (cells in the 3x3 grid as (row, col), attribute names).
OBJECT_DOCS: dict[str, dict[str, tuple[str, str]]] = {
    "face": {
        "head": ("all; skin ellipse with darker rim", "width, height, skin colour a, skin colour b (always present)"),
        "left_eye": ("3x3 (0,0); 6x6 (1,1)", "presence (> -1.2), size, iris colour a, iris colour b, gaze"),
        "right_eye": ("3x3 (0,2); 6x6 (1,4)", "presence (> -1.2), size, iris colour a, iris colour b, gaze"),
        "nose": ("3x3 (1,1); 6x6 (2..3,2..3)", "presence (> -1.2), length, width, shade"),
        "mouth": ("3x3 (2,1); 6x6 (4,2..3)", "presence (> -1.2), curvature (smile/frown), width, colour, thickness"),
    },
    "traffic": {
        "housing": ("3x3 column 1", "colour a, colour b, corner radius (always present)"),
        "red_lamp": ("3x3 (0,1)", "lit (> -0.6), hue, radius"),
        "amber_lamp": ("3x3 (1,1)", "lit (> -0.6), hue, radius"),
        "green_lamp": ("3x3 (2,1)", "lit (> -0.6), hue, radius"),
        "sign": ("3x3 (0,2)", "presence (> -0.6), colour a, colour b, size"),
        "car": ("3x3 (2,0)", "presence (> -0.6), colour a, colour b, length"),
        "pedestrian": ("3x3 (2,2); only while green_lamp is lit", "presence (> -0.6), colour, height"),
        "birds": ("3x3 (1,0) and (1,2), together", "presence (> -0.6), grey level, size"),
    },
    "garden": {
        "sun": ("3x3 (0,2)", "presence (> -0.6), colour, radius"),
        "cloud": ("3x3 (0,0)", "presence (> -0.6), grey level, width"),
        "balloon": ("3x3 (1,1)", "presence (> -0.6), colour a, colour b"),
        "flower_left": ("3x3 (2,0)", "presence (> -0.6), petal colour a, petal colour b, head radius"),
        "flower_mid": ("3x3 (2,1)", "presence (> -0.6), petal colour a, petal colour b, head radius"),
        "flower_right": ("3x3 (2,2)", "presence (> -0.6), petal colour a, petal colour b, head radius"),
        "rainbow": ("3x3 row 0: an arc across (0,0), (0,1), (0,2), behind sun and cloud",
                    "presence (> -0.6), brightness, band width"),
        "butterflies": ("3x3 (1,0) and (1,2), together", "presence (> -0.6), colour a, colour b"),
    },
    "shelf": {
        "box": ("3x3 (0,0)", "presence (> -0.6), colour a, colour b, size"),
        "jar": ("3x3 (0,2)", "presence (> -0.6), colour a, colour b, size"),
        "ball": ("3x3 (1,1)", "presence (> -0.6), colour a, colour b, size"),
        "books": ("3x3 (2,0)", "presence (> -0.6), colour a, colour b, height"),
        "can": ("3x3 (2,2)", "presence (> -0.6), colour a, colour b, size"),
        "vases": ("3x3 (1,0) and (1,2), together", "presence (> -0.6), colour a, colour b, height"),
        "bookend": ("3x3 (2,1); only when books are present", "presence (> -0.6), colour a, colour b"),
    },
    "house": {
        "body": ("3x3 rows 1..2 (behind windows and door)", "colour a, colour b, roof-line height (always present)"),
        "roof": ("3x3 row 0 and the top 5 px of row 1", "colour a, colour b, apex height (always present)"),
        "door": ("3x3 (2,1)", "presence (> -0.6), colour a, colour b, height"),
        "window_left": ("3x3 (1,0); 6x6 (3,1)", "presence (> -0.6), light colour, warmth, size"),
        "window_right": ("3x3 (1,2); 6x6 (3,4)", "presence (> -0.6), light colour, warmth, size"),
        "chimney": ("3x3 (0,2) (0.5 px into (0,1)), above the roof", "presence (> -0.6), height, colour"),
        "smoke": ("3x3 (0,1); only when the chimney is present", "presence (> -0.6), grey level, puff size"),
        "hedges": ("3x3 (2,0) and (2,2), together", "presence (> -0.6), colour a, colour b"),
    },
    "checker": {**{f"tile_{r}{c}": (f"3x3 ({r},{c})", "presence (> -0.6), colour a, colour b")
                   for r in range(3) for c in range(3)},
                "domino": ("3x3 (1,0) and (1,1): a bar across their border, over the tiles",
                           "presence (> -0.6), colour a, colour b"),
                "dot": ("3x3 (2,2), over tile_22; only when tile_00 is present", "presence (> -0.6), grey level")},
}


@dataclass
class SceneObject:
    """Ground truth of one object in one scene."""

    name: str
    present: bool
    mask: Tensor        # bool [48, 48]: pixels where the object is visible
    cells: str = ""     # where it is meant to be (documentation)
    slot: Tensor | None = None   # bool [48, 48]: pixels it covers when present (its place even when absent)


# ----------------------------------------------------------------------------------------------
# Drawing primitives: signed distance fields over a batch. Coordinates in px, pixel centres at
# i + 0.5. Parameters are [B] tensors (or floats); results are [B, H, W].

_COORD_CACHE: dict[tuple[str, torch.dtype], tuple[Tensor, Tensor]] = {}


def _grid(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    key = (str(device), dtype)
    if key not in _COORD_CACHE:
        c = torch.arange(IMAGE_SIZE, device=device, dtype=dtype) + 0.5
        _COORD_CACHE[key] = (c.view(1, 1, -1), c.view(1, -1, 1))   # x [1,1,W], y [1,H,1]
    return _COORD_CACHE[key]


def _b(v: Tensor | float, like: Tensor) -> Tensor:
    if not torch.is_tensor(v):
        v = torch.full((like.shape[0],), float(v), dtype=like.dtype, device=like.device)
    return v.view(-1, 1, 1)


def _ellipse(z: Tensor, cx, cy, rx, ry) -> Tensor:
    x, y = _grid(z.device, z.dtype)
    cx, cy, rx, ry = (_b(v, z) for v in (cx, cy, rx, ry))
    r = torch.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + 1e-12)
    return (r - 1.0) * torch.minimum(rx, ry)


def _box(z: Tensor, cx, cy, hx, hy, radius=0.0) -> Tensor:
    """Rounded box centred at (cx, cy) with half-sizes (hx, hy)."""
    x, y = _grid(z.device, z.dtype)
    cx, cy, hx, hy, radius = (_b(v, z) for v in (cx, cy, hx, hy, radius))
    qx = (x - cx).abs() - (hx - radius)
    qy = (y - cy).abs() - (hy - radius)
    outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2 + 1e-12)
    inside = torch.maximum(qx, qy).clamp(max=0)
    return outside + inside - radius


def _triangle_up(z: Tensor, cx, apex_y, base_y, half_base) -> Tensor:
    """Isosceles triangle with apex (cx, apex_y) and horizontal base at base_y."""
    x, y = _grid(z.device, z.dtype)
    cx, apex_y, base_y, half_base = (_b(v, z) for v in (cx, apex_y, base_y, half_base))
    h = base_y - apex_y
    norm = torch.sqrt(h ** 2 + half_base ** 2)
    side = (h * (x - cx).abs() - half_base * (y - apex_y)) / norm   # >0 outside the slanted sides
    bottom = y - base_y
    return torch.maximum(side, bottom)


def _arc(z: Tensor, cx, cy, half_width, curvature, thickness) -> Tensor:
    """A thick parabola y = cy + k (x - cx)^2 for |x - cx| <= half_width (a mouth)."""
    x, y = _grid(z.device, z.dtype)
    cx, cy, hw, k, t = (_b(v, z) for v in (cx, cy, half_width, curvature, thickness))
    dx = x - cx
    curve = cy + k * dx ** 2
    slope = 2 * k * dx
    dist = (y - curve).abs() / torch.sqrt(1 + slope ** 2) - t
    ends = dx.abs() - hw
    return torch.maximum(dist, ends)


def _coverage(sdf: Tensor) -> Tensor:
    return (0.5 - sdf / EDGE).clamp(0.0, 1.0)


def _presence(v: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """Soft presence weight [B] and hard present flag [B] from a presence number."""
    return torch.sigmoid((v - threshold) * PRESENCE_SHARPNESS), v > threshold


def _conditional(cls: str, name: str, z: Tensor) -> tuple[Tensor, Tensor]:
    """Presence of a "conditional" interaction: its own number AND its trigger's (both > -0.6)."""
    trigger = INTERACTIONS[cls][name][1]
    w, on = _presence(z[:, SLICES[cls][name][0]], -0.6)
    tw, ton = _presence(z[:, SLICES[cls][trigger][0]], -0.6)
    return w * tw, on & ton


def _colour(base, da, db, a: Tensor, b: Tensor, amp: float = 0.18) -> Tensor:
    """[B, 3] colour in [0, 1]: base + amp * (a * da + b * db), clamped."""
    base_t = torch.tensor(base, dtype=a.dtype, device=a.device)
    da_t = torch.tensor(da, dtype=a.dtype, device=a.device)
    db_t = torch.tensor(db, dtype=a.dtype, device=a.device)
    return (base_t + amp * (a[:, None] * da_t + b[:, None] * db_t)).clamp(0.02, 0.98)


def _const_colour(rgb, like: Tensor) -> Tensor:
    return torch.tensor(rgb, dtype=like.dtype, device=like.device).expand(like.shape[0], 3)


@dataclass
class _Layer:
    name: str
    alpha: Tensor      # [B, H, W] coverage * soft presence
    colour: Tensor     # [B, 3]
    present: Tensor    # [B] bool
    part: int = 0      # which item of a "pair" interaction the layer draws


def _layer(name: str, sdf: Tensor, colour: Tensor, weight: Tensor | None = None,
           present: Tensor | None = None, part: int = 0) -> _Layer:
    a = _coverage(sdf)
    B = sdf.shape[0]
    if weight is not None:
        a = a * weight.view(-1, 1, 1)
    if present is None:
        present = torch.ones(B, dtype=torch.bool, device=sdf.device)
    return _Layer(name, a, colour, present, part)


# ----------------------------------------------------------------------------------------------
# Backgrounds: fixed per class (no latent dimension), so that every pixel change that z causes
# belongs to some object.

def _vertical_gradient(top, bottom, like: Tensor, split: int | None = None, below=None) -> Tensor:
    y = torch.linspace(0, 1, IMAGE_SIZE, dtype=like.dtype, device=like.device).view(1, -1, 1)
    t = torch.tensor(top, dtype=like.dtype, device=like.device).view(3, 1, 1)
    b = torch.tensor(bottom, dtype=like.dtype, device=like.device).view(3, 1, 1)
    img = (t * (1 - y) + b * y).expand(3, IMAGE_SIZE, IMAGE_SIZE).clone()
    if split is not None:
        img[:, split:, :] = torch.tensor(below, dtype=like.dtype, device=like.device).view(3, 1, 1)
    return img


def _background(cls: str, z: Tensor) -> Tensor:
    if cls == "face":
        img = _vertical_gradient((0.72, 0.80, 0.90), (0.55, 0.62, 0.75), z)
    elif cls == "traffic":
        img = _vertical_gradient((0.55, 0.70, 0.85), (0.80, 0.85, 0.90), z, split=44, below=(0.35, 0.35, 0.38))
    elif cls == "garden":
        img = _vertical_gradient((0.45, 0.65, 0.95), (0.75, 0.88, 0.98), z, split=32, below=(0.35, 0.62, 0.30))
    elif cls == "shelf":
        img = _vertical_gradient((0.80, 0.70, 0.55), (0.70, 0.58, 0.42), z)
        for y0 in (13, 29, 45):
            img[:, y0:y0 + 3, :] = torch.tensor((0.42, 0.28, 0.16), dtype=z.dtype).view(3, 1, 1)
    elif cls == "house":
        img = _vertical_gradient((0.50, 0.72, 0.95), (0.85, 0.92, 0.98), z, split=46, below=(0.40, 0.60, 0.32))
    elif cls == "checker":
        img = torch.full((3, IMAGE_SIZE, IMAGE_SIZE), 0.5, dtype=z.dtype, device=z.device)
    else:  # pragma: no cover - guarded by _check_class
        raise AssertionError(cls)
    return img


# ----------------------------------------------------------------------------------------------
# Classes. Each returns layers in drawing order (later layers are drawn on top).

def _s(cls: str, obj: str, z: Tensor, k: int) -> Tensor:
    """Number k of object `obj`'s slice."""
    start, stop = SLICES[cls][obj]
    assert start + k < stop
    return z[:, start + k]


def _face(z: Tensor) -> list[_Layer]:
    c = "face"
    L: list[_Layer] = []
    # head: skin ellipse with a darker rim (two layers of the same object)
    rx = 20.0 * (1 + 0.04 * _s(c, "head", z, 0))
    ry = 21.5 * (1 + 0.03 * _s(c, "head", z, 1))
    skin = _colour((0.93, 0.74, 0.60), (0.0, -0.35, -0.55), (-0.5, -0.45, -0.35),
                   _s(c, "head", z, 2), _s(c, "head", z, 3), amp=0.22)
    L.append(_layer("head", _ellipse(z, 24.0, 24.5, rx, ry), skin * 0.6))
    L.append(_layer("head", _ellipse(z, 24.0, 24.5, rx - 1.6, ry - 1.6), skin))
    for side, cx in (("left_eye", 12.0), ("right_eye", 36.0)):
        w, on = _presence(_s(c, side, z, 0), -1.2)
        size = 1 + 0.08 * _s(c, side, z, 1)
        iris = _colour((0.25, 0.45, 0.70), (0.5, 0.15, -0.6), (0.2, 0.5, 0.0),
                       _s(c, side, z, 2), _s(c, side, z, 3), amp=0.2)
        gaze = 0.8 * _s(c, side, z, 4)
        L.append(_layer(side, _ellipse(z, cx, 12.0, 3.6 * size, 2.8 * size),
                        _const_colour((0.97, 0.97, 0.97), z), w, on))
        L.append(_layer(side, _ellipse(z, cx + gaze, 12.0, 1.9 * size, 1.9 * size), iris, w, on))
    w, on = _presence(_s(c, "nose", z, 0), -1.2)
    length = 5.0 * (1 + 0.1 * _s(c, "nose", z, 1))
    width = 2.8 * (1 + 0.12 * _s(c, "nose", z, 2))
    shade = (0.55 + 0.08 * _s(c, "nose", z, 3)).clamp(0.35, 0.75)
    L.append(_layer("nose", _ellipse(z, 24.0, 23.5, width, length), skin * shade[:, None], w, on))
    w, on = _presence(_s(c, "mouth", z, 0), -1.2)
    curv = 0.07 * _s(c, "mouth", z, 1)
    hw = 6.0 * (1 + 0.1 * _s(c, "mouth", z, 2))
    lips = _colour((0.75, 0.22, 0.25), (0.2, -0.1, 0.3), (0.0, 0.0, 0.0), _s(c, "mouth", z, 3), z[:, 0] * 0)
    thick = 1.2 * (1 + 0.15 * _s(c, "mouth", z, 4))
    L.append(_layer("mouth", _arc(z, 24.0, 38.5 - 18.0 * curv, hw, curv, thick), lips, w, on))
    return L


def _traffic(z: Tensor) -> list[_Layer]:
    c = "traffic"
    L: list[_Layer] = []
    body = _colour((0.20, 0.20, 0.22), (0.35, 0.30, 0.0), (0.0, 0.1, 0.3),
                   _s(c, "housing", z, 0), _s(c, "housing", z, 1), amp=0.2)
    radius = 3.0 + 0.8 * _s(c, "housing", z, 2)
    L.append(_layer("housing", _box(z, 24.0, 23.5, 7.0, 22.0, radius), body))
    lamps = (("red_lamp", 8.0, (0.95, 0.15, 0.10), (0.0, 0.4, 0.0)),
             ("amber_lamp", 24.0, (1.00, 0.70, 0.10), (0.0, 0.25, -0.1)),
             ("green_lamp", 40.0, (0.15, 0.90, 0.30), (0.0, 0.0, 0.6)))
    for name, cy, base, da in lamps:
        w, on = _presence(_s(c, name, z, 0), -0.6)
        col = _colour(base, da, (0.0, 0.0, 0.0), _s(c, name, z, 1), z[:, 0] * 0, amp=0.2)
        r = 5.0 * (1 + 0.08 * _s(c, name, z, 2))
        L.append(_layer(name, _ellipse(z, 24.0, cy, r, r), col, w, on))
    w, on = _presence(_s(c, "sign", z, 0), -0.6)
    col = _colour((0.20, 0.40, 0.85), (0.6, 0.1, -0.5), (0.0, 0.4, 0.0), _s(c, "sign", z, 1), _s(c, "sign", z, 2))
    size = 5.0 * (1 + 0.1 * _s(c, "sign", z, 3))
    L.append(_layer("sign", _box(z, 40.0, 9.0, size, size, 1.5), col, w, on))
    L.append(_layer("sign", _box(z, 40.0, 9.0, size * 0.55, size * 0.15, 0.3),
                    _const_colour((0.97, 0.97, 0.97), z), w, on))
    w, on = _presence(_s(c, "car", z, 0), -0.6)
    col = _colour((0.80, 0.15, 0.15), (-0.5, 0.1, 0.6), (0.0, 0.5, 0.0), _s(c, "car", z, 1), _s(c, "car", z, 2), amp=0.25)
    length = 6.0 * (1 + 0.08 * _s(c, "car", z, 3))
    L.append(_layer("car", _box(z, 8.0, 40.0, length, 3.0, 1.5), col, w, on))
    L.append(_layer("car", _box(z, 8.0, 36.5, length * 0.55, 2.3, 1.5), col * 0.8, w, on))
    w, on = _conditional(c, "pedestrian", z)                 # walks only on green
    col = _colour((0.20, 0.30, 0.60), (0.5, 0.1, -0.4), (0, 0, 0), _s(c, "pedestrian", z, 1), z[:, 0] * 0, amp=0.25)
    hgt = 3.5 * (1 + 0.08 * _s(c, "pedestrian", z, 2))
    L.append(_layer("pedestrian", _box(z, 40.0, 44.0 - hgt, 1.8, hgt, 0.8), col, w, on))
    L.append(_layer("pedestrian", _ellipse(z, 40.0, 44.0 - 2 * hgt - 1.9, 1.9, 1.9),
                    _const_colour((0.93, 0.75, 0.60), z), w, on))
    w, on = _presence(_s(c, "birds", z, 0), -0.6)            # two birds, always together
    g = (0.15 + 0.08 * _s(c, "birds", z, 1)).clamp(0.02, 0.4)
    col = torch.stack([g, g, g + 0.03], 1)
    size = 1 + 0.1 * _s(c, "birds", z, 2)
    for part, (bx, by) in enumerate(((8.0, 22.0), (40.0, 25.0))):
        L.append(_layer("birds", _ellipse(z, bx, by, 3.2 * size, 1.3 * size), col, w, on, part))
        L.append(_layer("birds", _ellipse(z, bx + 1.0, by - 1.6, 1.3 * size, 2.0 * size), col, w, on, part))
    return L


def _garden(z: Tensor) -> list[_Layer]:
    c = "garden"
    L: list[_Layer] = []
    w, on = _presence(_s(c, "rainbow", z, 0), -0.6)          # an arc across the three top cells
    bright = (1 + 0.1 * _s(c, "rainbow", z, 1)).view(-1, 1)
    half = 1.3 * (1 + 0.15 * _s(c, "rainbow", z, 2))
    for (rx, ry), base in (((19.0, 11.0), (0.95, 0.45, 0.35)), ((16.4, 8.4), (0.45, 0.55, 0.95))):
        ring = torch.maximum(_ellipse(z, 24.0, 15.5, rx, ry).abs() - _b(half, z), _grid(z.device, z.dtype)[1] - 15.0)
        L.append(_layer("rainbow", ring, (_const_colour(base, z) * bright).clamp(0.02, 0.98), w, on))
    w, on = _presence(_s(c, "sun", z, 0), -0.6)
    col = _colour((1.0, 0.85, 0.20), (0.0, -0.25, -0.1), (0, 0, 0), _s(c, "sun", z, 1), z[:, 0] * 0)
    r = 5.0 * (1 + 0.1 * _s(c, "sun", z, 2))
    L.append(_layer("sun", _ellipse(z, 40.0, 8.0, r, r), col, w, on))
    w, on = _presence(_s(c, "cloud", z, 0), -0.6)
    g = (0.92 + 0.05 * _s(c, "cloud", z, 1)).clamp(0.7, 0.99)
    col = torch.stack([g, g, (g + 0.04).clamp(max=0.99)], 1)
    width = 1 + 0.08 * _s(c, "cloud", z, 2)
    sd = torch.minimum(_ellipse(z, 8.0, 9.5, 5.5 * width, 3.0),
                       _ellipse(z, 8.5, 7.0, 3.2 * width, 3.0))
    L.append(_layer("cloud", sd, col, w, on))
    w, on = _presence(_s(c, "balloon", z, 0), -0.6)
    col = _colour((0.85, 0.25, 0.50), (0.1, 0.5, -0.3), (-0.5, 0.0, 0.4), _s(c, "balloon", z, 1), _s(c, "balloon", z, 2), amp=0.22)
    L.append(_layer("balloon", _box(z, 24.0, 26.5, 0.35, 4.0), _const_colour((0.3, 0.3, 0.3), z), w, on))
    L.append(_layer("balloon", _ellipse(z, 24.0, 21.0, 4.5, 5.2), col, w, on))
    flowers = (("flower_left", 8.0, (0.95, 0.30, 0.30)), ("flower_mid", 24.0, (0.95, 0.85, 0.25)),
               ("flower_right", 40.0, (0.60, 0.40, 0.95)))
    for name, cx, base in flowers:
        w, on = _presence(_s(c, name, z, 0), -0.6)
        col = _colour(base, (0.0, 0.4, -0.2), (-0.3, 0.0, 0.4), _s(c, name, z, 1), _s(c, name, z, 2), amp=0.22)
        r = 3.8 * (1 + 0.1 * _s(c, name, z, 3))
        L.append(_layer(name, _box(z, cx, 42.5, 0.6, 4.0), _const_colour((0.15, 0.45, 0.15), z), w, on))
        L.append(_layer(name, _ellipse(z, cx, 38.0, r, r), col, w, on))
        L.append(_layer(name, _ellipse(z, cx, 38.0, 1.3, 1.3), _const_colour((0.95, 0.85, 0.3), z), w, on))
    w, on = _presence(_s(c, "butterflies", z, 0), -0.6)      # two butterflies, always together
    col = _colour((0.95, 0.55, 0.15), (0.0, 0.3, 0.5), (-0.4, 0.0, 0.3), _s(c, "butterflies", z, 1),
                  _s(c, "butterflies", z, 2), amp=0.22)
    for part, bx in enumerate((8.0, 40.0)):
        for dx in (-1.9, 1.9):
            L.append(_layer("butterflies", _ellipse(z, bx + dx, 24.0, 1.8, 2.6), col, w, on, part))
    return L


def _shelf(z: Tensor) -> list[_Layer]:
    c = "shelf"
    L: list[_Layer] = []

    def item(name, base):
        w, on = _presence(_s(c, name, z, 0), -0.6)
        col = _colour(base, (0.5, -0.2, -0.3), (-0.2, 0.4, 0.3), _s(c, name, z, 1), _s(c, name, z, 2), amp=0.2)
        size = 1 + 0.1 * _s(c, name, z, 3)
        return w, on, col, size

    w, on, col, s = item("box", (0.85, 0.40, 0.55))          # sits on the plank at y=13
    L.append(_layer("box", _box(z, 8.0, 13.0 - 4.5 * s, 5.0 * s, 4.5 * s, 0.5), col, w, on))
    w, on, col, s = item("jar", (0.35, 0.65, 0.75))
    L.append(_layer("jar", _box(z, 40.0, 13.0 - 4.0 * s, 4.0 * s, 4.0 * s, 2.0), col, w, on))
    L.append(_layer("jar", _box(z, 40.0, 13.0 - 8.0 * s - 0.8, 3.0 * s, 1.0, 0.5), col * 0.6, w, on))
    w, on, col, s = item("ball", (0.85, 0.30, 0.25))         # on the plank at y=29
    L.append(_layer("ball", _ellipse(z, 24.0, 29.0 - 5.0 * s, 5.0 * s, 5.0 * s), col, w, on))
    w, on, col, s = item("books", (0.25, 0.35, 0.70))        # on the plank at y=45
    L.append(_layer("books", _box(z, 5.5, 45.0 - 5.5 * s, 1.8, 5.5 * s, 0.3), col, w, on))
    L.append(_layer("books", _box(z, 9.5, 45.0 - 5.0 * s, 1.8, 5.0 * s, 0.3), col.flip(1), w, on))
    w, on, col, s = item("can", (0.90, 0.85, 0.25))
    L.append(_layer("can", _box(z, 40.0, 45.0 - 4.5 * s, 3.5 * s, 4.5 * s, 1.0), col, w, on))
    w, on, col, s = item("vases", (0.30, 0.60, 0.45))        # two vases, always together
    for part, bx in enumerate((8.0, 40.0)):
        L.append(_layer("vases", _box(z, bx, 29.0 - 4.5 * s, 2.6, 4.5 * s, 1.2), col, w, on, part))
        L.append(_layer("vases", _box(z, bx, 29.0 - 9.0 * s - 1.0, 1.3, 1.2, 0.3), col * 0.75, w, on, part))
    w, on = _conditional(c, "bookend", z)                     # holds the books: only with them
    col = _colour((0.55, 0.55, 0.58), (0.3, 0.2, 0.0), (0.0, 0.1, 0.3), _s(c, "bookend", z, 1), _s(c, "bookend", z, 2))
    L.append(_layer("bookend", _box(z, 19.5, 41.0, 1.0, 4.0, 0.2), col, w, on))
    L.append(_layer("bookend", _box(z, 21.5, 44.2, 3.0, 0.8, 0.2), col, w, on))
    return L


def _house(z: Tensor) -> list[_Layer]:
    c = "house"
    L: list[_Layer] = []
    w, on = _presence(_s(c, "chimney", z, 0), -0.6)
    h = 5.0 * (1 + 0.15 * _s(c, "chimney", z, 1))
    col = _colour((0.55, 0.30, 0.25), (0.3, 0.1, 0.0), (0, 0, 0), _s(c, "chimney", z, 2), z[:, 0] * 0)
    L.append(_layer("chimney", _box(z, 34.0, 14.0 - h, 2.5, h + 2.0, 0.3), col, w, on))
    wall = _colour((0.90, 0.82, 0.62), (-0.2, 0.1, 0.4), (0.1, -0.3, -0.3), _s(c, "body", z, 0), _s(c, "body", z, 1), amp=0.2)
    top = 20.5 + 0.7 * _s(c, "body", z, 2)
    L.append(_layer("body", _box(z, 24.0, (top + 46.0) / 2, 14.0, (46.0 - top) / 2, 0.3), wall))
    roof = _colour((0.70, 0.25, 0.20), (-0.4, 0.0, 0.4), (0.0, 0.3, 0.0), _s(c, "roof", z, 0), _s(c, "roof", z, 1), amp=0.22)
    apex = 5.0 + 0.8 * _s(c, "roof", z, 2)
    L.append(_layer("roof", _triangle_up(z, 24.0, apex, 21.0, 19.0), roof))
    w, on = _presence(_s(c, "door", z, 0), -0.6)
    col = _colour((0.45, 0.28, 0.15), (0.3, 0.1, 0.0), (0.0, 0.1, 0.35), _s(c, "door", z, 1), _s(c, "door", z, 2))
    dh = 6.0 * (1 + 0.08 * _s(c, "door", z, 3))
    L.append(_layer("door", _box(z, 24.0, 46.0 - dh, 3.5, dh, 0.8), col, w, on))
    for name, cx in (("window_left", 12.0), ("window_right", 36.0)):
        w, on = _presence(_s(c, name, z, 0), -0.6)
        col = _colour((0.35, 0.55, 0.85), (0.5, 0.4, -0.3), (0.2, 0.1, -0.1), _s(c, name, z, 1), _s(c, name, z, 2), amp=0.2)
        s = 3.3 * (1 + 0.07 * _s(c, name, z, 3))
        L.append(_layer(name, _box(z, cx, 28.0, s, s, 0.4), col, w, on))
    w, on = _presence(_s(c, "hedges", z, 0), -0.6)            # two hedges, always together
    col = _colour((0.20, 0.50, 0.20), (0.1, 0.3, 0.0), (0.2, 0.0, 0.1), _s(c, "hedges", z, 1), _s(c, "hedges", z, 2))
    for part, hx in enumerate((4.5, 43.5)):
        L.append(_layer("hedges", _ellipse(z, hx, 42.0, 4.0, 4.2), col, w, on, part))
    w, on = _conditional(c, "smoke", z)                       # only from a chimney
    g = (0.80 + 0.06 * _s(c, "smoke", z, 1)).clamp(0.6, 0.95)
    col = torch.stack([g, g, g], 1)
    ps = 1 + 0.1 * _s(c, "smoke", z, 2)
    L.append(_layer("smoke", _ellipse(z, 27.5, 5.0, 2.4 * ps, 2.0 * ps), col, w, on))
    L.append(_layer("smoke", _ellipse(z, 22.5, 3.0, 2.0 * ps, 1.7 * ps), col, w, on))
    return L


def _checker(z: Tensor) -> list[_Layer]:
    c = "checker"
    L: list[_Layer] = []
    palette = ((0.85, 0.25, 0.25), (0.25, 0.70, 0.30), (0.25, 0.40, 0.85))
    for r in range(3):
        for col_i in range(3):
            name = f"tile_{r}{col_i}"
            w, on = _presence(_s(c, name, z, 0), -0.6)
            base = palette[(r + col_i) % 3]
            col = _colour(base, (0.3, 0.3, -0.4), (-0.3, 0.4, 0.2), _s(c, name, z, 1), _s(c, name, z, 2), amp=0.2)
            L.append(_layer(name, _box(z, 8.0 + 16 * col_i, 8.0 + 16 * r, 5.5, 5.5, 1.5), col, w, on))
    w, on = _presence(_s(c, "domino", z, 0), -0.6)            # a bar across two tiles' border
    col = _colour((0.95, 0.90, 0.80), (-0.3, -0.1, 0.3), (0.0, -0.3, -0.3), _s(c, "domino", z, 1), _s(c, "domino", z, 2))
    L.append(_layer("domino", _box(z, 16.0, 24.0, 6.5, 2.6, 1.0), col, w, on))
    w, on = _conditional(c, "dot", z)                         # only when the top-left tile is there
    g = (0.15 + 0.1 * _s(c, "dot", z, 1)).clamp(0.02, 0.4)
    L.append(_layer("dot", _ellipse(z, 40.0, 40.0, 2.4, 2.4), torch.stack([g, g, g], 1), w, on))
    return L


_CLASS_FN: dict[str, Callable[[Tensor], list[_Layer]]] = {
    "face": _face, "traffic": _traffic, "garden": _garden, "shelf": _shelf, "house": _house,
    "checker": _checker,
}


# ----------------------------------------------------------------------------------------------
# Public API

def _check_class(class_id: int) -> str:
    """The name of a demo class index (validation.validate_class_index's one message otherwise)."""
    return DEMO_CLASSES[validate_class_index(class_id, len(DEMO_CLASSES))]


def _check_z(z: Tensor) -> Tensor:
    if z.dim() != 2 or z.shape[1] != Z_DIM:
        raise UserError(f"latent codes must have shape [B, {Z_DIM}], got {tuple(z.shape)}")
    return z.float()


def _composite(cls: str, z: Tensor) -> tuple[Tensor, list[_Layer]]:
    layers = _CLASS_FN[cls](z)
    img = _background(cls, z).unsqueeze(0).expand(z.shape[0], -1, -1, -1)
    for lay in layers:
        a = lay.alpha.unsqueeze(1)
        img = img * (1 - a) + lay.colour[:, :, None, None] * a
    return img, layers


def render_batch(z: Tensor, class_ids: Tensor | list[int]) -> Tensor:
    """Render scenes: z [B, Z_DIM], class ids [B] -> images [B, 3, 48, 48] in [-1, 1].
    Vectorised per class (one pass per distinct class in the batch)."""
    z = _check_z(z)
    ids = torch.as_tensor(class_ids, dtype=torch.long).view(-1)
    if ids.shape[0] != z.shape[0]:
        raise UserError(f"got {z.shape[0]} codes but {ids.shape[0]} class ids")
    out = torch.empty(z.shape[0], 3, IMAGE_SIZE, IMAGE_SIZE, dtype=z.dtype, device=z.device)
    for k in ids.unique().tolist():
        cls = _check_class(int(k))
        sel = (ids == k).nonzero().view(-1).to(z.device)
        img, _ = _composite(cls, z.index_select(0, sel))
        out.index_copy_(0, sel, img)
    return out * 2 - 1


def render_scene(z: Tensor, class_id: int) -> Tensor:
    """One scene: z [Z_DIM] -> image [3, 48, 48] in [-1, 1]."""
    cls = _check_class(class_id)
    img, _ = _composite(cls, _check_z(z.reshape(1, -1)))
    return img[0] * 2 - 1


def _visible(cls: str, zz: Tensor) -> tuple[list[_Layer], Tensor]:
    """Layers of one scene and its owner map (index into SLICES[cls] of the object drawn last
    with coverage > 0.5 at each pixel, -1 for background)."""
    layers = _CLASS_FN[cls](zz)
    owner = torch.full((IMAGE_SIZE, IMAGE_SIZE), -1, dtype=torch.long)
    names = list(SLICES[cls].keys())
    for lay in layers:
        if bool(lay.present[0]):
            owner[lay.alpha[0] > 0.5] = names.index(lay.name)
    return layers, owner


def scene_objects(z: Tensor, class_id: int) -> list[SceneObject]:
    """The ground truth of one scene: every object of the class (present or not), with the
    boolean mask of the pixels where it is visible (coverage > 0.5, not hidden by an object
    drawn later; empty when absent). Masks of one scene are disjoint."""
    cls = _check_class(class_id)
    zz = _check_z(torch.as_tensor(z).detach().cpu().reshape(1, -1))
    layers, owner = _visible(cls, zz)
    out = []
    for i, name in enumerate(SLICES[cls]):
        present = any(bool(lay.present[0]) for lay in layers if lay.name == name)
        out.append(SceneObject(name=name, present=present, mask=(owner == i) & present,
                               cells=OBJECT_DOCS[cls][name][0], slot=_slot(cls, zz, name, layers)))
    return out


def part_masks(z: Tensor, class_id: int, name: str) -> list[Tensor]:
    """Visible pixels of each item of object `name` (one mask per `part`; a "pair" has two)."""
    cls = _check_class(class_id)
    zz = _check_z(torch.as_tensor(z).detach().cpu().reshape(1, -1))
    layers, owner = _visible(cls, zz)
    visible = owner == list(SLICES[cls]).index(name)
    parts: dict[int, Tensor] = {}
    for lay in layers:
        if lay.name == name and bool(lay.present[0]):
            parts[lay.part] = parts.get(lay.part, torch.zeros_like(visible)) | (lay.alpha[0] > 0.5)
    return [parts[k] & visible for k in sorted(parts)]


def _slot(cls: str, zz: Tensor, name: str, layers: list) -> Tensor:
    """Where the object is drawn when present: its own coverage > 0.5 (ignoring occlusion).
    An absent object is switched on by raising its presence number (the first of its slice,
    which every object that can be absent has) and, for a conditional one, its trigger's;
    nothing else in z changes."""
    if not any(bool(lay.present[0]) for lay in layers if lay.name == name):
        zz = zz.clone()
        zz[0, SLICES[cls][name][0]] = 4.0
        trigger = INTERACTIONS[cls].get(name, ("", None))[1]
        if trigger is not None:
            zz[0, SLICES[cls][trigger][0]] = 4.0
        layers = _CLASS_FN[cls](zz)
    slot = torch.zeros(IMAGE_SIZE, IMAGE_SIZE, dtype=torch.bool)
    for lay in layers:
        if lay.name == name:
            slot |= lay.alpha[0] > 0.5
    return slot
