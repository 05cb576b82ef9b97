"""The URL keys of the Explore page's comparisons, without Streamlit (ui.urlstate calls these):

    null=1                 the mixer shows the tight geometric null's components
    tp=HASH:ROW[:WEIGHT]   a transplant: the donor decomposition's cache-key hash (32 hex digits,
                           never a path), its component row and the weight (default 1)

A link's transplant is opened only when its donor is in the cache (ui.transplant); decoding here
only checks the form, the row against the players and the weight against the slider's range.
"""
from __future__ import annotations

import math
from typing import Mapping

from regionprims.mix.state import W_MAX, W_MIN
from regionprims.mix.transplant import DONOR_HASH, TransplantRef
from regionprims.validation import short

PARAMS = ("null", "tp")


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def encode(null: bool, transplant: TransplantRef | None) -> dict[str, str]:
    """The query parameters of the comparisons (none when both are off)."""
    out: dict[str, str] = {}
    if null:
        out["null"] = "1"
    if transplant is not None:
        tail = "" if transplant.weight == 1.0 else f":{_fmt(transplant.weight)}"
        out["tp"] = f"{transplant.donor}:{transplant.row}{tail}"
    return out


def one(params: Mapping, key: str) -> str | None:
    """The last value of a query parameter (str or list of str), or None (ui.urlstate uses it too)."""
    value = params.get(key)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return None if value is None else str(value)


def decode(params: Mapping, n_players: int, errors: list[str]) -> dict:
    """{'null': bool, 'transplant': TransplantRef | None} from query parameters; each malformed
    value is one message in `errors` and its default."""
    out: dict = {"null": False, "transplant": None}
    null = one(params, "null")
    if null is not None:
        if null.strip() in ("1", "0", ""):
            out["null"] = null.strip() == "1"
        else:
            errors.append(f"null={short(null, 24)} is not 0 or 1; using 0")
    text = one(params, "tp")
    if text is not None and text.strip():
        out["transplant"] = _transplant(text.strip(), n_players, errors)
    return out


def _transplant(text: str, n: int, errors: list[str]) -> TransplantRef | None:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not DONOR_HASH.fullmatch(parts[0]) or not parts[1].isdigit() \
            or len(parts[1]) > 6:
        errors.append(f"tp={short(text, 24)} is not DONOR:ROW[:WEIGHT] (a 32-digit decomposition key); ignored")
        return None
    row = int(parts[1])
    if not 0 < row < 2 ** n:
        errors.append(f"tp: component row {row} is outside 1..{2 ** n - 1} for {n} players; ignored")
        return None
    weight = 1.0
    if len(parts) == 3:
        try:
            weight = float(parts[2])
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight):
            errors.append(f"tp: weight {short(parts[2], 24)} is not a number; using 1")
            weight = 1.0
        elif not W_MIN <= weight <= W_MAX:
            clamped = min(W_MAX, max(W_MIN, weight))
            errors.append(f"tp: weight {short(parts[2], 24)} is outside [{_fmt(W_MIN)}, {_fmt(W_MAX)}]; "
                          f"using {_fmt(clamped)}")
            weight = clamped
    return TransplantRef(donor=parts[0], row=row, weight=weight)
