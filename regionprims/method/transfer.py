"""Transfer of components between two decompositions (the paper's test), with what it must be
read against: the geometric null's transfer between the same two images, a control that keeps the
grid's geometry but breaks the image (image b's region sets relabelled by a symmetry of the grid),
and a cross-class control. The chance level of uniformly random rankings is a footnote: no local
decomposition ranks its components uniformly at random.

Components are matched by region set (the grid patches of S), so both decompositions must use the
same players. transfer_top20_top100 = |top20(a) ∩ top100(b)| / 20 (the paper's l_a = 20, l_b = 100);
transfer_top20_top20 is the symmetric version. The same seed gives the same latent code z in every
class (`sample_z` does not take the class), so a cross-class pair shares its z and differs in class.
"""
from __future__ import annotations

from typing import Sequence

import torch

from regionprims.method.beyond import nonzero_rows
from regionprims.method.decomposition import Decomposition
from regionprims.method.interactions import or_interactions
from regionprims.method.metrics import transfer_chance, transfer_p_value
from regionprims.method.null import geometric_null
from regionprims.method.ranking import component_norms, rank_rows
from regionprims.method.regions import Layout

PAIRS = {"top20_top100": (20, 100), "top20_top20": (20, 20)}
RegionSets = list[frozenset]


def region_sets(dec: Decomposition, rows: Sequence[int]) -> RegionSets:
    """The grid patches of each subset row in `rows`."""
    players = dec.spec.layout.players
    return [frozenset(players[j] for j in torch.nonzero(dec.subsets[r]).flatten().tolist()) for r in rows]


def null_ranking(dec: Decomposition) -> list[int]:
    """The tight geometric null's non-empty component rows of the same image and players, strongest first."""
    components = or_interactions(geometric_null(dec.feature, dec.baseline, dec.player_masks, dec.subsets))
    nonzero = nonzero_rows(components)
    return [r for r in rank_rows(component_norms(components)) if nonzero[r]]


def overlap(a: RegionSets, b: RegionSets, top: int, pool: int) -> float:
    """|top(a) ∩ pool(b)| / top, region sets matched as sets of patches."""
    return len(set(a[:top]) & set(b[:pool])) / max(1, min(top, len(a)))


def grid_symmetries(layout: Layout) -> list[dict[int, int]]:
    """The non-identity symmetries of the grid (rotations and reflections; all 7 for a square grid,
    3 otherwise) that map the player patches onto themselves, as patch -> patch maps."""
    r, c = layout.rows, layout.cols
    maps = [lambda i, j: (r - 1 - i, j), lambda i, j: (i, c - 1 - j), lambda i, j: (r - 1 - i, c - 1 - j)]
    if r == c:
        maps += [lambda i, j: (j, i), lambda i, j: (c - 1 - j, r - 1 - i),
                 lambda i, j: (j, r - 1 - i), lambda i, j: (c - 1 - j, i)]
    players = set(layout.players)
    out = []
    for f in maps:
        perm = {p: f(*divmod(p, c))[0] * c + f(*divmod(p, c))[1] for p in players}
        if set(perm.values()) == players:
            out.append(perm)
    return out


def geometry_control(a: RegionSets, b: RegionSets, layout: Layout, top: int, pool: int) -> float | None:
    """The mean overlap of a with b relabelled by each grid symmetry: the same shapes, sizes and
    adjacencies of region sets, on the wrong places of the image. None when the players admit none."""
    values = [overlap(a, [frozenset(perm[p] for p in s) for s in b], top, pool) for perm in grid_symmetries(layout)]
    return sum(values) / len(values) if values else None


def transfer_report(a: Decomposition, b: Decomposition, control: Decomposition | None = None) -> dict:
    """transfer_{pair} of a in b (and `_ba`, b in a, for top20_top100), `within_class`, the tight
    null's transfer between the same images (`null_transfer_{pair}`), the geometry-keeping control
    (`geometry_control_{pair}`), with `control` (another class, same players) `control_transfer_{pair}`,
    and as a footnote the uniform chance level and its p-value. A pair whose top-k_b holds every
    component is trivially 1 and is left out, its reason under `absent`."""
    n = len(a.ranking)
    sa, sb = region_sets(a, a.ranking), region_sets(b, b.ranking)
    na, nb = region_sets(a, null_ranking(a)), region_sets(b, null_ranking(b))
    sc = region_sets(control, control.ranking) if control is not None else None
    out: dict = {"n_components": n, "within_class": a.spec.class_id == b.spec.class_id}
    absent = {}
    for name, (ka, kb) in PAIRS.items():
        if kb >= n:
            absent[f"transfer_{name}"] = f"undefined for this layout: the top {kb} hold all {n} components"
            continue
        out[f"transfer_{name}"] = value = overlap(sa, sb, ka, kb)
        out[f"null_transfer_{name}"] = overlap(na, nb, ka, kb)
        geometric = geometry_control(sa, sb, a.spec.layout, ka, kb)
        if geometric is not None:
            out[f"geometry_control_{name}"] = geometric
        if sc is not None:
            out[f"control_transfer_{name}"] = overlap(sa, sc, ka, kb)
        out[f"chance_{name}"] = transfer_chance(n, ka, kb)
        out[f"p_{name}"] = transfer_p_value(round(value * min(ka, n)), n, ka, kb)
    if "transfer_top20_top100" in out:
        out["transfer_top20_top100_ba"] = overlap(sb, sa, 20, 100)
    if absent:
        out["absent"] = absent
    return out
