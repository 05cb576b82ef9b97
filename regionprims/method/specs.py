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
    """How every minimal feature u(S) is optimised (docs/method.md §4).

    u(S) = f0 + m_S * (f - f0),  m_S in [0, 1] (param "box": the values, projected after each
    step; "sigmoid": sigmoid of logits), and
    loss_S = sum over pixels of M_S of (tail(u(S)) - x)^2 / (3 * one region's pixel count)
             + lam * mean(m_S) + mu * mean(m_S^2).
    Default: monotone masks (m_S >= m_T for T ⊆ S), level by level, from the single-player masks;
    every subset gets the same number of steps (no early stopping), normalised gradient descent.
    """

    steps: int = 10                 # optimiser steps per subset after the warm start (docs/method.md)
    lr: float = 0.4                 # learning rate (on the mask values, or the logits)
    lam: float = 0.01               # weight of the mask-size penalty
    mu: float = 0.003               # weight of mean(m^2), a strictly convex tie-breaker (uniqueness term)
    warm_mu: float = 0.0            # the same weight for the single-player masks of the warm start
                                    # (0: they are not tied to anything; docs/method.md §4)
    mask: MaskKind = "spatial"      # spatial [h, w] or channel x spatial [C, h, w] masks
    init: Literal["singletons", "receptive", "full"] = "singletons"   # start of the masks (minimal.py)
    warm_steps: int = 60            # steps for the single-player masks of the 'singletons' start
    loss_norm: Literal["region", "mean"] = "region"   # divide the masked error by one region's
                                    # pixel count ("region") or by |M_S| ("mean"); see docs/method.md
    param: Literal["sigmoid", "box"] = "box"          # m = sigmoid(a), or m = a projected on [0, 1]
    schedule: Literal["constant", "cosine"] = "cosine"     # learning-rate schedule over the steps
    tie: Literal["none", "monotone"] = "monotone"  # "monotone": m_S = max over S∖i of m_{S∖i} plus a
                                    # non-negative increment, optimised level by level (method/monotone.py)
    optimizer: Literal["ngd", "adam"] = "ngd"     # normalised gradient descent with momentum, or Adam
                                    # (minimal.direction; ngd does not drift along flat directions)
    early_stop: bool = False        # let converged subsets leave the batch (breaks consistency)
    tol: float = 1e-4               # stop a subset when its loss improves less than this (relative)
    patience: int = 5               # ... for this many consecutive steps
    chunk: int = 0                  # subsets per batch; 0 = as many as fit in memory_mb
    memory_mb: int = 4096           # bound on the optimisation's activation memory (auto chunk)
    baseline_codes: int = 64        # the codes averaged for f0 first (all of them when baseline_tol = 0)
    baseline_tol: float = 0.02      # double the codes while f0 moves more than this between M/2 and M codes
                                    # (relative; 0 = exactly baseline_codes codes): method/baseline.py
    baseline_max_codes: int = 8192  # ... but stop at this many codes, converged or not
    opt_seed: int = 0               # seed of anything random in the optimisation
    refine: Literal["skip", "all"] = "skip"   # monotone masks: "skip" takes no steps for a subset whose
                                    # increment cannot move from 0 (one gradient at a_S = 0 decides; the
                                    # result is that of "all", every subset stepped: method/monotone.py)
    max_order: int = 0              # monotone masks: subsets of more players than this keep a_S = 0 (their
                                    # mask is the max of their sub-masks; approximate); 0 = no cap

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
        for name in ("mu", "warm_mu"):
            if not 0 <= getattr(self, name) <= 1e3:
                raise UserError(f"{name} must be in [0, 1000], got {getattr(self, name)}")
        for name, allowed in (("param", ("sigmoid", "box")), ("schedule", ("constant", "cosine")),
                              ("tie", ("none", "monotone")), ("optimizer", ("ngd", "adam"))):
            if getattr(self, name) not in allowed:
                raise UserError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.tie == "monotone" and self.init != "singletons":
            raise UserError("monotone masks start from the single-player masks: use init 'singletons'")
        if self.loss_norm not in ("region", "mean"):
            raise UserError(f"loss normalisation must be 'region' or 'mean', got {self.loss_norm!r}")
        if self.mask not in ("spatial", "channel"):
            raise UserError(f"mask must be 'spatial' or 'channel', got {self.mask!r}")
        if not 1 <= self.baseline_codes <= 4096:
            raise UserError(f"baseline codes must be between 1 and 4096, got {self.baseline_codes}")
        if not 0 <= self.baseline_tol <= 1:             # also refuses nan
            raise UserError(f"baseline tolerance must be in [0, 1], got {self.baseline_tol}")
        if not self.baseline_codes <= self.baseline_max_codes <= 1 << 20:
            raise UserError(f"baseline max codes must be between baseline codes ({self.baseline_codes}) and "
                            f"{1 << 20}, got {self.baseline_max_codes}")
        if not 0 <= self.chunk <= 1 << 20:
            raise UserError(f"chunk must be 0 (automatic) or a number of subsets up to {1 << 20}, got {self.chunk}")
        if not 0 <= self.tol <= 1:                      # also refuses nan
            raise UserError(f"tolerance must be in [0, 1], got {self.tol}")
        if not 1 <= self.patience <= 100_000:
            raise UserError(f"patience must be between 1 and 100000, got {self.patience}")
        if not 0 <= self.opt_seed <= 2 ** 32 - 1:
            raise UserError(f"optimisation seed must be between 0 and {2 ** 32 - 1}, got {self.opt_seed}")
        if self.refine not in ("skip", "all"):
            raise UserError(f"refine must be 'skip' or 'all', got {self.refine!r}")
        if isinstance(self.max_order, bool) or not isinstance(self.max_order, int) or not 0 <= self.max_order <= 64:
            raise UserError(f"max order must be 0 (no cap) or a number of players from 1 to 64, got {self.max_order!r}")
        if not 64 <= self.memory_mb <= 1 << 24:
            raise UserError(f"memory bound must be between 64 MB and {1 << 24} MB, got {self.memory_mb}")


# What a saved file that lacks a setting was made with: the setting did not exist yet, and the
# behaviour then is not today's default (store/filecheck.meta_settings fills these in).
SETTINGS_BEFORE_FIELD = {"tie": "none", "mu": 0.0, "param": "sigmoid", "schedule": "constant", "optimizer": "adam",
                         "refine": "all", "max_order": 0,
                         "baseline_tol": 0.0, "baseline_max_codes": 8192}


def settings_before_fields(raw: dict) -> dict:
    """The values of the settings a file's `raw` settings lack (SETTINGS_BEFORE_FIELD); warm_mu,
    before it existed, was the file's mu (the warm start used the same weight as every level)."""
    filled = {k: v for k, v in SETTINGS_BEFORE_FIELD.items() if k not in raw}
    if "warm_mu" not in raw:
        filled["warm_mu"] = raw.get("mu", SETTINGS_BEFORE_FIELD["mu"])
    return filled


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
    precision: str = "fp32"         # the tail's numeric precision (models/precision.py): tf32/bf16 on a GPU

    def frozen(self) -> dict:
        d = asdict(self)
        d.pop("model")              # display name is not part of the identity
        if d["precision"] == "fp32":
            d.pop("precision")      # fp32 keys are those from before the field existed
        return d


def stable_hash(obj: object) -> str:
    """sha256 of canonical JSON: the same spec gives the same key in every process."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
