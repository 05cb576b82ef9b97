"""BigGAN-deep (pytorch-pretrained-biggan 0.1.1) behind the SplitGenerator protocol: the
architectures of the released models, the split points, the latent codes and `BigGANDeep`.

Only this package (models.biggan) imports `pytorch_pretrained_biggan`, and it does so lazily
(inside functions), so that listing models or importing the registry stays cheap.

Split points
    `generator.layers.i` for every module of `Generator.layers` whose output is at least 8x8.
    The feature at split `s` is the output of module `s`. `head` runs `embeddings`, `gen_z`, the
    reshape and `layers[0..i]`; `tail` runs `layers[i+1..]`, then `bn -> relu -> conv_to_rgb ->
    [:, :3] -> tanh`: the exact statements of `Generator.forward` (GenBlocks take
    `(x, cond, truncation)`, SelfAttn takes `(x)`), so `tail(head(z)) == forward(z)`.

Default split
    The first module whose output is 16x16; the middle split point when no module is 16x16.
    That is `generator.layers.3` for biggan-deep-128, -256 and -512 alike (the first up-sampling
    block to 16x16, 1024 channels; for 128 `layers.4` is also 16x16 but comes later). Why 16x16:
    the layout of the scene is decided there (BigGAN-deep's early blocks fix object placement and
    parts, later blocks mostly add texture), yet the grid is fine enough to carry a 3x3 or 6x6
    grid of region players (each feature cell maps to an 8x8 patch of a 128 px image), and
    it is the earliest point whose receptive fields are local enough for "regions" to make sense.

Latent codes
    `sample_z(seed, truncation, batch)` draws from our own truncated normal, not
    `truncated_noise_sample` (its SciPy `truncnorm` internals change between SciPy releases): a
    legacy `numpy.random.RandomState(seed)` (whose stream NumPy keeps frozen) produces standard
    normals; values with |x| > 2 are rejected (the same truncation to [-2, 2] as the package);
    the accepted values, in order, fill `[batch, z_dim]` row by row and are scaled by the
    truncation. Row k of a batch does not depend on the batch size (`Z_SAMPLER` names this
    scheme; change the name if the scheme ever changes).

Reading a checkpoint folder: `models.biggan.checkpoint`; finding a released model's weights:
`models.biggan.weights`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from regionprims.errors import UserError
from regionprims.models.base import Generator, SplitContext
from regionprims.models.precision import default_precision, tail_precision
from regionprims.validation import validate_seed, validate_truncation

BIGGAN_NAMES = ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512")
KIND = "biggan-deep"
Z_SAMPLER = "randomstate-normal-reject2/v1"
MIN_SPLIT_SIZE = 8
# Architectures of the released models (== pytorch_pretrained_biggan.convert_tf_to_pytorch
# BigGAN128/256/512; a test checks it). Used to describe models without loading any weights.
_COMMON = dict(z_dim=128, class_embed_dim=128, channel_width=128, num_classes=1000,
               attention_layer_position=8, eps=1e-4, n_stats=51)
_L128 = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
         (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)]
_L256 = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
         (True, 8, 8), (False, 8, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2),
         (True, 2, 1)]
_L512 = _L256 + [(False, 1, 1), (True, 1, 1)]
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "biggan-deep-128": dict(_COMMON, output_dim=128, layers=_L128),
    "biggan-deep-256": dict(_COMMON, output_dim=256, layers=_L256),
    "biggan-deep-512": dict(_COMMON, output_dim=512, layers=_L512),
}

_FIXED_CHECK = (0, 0, 0.5)   # (seed, class, truncation) of the code every loaded model must render finitely



# --------------------------------------------------------------------------------------------
# Architecture bookkeeping (no weights, no package import)


def module_plan(layers, attention_layer_position: int, channel_width: int) -> list[tuple[str, int, int]]:
    """(kind, channels out, resolution out) of every module of `Generator.layers`, in order."""
    plan: list[tuple[str, int, int]] = []
    res = 4
    for i, (up, _c_in, c_out) in enumerate(layers):
        if i == attention_layer_position:
            plan.append(("attn", channel_width * layers[i][1], res))
        if up:
            res *= 2
        plan.append(("block", channel_width * c_out, res))
    return plan


def split_points_of(plan: list[tuple[str, int, int]]) -> tuple[str, ...]:
    return tuple(f"generator.layers.{i}" for i, (_k, _c, r) in enumerate(plan) if r >= MIN_SPLIT_SIZE)


def default_split_of(plan: list[tuple[str, int, int]]) -> str:
    """First module with a 16x16 output; else the middle split point."""
    points = split_points_of(plan)
    if not points:
        raise UserError("this BigGAN config has no layer with an output of at least 8x8 to split at")
    for i, (_k, _c, r) in enumerate(plan):
        if r == 16:
            return f"generator.layers.{i}"
    return points[len(points) // 2]


def architecture_info(name: str) -> dict[str, Any]:
    """Description of a released model from its architecture alone (no weights)."""
    if name not in ARCHITECTURES:
        raise UserError(f"unknown BigGAN model {name!r}; known: {', '.join(BIGGAN_NAMES)}")
    a = ARCHITECTURES[name]
    plan = module_plan(a["layers"], a["attention_layer_position"], a["channel_width"])
    return {"name": name, "kind": KIND, "image_size": plan[-1][2], "classes": a["num_classes"],
            "split_points": list(split_points_of(plan)), "default_split": default_split_of(plan)}


# --------------------------------------------------------------------------------------------
# Latent codes


def truncated_normal(seed: int, n: int, bound: float = 2.0) -> np.ndarray:
    """First n standard normals of RandomState(seed) with |x| <= bound (float64)."""
    rs = np.random.RandomState(seed)
    parts, have = [], 0
    while have < n:
        draw = rs.standard_normal(max(2 * (n - have), 64))
        keep = draw[np.abs(draw) <= bound]
        parts.append(keep)
        have += keep.size
    return np.concatenate(parts)[:n]


# --------------------------------------------------------------------------------------------
# The generator


class BigGANDeep(Generator):
    """A frozen BigGAN-deep split at `generator.layers.i` (see the module docstring). Its facts
    depend on the config, so they are set per instance; the registry's view of the released
    models (facts without weights, finding and fetching weights) is `family.BigGANDeepFamily`."""

    kind = KIND
    default_truncation = 0.4

    def __init__(self, model: torch.nn.Module, name: str, identity: str, device: torch.device | str = "cpu"):
        from pytorch_pretrained_biggan.model import GenBlock
        self._GenBlock = GenBlock
        self.device = torch.device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.precision = default_precision(self.device)     # the tail's (models/precision.py)
        self._channels_last = self.device.type == "cuda"    # faster convolutions on tensor cores
        if self._channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        cfg = model.config
        self.config = cfg
        self.name = name
        self.identity = identity
        self.z_dim = int(cfg.z_dim)
        self.num_classes = int(cfg.num_classes)
        self._plan = module_plan(cfg.layers, cfg.attention_layer_position, cfg.channel_width)
        self.image_size = self._plan[-1][2]
        self.split_points = split_points_of(self._plan)
        self.default_split = default_split_of(self._plan)
        self._index = {f"generator.layers.{i}": i for i in range(len(self._plan))}
        if self.num_classes == 1000:
            from regionprims.models.classes import imagenet_class_names
            self.class_names = imagenet_class_names()
        else:
            self.class_names = tuple(f"class {i}" for i in range(self.num_classes))

    def __repr__(self) -> str:
        return f"BigGANDeep({self.identity!r}, {self.image_size}px, device={self.device})"

    # -- protocol ------------------------------------------------------------------------------

    def sample_z(self, seed: int, truncation: float, batch: int = 1) -> Tensor:
        seed = validate_seed(seed)
        t = validate_truncation(truncation)
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise UserError(f"batch must be a positive integer, got {batch!r}")
        values = truncated_normal(seed, int(batch) * self.z_dim).astype(np.float32) * np.float32(t)
        return torch.from_numpy(values.reshape(int(batch), self.z_dim)).to(self.device)

    def _split_index(self, split: str) -> int:
        self.check_split(split)                                    # refuses an unknown split point
        return self._index[split]                                  # the module's index in the plan

    def _cond(self, z: Tensor, class_id: int) -> Tensor:
        z = self.as_z(z)
        y = torch.zeros(z.shape[0], self.num_classes, device=self.device, dtype=z.dtype)
        y[:, class_id] = 1.0
        return torch.cat((z, self.model.embeddings(y)), dim=1)

    def _run(self, h: Tensor, cond: Tensor, truncation: float, start: int, stop: int) -> Tensor:
        for layer in self.model.generator.layers[start:stop]:
            h = layer(h, cond, truncation) if isinstance(layer, self._GenBlock) else layer(h)
        return h

    def head(self, z: Tensor, class_id: int, truncation: float, split: str) -> tuple[Tensor, SplitContext]:
        """Feature [B, C, h, w] = output of module `split`, and the context (cond has z's batch)."""
        t = validate_truncation(truncation)
        c = self.check_class(class_id)
        idx = self._split_index(split)
        g = self.model.generator
        cond = self._cond(z, c)
        h = g.gen_z(cond)
        h = h.view(-1, 4, 4, 16 * g.config.channel_width).permute(0, 3, 1, 2).contiguous()
        h = self._run(h, cond, t, 0, idx + 1)
        return h, SplitContext(split=split, cond=cond, truncation=t)

    def tail(self, feature: Tensor, ctx: SplitContext) -> Tensor:
        """Images [B, 3, H, W] in [-1, 1] from features [B, C, h, w]; a batch-1 ctx.cond is
        broadcast over the batch. Differentiable w.r.t. `feature` (the weights are frozen)."""
        t = validate_truncation(ctx.truncation)
        idx = self._split_index(ctx.split)
        feature = self.check_feature(feature.unsqueeze(0) if feature.dim() == 3 else feature, ctx.split)
        b = feature.shape[0]
        cond = ctx.cond.to(feature.device)
        if cond.shape[0] == 1 and b != 1:
            cond = cond.expand(b, -1)
        elif cond.shape[0] != b:
            raise ValueError(f"ctx.cond has batch {cond.shape[0]}, the feature has batch {b}")
        g = self.model.generator
        if self._channels_last:
            feature = feature.contiguous(memory_format=torch.channels_last)
        with tail_precision(self.device, self.precision):
            h = self._run(feature, cond, t, idx + 1, len(g.layers))
            h = g.relu(g.bn(h, t))
            out = g.tanh(g.conv_to_rgb(h)[:, :3, ...])
        return out.float().contiguous()

    def forward(self, z: Tensor, class_id: int, truncation: float) -> Tensor:
        """The package's own `BigGAN.forward` (the unsplit reference)."""
        t = validate_truncation(truncation)
        c = self.check_class(class_id)
        z = self.as_z(z)
        y = torch.zeros(z.shape[0], self.num_classes, device=self.device, dtype=z.dtype)
        y[:, c] = 1.0
        return self.model(z, y, t)

    def feature_shape(self, split: str) -> tuple[int, int, int]:
        _k, ch, res = self._plan[self._split_index(split)]
        return (ch, res, res)


def check_finite(generator) -> None:
    """Render one fixed code; refuse (UserError) a generator whose output is not finite."""
    seed, class_id, t = _FIXED_CHECK
    with torch.no_grad():
        x = generator.forward(generator.sample_z(seed, t, 1), class_id, t)
    if not bool(torch.isfinite(x).all()):
        raise UserError(f"model {generator.name} produces non-finite output (NaN/Inf) on a fixed test "
                        "code: its weights are corrupt or untrained; get a fresh copy of the weights")
    if tuple(x.shape) != (1, 3, generator.image_size, generator.image_size):
        raise UserError(f"model {generator.name} produces images of shape {tuple(x.shape)}, "
                        f"expected (1, 3, {generator.image_size}, {generator.image_size})")


