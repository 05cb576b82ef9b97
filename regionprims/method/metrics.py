"""The faithfulness metrics of docs/method.md §7, each computed from a decomposition, never typed in.

All image errors are in [0, 1] pixel scale. TOP = 20 (the paper's l_a).

`METRICS` is the one table of the metrics a decomposition records: key, label, definition,
which direction is good, whether the export caption shows it, and how it is computed from the
decomposition's `MetricInputs`. The pipeline, the explorer's Faithfulness page, the exports and
the CLI all read it; `format_metric` is the one way a value is printed. A new metric is a
function here plus one row of `METRICS` (and its line in docs/method.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from regionprims.method.decomposition import Decomposition
from regionprims.method.interactions import partial_reconstruction
from regionprims.method.regions import subset_masks

TOP = 20
EPS = 1e-12
BASELINE_TOL = 1e-6     # ||u(T) - f0|| below this share of the largest: u(T) is the baseline


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
    Returns the mean and the per-T errors [2**n - 1].

    A T whose minimal feature is the baseline itself (u(T) = f0: its regions need nothing of f,
    which an optimised mask can reach exactly at its bound 0) has no relative error: such T are
    left out of the mean (their per-T error is nan), instead of dividing by zero, which gave
    errors of 1e9. "Is the baseline" means ||u(T) - f0|| <= BASELINE_TOL x the largest ||u(T') - f0||."""
    keep = torch.zeros(components.shape[0], dtype=torch.bool)
    keep[list(keep_rows)] = True
    estimate = partial_reconstruction(components, keep)
    f0 = components[0]
    num = (estimate[1:] - minimal[1:]).flatten(1).norm(dim=1)
    den = (minimal[1:] - f0).flatten(1).norm(dim=1)
    defined = den > BASELINE_TOL * den.max().clamp_min(EPS)
    per_t = torch.where(defined, num / den.clamp_min(EPS), torch.full_like(num, float("nan")))
    return (float(per_t[defined].mean()) if defined.any() else float("nan")), per_t


def leakage(energy: Tensor, rows: Sequence[int], subsets: Tensor, player_masks: Tensor) -> Tensor:
    """Share of each pattern's energy [K, H, W] that falls outside M_S of its own row."""
    regions = subset_masks(player_masks, subsets[list(rows)])
    total = energy.sum((1, 2)).clamp_min(EPS)
    inside = (energy * regions).sum((1, 2))
    return 1.0 - inside / total


def sparsity(strength: Tensor, ranking: Sequence[int], top: int = TOP) -> float:
    """Σ of the top-k strengths / Σ of all, in the ranking's own measure (‖Δf_S‖, or the
    image-space effect when the ranking is by effect)."""
    total = float(strength[1:].sum())
    return float(strength[list(ranking[:top])].sum()) / total if total > 0 else float("nan")


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


def absent_scores(n_nonzero: int, top: int = TOP) -> dict[str, str]:
    """Scores a decomposition makes trivial, with the reason: when the top-`top` set holds every
    non-empty component (`n_nonzero` <= top; a 2x2 layout, or a null with few non-empty
    components), additivity is 0 and sparsity 1 by construction, so they say nothing and are
    reported as absent, never as perfect."""
    if n_nonzero > top:
        return {}
    why = f"undefined here: the top {top} hold all {n_nonzero} non-empty components"
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

def transfer_chance_spread(n_components: int, k_a: int = 20, k_b: int = 100) -> float:
    """Standard deviation of transfer(a, b, k_a, k_b) under those random orders (hypergeometric
    variance / k_a^2): the spread to show beside `transfer_chance`."""
    n, a, b = n_components, min(k_a, n_components), min(k_b, n_components)
    if n <= 1 or a == 0:
        return 0.0
    var = b * (a / n) * (1 - a / n) * (n - b) / (n - 1)
    return math.sqrt(var) / a


def transfer_defined(n_components: int, k_a: int = 20, k_b: int = 100) -> bool:
    """Transfer says something only when both tops are proper parts of the components (a top-20
    of 15 components, or a top-100 of 63, holds all of them: the score would be 1 by construction)."""
    return k_a < n_components and k_b < n_components


# ---------------------------------------------------------------------------------- the table

@dataclass(frozen=True)
class MetricInputs:
    """What the recorded metrics of one decomposition are computed from (rendered once)."""

    dec: Decomposition
    top: list[int]             # the TOP strongest non-empty component rows (empty ones never leak)
    u_full_image: Tensor       # [3, H, W] tail(u(N))
    energy: Tensor             # [len(top), H, W] leave-one-out pattern energy of the top components
    strength: Tensor           # [2**n] the ranking's measure of each component (row 0: 0)
    halfway: Tensor | None = None   # the components after half of every optimisation's steps (the method only)


@dataclass(frozen=True)
class Metric:
    key: str                   # the JSON key (docs/design.md §2)
    label: str                 # as shown in the explorer
    definition: str
    good: str                  # "high" | "low"
    compute: Callable[[MetricInputs], float | None]    # None: not defined for this decomposition
    caption: bool = False      # printed in the export's provenance caption


METRICS: tuple[Metric, ...] = (
    Metric("residual_ratio", "Residual ratio", "‖f − u(N)‖ / ‖f − f0‖: the part of the feature the players "
           "leave unexplained", "low",
           lambda i: residual_ratio(i.dec.feature, i.dec.baseline, i.dec.minimal[-1]), caption=True),
    Metric("fit_psnr", "Fit PSNR (dB)", "PSNR of tail(u(N)) against x on the players' pixels", "high",
           lambda i: psnr(masked_mse_one(i.u_full_image, i.dec.image, i.dec.players_mask)), caption=True),
    Metric("fit_error_mean", "Fit error (mean)", "mean over S of the masked MSE of tail(u(S)) against x on M_S",
           "low", lambda i: float(i.dec.fit_loss[1:].mean())),
    Metric("additivity_error_top20", "Additivity error, top 20", "mean over T of ‖f0 + Σ_{S∈top20, S∩T≠∅} Δf_S "
           "− u(T)‖ / ‖u(T) − f0‖", "low",
           lambda i: additivity_error(i.dec.components, i.dec.minimal, i.top)[0], caption=True),
    Metric("leakage_top20", "Leakage, top 20", "mean share of leave-one-out pattern energy outside M_S", "low",
           lambda i: float(leakage(i.energy, i.top, i.dec.subsets, i.dec.player_masks).mean()) if i.top else None,
           caption=True),
    Metric("sparsity_top20", "Sparsity, top 20", "Σ_top20 s_S / Σ_all s_S, s the ranking's measure (‖Δf_S‖ "
           "or the image-space effect)", "high", lambda i: sparsity(i.strength, i.dec.ranking)),
    Metric("stability", "Stability", "relative L2 change of all non-empty components between the result and the "
           "result after half of every optimisation's steps", "low",
           lambda i: None if i.halfway is None else component_change(i.dec.components, i.halfway)),
)
CAPTION_METRICS = tuple(m.key for m in METRICS if m.caption)


def compute_all(inputs: MetricInputs) -> dict[str, float]:
    """Every metric of `METRICS` that is defined for `inputs`, by key, in table order."""
    values = {m.key: m.compute(inputs) for m in METRICS}
    return {k: v for k, v in values.items() if v is not None}


def format_metric(key: str, value: object, unit: bool = True) -> str:
    """One metric as printed everywhere (exports, explorer, CLI): PSNR with 2 decimals (and "dB"
    when `unit`), small numbers in scientific notation, the rest with 3 decimals."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    v = float(value)
    if math.isnan(v):
        return "n/a"
    if "psnr" in key or key.endswith("_db"):
        return f"{v:.2f} dB" if unit else f"{v:.2f}"
    if v != 0.0 and abs(v) < 1e-2:
        return f"{v:.2e}"
    return f"{v:.3f}"
