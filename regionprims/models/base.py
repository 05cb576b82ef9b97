"""The protocol every generator implements: named split points, head, tail, and identity.

The feature at split point `s` is the *output* of the module named `s`. `tail(head(z))` must
equal the full forward; the tests check that for every split point.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import torch
from torch import Tensor


@dataclass(frozen=True)
class SplitContext:
    """What the tail needs besides the feature: the split point, the conditioning vector of
    the explained image (batch 1; the tail broadcasts it over a batch of features) and the
    truncation. The conditioning is held fixed while the feature is decomposed."""

    split: str
    cond: Tensor
    truncation: float


@runtime_checkable
class SplitGenerator(Protocol):
    """A frozen generator split at named points. Implementations: models.demo, models.biggan,
    models.omniart, models.wrap (any nn.Module). Optional members, read with `getattr` by the
    helpers below: `default_truncation` (float, else 1.0), `spatial_mask_tail` (a faster route
    for the optimisation's masks) and `ground_truth_scores` (extra metrics where the generator
    knows the truth, as the demo does)."""

    name: str                      # registry name, e.g. "demo", "biggan-deep-128"
    kind: str                      # family, e.g. "demo", "biggan-deep", "dcgan", "plug-in"
    image_size: int                # H == W of the output image
    z_dim: int
    class_names: tuple[str, ...]   # index -> human name
    split_points: tuple[str, ...]  # module paths, in forward order
    default_split: str
    identity: str                  # name + weights checksum; part of every cache key
    device: torch.device

    def sample_z(self, seed: int, truncation: float, batch: int = 1) -> Tensor:
        """Deterministic latent codes [batch, z_dim] for a seed (seed 0..2**32-1)."""

    def head(self, z: Tensor, class_id: int, truncation: float, split: str) -> tuple[Tensor, SplitContext]:
        """Run up to and including `split`; return the feature [B, C, h, w] and the context."""

    def tail(self, feature: Tensor, ctx: SplitContext) -> Tensor:
        """Run the rest from a feature [B, C, h, w]; return images [B, 3, H, W] in [-1, 1]."""

    def forward(self, z: Tensor, class_id: int, truncation: float) -> Tensor:
        """The unsplit forward pass (the reference the split is tested against)."""

    def feature_shape(self, split: str) -> tuple[int, int, int]:
        """(C, h, w) of the feature at `split`."""


def default_truncation(gen: SplitGenerator) -> float:
    """The generator's own default truncation (1.0 when it names none)."""
    return float(getattr(gen, "default_truncation", 1.0))


def mask_renderer(gen: SplitGenerator, ctx: SplitContext, baseline: Tensor,
                  delta: Tensor) -> Callable[[Tensor], Tensor]:
    """mask -> tail(baseline + mask * delta), the images of the minimal-feature form. Spatial
    masks [B, 1, h, w] go through the generator's `spatial_mask_tail(ctx, baseline, delta)` when
    it has one (an exact, cheaper route); everything else through `tail`."""
    def plain(mask: Tensor) -> Tensor:
        return gen.tail(baseline + mask * delta, ctx)

    make = getattr(gen, "spatial_mask_tail", None)
    fast = make(ctx, baseline, delta) if make is not None else None
    if fast is None:
        return plain
    return lambda mask: fast(mask) if mask.shape[1] == 1 else plain(mask)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks: the checksum every weights loader pins and checks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
