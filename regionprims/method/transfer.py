"""Transfer of components between two decompositions (the paper's test), with what it must be
read against: the chance level, the geometric null's transfer, and a cross-class control.

Components are matched by region set (subset row), so both decompositions must use the same
players. transfer_top20_top100 = |top20(a) ∩ top100(b)| / 20 (the paper's l_a = 20, l_b = 100);
transfer_top20_top20 is the symmetric version. `regionprims transfer` and the study report use
`transfer_report`.
"""
from __future__ import annotations

from regionprims.method.decomposition import Decomposition
from regionprims.method.interactions import or_interactions
from regionprims.method.metrics import transfer, transfer_chance, transfer_p_value
from regionprims.method.null import geometric_null
from regionprims.method.ranking import component_norms, rank_rows

PAIRS = {"top20_top100": (20, 100), "top20_top20": (20, 20)}


def null_ranking(dec: Decomposition) -> list[int]:
    """Ranking (by ||Δf_S||) of the geometric null's components for the same image and players."""
    minimal = geometric_null(dec.feature, dec.baseline, dec.player_masks, dec.subsets)
    return rank_rows(component_norms(or_interactions(minimal)))


def transfer_report(a: Decomposition, b: Decomposition, control: Decomposition | None = None) -> dict:
    """transfer_{pair} of a in b (and `_ba`, b in a, for top20_top100), the chance level
    (`chance_{pair}`: uniformly random rankings), the hypergeometric p-value of the observed
    overlap (`p_{pair}`), the geometric null's transfer between the same two images
    (`null_transfer_{pair}`), and with `control` (another class's decomposition, same players)
    `control_transfer_{pair}`: a in the control. A pair whose top-k_b holds every component is
    trivially 1 and is left out, its reason under `absent`."""
    n = len(a.ranking)
    out: dict = {"n_components": n}
    absent = {}
    ra, rb = null_ranking(a), null_ranking(b)
    for name, (ka, kb) in PAIRS.items():
        if kb >= n:
            absent[f"transfer_{name}"] = f"undefined for this layout: the top {kb} hold all {n} components"
            continue
        value = transfer(a.ranking, b.ranking, ka, kb)
        out[f"transfer_{name}"] = value
        out[f"chance_{name}"] = transfer_chance(n, ka, kb)
        out[f"p_{name}"] = transfer_p_value(round(value * min(ka, n)), n, ka, kb)
        out[f"null_transfer_{name}"] = transfer(ra, rb, ka, kb)
        if control is not None:
            out[f"control_transfer_{name}"] = transfer(a.ranking, control.ranking, ka, kb)
    if "transfer_top20_top100" in out:
        out["transfer_top20_top100_ba"] = transfer(b.ranking, a.ranking, 20, 100)
    if absent:
        out["absent"] = absent
    return out
