"""The one grammar of a list of component weights, 'ROW:W,ROW:W' (optionally '*:W' for every row
not listed), shared by `regionprims export --weights` and the explorer's URL (w=), so that a
weight list copied from one works in the other."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

# rows of at most 30 digits (int() refuses texts past 4300 digits; no row is that large), values
# of at most 40 characters: anything longer is a syntax problem, not a traceback
_WEIGHT_ITEM = re.compile(r"\s*(\d{1,30}|\*)\s*:\s*([-+0-9.eE]{1,40})\s*")


@dataclass(frozen=True)
class WeightItem:
    """One item of a component-weight list: `text` as written; the subset `row` (None for '*',
    every row not listed, or when unreadable); the weight as written and as a number; `problem`
    "" when usable, else 'syntax' (not ROW:W), 'row' (outside 1..2**n-1) or 'value' (not finite)."""

    text: str
    row: int | None = None
    value_text: str = ""
    value: float = math.nan
    problem: str = ""


def parse_row_weights(text: str, n: int, star: bool = False) -> list[WeightItem]:
    """The items of 'ROW:W,ROW:W' for n players (with `star`, '*:W' sets every row not listed).
    Never raises: every item comes back, in order, with its problem if it has one; each caller
    words the problems its own way (the CLI stops at the first, the URL reports each)."""
    out: list[WeightItem] = []
    for item in text.split(","):
        if not item.strip():
            continue
        m = _WEIGHT_ITEM.fullmatch(item)
        if not m or (m.group(1) == "*" and not star):
            out.append(WeightItem(item, problem="syntax"))
            continue
        row = None if m.group(1) == "*" else int(m.group(1))
        try:
            value = float(m.group(2))
        except ValueError:
            value = math.nan
        problem = ("row" if row is not None and not 1 <= row < 2 ** n
                   else "value" if not math.isfinite(value) else "")
        out.append(WeightItem(item, row, m.group(2), value, problem))
    return out
