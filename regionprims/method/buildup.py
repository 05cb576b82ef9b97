"""The component-by-component build-up: f0, then the strongest component added, then the next,
... in rank order; each frame rendered, with its error on the players' pixels."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from regionprims.method.decomposition import Decomposition
from regionprims.method.metrics import masked_mse_one, psnr
from regionprims.models.base import SplitContext, SplitGenerator
from regionprims.method.render import render_features


@dataclass
class BuildUp:
    ks: list[int]                  # number of components in each frame (0 = baseline only)
    images: torch.Tensor           # [len(ks), 3, H, W] in [-1, 1]
    player_mse: list[float]        # MSE in [0, 1] scale against x on the players' pixels
    player_psnr: list[float]


def buildup(gen: SplitGenerator, ctx: SplitContext, dec: Decomposition, k_max: int = 20,
            with_residual: bool = False) -> BuildUp:
    """Frames for k = 0..k_max (capped at the number of components). With `with_residual` the
    residual r is added to every frame, so the last frame with all components is x itself."""
    k_max = min(k_max, len(dec.ranking))
    order = torch.tensor(dec.ranking[:k_max], dtype=torch.long)
    steps = dec.components[order]                                   # [k_max, C, h, w]
    partial = torch.cat([torch.zeros_like(dec.baseline).unsqueeze(0), steps.cumsum(0)])
    feats = dec.baseline.unsqueeze(0) + partial
    if with_residual:
        feats = feats + dec.residual
    images = render_features(gen, ctx, feats)
    mask = dec.players_mask
    mse = [masked_mse_one(img, dec.image, mask) for img in images]
    return BuildUp(ks=list(range(k_max + 1)), images=images, player_mse=mse, player_psnr=[psnr(m) for m in mse])
