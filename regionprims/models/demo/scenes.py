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

import torch
from torch import Tensor

from regionprims.errors import UserError
from regionprims.validation import validate_class_index
from regionprims.models.demo.drawing import IMAGE_SIZE, Layer
from regionprims.models.demo.painters import CLASS_FN, background
from regionprims.models.demo.tables import DEMO_CLASSES, INTERACTIONS, OBJECT_DOCS, SLICES, Z_DIM

__all__ = ["DEMO_CLASSES", "IMAGE_SIZE", "INTERACTIONS", "OBJECT_DOCS", "SLICES", "Z_DIM",
           "SceneObject", "part_masks", "render_batch", "render_scene", "scene_objects"]


@dataclass
class SceneObject:
    """Ground truth of one object in one scene."""

    name: str
    present: bool
    mask: Tensor        # bool [48, 48]: pixels where the object is visible
    cells: str = ""     # where it is meant to be (documentation)
    slot: Tensor | None = None   # bool [48, 48]: pixels it covers when present (its place even when absent)


# ----------------------------------------------------------------------------------------------
# Public API

def _check_class(class_id: int) -> str:
    """The name of a demo class index (validation.validate_class_index's one message otherwise)."""
    return DEMO_CLASSES[validate_class_index(class_id, len(DEMO_CLASSES))]


def _check_z(z: Tensor) -> Tensor:
    if z.dim() != 2 or z.shape[1] != Z_DIM:
        raise UserError(f"latent codes must have shape [B, {Z_DIM}], got {tuple(z.shape)}")
    return z.float()


def _composite(cls: str, z: Tensor) -> tuple[Tensor, list[Layer]]:
    layers = CLASS_FN[cls](z)
    img = background(cls, z).unsqueeze(0).expand(z.shape[0], -1, -1, -1)
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


def _visible(cls: str, zz: Tensor) -> tuple[list[Layer], Tensor]:
    """Layers of one scene and its owner map (index into SLICES[cls] of the object drawn last
    with coverage > 0.5 at each pixel, -1 for background)."""
    layers = CLASS_FN[cls](zz)
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
        layers = CLASS_FN[cls](zz)
    slot = torch.zeros(IMAGE_SIZE, IMAGE_SIZE, dtype=torch.bool)
    for lay in layers:
        if lay.name == name:
            slot |= lay.alpha[0] > 0.5
    return slot
