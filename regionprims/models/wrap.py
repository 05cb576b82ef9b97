"""`wrap_module`: any torch.nn.Module generator as a SplitGenerator (docs/plugins.md).

The module's forward is `module(z)` (unconditional) or `module(z, class_ids)`; the feature at a
split point is the output of the module of that name (`named_modules()`). How the split runs:

- head: the forward runs until the split module has produced its output, which a forward hook
  takes and stops the forward (nothing after the split is computed);
- tail, plain chain (the module is an nn.Sequential and the split is one of its children): only
  the children after the split run, on the feature;
- tail, any other forward (skip connections around the split, several inputs per layer, styles,
  noise): the whole forward runs on the explained image's z and class, repeated over the batch,
  and a forward hook replaces the split module's output by the feature. So everything the tail
  needs besides the feature (skips, styles, conditioning) holds its value for the explained image.
  Random numbers drawn inside the forward come from a generator seeded by z, the same in head
  and tail: draw noise with a batch size of 1 (or keep it in a buffer) so that it is held too.
The hooks keep their state per thread, so the explorer may render while a decomposition runs.
"""
from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from regionprims.errors import UserError
from regionprims.models.base import Generator, SplitContext
from regionprims.validation import validate_truncation


@dataclass(frozen=True)
class ModuleContext(SplitContext):
    """SplitContext whose `cond` is the explained image's z [1, z_dim]; plus its class index."""

    class_id: int = 0


class _Stop(Exception):
    """Raised by the capture hook: the head has its feature, the rest of the forward is skipped."""


def _weights_digest(module: nn.Module) -> str:
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class ModuleGenerator(Generator):
    """The generator contract over an nn.Module (see the module docstring); made by `wrap_module`.
    Codes are the base class's standard normals times the truncation."""

    kind = "plug-in"

    def __init__(self, module: nn.Module, *, name: str, z_dim: int, split_points: Sequence[str],
                 default_split: str | None = None, class_names: Sequence[str] | None = None,
                 image_range: tuple[float, float] = (-1.0, 1.0), identity: str | None = None):
        named = dict(module.named_modules())
        missing = [s for s in split_points if s not in named or s == ""]
        if not split_points or missing:
            raise UserError(f"wrap_module({name!r}): split points {missing or '[]'} are not module names "
                            f"(some names: {', '.join(list(named)[1:8])})")
        lo, hi = (float(v) for v in image_range)
        if not hi > lo:
            raise UserError(f"wrap_module({name!r}): image_range must be (low, high) with high > low")
        self.module = module.eval().requires_grad_(False)
        self.name, self.z_dim = str(name), int(z_dim)
        self.split_points = tuple(split_points)
        self.default_split = default_split or self.split_points[len(self.split_points) // 2]
        self.conditional = class_names is not None
        self.class_names = tuple(class_names) if class_names else ("unconditional",)
        self.check_facts(f"wrap_module({name!r})")
        self._range = (lo, hi)
        self.identity = identity or f"{self.name}:{_weights_digest(module)[:16]}"
        param = next(iter(module.parameters()), None)
        self.device = param.device if param is not None else torch.device("cpu")
        self._state = threading.local()
        self._shapes: dict[str, tuple[int, int, int]] = {}
        for split in self.split_points:
            named[split].register_forward_hook(self._hook(split))
        self._chain_index = {s: int(s) for s in self.split_points
                             if isinstance(module, nn.Sequential) and s.isdigit()}
        image = self.forward(self.sample_z(0, 1.0), 0, 1.0)
        if image.dim() != 4 or image.shape[1] != 3 or image.shape[2] != image.shape[3]:
            raise UserError(f"wrap_module({name!r}): the forward must return [B, 3, H, H] images, "
                            f"got {tuple(image.shape)}")
        self.image_size = int(image.shape[-1])

    # -- hooks and calls ---------------------------------------------------------------------
    def _hook(self, split: str):
        def hook(_module, _inputs, output):
            state = self._state
            if getattr(state, "split", None) != split:
                return None
            if state.mode == "capture":
                state.feature = output
                raise _Stop
            return state.feature
        return hook

    @contextmanager
    def _mode(self, mode: str, split: str, feature: Tensor | None = None) -> Iterator[None]:
        state = self._state
        state.mode, state.split, state.feature = mode, split, feature
        try:
            yield
        finally:
            state.mode = state.split = state.feature = None

    def _call(self, z: Tensor, class_id: int) -> Tensor:
        """The module's forward with torch's random numbers seeded by z[0] (held noise)."""
        seed = int.from_bytes(hashlib.sha256(z[:1].detach().cpu().numpy().tobytes()).digest()[:7], "little")
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            if not self.conditional:
                return self.module(z)
            return self.module(z, torch.full((z.shape[0],), class_id, dtype=torch.long, device=self.device))

    def _to_unit(self, image: Tensor) -> Tensor:
        lo, hi = self._range
        return image if (lo, hi) == (-1.0, 1.0) else (image - lo) * (2.0 / (hi - lo)) - 1.0

    # -- protocol ----------------------------------------------------------------------------
    def head(self, z: Tensor, class_id: int, truncation: float, split: str) -> tuple[Tensor, SplitContext]:
        z, class_id = self.as_z(z), self.check_class(class_id)
        self.check_split(split)
        with self._mode("capture", split):
            try:
                self._call(z, class_id)
            except _Stop:
                feature = self._state.feature
            else:
                raise UserError(f"{self.name}: the forward never ran split point '{split}'")
        if not isinstance(feature, Tensor) or feature.dim() != 4:
            raise UserError(f"{self.name}: the output of '{split}' must be a [B, C, h, w] tensor")
        ctx = ModuleContext(split=split, cond=z[:1].detach(), truncation=validate_truncation(truncation),
                            class_id=class_id)
        return feature, ctx

    def tail(self, feature: Tensor, ctx: SplitContext) -> Tensor:
        split = ctx.split
        self.check_split(split)
        feature = self.check_feature(feature, split).to(self.device)
        if split in self._chain_index:
            return self._to_unit(self.module[self._chain_index[split] + 1:](feature))
        z = ctx.cond.to(self.device).expand(feature.shape[0], -1).contiguous()
        class_id = ctx.class_id if isinstance(ctx, ModuleContext) else 0
        with self._mode("replace", split, feature):
            return self._to_unit(self._call(z, class_id))

    def forward(self, z: Tensor, class_id: int, truncation: float) -> Tensor:
        validate_truncation(truncation)
        return self._to_unit(self._call(self.as_z(z), self.check_class(class_id)))

    def feature_shape(self, split: str) -> tuple[int, int, int]:
        self.check_split(split)
        if split not in self._shapes:
            with torch.no_grad():
                feature, _ = self.head(self.sample_z(0, 1.0), 0, 1.0, split)
            self._shapes[split] = tuple(int(v) for v in feature.shape[1:])
        return self._shapes[split]

    def to_device(self, device: torch.device | str) -> None:
        """Move the module (the registry does this for --device)."""
        self.device = torch.device(device)
        self.module.to(self.device)


def wrap_module(module: nn.Module, *, name: str, z_dim: int, split_points: Sequence[str],
                default_split: str | None = None, class_names: Sequence[str] | None = None,
                image_range: tuple[float, float] = (-1.0, 1.0), identity: str | None = None) -> ModuleGenerator:
    """Any nn.Module generator as a SplitGenerator: `module(z)` (class_names None) or
    `module(z, class_ids)`, z [B, z_dim] standard normal times the truncation, images
    [B, 3, H, W] in image_range; split points are `named_modules()` names (default split: the
    middle one); identity defaults to the name and a checksum of the weights."""
    return ModuleGenerator(module, name=name, z_dim=z_dim, split_points=split_points, default_split=default_split,
                           class_names=class_names, image_range=image_range, identity=identity)
