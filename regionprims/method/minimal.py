"""The baseline f0 and the minimal features u(S) for all 2^n subsets (DESIGN §1, docs/method.md).

u(S) = f0 + m_S * (f - f0), m_S = sigmoid(a_S), spatial [1, h, w] or channel x spatial [C, h, w];
loss_S = mean over the pixels of M_S of (tail(u(S)) - x)^2  +  lam * mean(m_S), pixels in [0, 1].
u(empty) = f0 exactly (m = 0). All subsets are optimised together, in chunks, by one Adam loop
written out here so that a subset that has converged leaves the batch (its row is frozen).
"""
from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor

from regionprims.models.base import SplitContext, SplitGenerator
from regionprims.progress import Reporter
from regionprims.method.regions import subset_masks
from regionprims.method.specs import OptimSettings

BASELINE_SEED = 1_000_003       # codes for f0 come from their own seed, never the image's


@torch.no_grad()
def compute_baseline(gen: SplitGenerator, class_id: int, truncation: float, split: str,
                     codes: int, report: Reporter | None = None, batch: int = 16) -> tuple[Tensor, float]:
    """f0 = mean over `codes` latent codes of head(z_m, class). Returns f0 [C, h, w] and its
    stability: ||f0(M) - f0(M/2)|| / ||f0(M)|| (how much the mean still moves with M)."""
    z_all = gen.sample_z(BASELINE_SEED, truncation, codes)
    total = torch.zeros(gen.feature_shape(split), device=gen.device)
    half = None
    for start in range(0, codes, batch):
        feat, _ = gen.head(z_all[start:start + batch], class_id, truncation, split)
        total += feat.sum(0)
        done = min(start + batch, codes)
        if half is None and done >= codes // 2 and codes >= 2:
            half = total / done
        if report:
            report(done, codes, f"baseline: {done}/{codes} codes")
    f0 = total / codes
    stability = float((f0 - half).norm() / f0.norm().clamp_min(1e-12)) if half is not None else float("nan")
    return f0, stability


def initial_logits(region_masks: Tensor, feat_hw: tuple[int, int], channels: int, settings: OptimSettings) -> Tensor:
    """Start of the logits. 'receptive': the subset's pixel mask, pooled to the feature grid and dilated
    by one feature cell (the tail's convolutions reach that far), gives m ~ 0.95 there and
    ~0.05 elsewhere; 'full': m ~ 0.95 everywhere (the cold start of the straightforward method)."""
    k = region_masks.shape[0]
    if settings.init == "full":
        grid = torch.ones(k, 1, *feat_hw)
    else:
        grid = F.adaptive_max_pool2d(region_masks.unsqueeze(1), feat_hw)
        grid = F.max_pool2d(grid, 3, stride=1, padding=1)
    logits = (grid * 2 - 1) * 3.0
    if settings.mask == "channel":
        logits = logits.expand(k, channels, *feat_hw)
    return logits.contiguous()


def activation_bytes_per_sample(gen: SplitGenerator, ctx: SplitContext, feature: Tensor) -> int:
    """Memory that one more sample adds to a tail forward + backward: the tensors autograd saves
    for a batch of 2 minus those for a batch of 1 (weights saved once cancel out), plus the
    sample's output, feature and mask buffers."""
    def saved(batch: int) -> int:
        total = 0

        def pack(t: Tensor) -> Tensor:
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        x = feature.unsqueeze(0).expand(batch, *feature.shape).clone().requires_grad_(True)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = gen.tail(x, ctx)
        return total + out.numel() * out.element_size()

    return max(1, saved(2) - saved(1)) + 8 * feature.numel() * feature.element_size()


def memory_budget_mb(device: torch.device | str, memory_mb: int) -> int:
    """The activation-memory bound of a run: `memory_mb` (the setting), raised on a CUDA device
    to half of the GPU memory that is free when the run starts, so that big GPUs take big
    batches (the chunk only changes how rows are batched, not their results)."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        free, _total = torch.cuda.mem_get_info(device)
        return max(int(memory_mb), int(free // 2 ** 21))
    return int(memory_mb)


def chunk_for(bytes_per_sample: int, memory_mb: int, most: int = 512) -> int:
    """Subsets per batch whose activations fit in memory_mb."""
    return int(max(1, min(most, memory_mb * 2 ** 20 // max(1, bytes_per_sample))))


def auto_chunk(gen: SplitGenerator, ctx: SplitContext, feature: Tensor, memory_mb: int, most: int = 512) -> int:
    """Subsets per batch so that the optimisation's activations stay under memory_mb."""
    return chunk_for(activation_bytes_per_sample(gen, ctx, feature), memory_mb, most)


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
                              trace: list[float] | None = None) -> tuple[Tensor, Tensor, dict]:
    """u(S) for every row of `subsets`. Returns (minimal [K,C,h,w], fit_loss [K], info).
    With `trace`, the mean objective over the batch is appended at every step (benchmarks)."""
    settings.validate()
    torch.manual_seed(settings.opt_seed)
    device = feature.device
    k_all = subsets.shape[0]
    c, h, w = feature.shape
    region = subset_masks(player_masks, subsets).to(device)            # [K, H, W]
    # 'region' normalisation: one region's error weighs the same in every subset that holds it
    per_pixels = float(player_masks.sum() / player_masks.shape[0]) if settings.loss_norm == "region" else None
    minimal = torch.empty(k_all, c, h, w, device=device)
    fit_loss = torch.zeros(k_all, device=device)
    minimal[0] = baseline                                              # u(empty) = f0 exactly
    rows = torch.arange(1, k_all, device=device)
    delta = (feature - baseline).unsqueeze(0)
    steps_used = torch.zeros(k_all, dtype=torch.long)
    mask_mean = torch.zeros(k_all, device=device)
    recon = torch.zeros(k_all, device=device)
    chunk_size = settings.chunk or auto_chunk(gen, ctx, feature, memory_budget_mb(device, settings.memory_mb))
    chunks = [rows[i:i + chunk_size] for i in range(0, len(rows), chunk_size)]
    n = subsets.shape[1]
    warm = settings.init == "singletons"
    total_work, done_work = len(rows) * settings.steps + (n * settings.warm_steps if warm else 0), 0
    warm_evals = 0
    if warm:
        singles, warm_evals = _singleton_logits(gen, ctx, baseline, delta, image, player_masks, (h, w), c,
                                                settings, per_pixels, report, total_work)
        done_work = warm_evals
    for chunk in chunks:
        if warm:
            member = subsets[chunk.cpu()].bool().to(device).view(len(chunk), n, *([1] * (singles.dim() - 1)))
            logits = torch.where(member, singles.unsqueeze(0), torch.tensor(-torch.inf, device=device)).amax(1)
        else:
            logits = initial_logits(region[chunk].cpu(), (h, w), c, settings).to(device)
        final, used, work = _adam_masks(gen, ctx, baseline, delta, image, region[chunk], logits, settings,
                                        per_pixels, report, done_work, total_work, trace)
        done_work += len(chunk) * settings.steps
        masks = torch.sigmoid(final)
        minimal[chunk] = baseline + masks * delta
        mask_mean[chunk] = masks.flatten(1).mean(1)
        steps_used[chunk.cpu()] = used
        with torch.no_grad():
            fit_loss[chunk], recon[chunk] = _fit_loss(gen, ctx, minimal[chunk], image, region[chunk],
                                                      chunk_size, per_pixels)
    objective = recon[1:] + settings.lam * mask_mean[1:]        # the loss that was minimised
    info = {"steps_mean": float(steps_used[1:].float().mean()), "steps_max": int(steps_used.max()),
            "tail_evaluations": int(steps_used.sum()) + warm_evals, "objective_mean": float(objective.mean()),
            "mask_mean": float(mask_mean[1:].mean()), "chunk": chunk_size}
    return minimal, fit_loss, info


def _singleton_logits(gen, ctx, baseline, delta, image, player_masks, feat_hw, channels, settings, per_pixels,
                      report, total):
    """Warm start for every subset: optimise the n single-player masks first (warm_steps, from
    the receptive start); a subset then starts from the union (elementwise max of the logits) of
    its players' masks. The start is OR-consistent across subsets, which keeps the high-order
    components small; see docs/method.md."""
    masks = player_masks.to(baseline.device)
    logits = initial_logits(masks.cpu(), feat_hw, channels, replace(settings, init="receptive")).to(baseline.device)
    warm = replace(settings, steps=settings.warm_steps)
    final, used, work = _adam_masks(gen, ctx, baseline, delta, image, masks, logits, warm, per_pixels, report, 0, total)
    return final, work


@torch.no_grad()
def _fit_loss(gen, ctx, feats, image, masks, batch, per_pixels):
    """(masked MSE on M_S, the optimised reconstruction term) per row."""
    fit, rec = [], []
    for i in range(0, feats.shape[0], batch):
        images = gen.tail(feats[i:i + batch], ctx)
        fit.append(masked_mse(images, image, masks[i:i + batch]))
        rec.append(masked_mse(images, image, masks[i:i + batch], per_pixels))
    return torch.cat(fit), torch.cat(rec)


def _adam_masks(gen, ctx, baseline, delta, image, region, logits, settings, per_pixels, report, done0, total,
                trace=None):
    """Adam on the mask logits of one chunk. With early_stop, a row leaves the batch once its loss
    has improved by less than `tol` (relative) for `patience` consecutive steps.
    Returns (logits, steps used per row, total row-steps)."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    k = logits.shape[0]
    m1 = torch.zeros_like(logits)
    m2 = torch.zeros_like(logits)
    t = torch.zeros(k, device=logits.device)
    best = torch.full((k,), math.inf, device=logits.device)
    stall = torch.zeros(k, dtype=torch.long, device=logits.device)
    active = torch.ones(k, dtype=torch.bool, device=logits.device)
    used = torch.zeros(k, dtype=torch.long)
    shape = (-1,) + (1,) * (logits.dim() - 1)
    for step in range(settings.steps):
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        a = logits[idx].clone().requires_grad_(True)
        mask = torch.sigmoid(a)
        images = gen.tail(baseline + mask * delta, ctx)
        recon = masked_mse(images, image, region[idx], per_pixels)
        loss = recon + settings.lam * mask.flatten(1).mean(1)
        (grad,) = torch.autograd.grad(loss.sum(), a)
        if trace is not None:
            trace.append(float(loss.detach().mean()))
        with torch.no_grad():
            t[idx] += 1
            m1[idx] = beta1 * m1[idx] + (1 - beta1) * grad
            m2[idx] = beta2 * m2[idx] + (1 - beta2) * grad.square()
            tt = t[idx].view(shape)
            step_dir = (m1[idx] / (1 - beta1 ** tt)) / ((m2[idx] / (1 - beta2 ** tt)).sqrt() + eps)
            logits[idx] = a.detach() - settings.lr * step_dir
            cur = loss.detach()
            improved = cur < best[idx] * (1 - settings.tol)
            stall[idx] = torch.where(improved, torch.zeros_like(stall[idx]), stall[idx] + 1)
            best[idx] = torch.minimum(best[idx], cur)
            used[idx.cpu()] += 1
            if settings.early_stop:
                active[idx] = stall[idx] < settings.patience
        if report:
            report(done0 + int(used.sum()), total,
                   f"minimal features: step {step + 1}/{settings.steps}, {int(active.sum())}/{k} subsets active")
    return logits, used, int(used.sum())
