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


def transfer_chance(n_components: int, top_a: int = 20, top_b: int = 100) -> float:
    """Expected `transfer` when b's ranking is a random order of the same n components: top_b
    of n drawn at random hold each of a's top_a with probability top_b / n (hypergeometric mean)."""
    b = min(top_b, n_components)
    return b / n_components if n_components > 0 else float("nan")


def transfer_chance_spread(n_components: int, top_a: int = 20, top_b: int = 100) -> float:
    """Standard deviation of `transfer` under that random order (hypergeometric variance / top_a^2)."""
    n, a, b = n_components, min(top_a, n_components), min(top_b, n_components)
    if n <= 1 or a == 0:
        return 0.0
    var = b * (a / n) * (1 - a / n) * (n - b) / (n - 1)
    return math.sqrt(var) / a


def transfer_defined(n_components: int, top_a: int = 20, top_b: int = 100) -> bool:
    """Transfer says something only when both tops are proper parts of the components (a top-20
    of 15 components, or a top-100 of 63, holds all of them: the score would be 1 by construction)."""
    return top_a < n_components and top_b < n_components
