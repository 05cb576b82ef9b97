"""Presets of the mix: one click sets many components at once (all, none, the top k, only the
components of one region, all but those)."""
from __future__ import annotations

from typing import Iterable, Sequence

from regionprims.errors import UserError
from regionprims.mix.state import ViewState

PRESETS = ("all", "none", "top-k", "only-region", "but-region")


def preset(view: ViewState, name: str, n: int, ranking: Sequence[int] = (), k: int = 20,
           region: int = 0) -> ViewState:
    """all | none | top-k | only-region | but-region. Component weights go back to 1 and solo is
    cleared; the residual weight is kept. Regions are player indices 0..n-1.
    `only-region` keeps the components whose region set contains region i: together they
    rebuild u({i}) exactly (f0 + sum_{S∋i} Df_S). `but-region` keeps all the others."""
    rows = range(1, 2 ** n)
    if name == "all":
        off: Iterable[int] = ()
    elif name == "none":
        off = rows
    elif name == "top-k":
        on = set(list(ranking)[:max(0, int(k))])
        off = [r for r in rows if r not in on]
    elif name in ("only-region", "but-region"):
        if not 0 <= region < n:
            raise UserError(f"region must be a player index 0..{n - 1}, got {region}")
        has = [(r >> region) & 1 == 1 for r in rows]
        off = [r for r, h in zip(rows, has) if (not h if name == "only-region" else h)]
    else:
        raise UserError(f"unknown preset '{name}': use {', '.join(PRESETS[:-1])} or {PRESETS[-1]}")
    return ViewState(weights={}, off=frozenset(off), solo=frozenset(), residual=view.residual)
