"""The planted interactions of a demo scene: what ties several cells together (ground truth).

Every class but `face` (kept as the control of single-cell parts) plants two objects whose
drawing spans several cells (`scenes.INTERACTIONS`):

- "straddle": one object across a cell border (checker's domino, garden's rainbow);
- "pair": two items in different cells with ONE presence number, so they appear only together
  (traffic's birds, garden's butterflies, shelf's vases, house's hedges);
- "conditional": a detail drawn only when another object (its trigger) is present as well
  (traffic's pedestrian on green, shelf's bookend with the books, house's smoke from the
  chimney, checker's dot with the top-left tile).

`scene_interactions(z, class_id)` gives, per planted interaction, its parts' visible pixels:
the object itself (straddle), its two items (pair), or the trigger object and the detail
(conditional). Which players (regions) an interaction spans depends on the layout;
`groundtruth.planted_regions` computes it from the parts and the players' masks.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from regionprims.models.demo.scenes import DEMO_CLASSES, INTERACTIONS, part_masks, scene_objects


@dataclass
class PlantedInteraction:
    """Ground truth of one planted interaction in one scene."""

    name: str
    kind: str                # "straddle" | "pair" | "conditional"
    present: bool            # drawn in this scene (every part has visible pixels)
    parts: list[Tensor]      # bool [H, W] per part: the object / the two items / trigger and detail
    trigger: str | None = None

    @property
    def mask(self) -> Tensor:
        """All pixels the interaction draws (union of its parts)."""
        return torch.stack(self.parts).any(0)


def scene_interactions(z: Tensor, class_id: int) -> list[PlantedInteraction]:
    """Every planted interaction of the class for code z, present or not."""
    objects = {o.name: o for o in scene_objects(z, class_id)}
    out = []
    for name, (kind, trigger) in INTERACTIONS[DEMO_CLASSES[class_id]].items():
        if kind == "pair":
            parts = part_masks(z, class_id, name)
        elif kind == "conditional":
            parts = [objects[trigger].mask, objects[name].mask]
        else:
            parts = [objects[name].mask]
        if not parts:   # an absent pair draws no layer
            parts = [torch.zeros_like(objects[name].mask)]
        present = objects[name].present and all(bool(p.any()) for p in parts)
        out.append(PlantedInteraction(name, kind, present, parts, trigger))
    return out
