"""Features to images: composing toggled/scaled components, regional patterns, uint8 RGB.
The only place where tensors become pictures."""
from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from regionprims.models.base import SplitContext, SplitGenerator

PatternKind = Literal["isolated", "loo"]


def to_rgb(image: Tensor) -> np.ndarray:
    """[3, H, W] in [-1, 1] -> uint8 [H, W, 3]."""
    x = ((image.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 0).cpu().numpy()


def compose_feature(baseline: Tensor, components: Tensor, residual: Tensor, weights: Tensor,
                    residual_weight: float = 1.0) -> Tensor:
    """f0 + sum_{S != empty} w_S Delta f_S + w_r r. weights [2**n] (entry 0 ignored). With every
    weight 1 this is exactly f (completeness); with every weight 0 it is f0."""
    w = weights.to(components.dtype).clone()
    w[0] = 0.0
    return baseline + torch.einsum("k,k...->...", w, components) + residual_weight * residual


@torch.no_grad()
def render_features(gen: SplitGenerator, ctx: SplitContext, features: Tensor, batch: int = 64) -> Tensor:
    """tail() over a stack of features [K, C, h, w] -> images [K, 3, H, W], in batches."""
    out = [gen.tail(features[i:i + batch].to(gen.device), ctx).cpu() for i in range(0, features.shape[0], batch)]
    return torch.cat(out) if out else torch.empty(0)


@torch.no_grad()
def regional_patterns(gen: SplitGenerator, ctx: SplitContext, feature: Tensor, baseline: Tensor,
                      components: Tensor, rows: Sequence[int], kind: PatternKind = "isolated") -> Tensor:
    """Pattern of each component row: isolated tail(f0 + Df_S) - tail(f0), or leave-one-out
    tail(f) - tail(f - Df_S). Returns [len(rows), 3, H, W] in image units."""
    idx = list(rows)
    if not idx:
        return torch.empty(0)
    comp = components[idx]
    if kind == "isolated":
        ref = render_features(gen, ctx, baseline.unsqueeze(0))
        return render_features(gen, ctx, baseline.unsqueeze(0) + comp) - ref
    ref = render_features(gen, ctx, feature.unsqueeze(0))
    return ref - render_features(gen, ctx, feature.unsqueeze(0) - comp)


def pattern_energy(patterns: Tensor) -> Tensor:
    """Squared change summed over RGB: [K, 3, H, W] -> [K, H, W]."""
    return patterns.square().sum(1)
