"""A tiny generator implementing SplitGenerator, defined in the tests so the engine can be
checked by hand-sized cases: z (8) -> [4,3,3] -> blocks.0 [4,6,6] -> blocks.1 [4,12,12] -> RGB 12x12."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from regionprims.errors import UserError
from regionprims.models.base import SplitContext


class TinyGenerator(nn.Module):
    name = "tiny"
    kind = "tiny"
    image_size = 12
    z_dim = 8
    class_names = ("zero", "one", "two")
    split_points = ("blocks.0", "blocks.1")
    default_split = "blocks.0"

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.embed = nn.Embedding(3, 8)
        self.stem = nn.Linear(8, 4 * 3 * 3)
        self.blocks = nn.ModuleList([nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)])
        self.to_rgb = nn.Conv2d(4, 3, 3, padding=1)
        for p in self.parameters():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        self.identity = f"tiny:{seed}"
        self.device = torch.device("cpu")
        self.eval().requires_grad_(False)

    def sample_z(self, seed: int, truncation: float, batch: int = 1) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return truncation * torch.randn(batch, self.z_dim, generator=g).clamp(-2, 2)

    def _block(self, i, h):
        return F.leaky_relu(self.blocks[i](F.interpolate(h, scale_factor=2.0)), 0.2)

    def head(self, z, class_id, truncation, split):
        if split not in self.split_points:
            raise UserError(f"unknown split {split}")
        cond = self.embed(torch.tensor([class_id]))
        h = self.stem(z + cond).view(-1, 4, 3, 3)
        stop = self.split_points.index(split)
        for i in range(stop + 1):
            h = self._block(i, h)
        return h, SplitContext(split, cond, truncation)

    def tail(self, feature, ctx):
        h = feature
        for i in range(self.split_points.index(ctx.split) + 1, len(self.blocks)):
            h = self._block(i, h)
        return torch.tanh(self.to_rgb(h))

    def forward(self, z, class_id, truncation):
        cond = self.embed(torch.tensor([class_id]))
        h = self.stem(z + cond).view(-1, 4, 3, 3)
        for i in range(len(self.blocks)):
            h = self._block(i, h)
        return torch.tanh(self.to_rgb(h))

    def feature_shape(self, split):
        side = 6 * 2 ** self.split_points.index(split)
        return (4, side, side)
