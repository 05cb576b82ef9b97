"""The demo generator's network: a small class-conditional generator of BigGAN's family.

Architecture (see docs/demo_model_card.md):

    z [32] ++ class embedding [E]  --linear-->  C0 x 6 x 6
    blocks.0  BigGAN residual up-block (CBN, nearest up, 2 conv3x3, 1x1 skip)  C0 -> C1, 6 -> 12
    blocks.1  CBN-ReLU-convT4x4/2, then u + conv3x3(ReLU(CBN(u)))              C1 -> C2, 12 -> 24
    blocks.2  CBN-ReLU-convT4x4/2                                               C2 -> C3, 24 -> 48
    (the three block outputs are the split points; default blocks.0 at 12 x 12)
    out       BN -> ReLU -> conv3x3 (C3 -> 3) -> tanh

The batch norms are conditioned on the CLASS EMBEDDING ONLY, not on z (BigGAN conditions them
on [z chunk, class]). Why: the decomposition holds the conditioning fixed and explains the image
by the feature at the split. If z also reached the tail through the batch-norm gains, part of
what the latent code contributes (an object's colour, say) would bypass the feature and no
feature decomposition could attribute it to a region. With class-only conditioning, everything
z changes in the image passes through the feature at the split, so the renderer's objects are
a real ground truth for the components.

Trainable torch modules only; the protocol (split, checks, loading the weights) is generator.py.
"""
from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from regionprims.models.demo.scenes import DEMO_CLASSES, Z_DIM

DEFAULT_CONFIG: dict = {
    "z_dim": Z_DIM,
    "n_classes": len(DEMO_CLASSES),
    "embed_dim": 32,
    "channels": [128, 48, 24, 12],   # C0 (6x6), then the outputs of blocks.0/1/2
    "base_size": 6,
}


class CondBatchNorm(nn.Module):
    """BatchNorm without affine parameters, then a per-class gain and bias computed from the
    class embedding: y = (1 + gain(e)) * bn(x) + bias(e)."""

    def __init__(self, channels: int, embed_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(embed_dim, channels)
        self.bias = nn.Linear(embed_dim, channels)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.gain.bias)
        nn.init.zeros_(self.bias.weight)
        nn.init.zeros_(self.bias.bias)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        g = 1 + self.gain(cond)
        b = self.bias(cond)
        if self.training:
            return self.bn(x) * g[:, :, None, None] + b[:, :, None, None]
        # eval: fold the running statistics into one per-channel scale and shift (one op)
        inv = torch.rsqrt(self.bn.running_var + self.bn.eps)
        scale = g * inv
        shift = b - self.bn.running_mean * scale
        return torch.addcmul(shift[:, :, None, None], x, scale[:, :, None, None])


class UpBlock(nn.Module):
    """BigGAN-style residual up-sampling block: CBN-ReLU-up-conv3x3-CBN-ReLU-conv3x3, plus a
    shortcut up-conv1x1 (blocks.0, head side, where cost does not matter)."""

    def __init__(self, cin: int, cout: int, embed_dim: int):
        super().__init__()
        self.bn1 = CondBatchNorm(cin, embed_dim)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn2 = CondBatchNorm(cout, embed_dim)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        h = F.relu(self.bn1(x, cond))
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.conv1(h)
        h = self.conv2(F.relu(self.bn2(h, cond)))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TransposedUpBlock(nn.Module):
    """Cheap up-sampling block of the tail: CBN-ReLU-convT4x4/2 (cin -> cout), then, when
    `residual`, u + conv3x3(ReLU(CBN(u))). A transposed convolution up-samples and convolves in
    one op; nearest up-sampling followed by a 3x3 convolution costs ~4x more here, and
    element-wise ops at 48 px dominate the tail's cost (measured; see the model card)."""

    def __init__(self, cin: int, cout: int, embed_dim: int, residual: bool):
        super().__init__()
        self.bn1 = CondBatchNorm(cin, embed_dim)
        self.up = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
        self.residual = residual
        if residual:
            self.bn2 = CondBatchNorm(cout, embed_dim)
            self.conv = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        u = self.up(F.relu(self.bn1(x, cond)))
        if self.residual:
            u = u + self.conv(F.relu(self.bn2(u, cond)))
        return u


class DemoNet(nn.Module):
    """The trainable network (no protocol logic)."""

    def __init__(self, config: dict | None = None):
        super().__init__()
        cfg = dict(DEFAULT_CONFIG if config is None else config)
        self.config = cfg
        ch = list(cfg["channels"])
        E = int(cfg["embed_dim"])
        self.base = int(cfg["base_size"])
        self.embed = nn.Embedding(int(cfg["n_classes"]), E)
        self.linear = nn.Linear(int(cfg["z_dim"]) + E, ch[0] * self.base * self.base)
        assert len(ch) == 4, "the demo architecture has three blocks"
        self.blocks = nn.ModuleList([
            UpBlock(ch[0], ch[1], E),                          # 6 -> 12
            TransposedUpBlock(ch[1], ch[2], E, residual=True),   # 12 -> 24
            TransposedUpBlock(ch[2], ch[3], E, residual=False),  # 24 -> 48
        ])
        self.out_bn = nn.BatchNorm2d(ch[-1])
        self.out_conv = nn.Conv2d(ch[-1], 3, 3, padding=1)

    def cond(self, class_ids: Tensor) -> Tensor:
        return self.embed(class_ids)

    def stem(self, z: Tensor, cond: Tensor) -> Tensor:
        h = self.linear(torch.cat([z, cond.expand(z.shape[0], -1)], 1))
        return h.view(z.shape[0], -1, self.base, self.base)

    def run_blocks(self, h: Tensor, cond: Tensor, start: int, stop: int) -> Tensor:
        for blk in self.blocks[start:stop]:
            h = blk(h, cond)
        return h

    def to_image(self, h: Tensor) -> Tensor:
        bn = self.out_bn
        if self.training:
            h = bn(h)
        else:   # folded eval BN: one addcmul (native batch-norm backward is ~3x slower here)
            scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
            shift = bn.bias - bn.running_mean * scale
            h = torch.addcmul(shift[None, :, None, None], h, scale[None, :, None, None])
        return torch.tanh(self.out_conv(F.relu(h)))

    def forward(self, z: Tensor, class_ids: Tensor) -> Tensor:
        cond = self.cond(class_ids)
        h = self.run_blocks(self.stem(z, cond), cond, 0, len(self.blocks))
        return self.to_image(h)


def config_from_metadata(meta: dict[str, str] | None) -> dict:
    if meta and "config" in meta:
        return json.loads(meta["config"])
    return dict(DEFAULT_CONFIG)
