"""Generators of three shapes written for the plug-in tests (random weights, seeded, small):
a DCGAN-style chain, a StyleGAN-style mapping + synthesis with per-layer styles and noise, and a
one-step U-Net denoiser whose skip connections bypass the split. Each factory takes no arguments
and returns `wrap_module(...)`, as a user's plug-in would."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from regionprims.models import wrap_module


def _seeded(module: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 / max(1, p[0].numel()) ** 0.5 if p.dim() > 1 else 0.1))
    return module


def dcgan_module() -> nn.Sequential:
    """z (16) -> 4x4 -> 8x8 -> 16x16 -> RGB 16x16 in (0, 1): an nn.Sequential chain."""
    return _seeded(nn.Sequential(
        nn.Linear(16, 32 * 4 * 4), nn.Unflatten(1, (32, 4, 4)), nn.ReLU(),
        nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.ReLU(),
        nn.Conv2d(8, 3, 3, padding=1), nn.Sigmoid()), 1)


def make_dcgan():
    return wrap_module(dcgan_module(), name="test-dcgan", z_dim=16, split_points=["4", "6"], default_split="4",
                       image_range=(0.0, 1.0))


class StyleLayer(nn.Module):
    """Up-sample, convolution modulated by a per-layer style A(w), per-pixel noise, activation."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, size: int):
        super().__init__()
        self.affine = nn.Linear(w_dim, c_in)
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.noise_strength = nn.Parameter(torch.full((1,), 0.3))
        self.register_buffer("fixed_noise", torch.randn(1, 1, size, size, generator=torch.Generator().manual_seed(size)))
        self.size = size

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=self.size, mode="nearest")
        x = x * (1 + self.affine(w))[:, :, None, None]
        x = self.conv(x)
        drawn = torch.randn(1, 1, self.size, self.size, device=x.device)   # drawn per call, held by the seed
        x = x + self.noise_strength * (self.fixed_noise + drawn)
        return F.leaky_relu(x, 0.2)


class StyleNet(nn.Module):
    """Class-conditional: mapping MLP (z ++ class embedding -> w), constant 4x4 input, three
    style layers (8, 16, 16 px), to-RGB modulated by w as well."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(3, 8)
        self.mapping = nn.Sequential(nn.Linear(16 + 8, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32))
        self.const = nn.Parameter(torch.randn(1, 16, 4, 4))
        self.synthesis = nn.ModuleList([StyleLayer(16, 16, 32, 8), StyleLayer(16, 12, 32, 16),
                                        StyleLayer(12, 8, 32, 16)])
        self.rgb_affine = nn.Linear(32, 8)
        self.to_rgb = nn.Conv2d(8, 3, 1)

    def forward(self, z: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
        w = self.mapping(torch.cat([z, self.embed(class_ids)], 1))
        x = self.const.expand(z.shape[0], -1, -1, -1)
        for layer in self.synthesis:
            x = layer(x, w)
        return torch.tanh(self.to_rgb(x * (1 + self.rgb_affine(w))[:, :, None, None]))


def make_stylegan():
    return wrap_module(_seeded(StyleNet(), 2), name="test-stylegan", z_dim=16,
                       split_points=["synthesis.0", "synthesis.1"], default_split="synthesis.0",
                       class_names=["cat", "dog", "owl"])


class UNet(nn.Module):
    """One-step denoiser x = G(z): z (3*16*16) is a noise image; two encoder levels, a middle
    block, a decoder that concatenates the encoder outputs (skips around the middle)."""

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv2d(3, 8, 3, padding=1)
        self.enc2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.mid = nn.Sequential(nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1))
        self.up2 = nn.ConvTranspose2d(16, 16, 4, 2, 1)
        self.dec2 = nn.Conv2d(32, 8, 3, padding=1)
        self.up1 = nn.ConvTranspose2d(8, 8, 4, 2, 1)
        self.dec1 = nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        noisy = z.view(-1, 3, 16, 16)
        e1 = F.relu(self.enc1(noisy))
        e2 = F.relu(self.enc2(e1))
        m = F.relu(self.mid(e2))
        d2 = F.relu(self.dec2(torch.cat([self.up2(m), e2], 1)))
        return torch.tanh(0.5 * noisy - 4 * self.dec1(torch.cat([self.up1(d2), e1], 1)))


def make_unet():
    return wrap_module(_seeded(UNet(), 3), name="test-unet", z_dim=3 * 16 * 16, split_points=["mid", "dec2"])
