"""Frozen descriptions of a run. Everything that changes a result is in here, and the cache keys
are hashes of these (so a setting that is not here must not change a result)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from regionprims.method.regions import Layout
from regionprims.method.settings_meta import Widget, check, setting

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
    Each field is declared with its help, range, CLI flag, sidebar widget and URL key
    (method/settings_table.py): the front ends and validate() are made from these.
    """

    steps: int = setting(
        10, "optimisation steps per subset after the warm start, the same for every subset (docs/method.md §4)",
        between=(1, 100_000), flag="--steps", url="steps",
        widget=Widget("Steps per subset", 1, 2000, step=5, help="Optimiser steps for each minimal feature u(S) "
                      "after the warm start, the same for every subset."))
    lr: float = setting(0.4, "learning rate of the mask values (or logits), cosine-decayed by default "
                        "(docs/method.md §4)", label="learning rate", between=(0, 1e3), open_low=True, flag="--lr")
    lam: float = setting(0.01, "weight of the mask-size penalty (lambda)", label="lambda", between=(0, 1e3),
                         flag="--lam")
    mu: float = setting(0.003, "weight of mean(m^2), a strictly convex tie-breaker (the uniqueness term)",
                        between=(0, 1e3))
    warm_mu: float = setting(0.0, "the same weight for the single-player masks of the warm start (0: they are "
                             "not tied to anything; docs/method.md §4)", label="warm_mu", between=(0, 1e3))
    mask: MaskKind = setting("spatial", "spatial [h, w] or channel x spatial [C, h, w] masks", flag="--mask")
    init: Literal["singletons", "receptive", "full"] = setting("singletons", "where the masks start (minimal.py)")
    warm_steps: int = setting(60, "steps for the single-player masks of the 'singletons' start",
                              between=(0, 100_000))
    loss_norm: Literal["region", "mean"] = setting(
        "region", "divide the masked error by one region's pixel count (region) or by |M_S| (mean); "
        "docs/method.md", label="loss normalisation")
    param: Literal["sigmoid", "box"] = setting("box", "m = sigmoid(a), or m = a projected on [0, 1] (box)")
    schedule: Literal["constant", "cosine"] = setting("cosine", "learning-rate schedule over the steps")
    tie: Literal["none", "monotone"] = setting(
        "monotone", "monotone: m_S = max over S∖i of m_{S∖i} plus a non-negative increment, optimised level by "
        "level (method/monotone.py)")
    optimizer: Literal["ngd", "adam"] = setting(
        "ngd", "normalised gradient descent with momentum, or Adam (minimal.direction; ngd does not drift along "
        "flat directions)")
    early_stop: bool = setting(False, "let converged subsets leave the batch (breaks consistency)")
    tol: float = setting(1e-4, "stop a subset when its loss improves less than this (relative)", label="tolerance",
                         between=(0, 1))
    patience: int = setting(5, "steps in a row under tol that stop a subset (early_stop)", between=(1, 100_000))
    chunk: int = setting(0, "subsets per optimisation batch; 0 = as many as fit in --memory-mb",
                         between=(0, 1 << 20), zero="automatic", flag="--chunk")
    memory_mb: int = setting(4096, "bound on the optimisation's activation memory in MB (sets the automatic chunk)",
                             label="memory bound", between=(64, 1 << 24), unit=" MB", flag="--memory-mb")
    baseline_codes: int = setting(
        64, "codes averaged for the baseline f0 first (all of them when --baseline-tol is 0)",
        label="baseline codes", between=(1, 4096), flag="--baseline-codes", url="codes",
        widget=Widget("Baseline codes M", 1, 4096, step=8, help="Latent codes averaged for the baseline feature f0."))
    baseline_tol: float = setting(
        0.02, "the baseline f0 doubles its codes while it moves more than this (relative) between M/2 and M codes; "
        "0 = exactly --baseline-codes codes (method/baseline.py)", label="baseline tolerance", between=(0, 1),
        flag="--baseline-tol")
    baseline_max_codes: int = setting(32768, "the baseline f0 stops doubling at this many codes, converged or not",
                                      between=("baseline_codes", 1 << 20), flag="--baseline-max-codes")
    opt_seed: int = setting(0, "seed of anything random in the optimisation", label="optimisation seed",
                            between=(0, 2 ** 32 - 1))
    refine: Literal["skip", "all"] = setting(
        "skip", "skip: a subset of 2+ players whose mask increment cannot move from 0 (one gradient decides) takes "
        "no steps, with the same result; all: every subset is stepped (method/monotone.py)", flag="--refine")
    max_order: int = setting(
        0, "subsets of more than this many players are not optimised: their mask is the max of their sub-masks "
        "(approximate; docs/method.md); 0 = no cap", between=(0, 64), zero="no cap", flag="--max-order", url="order",
        widget=Widget("Order cap (0 = none)", 0, 12, help="Subsets of more players than this are not optimised: "
                      "their mask is the union of their sub-masks. Much faster on slow generators, approximate "
                      "(docs/method.md)."))

    def validate(self) -> None:
        """Refuse a setting outside its declared range or choices (one line naming it and what is allowed)."""
        from regionprims.errors import UserError
        check(self)
        if self.tie == "monotone" and self.init != "singletons":
            raise UserError("monotone masks start from the single-player masks: use init 'singletons'")


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
