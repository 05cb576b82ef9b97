"""Validation of the scalar inputs every generator and command shares; each failure is one
UserError that names the value and the allowed range."""
from __future__ import annotations

import math
import operator
from typing import Sequence

from regionprims.errors import UserError

MAX_SEED = 2 ** 32 - 1


def validate_seed(seed: object, allow_text: bool = False) -> int:
    """An integer in 0..2**32-1 (with allow_text, also its decimal text, as typed by a user)."""
    if isinstance(seed, bool) or (isinstance(seed, str) and not allow_text):
        raise UserError(f"seed must be an integer between 0 and {MAX_SEED}, got {seed!r}")
    try:
        value = operator.index(seed) if not isinstance(seed, str) else int(seed.strip())
    except (TypeError, ValueError):
        raise UserError(f"seed must be an integer between 0 and {MAX_SEED}, got {seed!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise UserError(f"seed must be between 0 and {MAX_SEED}, got {value}")
    return value


def validate_truncation(truncation: object) -> float:
    """A number in (0, 1]."""
    if isinstance(truncation, bool):
        raise UserError(f"truncation must be a number in (0, 1], got {truncation!r}")
    try:
        value = float(truncation)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserError(f"truncation must be a number in (0, 1], got {truncation!r}") from None
    if math.isnan(value) or not 0.0 < value <= 1.0:
        raise UserError(f"truncation must be in (0, 1], got {truncation!r}")
    return value


def validate_class_index(class_id: object, num_classes: int) -> int:
    """An integer class index in 0..num_classes-1."""
    if isinstance(class_id, bool):
        raise UserError(f"class must be an integer in 0..{num_classes - 1}, got {class_id!r}")
    try:
        value = operator.index(class_id)
    except TypeError:
        raise UserError(f"class must be an integer in 0..{num_classes - 1}, got {class_id!r}") from None
    if not 0 <= value < num_classes:
        raise UserError(f"class {value} is out of range 0..{num_classes - 1}")
    return value


def split_index(split: object, split_points: Sequence[str], model: str) -> int:
    """The position of a split point among a generator's (forward order); every adapter and the
    pipeline refuse an unknown one with this one message."""
    if split not in split_points:
        raise UserError(f"unknown split point {split!r} for {model}; choose one of: {', '.join(split_points)}")
    return list(split_points).index(split)
