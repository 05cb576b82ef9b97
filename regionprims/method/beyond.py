"""What a decomposition finds beyond the grid: its components compared with the tight geometric
null's (method/null.py), on the same image, baseline and players (docs/method.md §7).

- `beyond_strength`: the share of Σ‖Δf_S‖ on region sets where the null's component is empty;
- `beyond_top10`: 1 − the share of the null's top-10 region sets that are in the method's top 10;
- `joint_need`: the mask mass that subsets of ≥ 2 players add beyond the max of their sub-masks,
  as a share of all mask mass (per order in `joint_need_by_order`); the null's is 0 by construction;
- `beyond_buildup_db`: the players' PSNR of the build-up at k = 10, the method's minus the null's
  (PSNR is capped at 100 dB: a null whose top 10 hold all its components and whose masks cover the
  feature rebuilds f exactly); `beyond_buildup_budget_db` the same against the budget-matched null.

All four are computed from saved tensors only (the masks are recovered from u(S), f and f0), so
anyone can recompute them from a file.
"""
from __future__ import annotations

import torch
from torch import Tensor

from regionprims.method.monotone import level_rows, union_below
from regionprims.method.ranking import component_norms

# The figures every front end shows first: key -> (label, definition).
HEADLINE = {
    "beyond_strength": ("Strength beyond the grid", "share of Σ‖Δf_S‖ on region sets where the tight null's "
                        "component is empty (0 = pure geometry)"),
    "beyond_top10": ("Top 10 beyond the grid", "1 − the share of the null's top-10 region sets in the method's top 10"),
    "joint_need": ("Joint need", "mask mass that subsets of ≥ 2 players add beyond the max of their sub-masks, as a "
                   "share of all mask mass"),
    "beyond_buildup_db": ("Build-up vs null (dB)", "players' PSNR of the top-10 build-up, the method's minus the "
                          "tight null's (PSNR capped at 100 dB)"),
    "beyond_buildup_budget_db": ("Build-up vs null at budget (dB)", "the same against the budget-matched null "
                                 "(u0(N) = the method's u(N))"),
    "baseline_change": ("Baseline change", "‖f0(M) − f0(M/2)‖ / ‖f0(M)‖ at the M codes used (target ≤ 0.02)"),
}
ZERO_TOL = 1e-6          # a component whose norm is below this share of the largest is empty
TOP_K = 10               # the build-up and agreement depth of the headline figures
MASK_TOL = 1e-6          # feature elements where |f − f0| is below this share of the largest carry no mask


def nonzero_rows(components: Tensor) -> Tensor:
    """bool [2**n]: the rows whose component is not empty (row 0, f0, never counts)."""
    norms = component_norms(components)
    return norms > ZERO_TOL * norms.max().clamp_min(1e-30)


def beyond_strength(norms: Tensor, null_nonzero: Tensor) -> float:
    """Share of the method's Σ‖Δf_S‖ on the rows where the null's component is empty."""
    total = float(norms[1:].sum())
    off = float(norms[1:][~null_nonzero[1:]].sum())
    return off / total if total > 0 else float("nan")


def top_agreement(ranking: list[int], null_ranking: list[int], k: int = TOP_K) -> float:
    """|top_k(method) ∩ top_k(null)| / |top_k(null)|, the null's ranking holding only its non-empty rows."""
    theirs = null_ranking[:k]
    if not theirs:
        return float("nan")
    return len(set(ranking[:k]) & set(theirs)) / len(theirs)


def recovered_masks(minimal: Tensor, feature: Tensor, baseline: Tensor) -> tuple[Tensor, Tensor]:
    """m_S = (u(S) − f0) / (f − f0) elementwise, on the elements where f differs from f0 (`valid`),
    clipped to [0, 1]; exact for the mask form u(S) = f0 + m_S ⊙ (f − f0), spatial or channel."""
    diff = feature - baseline
    valid = diff.abs() > MASK_TOL * diff.abs().max().clamp_min(1e-30)
    safe = torch.where(valid, diff, torch.ones_like(diff))
    masks = ((minimal - baseline) / safe).clamp(0.0, 1.0) * valid
    return masks, valid


def joint_need(minimal: Tensor, feature: Tensor, baseline: Tensor) -> tuple[float, dict[str, float]]:
    """(share, by order): Σ over S with |S| ≥ 2 of the positive part of m_S − max_{i∈S} m_{S∖i},
    over Σ_S m_S (all non-empty S), both summed over the valid feature elements."""
    masks, _ = recovered_masks(minimal, feature, baseline)
    n = int(minimal.shape[0]).bit_length() - 1
    total = float(masks[1:].sum())
    by_order: dict[str, float] = {}
    for level, rows in enumerate(level_rows(n)[1:], start=2):
        below = union_below(masks, rows, n)
        extra = float((masks[rows] - below).clamp_min(0.0).sum())
        by_order[str(level)] = extra / total if total > 0 else float("nan")
    share = sum(by_order.values()) if total > 0 else float("nan")
    return share, by_order


GRID_STRENGTH = 0.05     # the verdict calls the components "the grid" below this beyond_strength ...
GRID_TOP = 0.1           # ... and this beyond_top10 (docs/method.md §7)


def verdict(metrics: dict) -> str:
    """One plain sentence on what the beyond-geometry figures say for this image."""
    keys = ("beyond_strength", "beyond_top10", "joint_need", "beyond_buildup_db")
    if not all(isinstance(metrics.get(k), (int, float)) for k in keys):
        return "The beyond-geometry figures are not recorded for this decomposition."
    strength, top10, need, gain = (float(metrics[k]) for k in keys)
    budget = metrics.get("beyond_buildup_budget_db")
    on_budget = f", {budget:+.2f} dB against the null at the method's budget" if isinstance(budget, float) else ""
    share = f"{100 * need:.2f}" if 100 * need >= 0.01 or need == 0 else f"{100 * need:.1g}"   # 2e-5 is not "0.00"
    tail = (f"; joint masks add {share} % of the mask mass, and the top-{TOP_K} build-up is {gain:+.2f} dB "
            f"against the null's{on_budget}.")
    if strength < GRID_STRENGTH and top10 <= GRID_TOP:
        return (f"The components are the grid pooled onto the feature map: {100 * (1 - strength):.1f} % of their "
                f"strength lies on the geometric null's region sets and their top {TOP_K} agree with the null's on "
                f"{100 * (1 - top10):.0f} %" + tail)
    return (f"{100 * strength:.1f} % of the component strength lies beyond the grid's region sets and the top "
            f"{TOP_K} agree with the null's on {100 * (1 - top10):.0f} %" + tail)
