"""Monotone minimal features: m_S >= m_T for every T ⊆ S, optimised level by level.

"The minimal feature for more regions" needs at least what it needs for fewer, so the mask of S
starts from the union of the masks of its subsets one player smaller and may only add to it:

    m_S = b_S + (1 − b_S) ⊙ a_S,   b_S = max_{i ∈ S} m_{S∖i},   a_S ∈ [0, 1] (projected), a_S = 0 at the start.

The singletons (level 1, b = 0) come from the warm start. Level k is optimised after level k − 1,
all of its subsets together (chunked). A cell that no subset of S needs less of and S does not
need more of keeps a_S = 0 exactly: the projection holds it at the bound, so the flat directions
of the objective (along which unconstrained masks drift with every extra step) do not move at all, and
the components are the cells grouped by which player sets first need them.

Refinement (settings.refine, settings.max_order). Most subsets of two or more players add nothing:
at a_S = 0 no cell's gradient pushes a_S up, the projected step leaves it at 0, the gradient is
then the same at the next step, and so on, so a_S = 0 after any number of steps. With refine
"skip" one batched gradient at a_S = 0 per level decides this (`Probe`), and only the subsets that
can move are stepped, their first step taking the probe's gradient (it is the gradient of that
step: a_S = 0, no momentum yet); the masks are those of refine "all" (every subset stepped) up to
float noise. With max_order K > 0 the subsets of more than K players are not optimised at all (a_S = 0,
m_S = b_S): an approximation whose effect docs/method.md measures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from regionprims.method.specs import OptimSettings

# optimise(region rows, start params, settings, base, work done so far, first=probe of the rows or None)
#   -> (params, steps per row, row-steps, params after half the steps)
Optimiser = Callable[..., tuple[Tensor, Tensor, int, Tensor]]
# probe(region rows, base) -> minimal.ProbeResult: whether a_S can move from 0, and the gradient and
# loss at a_S = 0 (one forward + backward per row; a moving row's first step reuses them)
Probe = Callable[[Tensor, Tensor], Any]      # minimal.ProbeResult (minimal imports this module)


def level_rows(n: int) -> list[Tensor]:
    """Rows of the subsets of each size 1..n, in binary-counting order within a level."""
    rows = torch.arange(2 ** n)
    size = ((rows.unsqueeze(1) >> torch.arange(n)) & 1).sum(1)
    return [rows[size == k] for k in range(1, n + 1)]


def union_below(masks: Tensor, rows: Tensor, n: int) -> Tensor:
    """b_S = max over the players i of S of masks[S ∖ i] for each row S (masks of smaller sets known)."""
    base = torch.zeros(len(rows), *masks.shape[1:], device=masks.device)
    for j in range(n):
        has = ((rows >> j) & 1).bool().to(masks.device)
        if has.any():
            base[has] = torch.maximum(base[has], masks[rows.to(masks.device)[has] ^ (1 << j)])
    return base


def level_is_capped(level: int, settings: OptimSettings) -> bool:
    """Whether the subsets of `level` players are left at a_S = 0 by the order cap."""
    return 0 < settings.max_order < level


@dataclass(frozen=True)
class Batch:
    """One batch of the optimisation, as it runs: `rows` subsets of `level` players; with `probe`,
    one gradient per row first decides which rows take the `steps` steps."""

    level: int
    rows: int
    probe: bool
    steps: int


def chunk_sizes(rows: int, chunk: int) -> list[int]:
    """`rows` subsets in batches of at most `chunk`."""
    full, rest = divmod(rows, chunk)
    return [chunk] * full + ([rest] if rest else [])


def schedule(n: int, settings: OptimSettings, chunk: int) -> list[Batch]:
    """The refinement's batches in the order monotone_masks runs them: each level of 2..n players
    not above the order cap, in chunks (the single players come from the warm start)."""
    return [Batch(level, size, settings.refine == "skip", settings.steps)
            for level in range(2, n + 1) if not level_is_capped(level, settings)
            for size in chunk_sizes(math.comb(n, level), chunk)]


def monotone_masks(optimise: Optimiser, region: Tensor, subsets: Tensor, singles: Tensor, singles_half: Tensor,
                   settings: OptimSettings, chunk: int, done: int,
                   probe: Probe | None = None) -> tuple[Tensor, Tensor, Tensor, int]:
    """Masks [2**n, ...] for every row (row 0 zero; the singleton rows from `singles`, mask values in
    [0, 1]), the same after half of each level's steps (on the final lower levels), the steps used
    per row, and the per-sample tail passes the probes added to the steps (refine "skip": one per
    row probed, less one per row stepped, whose first step is its probe). The batches are those
    of `schedule`; the levels above the order cap follow, each the max of its sub-masks."""
    n = subsets.shape[1]
    masks = torch.zeros(2 ** n, *singles.shape[1:], device=singles.device)
    half = torch.zeros_like(masks)
    steps = torch.zeros(2 ** n, dtype=torch.long)
    probe_extra = 0
    levels = level_rows(n)
    masks[levels[0].to(singles.device)] = singles
    half[levels[0].to(singles.device)] = singles_half
    start = {}
    for batch in schedule(n, settings, chunk):
        first = start.get(batch.level, 0)
        part = levels[batch.level - 1][first:first + batch.rows]
        start[batch.level] = first + batch.rows
        at = part.to(masks.device)
        base = union_below(masks, part, n)
        masks[at] = half[at] = base
        probed = probe(region[at], base) if batch.probe and probe is not None else None
        movable = torch.ones(len(part), dtype=torch.bool) if probed is None else probed.movable.cpu()
        skipped = int((~movable).sum())
        done += skipped * settings.steps                     # progress: the skipped rows are done
        probe_extra += skipped                               # a stepped row's probe is its first step
        if not movable.any():
            continue
        keep = movable.nonzero().squeeze(1)
        sub, sub_at, sub_base = part[keep], at[keep.to(at.device)], base[keep.to(base.device)]
        params, used, _, mid = optimise(region[sub_at], torch.zeros_like(sub_base), settings, sub_base, done,
                                        first=None if probed is None else probed.rows(keep))
        masks[sub_at] = sub_base + (1 - sub_base) * params
        half[sub_at] = sub_base + (1 - sub_base) * mid
        steps[sub] = used
        done += len(sub) * settings.steps
    for level in range(2, n + 1):
        if level_is_capped(level, settings):
            rows = levels[level - 1]
            base = torch.cat([union_below(masks, rows[i:i + chunk], n) for i in range(0, len(rows), chunk)])
            masks[rows.to(masks.device)] = half[rows.to(masks.device)] = base
    return masks, half, steps, probe_extra
