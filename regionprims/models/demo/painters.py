"""The demo classes' painters: one function per class returning its layers in drawing order,
each object reading its own slice of z (tables.SLICES), on a fixed per-class background."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from regionprims.models.demo.drawing import (IMAGE_SIZE, Layer, arc, b, box, colour, const_colour, ellipse,
                                              grid, layer, triangle_up, vertical_gradient)
from regionprims.models.demo.tables import INTERACTIONS, PRESENCE_SHARPNESS, SLICES


def _presence(v: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """Soft presence weight [B] and hard present flag [B] from a presence number."""
    return torch.sigmoid((v - threshold) * PRESENCE_SHARPNESS), v > threshold


def _conditional(cls: str, name: str, z: Tensor) -> tuple[Tensor, Tensor]:
    """Presence of a "conditional" interaction: its own number AND its trigger's (both > -0.6)."""
    trigger = INTERACTIONS[cls][name][1]
    w, on = _presence(z[:, SLICES[cls][name][0]], -0.6)
    tw, ton = _presence(z[:, SLICES[cls][trigger][0]], -0.6)
    return w * tw, on & ton


def background(cls: str, z: Tensor) -> Tensor:
    if cls == "face":
        img = vertical_gradient((0.72, 0.80, 0.90), (0.55, 0.62, 0.75), z)
    elif cls == "traffic":
        img = vertical_gradient((0.55, 0.70, 0.85), (0.80, 0.85, 0.90), z, split=44, below=(0.35, 0.35, 0.38))
    elif cls == "garden":
        img = vertical_gradient((0.45, 0.65, 0.95), (0.75, 0.88, 0.98), z, split=32, below=(0.35, 0.62, 0.30))
    elif cls == "shelf":
        img = vertical_gradient((0.80, 0.70, 0.55), (0.70, 0.58, 0.42), z)
        for y0 in (13, 29, 45):
            img[:, y0:y0 + 3, :] = torch.tensor((0.42, 0.28, 0.16), dtype=z.dtype).view(3, 1, 1)
    elif cls == "house":
        img = vertical_gradient((0.50, 0.72, 0.95), (0.85, 0.92, 0.98), z, split=46, below=(0.40, 0.60, 0.32))
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


def _face(z: Tensor) -> list[Layer]:
    c = "face"
    L: list[Layer] = []
    # head: skin ellipse with a darker rim (two layers of the same object)
    rx = 20.0 * (1 + 0.04 * _s(c, "head", z, 0))
    ry = 21.5 * (1 + 0.03 * _s(c, "head", z, 1))
    skin = colour((0.93, 0.74, 0.60), (0.0, -0.35, -0.55), (-0.5, -0.45, -0.35),
                   _s(c, "head", z, 2), _s(c, "head", z, 3), amp=0.22)
    L.append(layer("head", ellipse(z, 24.0, 24.5, rx, ry), skin * 0.6))
    L.append(layer("head", ellipse(z, 24.0, 24.5, rx - 1.6, ry - 1.6), skin))
    for side, cx in (("left_eye", 12.0), ("right_eye", 36.0)):
        w, on = _presence(_s(c, side, z, 0), -1.2)
        size = 1 + 0.08 * _s(c, side, z, 1)
        iris = colour((0.25, 0.45, 0.70), (0.5, 0.15, -0.6), (0.2, 0.5, 0.0),
                       _s(c, side, z, 2), _s(c, side, z, 3), amp=0.2)
        gaze = 0.8 * _s(c, side, z, 4)
        L.append(layer(side, ellipse(z, cx, 12.0, 3.6 * size, 2.8 * size),
                        const_colour((0.97, 0.97, 0.97), z), w, on))
        L.append(layer(side, ellipse(z, cx + gaze, 12.0, 1.9 * size, 1.9 * size), iris, w, on))
    w, on = _presence(_s(c, "nose", z, 0), -1.2)
    length = 5.0 * (1 + 0.1 * _s(c, "nose", z, 1))
    width = 2.8 * (1 + 0.12 * _s(c, "nose", z, 2))
    shade = (0.55 + 0.08 * _s(c, "nose", z, 3)).clamp(0.35, 0.75)
    L.append(layer("nose", ellipse(z, 24.0, 23.5, width, length), skin * shade[:, None], w, on))
    w, on = _presence(_s(c, "mouth", z, 0), -1.2)
    curv = 0.07 * _s(c, "mouth", z, 1)
    hw = 6.0 * (1 + 0.1 * _s(c, "mouth", z, 2))
    lips = colour((0.75, 0.22, 0.25), (0.2, -0.1, 0.3), (0.0, 0.0, 0.0), _s(c, "mouth", z, 3), z[:, 0] * 0)
    thick = 1.2 * (1 + 0.15 * _s(c, "mouth", z, 4))
    L.append(layer("mouth", arc(z, 24.0, 38.5 - 18.0 * curv, hw, curv, thick), lips, w, on))
    return L


def _traffic(z: Tensor) -> list[Layer]:
    c = "traffic"
    L: list[Layer] = []
    body = colour((0.20, 0.20, 0.22), (0.35, 0.30, 0.0), (0.0, 0.1, 0.3),
                   _s(c, "housing", z, 0), _s(c, "housing", z, 1), amp=0.2)
    radius = 3.0 + 0.8 * _s(c, "housing", z, 2)
    L.append(layer("housing", box(z, 24.0, 23.5, 7.0, 22.0, radius), body))
    lamps = (("red_lamp", 8.0, (0.95, 0.15, 0.10), (0.0, 0.4, 0.0)),
             ("amber_lamp", 24.0, (1.00, 0.70, 0.10), (0.0, 0.25, -0.1)),
             ("green_lamp", 40.0, (0.15, 0.90, 0.30), (0.0, 0.0, 0.6)))
    for name, cy, base, da in lamps:
        w, on = _presence(_s(c, name, z, 0), -0.6)
        col = colour(base, da, (0.0, 0.0, 0.0), _s(c, name, z, 1), z[:, 0] * 0, amp=0.2)
        r = 5.0 * (1 + 0.08 * _s(c, name, z, 2))
        L.append(layer(name, ellipse(z, 24.0, cy, r, r), col, w, on))
    w, on = _presence(_s(c, "sign", z, 0), -0.6)
    col = colour((0.20, 0.40, 0.85), (0.6, 0.1, -0.5), (0.0, 0.4, 0.0), _s(c, "sign", z, 1), _s(c, "sign", z, 2))
    size = 5.0 * (1 + 0.1 * _s(c, "sign", z, 3))
    L.append(layer("sign", box(z, 40.0, 9.0, size, size, 1.5), col, w, on))
    L.append(layer("sign", box(z, 40.0, 9.0, size * 0.55, size * 0.15, 0.3),
                    const_colour((0.97, 0.97, 0.97), z), w, on))
    w, on = _presence(_s(c, "car", z, 0), -0.6)
    col = colour((0.80, 0.15, 0.15), (-0.5, 0.1, 0.6), (0.0, 0.5, 0.0), _s(c, "car", z, 1), _s(c, "car", z, 2), amp=0.25)
    length = 6.0 * (1 + 0.08 * _s(c, "car", z, 3))
    L.append(layer("car", box(z, 8.0, 40.0, length, 3.0, 1.5), col, w, on))
    L.append(layer("car", box(z, 8.0, 36.5, length * 0.55, 2.3, 1.5), col * 0.8, w, on))
    w, on = _conditional(c, "pedestrian", z)                 # walks only on green
    col = colour((0.20, 0.30, 0.60), (0.5, 0.1, -0.4), (0, 0, 0), _s(c, "pedestrian", z, 1), z[:, 0] * 0, amp=0.25)
    hgt = 3.5 * (1 + 0.08 * _s(c, "pedestrian", z, 2))
    L.append(layer("pedestrian", box(z, 40.0, 44.0 - hgt, 1.8, hgt, 0.8), col, w, on))
    L.append(layer("pedestrian", ellipse(z, 40.0, 44.0 - 2 * hgt - 1.9, 1.9, 1.9),
                    const_colour((0.93, 0.75, 0.60), z), w, on))
    w, on = _presence(_s(c, "birds", z, 0), -0.6)            # two birds, always together
    g = (0.15 + 0.08 * _s(c, "birds", z, 1)).clamp(0.02, 0.4)
    col = torch.stack([g, g, g + 0.03], 1)
    size = 1 + 0.1 * _s(c, "birds", z, 2)
    for part, (bx, by) in enumerate(((8.0, 22.0), (40.0, 25.0))):
        L.append(layer("birds", ellipse(z, bx, by, 3.2 * size, 1.3 * size), col, w, on, part))
        L.append(layer("birds", ellipse(z, bx + 1.0, by - 1.6, 1.3 * size, 2.0 * size), col, w, on, part))
    return L


def _garden(z: Tensor) -> list[Layer]:
    c = "garden"
    L: list[Layer] = []
    w, on = _presence(_s(c, "rainbow", z, 0), -0.6)          # an arc across the three top cells
    bright = (1 + 0.1 * _s(c, "rainbow", z, 1)).view(-1, 1)
    half = 1.3 * (1 + 0.15 * _s(c, "rainbow", z, 2))
    for (rx, ry), base in (((19.0, 11.0), (0.95, 0.45, 0.35)), ((16.4, 8.4), (0.45, 0.55, 0.95))):
        ring = torch.maximum(ellipse(z, 24.0, 15.5, rx, ry).abs() - b(half, z), grid(z.device, z.dtype)[1] - 15.0)
        L.append(layer("rainbow", ring, (const_colour(base, z) * bright).clamp(0.02, 0.98), w, on))
    w, on = _presence(_s(c, "sun", z, 0), -0.6)
    col = colour((1.0, 0.85, 0.20), (0.0, -0.25, -0.1), (0, 0, 0), _s(c, "sun", z, 1), z[:, 0] * 0)
    r = 5.0 * (1 + 0.1 * _s(c, "sun", z, 2))
    L.append(layer("sun", ellipse(z, 40.0, 8.0, r, r), col, w, on))
    w, on = _presence(_s(c, "cloud", z, 0), -0.6)
    g = (0.92 + 0.05 * _s(c, "cloud", z, 1)).clamp(0.7, 0.99)
    col = torch.stack([g, g, (g + 0.04).clamp(max=0.99)], 1)
    width = 1 + 0.08 * _s(c, "cloud", z, 2)
    sd = torch.minimum(ellipse(z, 8.0, 9.5, 5.5 * width, 3.0),
                       ellipse(z, 8.5, 7.0, 3.2 * width, 3.0))
    L.append(layer("cloud", sd, col, w, on))
    w, on = _presence(_s(c, "balloon", z, 0), -0.6)
    col = colour((0.85, 0.25, 0.50), (0.1, 0.5, -0.3), (-0.5, 0.0, 0.4), _s(c, "balloon", z, 1), _s(c, "balloon", z, 2), amp=0.22)
    L.append(layer("balloon", box(z, 24.0, 26.5, 0.35, 4.0), const_colour((0.3, 0.3, 0.3), z), w, on))
    L.append(layer("balloon", ellipse(z, 24.0, 21.0, 4.5, 5.2), col, w, on))
    flowers = (("flower_left", 8.0, (0.95, 0.30, 0.30)), ("flower_mid", 24.0, (0.95, 0.85, 0.25)),
               ("flower_right", 40.0, (0.60, 0.40, 0.95)))
    for name, cx, base in flowers:
        w, on = _presence(_s(c, name, z, 0), -0.6)
        col = colour(base, (0.0, 0.4, -0.2), (-0.3, 0.0, 0.4), _s(c, name, z, 1), _s(c, name, z, 2), amp=0.22)
        r = 3.8 * (1 + 0.1 * _s(c, name, z, 3))
        L.append(layer(name, box(z, cx, 42.5, 0.6, 4.0), const_colour((0.15, 0.45, 0.15), z), w, on))
        L.append(layer(name, ellipse(z, cx, 38.0, r, r), col, w, on))
        L.append(layer(name, ellipse(z, cx, 38.0, 1.3, 1.3), const_colour((0.95, 0.85, 0.3), z), w, on))
    w, on = _presence(_s(c, "butterflies", z, 0), -0.6)      # two butterflies, always together
    col = colour((0.95, 0.55, 0.15), (0.0, 0.3, 0.5), (-0.4, 0.0, 0.3), _s(c, "butterflies", z, 1),
                  _s(c, "butterflies", z, 2), amp=0.22)
    for part, bx in enumerate((8.0, 40.0)):
        for dx in (-1.9, 1.9):
            L.append(layer("butterflies", ellipse(z, bx + dx, 24.0, 1.8, 2.6), col, w, on, part))
    return L


def _shelf(z: Tensor) -> list[Layer]:
    c = "shelf"
    L: list[Layer] = []

    def item(name, base):
        w, on = _presence(_s(c, name, z, 0), -0.6)
        col = colour(base, (0.5, -0.2, -0.3), (-0.2, 0.4, 0.3), _s(c, name, z, 1), _s(c, name, z, 2), amp=0.2)
        size = 1 + 0.1 * _s(c, name, z, 3)
        return w, on, col, size

    w, on, col, s = item("box", (0.85, 0.40, 0.55))          # sits on the plank at y=13
    L.append(layer("box", box(z, 8.0, 13.0 - 4.5 * s, 5.0 * s, 4.5 * s, 0.5), col, w, on))
    w, on, col, s = item("jar", (0.35, 0.65, 0.75))
    L.append(layer("jar", box(z, 40.0, 13.0 - 4.0 * s, 4.0 * s, 4.0 * s, 2.0), col, w, on))
    L.append(layer("jar", box(z, 40.0, 13.0 - 8.0 * s - 0.8, 3.0 * s, 1.0, 0.5), col * 0.6, w, on))
    w, on, col, s = item("ball", (0.85, 0.30, 0.25))         # on the plank at y=29
    L.append(layer("ball", ellipse(z, 24.0, 29.0 - 5.0 * s, 5.0 * s, 5.0 * s), col, w, on))
    w, on, col, s = item("books", (0.25, 0.35, 0.70))        # on the plank at y=45
    L.append(layer("books", box(z, 5.5, 45.0 - 5.5 * s, 1.8, 5.5 * s, 0.3), col, w, on))
    L.append(layer("books", box(z, 9.5, 45.0 - 5.0 * s, 1.8, 5.0 * s, 0.3), col.flip(1), w, on))
    w, on, col, s = item("can", (0.90, 0.85, 0.25))
    L.append(layer("can", box(z, 40.0, 45.0 - 4.5 * s, 3.5 * s, 4.5 * s, 1.0), col, w, on))
    w, on, col, s = item("vases", (0.30, 0.60, 0.45))        # two vases, always together
    for part, bx in enumerate((8.0, 40.0)):
        L.append(layer("vases", box(z, bx, 29.0 - 4.5 * s, 2.6, 4.5 * s, 1.2), col, w, on, part))
        L.append(layer("vases", box(z, bx, 29.0 - 9.0 * s - 1.0, 1.3, 1.2, 0.3), col * 0.75, w, on, part))
    w, on = _conditional(c, "bookend", z)                     # holds the books: only with them
    col = colour((0.55, 0.55, 0.58), (0.3, 0.2, 0.0), (0.0, 0.1, 0.3), _s(c, "bookend", z, 1), _s(c, "bookend", z, 2))
    L.append(layer("bookend", box(z, 19.5, 41.0, 1.0, 4.0, 0.2), col, w, on))
    L.append(layer("bookend", box(z, 21.5, 44.2, 3.0, 0.8, 0.2), col, w, on))
    return L


def _house(z: Tensor) -> list[Layer]:
    c = "house"
    L: list[Layer] = []
    w, on = _presence(_s(c, "chimney", z, 0), -0.6)
    h = 5.0 * (1 + 0.15 * _s(c, "chimney", z, 1))
    col = colour((0.55, 0.30, 0.25), (0.3, 0.1, 0.0), (0, 0, 0), _s(c, "chimney", z, 2), z[:, 0] * 0)
    L.append(layer("chimney", box(z, 34.0, 14.0 - h, 2.5, h + 2.0, 0.3), col, w, on))
    wall = colour((0.90, 0.82, 0.62), (-0.2, 0.1, 0.4), (0.1, -0.3, -0.3), _s(c, "body", z, 0), _s(c, "body", z, 1), amp=0.2)
    top = 20.5 + 0.7 * _s(c, "body", z, 2)
    L.append(layer("body", box(z, 24.0, (top + 46.0) / 2, 14.0, (46.0 - top) / 2, 0.3), wall))
    roof = colour((0.70, 0.25, 0.20), (-0.4, 0.0, 0.4), (0.0, 0.3, 0.0), _s(c, "roof", z, 0), _s(c, "roof", z, 1), amp=0.22)
    apex = 5.0 + 0.8 * _s(c, "roof", z, 2)
    L.append(layer("roof", triangle_up(z, 24.0, apex, 21.0, 19.0), roof))
    w, on = _presence(_s(c, "door", z, 0), -0.6)
    col = colour((0.45, 0.28, 0.15), (0.3, 0.1, 0.0), (0.0, 0.1, 0.35), _s(c, "door", z, 1), _s(c, "door", z, 2))
    dh = 6.0 * (1 + 0.08 * _s(c, "door", z, 3))
    L.append(layer("door", box(z, 24.0, 46.0 - dh, 3.5, dh, 0.8), col, w, on))
    for name, cx in (("window_left", 12.0), ("window_right", 36.0)):
        w, on = _presence(_s(c, name, z, 0), -0.6)
        col = colour((0.35, 0.55, 0.85), (0.5, 0.4, -0.3), (0.2, 0.1, -0.1), _s(c, name, z, 1), _s(c, name, z, 2), amp=0.2)
        s = 3.3 * (1 + 0.07 * _s(c, name, z, 3))
        L.append(layer(name, box(z, cx, 28.0, s, s, 0.4), col, w, on))
    w, on = _presence(_s(c, "hedges", z, 0), -0.6)            # two hedges, always together
    col = colour((0.20, 0.50, 0.20), (0.1, 0.3, 0.0), (0.2, 0.0, 0.1), _s(c, "hedges", z, 1), _s(c, "hedges", z, 2))
    for part, hx in enumerate((4.5, 43.5)):
        L.append(layer("hedges", ellipse(z, hx, 42.0, 4.0, 4.2), col, w, on, part))
    w, on = _conditional(c, "smoke", z)                       # only from a chimney
    g = (0.80 + 0.06 * _s(c, "smoke", z, 1)).clamp(0.6, 0.95)
    col = torch.stack([g, g, g], 1)
    ps = 1 + 0.1 * _s(c, "smoke", z, 2)
    L.append(layer("smoke", ellipse(z, 27.5, 5.0, 2.4 * ps, 2.0 * ps), col, w, on))
    L.append(layer("smoke", ellipse(z, 22.5, 3.0, 2.0 * ps, 1.7 * ps), col, w, on))
    return L


def _checker(z: Tensor) -> list[Layer]:
    c = "checker"
    L: list[Layer] = []
    palette = ((0.85, 0.25, 0.25), (0.25, 0.70, 0.30), (0.25, 0.40, 0.85))
    for r in range(3):
        for col_i in range(3):
            name = f"tile_{r}{col_i}"
            w, on = _presence(_s(c, name, z, 0), -0.6)
            base = palette[(r + col_i) % 3]
            col = colour(base, (0.3, 0.3, -0.4), (-0.3, 0.4, 0.2), _s(c, name, z, 1), _s(c, name, z, 2), amp=0.2)
            L.append(layer(name, box(z, 8.0 + 16 * col_i, 8.0 + 16 * r, 5.5, 5.5, 1.5), col, w, on))
    w, on = _presence(_s(c, "domino", z, 0), -0.6)            # a bar across two tiles' border
    col = colour((0.95, 0.90, 0.80), (-0.3, -0.1, 0.3), (0.0, -0.3, -0.3), _s(c, "domino", z, 1), _s(c, "domino", z, 2))
    L.append(layer("domino", box(z, 16.0, 24.0, 6.5, 2.6, 1.0), col, w, on))
    w, on = _conditional(c, "dot", z)                         # only when the top-left tile is there
    g = (0.15 + 0.1 * _s(c, "dot", z, 1)).clamp(0.02, 0.4)
    L.append(layer("dot", ellipse(z, 40.0, 40.0, 2.4, 2.4), torch.stack([g, g, g], 1), w, on))
    return L


CLASS_FN: dict[str, Callable[[Tensor], list[Layer]]] = {
    "face": _face, "traffic": _traffic, "garden": _garden, "shelf": _shelf, "house": _house,
    "checker": _checker,
}
