"""The geometric null: minimal features from where the players lie, no optimisation.

    tight:           u0(S) = f0 + m0_S ⊙ (f − f0)
    budget-matched:  u0(S) = f0 + m0_S ⊙ (u(N) − f0)      (u(N): the method's own full feature)

with m0_S the pixel mask M_S max-pooled onto the feature grid (0/1, no dilation), so the masks of
S compose by union like the method's. u0(∅) = f0. The tight null explains all of f when the players
cover the image (u0(N) = f); the budget-matched one spends exactly the method's budget (u0(N) =
u(N)), so its residual and full fit equal the method's by construction. Their OR components group
the feature cells by which players' pooled masks hold them: any score the null matches is a
property of the grid, not evidence that the optimisation found structure (docs/method.md §7).
Every decomposition reports each metric of both beside its own (`null_` and `budget_null_` + key).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from regionprims.method.regions import subset_masks

NULL_PREFIX = "null_"
BUDGET_PREFIX = "budget_null_"
DEFINITION = ("tight geometric null: u0(S) = f0 + m0_S * (f - f0), m0_S = the players' pixel mask M_S max-pooled to "
              "the feature grid (0/1, no dilation), no optimisation")
BUDGET_DEFINITION = ("budget-matched geometric null: u0(S) = f0 + m0_S * (u(N) - f0), the tight null's masks applied to "
                     "the method's own u(N), so u0(N) = u(N)")


def pooled_masks(region_masks: Tensor, feat_hw: tuple[int, int]) -> Tensor:
    """0/1 masks [K, 1, h, w] on the feature grid: a cell is in when any of its pixels is."""
    return F.adaptive_max_pool2d(region_masks.unsqueeze(1).float(), feat_hw)


def receptive_masks(region_masks: Tensor, feat_hw: tuple[int, int]) -> Tensor:
    """The pooled masks dilated by one feature cell (the reach of the tail's first 3x3
    convolutions): the start of the optimisation's masks for init 'receptive'."""
    return F.max_pool2d(pooled_masks(region_masks, feat_hw), 3, stride=1, padding=1)


@torch.no_grad()
def geometric_null(feature: Tensor, baseline: Tensor, player_masks: Tensor, subsets: Tensor,
                   target: Tensor | None = None) -> Tensor:
    """u0(S) for every row of `subsets`: [2**n, C, h, w], row 0 exactly f0. `target` is what the
    masks interpolate towards: f (the tight null, default) or the method's u(N) (budget-matched)."""
    region = subset_masks(player_masks.cpu(), subsets)
    masks = pooled_masks(region, tuple(feature.shape[-2:])).to(feature.device, feature.dtype)
    masks[0] = 0.0
    goal = feature if target is None else target
    return baseline.unsqueeze(0) + masks * (goal - baseline).unsqueeze(0)


def covers_feature(player_masks: Tensor, feat_hw: tuple[int, int]) -> bool:
    """Whether the players' pooled masks together hold every feature cell (then u0(N) = f)."""
    union = player_masks.float().amax(0, keepdim=True)
    return bool((pooled_masks(union, feat_hw) > 0).all())


def by_construction(player_masks: Tensor, feat_hw: tuple[int, int]) -> dict[str, str]:
    """The scores each null gets by construction, by prefixed key, with the reason (shown as
    such, never as a win)."""
    tight = {"joint_need": "0 by construction: the null's masks compose by union"}
    if covers_feature(player_masks, feat_hw):
        why = "the players' pooled masks hold every feature cell, so u0(N) = f"
        tight.update(residual_ratio=f"0 by construction: {why}", fit_psnr=f"perfect by construction: {why}")
    budget = {"joint_need": tight["joint_need"],
              "residual_ratio": "the method's by construction: u0(N) = u(N)",
              "fit_psnr": "the method's by construction: u0(N) = u(N)"}
    return {**prefixed(tight, NULL_PREFIX), **prefixed(budget, BUDGET_PREFIX)}


def prefixed(metrics: dict, prefix: str = NULL_PREFIX) -> dict:
    """`metrics` with every key prefixed (the keys of a null's report)."""
    return {prefix + k: v for k, v in metrics.items()}
