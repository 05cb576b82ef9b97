"""`omniart-eyes`: the trained class-conditional DCGAN of the PyPI package omniart-eye-generator
(MIT; docs/omniart_eyes_model_card.md), 128x128 RGB, 8 eye-colour classes.

The weights are the package's `generator_model_state.pth`, found without importing the package
(its `__init__` loads them at import time), checked against a pinned sha256, read with
`torch.load(weights_only=True)` and loaded strictly into `EyeNet`, our own definition of the
architecture (module names follow the state dict: `main.0` ... `main.17`).

For speed on a CPU the generator runs the network with every eval BatchNorm folded into the
transposed convolution before it, in channels-last memory; the first layer of the tail has an
exact shortcut for spatial masks (`spatial_mask_tail`).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from regionprims.errors import UserError
from regionprims.models.base import Generator, SplitContext, sha256_file
from regionprims.models.fastlayers import SpatialMaskDeconv, fold_batchnorm
from regionprims.validation import validate_truncation

NAME = "omniart-eyes"
PACKAGE = "omniart_eye_generator"
DISTRIBUTION = "omniart-eye-generator==0.1"
WEIGHTS_FILE = "generator_model_state.pth"
WEIGHTS_SHA256 = "dd486abbd738bfe3d28ddd46987bec11e3842ddcc8c28ccc5251b52c6ecf4da0"
CLASSES = ("amber", "blue", "brown", "gray", "grayscale", "green", "hazel", "red")
Z_DIM = 100
IMAGE_SIZE = 128
WIDTHS = (1024, 512, 256, 128, 64)          # channels after each up-sampling block (4, 8, 16, 32, 64 px)
SPLIT_POINTS = ("main.2", "main.6", "main.9", "main.12", "main.15")   # the ReLU closing each block
DEFAULT_SPLIT = "main.12"                   # 32x32x128: ~10x10 feature cells per region of a 3x3 grid


class EyeNet(nn.Module):
    """The architecture of the package's generator: z (100) ++ one-hot class (8) as a 1x1 map,
    then five transposed-convolution blocks (BatchNorm, ReLU; dropout after the first) and a
    transposed convolution to RGB with tanh."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = Z_DIM + len(CLASSES)
        for i, c_out in enumerate(WIDTHS):
            first = i == 0
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 1 if first else 2, 0 if first else 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU()]
            if first:
                layers.append(nn.Dropout(0.2))
            c_in = c_out
        layers += [nn.ConvTranspose2d(c_in, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor, onehot: Tensor) -> Tensor:
        return self.main(torch.cat([z, onehot], 1)[:, :, None, None])


def weights_path() -> Path | None:
    """The package's weights file, located from its import spec without running its code."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / WEIGHTS_FILE
        if path.is_file():
            return path
    return None


def how_to_get_weights() -> str:
    return f"pip install {DISTRIBUTION} (in requirements.txt; the weights ship inside the wheel)"


def load_net(path: Path | None = None) -> EyeNet:
    """EyeNet with the package's weights: checksum first, then a strict, pickle-free load."""
    path = path or weights_path()
    if path is None:
        raise UserError(f"the {NAME} weights are not installed; {how_to_get_weights()}")
    digest = sha256_file(path)
    if digest != WEIGHTS_SHA256:
        raise UserError(f"{path} failed the checksum (sha256 {digest[:16]}..., expected {WEIGHTS_SHA256[:16]}...); "
                        f"reinstall with pip install --force-reinstall {DISTRIBUTION}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = EyeNet()
        net.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means a damaged file
        raise UserError(f"cannot load the {NAME} weights from {path}: {exc}") from None
    return net.eval().requires_grad_(False)


class OmniartEyes(Generator):
    """The generator contract over EyeNet. Block i (0..4) ends at SPLIT_POINTS[i]; block 5 is
    to-RGB. Codes are the base class's z ~ N(0, 1) times the truncation, as the package samples
    them (untruncated: default truncation 1.0)."""

    name = NAME
    kind = "dcgan"
    description = "a trained class-conditional DCGAN of eyes (omniart-eye-generator, MIT)"
    image_size = IMAGE_SIZE
    z_dim = Z_DIM
    class_names: tuple[str, ...] = CLASSES
    split_points: tuple[str, ...] = SPLIT_POINTS
    default_split = DEFAULT_SPLIT
    source = "package"

    def __init__(self, net: EyeNet, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.net = net.to(self.device)
        self.identity = f"{NAME}:{WEIGHTS_SHA256[:16]}"
        self.channels_last = self.device.type == "cpu"
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        convs = [m for m in net.main if isinstance(m, nn.ConvTranspose2d)]
        norms = [m for m in net.main if isinstance(m, nn.BatchNorm2d)] + [None]
        self.blocks = [fold_batchnorm(c, bn, fmt) for c, bn in zip(convs, norms)]   # (weight, bias, stride, pad)

    # -- the registry's hooks ----------------------------------------------------------------
    @classmethod
    def weights_present(cls, model: str) -> bool:
        return weights_path() is not None

    @classmethod
    def how_to_get(cls, model: str) -> str:
        return how_to_get_weights()

    @classmethod
    def load(cls, model: str, device: torch.device) -> OmniartEyes:
        return load_omniart(device)

    # -- helpers -----------------------------------------------------------------------------
    def _class(self, class_id: int) -> Tensor:
        return F.one_hot(torch.tensor([self.check_class(class_id)], device=self.device), len(CLASSES)).float()

    def _act(self, i: int, h: Tensor) -> Tensor:
        h = torch.tanh(h) if i == len(self.blocks) - 1 else torch.relu(h)
        return h.contiguous(memory_format=torch.channels_last) if self.channels_last else h

    def _run(self, h: Tensor, start: int, stop: int) -> Tensor:
        for i in range(start, stop):
            weight, bias, stride, pad = self.blocks[i]
            h = self._act(i, F.conv_transpose2d(h, weight, bias, stride=stride, padding=pad))
        return h

    def _input(self, z: Tensor, onehot: Tensor) -> Tensor:
        z = self.as_z(z)
        return torch.cat([z, onehot.expand(z.shape[0], -1)], 1)[:, :, None, None]

    # -- protocol ----------------------------------------------------------------------------
    def head(self, z: Tensor, class_id: int, truncation: float, split: str) -> tuple[Tensor, SplitContext]:
        onehot = self._class(class_id)
        feature = self._run(self._input(z, onehot), 0, self.check_split(split) + 1)
        return feature.contiguous(), SplitContext(split=split, cond=onehot, truncation=validate_truncation(truncation))

    def tail(self, feature: Tensor, ctx: SplitContext) -> Tensor:
        idx = self.check_split(ctx.split)
        h = self.check_feature(feature, ctx.split).to(self.device)
        if self.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        return self._run(h, idx + 1, len(self.blocks)).contiguous()

    def forward(self, z: Tensor, class_id: int, truncation: float) -> Tensor:
        validate_truncation(truncation)
        return self._run(self._input(z, self._class(class_id)), 0, len(self.blocks)).contiguous()

    def feature_shape(self, split: str) -> tuple[int, int, int]:
        idx = self.check_split(split)
        return (WIDTHS[idx], 4 * 2 ** idx, 4 * 2 ** idx)

    def spatial_mask_tail(self, ctx: SplitContext, baseline: Tensor, delta: Tensor) -> Callable[[Tensor], Tensor]:
        """tail(baseline + mask * delta) for spatial masks [B, 1, h, w], exactly (up to rounding):
        the first layer of the tail is linear in the mask, so its expensive part is computed
        once here (fastlayers.SpatialMaskDeconv) and every step only mixes per-cell outputs."""
        idx = self.check_split(ctx.split)
        weight, bias, stride, pad = self.blocks[idx + 1]
        first = SpatialMaskDeconv(weight, bias, baseline.reshape(self.feature_shape(ctx.split)),
                                  delta.reshape(self.feature_shape(ctx.split)), self.channels_last)

        def render(mask: Tensor) -> Tensor:
            return self._run(self._act(idx + 1, first(mask)), idx + 2, len(self.blocks)).contiguous()

        return render


def load_omniart(device: torch.device | str = "cpu") -> OmniartEyes:
    return OmniartEyes(load_net(), device)
