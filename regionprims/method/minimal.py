"""The minimal features u(S) for all 2^n subsets (docs/method.md §4).

u(S) = f0 + m_S ⊙ (f − f0), m_S spatial [1, h, w] or channel × spatial [C, h, w], and

    loss_S = Σ_{p ∈ M_S} (tail(u(S))_p − x_p)² / (3·P)  +  lam·mean(m_S)  +  mu·mean(m_S²)

with pixels in [0, 1], the squared error summed over RGB and P one player region's pixel count
(loss_norm "region"; "mean" divides by |M_S|). u(∅) = f0 exactly (m = 0). Default (docs/method.md):
the n single-player masks are optimised first (warm_steps, from the receptive-field masks, with
the uniqueness weight warm_mu = 0 in place of mu: docs/method.md §4); then
the masks are tied monotone (tie "monotone", method/monotone.py): m_S = b_S + (1 − b_S) ⊙ a_S with
b_S the union of the masks of S's subsets one player smaller and a_S ∈ [0, 1] projected, optimised
level by level, every subset for the same number of steps (normalised gradient descent with
momentum, `optimizer="ngd"`, or Adam; cosine-decayed learning rate; no early stopping: `early_stop`
lets a converged row leave the batch, off by default). The loop is written out here so that rows
can be frozen and snapshots taken (the stability proxy).
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import NamedTuple

import torch
from torch import Tensor

from regionprims.method.chunking import (activation_bytes_per_sample, auto_chunk, chunk_for,  # noqa: F401
                                         largest_block_per_sample, memory_budget_mb)
from regionprims.models.base import SplitContext, SplitGenerator, mask_renderer
from regionprims.progress import Reporter
from regionprims.method.monotone import Batch, chunk_sizes, level_is_capped
from regionprims.method.monotone import schedule as monotone_schedule
from regionprims.method.null import receptive_masks
from regionprims.method.regions import subset_masks
from regionprims.method.specs import OptimSettings

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8    # gradient momentum, Adam's second moment and its floor


def initial_logits(region_masks: Tensor, feat_hw: tuple[int, int], channels: int, settings: OptimSettings) -> Tensor:
    """Start of the logits. 'receptive': the subset's pixel mask, pooled to the feature grid and dilated
    by one feature cell (the tail's convolutions reach that far), gives m ~ 0.95 there and
    ~0.05 elsewhere; 'full': m ~ 0.95 everywhere (the cold start of the straightforward method)."""
    k = region_masks.shape[0]
    grid = torch.ones(k, 1, *feat_hw) if settings.init == "full" else receptive_masks(region_masks, feat_hw)
    logits = grid if settings.param == "box" else (grid * 2 - 1) * 3.0
    if settings.mask == "channel":
        logits = logits.expand(k, channels, *feat_hw)
    return logits.contiguous()


def to_mask(params: Tensor, settings: OptimSettings) -> Tensor:
    """The mask of the optimised parameters: sigmoid of logits, or the values themselves ('box')."""
    return params if settings.param == "box" else torch.sigmoid(params)


def project(params: Tensor, settings: OptimSettings) -> Tensor:
    """Back into the feasible set after a step: [0, 1] for 'box' masks; logits are unbounded."""
    return params.clamp(0.0, 1.0) if settings.param == "box" else params


def learning_rate(settings: OptimSettings, step: int) -> float:
    """Constant, or cosine-decayed from lr to 0 over the run ('cosine'), so that the last steps
    settle instead of moving the steepest coordinate (ngd) or every coordinate (Adam) by ~lr."""
    if settings.schedule == "cosine":
        return settings.lr * 0.5 * (1.0 + math.cos(math.pi * step / settings.steps))
    return settings.lr


def masked_mse(images: Tensor, target: Tensor, masks: Tensor, per_pixels: float | None = None) -> Tensor:
    """Per-sample squared error in [0, 1] pixel scale over the pixels of each mask, divided by
    3 x the mask's own pixel count (a mean; per_pixels None) or by 3 x a fixed pixel count.
    images [B,3,H,W] and target [3,H,W] in [-1,1]; masks [B,H,W]."""
    err = ((images - target) * 0.5).square().sum(1)           # [B, H, W], summed over RGB
    count = masks.sum((1, 2)).clamp_min(1.0) if per_pixels is None else per_pixels
    return (err * masks).sum((1, 2)) / (3 * count)


def optimize_minimal_features(gen: SplitGenerator, ctx: SplitContext, feature: Tensor, baseline: Tensor,
                              image: Tensor, player_masks: Tensor, subsets: Tensor,
                              settings: OptimSettings, report: Reporter | None = None,
                              trace: list[float] | None = None,
                              halfway: dict | None = None) -> tuple[Tensor, Tensor, dict]:
    """u(S) for every row of `subsets`. Returns (minimal [K,C,h,w], fit_loss [K], info).
    With `trace`, the mean objective over the batch is appended at every step (benchmarks); with
    `halfway` (a dict), halfway["minimal"] gets u(S) after half of every optimisation's steps
    (the cheap stability proxy: the `stability` metric, method/metrics.py)."""
    settings.validate()
    torch.manual_seed(settings.opt_seed)
    device = feature.device
    k_all, n = subsets.shape
    c, h, w = feature.shape
    region = subset_masks(player_masks.cpu(), subsets).to(device)      # [K, H, W]
    # 'region' normalisation: one region's error weighs the same in every subset that holds it
    per_pixels = float(player_masks.sum() / player_masks.shape[0]) if settings.loss_norm == "region" else None
    delta = (feature - baseline).unsqueeze(0)
    chunk_size = settings.chunk or auto_chunk(gen, ctx, feature, memory_budget_mb(device, settings.memory_mb))
    warm = settings.init == "singletons"
    total = (k_all - 1) * settings.steps + (n * settings.warm_steps if warm else 0)

    def optimise(reg, start, st, base, done, trace=None, first=None):
        return _descend_masks(gen, ctx, baseline, delta, image, reg, start, st, per_pixels, report, done, total,
                              trace, base, first)

    def probe(reg, base):
        return can_move(gen, ctx, baseline, delta, image, reg, base, settings, per_pixels)

    masks, half, steps_used, warm_evals, probe_extra = _all_masks(optimise, region, subsets, player_masks, (h, w),
                                                                  c, settings, chunk_size, trace, probe)
    minimal = baseline + masks * delta                                  # row 0: mask 0, u(empty) = f0 exactly
    minimal[0] = baseline
    if halfway is not None:
        halfway["minimal"] = baseline + half * delta
        halfway["minimal"][0] = baseline
    fit_loss = torch.zeros(k_all, device=device)
    recon = torch.zeros(k_all, device=device)
    with torch.no_grad():
        for i in range(1, k_all, chunk_size):
            rows = slice(i, min(i + chunk_size, k_all))
            fit_loss[rows], recon[rows] = fit_losses(gen, ctx, minimal[rows], image, region[rows], chunk_size,
                                                     per_pixels)
    mask_mean = masks.flatten(1).mean(1)
    objective = recon[1:] + settings.lam * mask_mean[1:]        # reconstruction + mask size (comparable for any mu)
    minimised = objective + _ridge_weights(subsets, settings)[1:].to(device) * masks[1:].square().flatten(1).mean(1)
    info = {"steps_mean": float(steps_used[1:].float().mean()), "steps_max": int(steps_used.max()),
            "tail_evaluations": int(steps_used.sum()) + warm_evals,
            "tail_passes": int(steps_used.sum()) + warm_evals + probe_extra,
            "subsets_stepped": int((steps_used[subsets.sum(1) >= 2] > 0).sum()),
            "moving_by_order": moving_by_order(subsets, steps_used, settings),
            "objective_mean": float(objective.mean()),
            "minimised_mean": float(minimised.mean()),
            "mask_mean": float(mask_mean[1:].mean()), "chunk": chunk_size}
    return minimal, fit_loss, info


def refinement_schedule(n: int, settings: OptimSettings, chunk: int) -> list[Batch]:
    """Every batch of tail forward + backward passes that optimize_minimal_features runs, in order:
    the warm start (the n single-player masks), then the monotone levels (monotone.schedule) or
    the free masks of all 2^n - 1 subsets. The estimate counts its work from this list."""
    warm = [Batch(1, n, False, settings.warm_steps)] if settings.init == "singletons" and settings.warm_steps else []
    if settings.tie == "monotone":
        return warm + monotone_schedule(n, settings, chunk)
    return warm + [Batch(0, size, False, settings.steps) for size in chunk_sizes(2 ** n - 1, chunk)]


def moving_by_order(subsets: Tensor, steps_used: Tensor, settings: OptimSettings) -> dict[str, float]:
    """Share of the subsets of each order >= 2 that took steps ('2': 0.5, ...): what the refinement's
    probe let through (1.0 everywhere with refine 'all'). Orders above an order cap were never
    probed, so they are left out rather than recorded as 0 (an estimate without the cap would
    otherwise count them as never moving)."""
    order = subsets.sum(1)
    return {str(k): float((steps_used[order == k] > 0).float().mean()) for k in range(2, subsets.shape[1] + 1)
            if not (settings.tie == "monotone" and level_is_capped(k, settings))}


def _ridge_weights(subsets: Tensor, settings: OptimSettings) -> Tensor:
    """The uniqueness weight each row was optimised with: warm_mu for the single-player masks that
    the monotone masks keep from the warm start, mu for every other row."""
    mu = torch.full((subsets.shape[0],), settings.mu)
    if settings.tie == "monotone":
        mu[subsets.sum(1) == 1] = settings.warm_mu
    return mu


def _all_masks(optimise, region, subsets, player_masks, feat_hw, channels, settings, chunk_size, trace, probe=None):
    """Final and halfway masks [K, ...] of every row (row 0 zero), steps per row, warm-start work,
    and the tail passes the refinement probes added to the steps (monotone.monotone_masks)."""
    k_all, n = subsets.shape
    device = region.device
    warm_evals = 0
    if settings.init == "singletons":
        start = initial_logits(player_masks.cpu(), feat_hw, channels, replace(settings, init="receptive")).to(device)
        warm = replace(settings, steps=settings.warm_steps, mu=settings.warm_mu)
        singles, _, warm_evals, singles_half = optimise(player_masks.to(device), start, warm, None, 0)
    if settings.tie == "monotone":
        from regionprims.method.monotone import monotone_masks
        masks, half, steps, probe_extra = monotone_masks(optimise, region, subsets, to_mask(singles, settings),
                                                         to_mask(singles_half, settings),
                                                         replace(settings, param="box"), chunk_size, warm_evals, probe)
        return masks, half, steps, warm_evals, probe_extra
    shape = (k_all, channels if settings.mask == "channel" else 1, *feat_hw)
    masks, half = torch.zeros(shape, device=device), torch.zeros(shape, device=device)
    steps_used = torch.zeros(k_all, dtype=torch.long)
    done = warm_evals
    for i in range(1, k_all, chunk_size):
        rows = torch.arange(i, min(i + chunk_size, k_all))
        if settings.init == "singletons":
            member = subsets[rows].bool().to(device).view(len(rows), n, *([1] * (singles.dim() - 1)))
            start = torch.where(member, singles.unsqueeze(0), torch.tensor(-torch.inf, device=device)).amax(1)
        else:
            start = initial_logits(region[rows.to(device)].cpu(), feat_hw, channels, settings).to(device)
        final, used, _, mid = optimise(region[rows.to(device)], start, settings, None, done, trace)
        masks[rows.to(device)], half[rows.to(device)] = to_mask(final, settings), to_mask(mid, settings)
        steps_used[rows] = used
        done += len(rows) * settings.steps
    return masks, half, steps_used, warm_evals, 0


NOISE = 1e-6      # ngd: a cell whose upward pull is below this share of the row's largest gradient is noise


class ProbeResult(NamedTuple):
    """What one forward + backward at a_S = 0 tells about each row: whether a_S can move, and the
    gradient and loss there, which are exactly those of the row's first step (a_S = 0, no momentum yet),
    so a moving row takes that step without another pass."""

    movable: Tensor     # bool [rows]
    grad: Tensor        # d loss / d a_S at a_S = 0, [rows, ...]
    loss: Tensor        # [rows]

    def rows(self, keep: Tensor) -> "ProbeResult":
        """The probe of the rows `keep` (indices) only: what the rows that move take into their steps."""
        return ProbeResult(*(t[keep.to(t.device)] for t in self))


def can_move(gen: SplitGenerator, ctx: SplitContext, baseline: Tensor, delta: Tensor, image: Tensor,
             region: Tensor, base: Tensor, settings: OptimSettings, per_pixels: float | None) -> ProbeResult:
    """Whether each monotone increment a_S can leave 0: one forward + backward at a_S = 0. The
    projected step moves a cell up only where the gradient is negative, so a row with no negative
    entry stays at 0 for every step (the gradient at a_S = 0 does not change). Under ngd a cell
    moves by lr x its share of the row's largest gradient, so negative entries below NOISE of it
    (float noise) count as zero; Adam moves any cell with a gradient, so there only an exact zero or
    a positive gradient is at rest."""
    render = mask_renderer(gen, ctx, baseline, delta)
    grad, loss = _loss_and_grad(render, torch.zeros_like(base), base, region, image, settings, per_pixels)
    flat = grad.flatten(1)
    pull = (-flat).clamp_min(0).amax(1)                       # the strongest upward pull of each row
    movable = pull > NOISE * flat.abs().amax(1) if settings.optimizer == "ngd" else pull > 0
    return ProbeResult(movable, grad, loss)


def _loss_and_grad(render, params: Tensor, base: Tensor | None, region: Tensor, image: Tensor,
                   settings: OptimSettings, per_pixels: float | None) -> tuple[Tensor, Tensor]:
    """(d loss / d params, loss) per row: the mask is to_mask(params), or base + (1 − base) ⊙ params
    for the monotone increments; loss = masked error + lam·mean(m) + mu·mean(m²) (the module's docstring)."""
    a = params.detach().requires_grad_(True)               # callers pass a fresh tensor: no copy needed
    mask = to_mask(a, settings) if base is None else base + (1 - base) * a
    recon = masked_mse(render(mask), image, region, per_pixels)
    loss = recon + settings.lam * mask.flatten(1).mean(1) + settings.mu * mask.square().flatten(1).mean(1)
    (grad,) = torch.autograd.grad(loss.sum(), a)
    return grad.detach(), loss.detach()


@torch.no_grad()
def fit_losses(gen: SplitGenerator, ctx: SplitContext, feats: Tensor, image: Tensor, masks: Tensor, batch: int,
               per_pixels: float | None) -> tuple[Tensor, Tensor]:
    """(masked MSE of tail(feats) against x on M_S, the optimised reconstruction term) per row;
    the fit of any stack of minimal features (the method's, or the null's)."""
    fit, rec = [], []
    for i in range(0, feats.shape[0], batch):
        images = gen.tail(feats[i:i + batch], ctx)
        fit.append(masked_mse(images, image, masks[i:i + batch]))
        rec.append(masked_mse(images, image, masks[i:i + batch], per_pixels))
    return torch.cat(fit), torch.cat(rec)


def direction(settings: OptimSettings, m1: Tensor, m2: Tensor | None, t: Tensor) -> Tensor:
    """The step direction of each row from its bias-corrected gradient moments (t: steps taken, [k,1..];
    the second moment m2 only for Adam, None for ngd).

    'ngd': the momentum gradient divided by its largest absolute entry in the row, so the cell the
    loss depends on most moves by the learning rate and every other cell in proportion to its
    gradient: cells the loss hardly depends on (the flat directions) hardly move, whatever the
    number of steps. 'adam': the momentum divided by the root of the second moment per cell, which
    moves every cell by about the learning rate, flat or not (the drift measured in docs/method.md)."""
    g = m1 / (1 - BETA1 ** t)
    if settings.optimizer == "ngd":
        return g / g.flatten(1).abs().amax(1).clamp_min(1e-30).view(-1, *([1] * (g.dim() - 1)))
    return g / ((m2 / (1 - BETA2 ** t)).sqrt() + EPS)


def _descend_masks(gen, ctx, baseline, delta, image, region, logits, settings, per_pixels, report, done0, total,
                   trace=None, base=None, first: ProbeResult | None = None):
    """The optimiser (settings.optimizer) on the mask parameters of one chunk. With early_stop, a row
    leaves the batch once its loss has improved by less than `tol` (relative) for `patience`
    consecutive steps. `first`: the probe of these rows at their start, used as the first step's
    gradient (no pass). Returns (logits, steps used per row, total row-steps, the logits after half
    of the steps: the snapshot of the stability proxy)."""
    k = logits.shape[0]
    m1 = torch.zeros_like(logits)
    m2 = torch.zeros_like(logits) if settings.optimizer == "adam" else None    # ngd needs no second moment
    t = torch.zeros(k, device=logits.device)
    best = torch.full((k,), math.inf, device=logits.device)
    stall = torch.zeros(k, dtype=torch.long, device=logits.device)
    active = torch.ones(k, dtype=torch.bool, device=logits.device)
    used = torch.zeros(k, dtype=torch.long)
    shape = (-1,) + (1,) * (logits.dim() - 1)
    render = mask_renderer(gen, ctx, baseline, delta)
    half = logits.clone() if settings.steps // 2 == 0 else None
    for step in range(settings.steps):
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        a = logits[idx]
        if step == 0 and first is not None:             # the probe's pass at a_S = 0 is this step's
            grad, loss = first.grad[idx], first.loss[idx]
        else:
            grad, loss = _loss_and_grad(render, a, None if base is None else base[idx], region[idx], image,
                                        settings, per_pixels)
        if trace is not None:
            trace.append(float(loss.mean()))
        with torch.no_grad():
            t[idx] += 1
            m1[idx] = BETA1 * m1[idx] + (1 - BETA1) * grad
            if m2 is not None:
                m2[idx] = BETA2 * m2[idx] + (1 - BETA2) * grad.square()
            step_dir = direction(settings, m1[idx], None if m2 is None else m2[idx], t[idx].view(shape))
            logits[idx] = project(a - learning_rate(settings, step) * step_dir, settings)
            cur = loss
            improved = cur < best[idx] * (1 - settings.tol)
            stall[idx] = torch.where(improved, torch.zeros_like(stall[idx]), stall[idx] + 1)
            best[idx] = torch.minimum(best[idx], cur)
            used[idx.cpu()] += 1
            if step + 1 == settings.steps // 2:
                half = logits.clone()
            if settings.early_stop:
                active[idx] = stall[idx] < settings.patience
        if report:
            report(done0 + int(used.sum()), total,
                   f"minimal features: step {step + 1}/{settings.steps}, {int(active.sum())}/{k} subsets active")
    return logits, used, int(used.sum()), (logits.clone() if half is None else half)
