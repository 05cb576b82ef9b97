"""Frozen descriptions of a run. Everything that changes a result is in here, and the cache keys
are hashes of these (so a setting that is not here must not change a result)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from regionprims.method.regions import Layout

MaskKind = Literal["spatial", "channel"]


@dataclass(frozen=True)
class OptimSettings:
    """How every minimal feature u(S) is optimised (DESIGN §1 default form; docs/method.md).

    u(S) = f0 + m_S * (f - f0),  m_S = sigmoid(a_S),
    loss_S = mean over pixels of M_S of (tail(u(S)) - x)^2 + lam * mean(m_S).
    """

    steps: int = 5                  # Adam steps per subset after the warm start (docs/method.md)
    lr: float = 0.25                # Adam learning rate on the mask logits a_S
    lam: float = 0.01               # weight of the mask-size penalty
    mask: MaskKind = "spatial"      # spatial [h, w] or channel x spatial [C, h, w] masks
    init: Literal["singletons", "receptive", "full"] = "singletons"   # start of the masks (minimal.py)
    warm_steps: int = 60            # steps for the single-player masks of the 'singletons' start
    loss_norm: Literal["region", "mean"] = "region"   # divide the masked error by one region's
                                    # pixel count ("region") or by |M_S| ("mean"); see docs/method.md
    early_stop: bool = False        # let converged subsets leave the batch (breaks consistency)
    tol: float = 1e-4               # stop a subset when its loss improves less than this (relative)
    patience: int = 5               # ... for this many consecutive steps
    chunk: int = 0                  # subsets per batch; 0 = as many as fit in memory_mb
    memory_mb: int = 4096           # bound on the optimisation's activation memory (auto chunk)
    baseline_codes: int = 64        # M codes averaged for f0
    opt_seed: int = 0               # seed of anything random in the optimisation

    def validate(self) -> None:
        from regionprims.errors import UserError
        if not 1 <= self.steps <= 100_000:
            raise UserError(f"steps must be between 1 and 100000, got {self.steps}")
        if not 0 < self.lr <= 1e3:
            raise UserError(f"learning rate must be in (0, 1000], got {self.lr}")
        if not 0 <= self.lam <= 1e3:
            raise UserError(f"lambda must be in [0, 1000], got {self.lam}")
        if self.init not in ("singletons", "receptive", "full"):
            raise UserError(f"init must be 'singletons', 'receptive' or 'full', got {self.init!r}")
        if not 0 <= self.warm_steps <= 100_000:
            raise UserError(f"warm steps must be between 0 and 100000, got {self.warm_steps}")
        if self.loss_norm not in ("region", "mean"):
            raise UserError(f"loss normalisation must be 'region' or 'mean', got {self.loss_norm!r}")
        if self.mask not in ("spatial", "channel"):
            raise UserError(f"mask must be 'spatial' or 'channel', got {self.mask!r}")
        if not 1 <= self.baseline_codes <= 4096:
            raise UserError(f"baseline codes must be between 1 and 4096, got {self.baseline_codes}")
        if self.chunk < 0:
            raise UserError("chunk must be 0 (automatic) or a positive number of subsets")
        if self.memory_mb < 64:
            raise UserError(f"memory bound must be at least 64 MB, got {self.memory_mb}")


@dataclass(frozen=True)
class DecompositionSpec:
    """One decomposition request: model identity, image, split, players and settings."""

    model: str                      # registry name (for display)
    model_identity: str             # name + weights checksum (for keys)
    class_id: int
    seed: int
    truncation: float
    split: str
    layout: Layout
    settings: OptimSettings = field(default_factory=OptimSettings)
    rank_by: str = "norm"           # "norm": ||Delta f_S||; "effect": ||tail(f0 + Df_S) - tail(f0)||

    def frozen(self) -> dict:
        d = asdict(self)
        d.pop("model")              # display name is not part of the identity
        return d


def stable_hash(obj: object) -> str:
    """sha256 of canonical JSON: the same spec gives the same key in every process."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
