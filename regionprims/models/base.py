"""The generator contract. `SplitGenerator` is the protocol (named split points, head, tail,
identity); `Generator` is the base class every generator of regionprims subclasses: it declares
the optional members with their defaults, holds the input checks every family shares, and carries
the facts and hooks the registry reads from a family's class (docs/architecture.md, "Adding a
generator family").

The feature at split point `s` is the *output* of the module named `s`. `tail(head(z))` must
equal the full forward; the tests check that for every split point.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor

from regionprims.errors import UserError
from regionprims.validation import split_index, validate_class_index, validate_seed, validate_truncation

ProgressFn = Callable[[int, int, str], None]
# The members a generator may leave out; `Generator` declares each with its default.
OPTIONAL = ("default_truncation", "precision", "to_device", "spatial_mask_tail", "ground_truth_scores")
# What `regionprims models --json` lists of every model (besides weights_present).
LISTED = ("name", "kind", "image_size", "classes", "split_points", "default_split")


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
    """The members every generator has: what a plug-in must provide at the least. The registry
    adopts a plug-in that does not subclass `Generator` (`adopt`), so that what it hands out
    always has the optional members too."""

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


class Generator:
    """A frozen generator split at named points. A subclass implements `head`, `tail`, `forward`
    and `feature_shape` (and `sample_z` when its codes are not standard normals) and sets the
    facts: as class attributes when the family has one model, so that the registry lists it
    without loading weights; else in `__init__`, with `describe` for the registry."""

    # -- facts (the protocol's members) -------------------------------------------------------
    name: str
    kind: str
    image_size: int
    z_dim: int
    class_names: tuple[str, ...]
    split_points: tuple[str, ...]
    default_split: str
    identity: str                  # name + weights checksum; part of every cache key
    device: torch.device
    description: str = ""          # one line for the model lists

    # -- optional members, with the defaults every reader gets ---------------------------------
    default_truncation: float = 1.0
    precision: str = "fp32"        # the tail's numeric precision (models/precision.py)

    def to_device(self, device: torch.device | str) -> None:
        """Move to `device` (the registry asks a plug-in built elsewhere to follow --device); a
        generator that cannot move stays where it was built, which is this default."""

    def spatial_mask_tail(self, ctx: SplitContext, baseline: Tensor,
                          delta: Tensor) -> Callable[[Tensor], Tensor] | None:
        """An exact, cheaper `mask -> tail(baseline + mask * delta)` for spatial masks
        [B, 1, h, w], for generators whose first tail layer allows one; None: use `tail`."""
        return None

    def ground_truth_scores(self, z: Tensor, class_id: int, ranked_energy: list, subsets: Tensor,
                            player_masks: Tensor) -> dict[str, float]:
        """Extra gt_ metrics where the generator knows the truth (the demo); none by default."""
        return {}

    # -- the protocol ------------------------------------------------------------------------
    def sample_z(self, seed: int, truncation: float, batch: int = 1) -> Tensor:
        """Standard normal codes [batch, z_dim] from a torch generator seeded by `seed`, times
        the truncation (families with another sampler override this)."""
        g = torch.Generator().manual_seed(validate_seed(seed))
        return (validate_truncation(truncation) * torch.randn(batch, self.z_dim, generator=g)).to(self.device)

    def head(self, z: Tensor, class_id: int, truncation: float, split: str) -> tuple[Tensor, SplitContext]:
        """Run up to and including `split`; return the feature [B, C, h, w] and the context."""
        raise NotImplementedError

    def tail(self, feature: Tensor, ctx: SplitContext) -> Tensor:
        """Run the rest from a feature [B, C, h, w]; return images [B, 3, H, W] in [-1, 1]."""
        raise NotImplementedError

    def forward(self, z: Tensor, class_id: int, truncation: float) -> Tensor:
        """The unsplit forward pass (the reference the split is tested against)."""
        raise NotImplementedError

    def feature_shape(self, split: str) -> tuple[int, int, int]:
        """(C, h, w) of the feature at `split`."""
        raise NotImplementedError

    # -- the checks every family shares (one message each) -------------------------------------
    def check_split(self, split: object) -> int:
        """The position of `split` among the split points; UserError for an unknown one."""
        return split_index(split, self.split_points, self.name)

    def check_class(self, class_id: object) -> int:
        """A class index in 0..len(class_names)-1; UserError otherwise."""
        return validate_class_index(class_id, len(self.class_names))

    def check_feature(self, feature: Tensor, split: str) -> Tensor:
        """`feature` when it is [B, C, h, w] with (C, h, w) = feature_shape(split); UserError otherwise."""
        shape = self.feature_shape(split)
        if feature.dim() != 4 or tuple(feature.shape[1:]) != shape:
            raise UserError(f"feature for split {split} must have shape [B, {', '.join(map(str, shape))}], "
                            f"got {tuple(feature.shape)}")
        return feature

    def as_z(self, z: Tensor) -> Tensor:
        """Latent codes as float32 [B, z_dim] on the generator's device (one code may be 1-D)."""
        z = torch.as_tensor(z).to(self.device, torch.float32)
        z = z.unsqueeze(0) if z.dim() == 1 else z
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise UserError(f"z must have shape [B, {self.z_dim}], got {tuple(z.shape)}")
        return z

    def check_facts(self, where: str) -> None:
        """Refuse a generator the front ends cannot offer: no split point, a default split that
        is not one of them, or no class."""
        if not self.split_points or not self.class_names or self.default_split not in self.split_points:
            raise UserError(f"{where}: needs split points, a default split among them and at least one class "
                            f"(got split points {list(self.split_points)[:8]}, default split {self.default_split!r}, "
                            f"{len(self.class_names)} classes)")

    # -- the family's hooks, read by the registry (class-level: no weights are loaded) ----------
    source: ClassVar[str] = "plug-in"   # where the weights come from: bundled, package, download, plug-in
    folder_layout: ClassVar[str] = ""   # what a checkpoint folder of this family holds ("": none is read)

    @classmethod
    def models(cls) -> tuple[str, ...]:
        """The names this family gives the registry (a family of one model: its `name`)."""
        return (cls.name,)

    @classmethod
    def describe(cls, model: str) -> dict[str, Any]:
        """The facts of `model` without loading it: the class attributes (see `facts`)."""
        return facts(cls, model)

    @classmethod
    def weights_present(cls, model: str) -> bool:
        """Whether `model`'s weights are on this machine (never downloads)."""
        return True

    @classmethod
    def how_to_get(cls, model: str) -> str:
        """One line telling a user how to get `model`'s weights."""
        return "a plug-in brings its own weights: see its documentation"

    @classmethod
    def load(cls, model: str, device: torch.device) -> Generator:
        """A frozen generator of `model` on `device` (the registry calls it once per process)."""
        raise UserError(f"{cls.__name__} cannot load models by name")

    @classmethod
    def fetch_weights(cls, model: str, progress: ProgressFn | None = None,
                      cancel: threading.Event | None = None) -> None:
        """Get `model`'s released weights onto this machine (families whose source is "download")."""
        raise UserError(f"model {model!r} has no weights to download")

    @classmethod
    def opens_folder(cls, folder: Path) -> bool:
        """Whether `folder` holds a checkpoint of this family (see `folder_layout`)."""
        return False

    @classmethod
    def load_folder(cls, folder: Path, device: torch.device) -> Generator:
        """A frozen generator read from a checkpoint folder this family opens."""
        raise UserError(f"{cls.__name__} reads no checkpoint folder")


def facts(of: Generator | type[Generator], model: str, **known: Any) -> dict[str, Any]:
    """What the registry says about a model: the LISTED keys, class names, default truncation,
    source and description, read from its family's class or from a loaded generator (the
    attribute names are the same). `known` gives the facts a family knows per model instead
    (BigGAN-deep's image size and split points depend on the released architecture)."""
    def fact(key: str) -> Any:
        return known[key] if key in known else getattr(of, key)

    names = tuple(fact("class_names"))
    return {"name": model, "kind": fact("kind"), "image_size": int(fact("image_size")), "classes": len(names),
            "split_points": list(fact("split_points")), "default_split": fact("default_split"),
            "class_names": names, "default_truncation": float(fact("default_truncation")),
            "source": fact("source"), "description": fact("description")}


def listed(of: Generator | type[Generator], model: str | None = None) -> dict[str, Any]:
    """The LISTED facts of a class or generator (its `models --json` row but weights_present)."""
    got = facts(of, model if model is not None else of.name)
    return {key: got[key] for key in LISTED}


class Adopted(Generator):
    """A generator that implements the protocol without subclassing `Generator`, seen through
    the contract: its own members where it has them, else the defaults declared above."""

    def __init__(self, inner: SplitGenerator):
        self.inner = inner
        for member in OPTIONAL:                        # the one place optional members are looked up
            value = getattr(inner, member, None)
            if value is not None:
                setattr(self, member, value)

    def __getattr__(self, attr: str) -> Any:
        """Members `Generator` does not declare (name, kind, device, ...) are the inner generator's."""
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def __repr__(self) -> str:
        return f"Adopted({self.inner!r})"

    def sample_z(self, seed: int, truncation: float, batch: int = 1) -> Tensor:
        return self.inner.sample_z(seed, truncation, batch)

    def head(self, z: Tensor, class_id: int, truncation: float, split: str) -> tuple[Tensor, SplitContext]:
        return self.inner.head(z, class_id, truncation, split)

    def tail(self, feature: Tensor, ctx: SplitContext) -> Tensor:
        return self.inner.tail(feature, ctx)

    def forward(self, z: Tensor, class_id: int, truncation: float) -> Tensor:
        return self.inner.forward(z, class_id, truncation)

    def feature_shape(self, split: str) -> tuple[int, int, int]:
        return self.inner.feature_shape(split)


def adopt(gen: SplitGenerator) -> Generator:
    """`gen` itself when it subclasses Generator, else `gen` adopted (see `Adopted`)."""
    return gen if isinstance(gen, Generator) else Adopted(gen)


def default_truncation(gen: SplitGenerator) -> float:
    """The generator's own default truncation (1.0 when it names none)."""
    return float(adopt(gen).default_truncation)


def mask_renderer(gen: SplitGenerator, ctx: SplitContext, baseline: Tensor,
                  delta: Tensor) -> Callable[[Tensor], Tensor]:
    """mask -> tail(baseline + mask * delta), the images of the minimal-feature form. Spatial
    masks [B, 1, h, w] go through the generator's `spatial_mask_tail` when it offers one (an
    exact, cheaper route); everything else through `tail`."""
    def plain(mask: Tensor) -> Tensor:
        return gen.tail(baseline + mask * delta, ctx)

    fast = adopt(gen).spatial_mask_tail(ctx, baseline, delta)
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
