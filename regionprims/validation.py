"""Validation of the scalar inputs every generator and command shares; each failure is one
UserError that names the value and the allowed range."""
from __future__ import annotations

import math
import unicodedata
import operator
from typing import Sequence

from regionprims.errors import UserError

MAX_SEED = 2 ** 32 - 1
MAX_DIGITS = 30            # longer integer texts are out of every range (and Python refuses > 4300)


def short(value: object, limit: int = 40) -> str:
    """repr of a value cut to `limit` characters, so that a 5000-digit or 100k-character input
    gives a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 12]}...({len(text)} chars)"


def printable(text: object, keep_newlines: bool = False) -> str:
    """Text from a file or another user, safe to print on a terminal or a page: control and
    format characters (escape sequences, carriage returns, bidi overrides) are shown escaped
    (ESC as \\x1b), so stored text can neither move the cursor nor recolour or hide output."""
    out = []
    for ch in str(text):
        if keep_newlines and ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def int_text(text: str) -> int:
    """An integer from its decimal text; ValueError for anything else, including texts longer than
    MAX_DIGITS digits (which no range here admits, and which int() may refuse with a traceback)."""
    raw = text.strip()
    if len(raw.lstrip("+-")) > MAX_DIGITS:
        raise ValueError("too many digits")
    return int(raw)


def validate_seed(seed: object, allow_text: bool = False) -> int:
    """An integer in 0..2**32-1 (with allow_text, also its decimal text, as typed by a user)."""
    if isinstance(seed, bool) or (isinstance(seed, str) and not allow_text):
        raise UserError(f"seed must be an integer between 0 and {MAX_SEED}, got {short(seed)}")
    try:
        value = operator.index(seed) if not isinstance(seed, str) else int_text(seed)
    except (TypeError, ValueError):
        raise UserError(f"seed must be an integer between 0 and {MAX_SEED}, got {short(seed)}") from None
    if not 0 <= value <= MAX_SEED:
        raise UserError(f"seed must be between 0 and {MAX_SEED}, got {short(value)}")
    return value


def validate_truncation(truncation: object) -> float:
    """A number in (0, 1]."""
    if isinstance(truncation, bool):
        raise UserError(f"truncation must be a number in (0, 1], got {short(truncation)}")
    try:
        value = float(truncation)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"truncation must be a number in (0, 1], got {short(truncation)}") from None
    if math.isnan(value) or not 0.0 < value <= 1.0:
        raise UserError(f"truncation must be in (0, 1], got {short(truncation)}")
    return value


def validate_class_index(class_id: object, num_classes: int) -> int:
    """An integer class index in 0..num_classes-1."""
    if isinstance(class_id, bool):
        raise UserError(f"class must be an integer in 0..{num_classes - 1}, got {short(class_id)}")
    try:
        value = operator.index(class_id)
    except TypeError:
        raise UserError(f"class must be an integer in 0..{num_classes - 1}, got {short(class_id)}") from None
    if not 0 <= value < num_classes:
        raise UserError(f"class {short(value)} is out of range 0..{num_classes - 1}")
    return value


def split_index(split: object, split_points: Sequence[str], model: str) -> int:
    """The position of a split point among a generator's (forward order); Generator.check_split
    (which every family and wrap_module call) and pipeline.validate_split refuse an unknown one
    with this one message."""
    if split not in split_points:
        raise UserError(f"unknown split point {short(split)} for {model}; choose one of: {', '.join(split_points)}")
    return list(split_points).index(split)
