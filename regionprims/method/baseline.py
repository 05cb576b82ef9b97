"""The baseline f0: the mean feature at the split over latent codes of the image's class and
truncation, grown until it has converged (docs/method.md §2).

The first `start` codes are `sample_z(BASELINE_SEED, t, start)`. While the relative change
`‖f0(M) − f0(M/2)‖ / ‖f0(M)‖` is above `tol`, M doubles: the next M codes are drawn from seed
BASELINE_SEED + k at the k-th doubling, so every f0(M) is deterministic and f0(start) is exactly
the fixed-count baseline of `tol = 0`. At `cap` codes the growth stops, converged or not.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from regionprims.models.base import SplitGenerator
from regionprims.progress import Reporter

BASELINE_SEED = 1_000_003       # codes for f0 come from their own seed, never the image's
HEAD_BATCH = 16                 # codes per head forward


@dataclass(frozen=True)
class Baseline:
    f0: Tensor                  # [C, h, w]
    change: float               # ‖f0(M) − f0(M/2)‖ / ‖f0(M)‖ at the M used (nan for M = 1)
    codes: int                  # M, the codes averaged

    def converged(self, tol: float) -> bool:
        return tol <= 0 or self.change <= tol


def relative_change(f0: Tensor, half: Tensor | None) -> float:
    return float((f0 - half).norm() / f0.norm().clamp_min(1e-12)) if half is not None else float("nan")


def code_counts(start: int, tol: float, cap: int) -> list[int]:
    """The code counts the growth may visit: start, 2·start, ... up to cap (only start when tol = 0)."""
    counts = [start]
    while tol > 0 and counts[-1] * 2 <= cap:
        counts.append(counts[-1] * 2)
    return counts


@torch.no_grad()
def _head_sum(gen: SplitGenerator, z: Tensor, class_id: int, truncation: float, split: str,
              report: Reporter | None, done: int, total: int, cuts: tuple[int, ...] = ()) -> tuple[Tensor, dict]:
    """Σ_m head(z_m) over the codes of z, in batches; also the partial sums at the offsets `cuts`."""
    acc = torch.zeros(gen.feature_shape(split), device=gen.device)
    partial: dict[int, Tensor] = {}
    starts = sorted(set(range(0, z.shape[0], HEAD_BATCH)) | {c for c in cuts if 0 < c < z.shape[0]})
    for lo, hi in zip(starts, starts[1:] + [z.shape[0]]):
        feat, _ = gen.head(z[lo:hi], class_id, truncation, split)
        acc += feat.sum(0)
        if hi in cuts:
            partial[hi] = acc.clone()
        if report:
            n = done + hi
            report(n, total, f"baseline: {n}/{total} codes" if n <= total else
                   f"baseline: {n} codes (more than the {total} estimated)")
    return acc, partial


def compute_baseline(gen: SplitGenerator, class_id: int, truncation: float, split: str, start: int,
                     tol: float = 0.0, cap: int | None = None, report: Reporter | None = None,
                     expected: int | None = None) -> Baseline:
    """f0 over `start` codes, doubled while its relative change is above `tol` (at most `cap`).
    Progress counts codes against `expected` (the estimate's prediction) when given, else the cap."""
    counts = code_counts(start, tol, cap if cap is not None else start)
    total = min(expected, counts[-1]) if expected else counts[-1]
    mid = start // 2
    acc, partial = _head_sum(gen, gen.sample_z(BASELINE_SEED, truncation, start), class_id, truncation, split,
                             report, 0, total, (mid,))
    f0 = acc / start
    change = relative_change(f0, partial[mid] / mid if mid in partial else None)
    codes = start
    for k, target in enumerate(counts[1:], start=1):
        if change <= tol:
            break
        z = gen.sample_z(BASELINE_SEED + k, truncation, target - codes)
        more, _ = _head_sum(gen, z, class_id, truncation, split, report, codes, total)
        half, acc, codes = f0, acc + more, target
        f0 = acc / codes
        change = relative_change(f0, half)
    if report:
        report(total, total, f"baseline: {codes} codes, change {change:.3f}")
    return Baseline(f0=f0, change=change, codes=codes)
