"""The cache keys of a decomposition and of its baseline: what the pipeline stores results under
and what the estimate and the front ends look up (one definition for all of them)."""
from __future__ import annotations

from regionprims.method.specs import DecompositionSpec, stable_hash
from regionprims.store.cache import cache_key


def baseline_key(spec: DecompositionSpec) -> str:
    """Per model, class, truncation, split and the baseline's settings."""
    s = spec.settings
    parts = [spec.model_identity, spec.class_id, spec.truncation, spec.split, s.baseline_codes]
    if s.baseline_tol > 0:                      # a fixed count keeps the key it had before the growth
        parts += [s.baseline_tol, s.baseline_max_codes]
    return cache_key("baseline", stable_hash(parts))


def decomposition_key(spec: DecompositionSpec) -> str:
    """Per frozen spec: every setting that changes a result is in it."""
    return cache_key("decomposition", stable_hash(spec.frozen()))
