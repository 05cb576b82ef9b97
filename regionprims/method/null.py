"""The geometric null: minimal features from the players' receptive fields alone, no optimisation.

    u0(S) = f0 + m0_S ⊙ (f − f0),   m0_S = the pixel mask M_S max-pooled to the feature grid and
                                           dilated by one feature cell (0/1; the tail's reach)

u0(∅) = f0. Its OR components (the same transform as the method's) group the feature cells by which
players' receptive fields hold them, so any score the null matches is a property of spatial masks,
not evidence that the optimisation found structure (docs/method.md §7). Every decomposition
reports each metric of the null beside its own (`null_` + key).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from regionprims.method.regions import subset_masks

NULL_PREFIX = "null_"
DEFINITION = ("geometric null: u0(S) = f0 + m0_S * (f - f0), m0_S = the receptive-field mask: M_S max-pooled to the "
              "feature grid and dilated by one cell (0/1), no optimisation")


def receptive_masks(region_masks: Tensor, feat_hw: tuple[int, int]) -> Tensor:
    """0/1 masks [K, 1, h, w] on the feature grid: a cell is in when its pooled pixels touch the
    region or a neighbouring cell's do (the reach of the tail's first 3x3 convolutions)."""
    grid = F.adaptive_max_pool2d(region_masks.unsqueeze(1).float(), feat_hw)
    return F.max_pool2d(grid, 3, stride=1, padding=1)


@torch.no_grad()
def geometric_null(feature: Tensor, baseline: Tensor, player_masks: Tensor, subsets: Tensor) -> Tensor:
    """u0(S) for every row of `subsets`: [2**n, C, h, w], row 0 exactly f0."""
    region = subset_masks(player_masks.cpu(), subsets)
    masks = receptive_masks(region, tuple(feature.shape[-2:])).to(feature.device, feature.dtype)
    masks[0] = 0.0
    return baseline.unsqueeze(0) + masks * (feature - baseline).unsqueeze(0)


def null_keys(metrics: dict) -> dict:
    """`metrics` with every key prefixed by `null_` (the keys of the null's report)."""
    return {NULL_PREFIX + k: v for k, v in metrics.items()}
