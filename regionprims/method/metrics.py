"""The faithfulness metrics of DESIGN §2, each computed from a decomposition, never typed in.

All image errors are in [0, 1] pixel scale. TOP = 20 (the paper's l_a)."""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from regionprims.method.interactions import partial_reconstruction
from regionprims.method.regions import subset_masks

TOP = 20
EPS = 1e-12


def residual_ratio(feature: Tensor, baseline: Tensor, u_full: Tensor) -> float:
    """||f - u(N)|| / ||f - f0||: how much of the feature the players leave unexplained."""
    return float((feature - u_full).norm() / (feature - baseline).norm().clamp_min(EPS))


def psnr(mse: float) -> float:
    """PSNR in dB for an MSE in [0, 1] pixel scale (capped at 100 dB for a perfect fit)."""
    return 100.0 if mse <= 1e-10 else 10.0 * math.log10(1.0 / mse)


def masked_mse_one(image: Tensor, target: Tensor, mask: Tensor) -> float:
    """MSE in [0, 1] scale between two [3, H, W] images in [-1, 1] over the pixels of mask [H, W]."""
    err = ((image - target) * 0.5).square().sum(0)
    return float((err * mask).sum() / (3 * mask.sum().clamp_min(1.0)))


def additivity_error(components: Tensor, minimal: Tensor, keep_rows: Sequence[int]) -> tuple[float, Tensor]:
    """Mean over T != empty of ||f0 + sum_{S kept, S∩T≠∅} Df_S - u(T)|| / ||u(T) - f0||.
    Returns the mean and the per-T errors [2**n - 1]."""
    keep = torch.zeros(components.shape[0], dtype=torch.bool)
    keep[list(keep_rows)] = True
    estimate = partial_reconstruction(components, keep)
    f0 = components[0]
    num = (estimate[1:] - minimal[1:]).flatten(1).norm(dim=1)
    den = (minimal[1:] - f0).flatten(1).norm(dim=1).clamp_min(EPS)
    per_t = num / den
    return float(per_t.mean()), per_t


def leakage(energy: Tensor, rows: Sequence[int], subsets: Tensor, player_masks: Tensor) -> Tensor:
    """Share of each pattern's energy [K, H, W] that falls outside M_S of its own row."""
    regions = subset_masks(player_masks, subsets[list(rows)])
    total = energy.sum((1, 2)).clamp_min(EPS)
    inside = (energy * regions).sum((1, 2))
    return 1.0 - inside / total


def sparsity(norms: Tensor, ranking: Sequence[int], top: int = TOP) -> float:
    """sum of the top-k component norms / sum of all (non-empty) component norms."""
    total = float(norms[1:].sum())
    return float(norms[list(ranking[:top])].sum()) / total if total > 0 else float("nan")


def sparsity_curve(norms: Tensor, ranking: Sequence[int]) -> list[float]:
    """Cumulative share of component strength against k = 1..2^n-1."""
    ordered = norms[list(ranking)]
    total = float(ordered.sum())
    return (ordered.cumsum(0) / max(total, EPS)).tolist()


def transfer(ranking_a: Sequence[int], ranking_b: Sequence[int], top_a: int = 20, top_b: int = 100) -> float:
    """|top_a(a) ∩ top_b(b)| / top_a, components identified by their region set (subset row;
    both decompositions must use the same players). The paper's test uses 20 / 100."""
    a = set(ranking_a[:top_a])
    b = set(ranking_b[:top_b])
    return len(a & b) / max(1, min(top_a, len(ranking_a)))


def absent_scores(n_components: int, top: int = TOP) -> dict[str, str]:
    """Scores the layout makes trivial, with the reason: when the top-`top` set holds every
    non-empty component (2**n - 1 <= top), additivity is 0 and sparsity 1 by construction, so
    they say nothing and are reported as absent, never as perfect."""
    if n_components > top:
        return {}
    why = f"undefined for this layout: the top {top} hold all {n_components} components"
    return {"additivity_error_top20": f"{why} (the error is 0 by construction)",
            "sparsity_top20": f"{why} (the share is 1 by construction)"}


def transfer_chance(n_components: int, k_a: int = 20, k_b: int = 100) -> float:
    """Expected transfer(a, b, k_a, k_b) when both rankings are uniformly random orders of the same
    n_components components: E|A ∩ B| / |A| = min(k_b, n) / n (hypergeometric mean), e.g.
    100 / 511 = 0.196 for 3x3 and 20 / 511 = 0.039 for top20/top20."""
    if n_components <= 0:
        raise ValueError("transfer_chance needs at least one component")
    return min(k_b, n_components) / n_components


def transfer_p_value(overlap: int, n_components: int, k_a: int = 20, k_b: int = 100) -> float:
    """P(|A ∩ B| >= overlap) for a random top-k_a among a random top-k_b of n_components
    (hypergeometric tail): how surprising an observed overlap is at chance."""
    n, a, b = n_components, min(k_a, n_components), min(k_b, n_components)
    total = math.comb(n, a)
    return sum(math.comb(b, j) * math.comb(n - b, a - j) for j in range(max(0, overlap), min(a, b) + 1)) / total


def component_change(reference: Tensor, other: Tensor) -> float:
    """Relative L2 change of all non-empty components: ||C'[1:] − C[1:]|| / ||C[1:]|| over the
    whole stack (the stability score's measure; row 0, f0, is the same in both)."""
    return float((other[1:] - reference[1:]).norm() / reference[1:].norm().clamp_min(EPS))
