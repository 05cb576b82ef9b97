"""Ground-truth scores of a decomposition of a demo image (pure functions, no model).

The demo renderer knows which pixels each object of a scene occupies (`scenes.scene_objects`).
These scores compare the salient components' *regional patterns* (where a component actually
changes the image) and *region sets* (the players M_S it is named after) with those objects.
Definitions (also in docs/demo_model_card.md). For a top component S with leave-one-out pattern
energy E_S(p) = sum over RGB of (tail(f) - tail(f - Delta f_S))^2 at pixel p, total energy
|E_S| = sum_p E_S(p), present objects O_1..O_m (visible-pixel masks, disjoint), their union O,
and the component's region set M_S (union of its players' masks):

- `gt_object_purity`: mean over components of max_j E_S(O_j) / |E_S| — how much of a
  component's effect falls inside ONE object. 1 = every component draws a single object.
- `gt_object_coverage`: share of present objects O_j for which some component has
  E_S(O_j) / |E_S| > 0.5 — objects that have "a component of their own".
- `gt_region_agreement`: mean over components of E_S(M_S ∩ O) / |E_S| — the share of the
  effect that lies on object pixels inside the component's own regions (low when a component
  leaks out of M_S or acts on background).
- `gt_background_share`: mean over components of E_S(not O) / |E_S| — effect on background
  pixels (which no latent dimension controls; high means the method attributes global shading).
- `gt_region_contains_object`: mean over components of |O_j* ∩ M_S| / |O_j*| where O_j* is the
  component's dominant object — whether the regions a component is named after contain the
  object it actually draws.
- `gt_slot_purity`: like purity, but over the *slots* of all objects, present or absent (the
  pixels each object covers when present). A decomposition is relative to the baseline f0, whose
  image shows every object half-drawn; a component that erases an absent object's average
  appearance does real work in that object's slot, which `gt_background_share` counts as
  background. Slots may overlap (a face's eyes lie inside the head).
- `gt_absent_share`: mean over components of the share of energy inside the slots of absent
  objects (and outside present objects): how much of the top components "draws absence".
- `gt_objects_present`: number of present objects; `gt_components_scored`: components used.

Components with zero energy count as 0 for every mean (they draw nothing). With no present
object, purity/coverage/agreement/containment are 0.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

COVERAGE_THRESHOLD = 0.5
GT_MEANING = {   # key: (meaning, good is), as the explorer shows them; the definitions are above
    "gt_object_purity": ("share of a component's effect inside ONE object (mean over the top components)", "high"),
    "gt_object_coverage": ("share of present objects that have a component of their own", "high"),
    "gt_region_agreement": ("share of the effect on object pixels inside the component's own regions", "high"),
    "gt_background_share": ("share of the effect on background pixels", "low"),
    "gt_region_contains_object": ("how much of its dominant object a component's regions contain", "high"),
    "gt_slot_purity": ("share of a component's effect inside ONE object's place, present or absent", "high"),
    "gt_absent_share": ("share of the effect in the places of absent objects (erasing the baseline's average "
                        "object)", "—"),
    "gt_interactions_planted": ("planted multi-region interactions in this scene (straddle, pair, conditional)", "—"),
    "gt_interaction_found": ("share of planted interactions with a top component that spans their cells and "
                             "mostly draws them", "high"),
    "gt_interaction_exact_share": ("share of the effect on a planted interaction carried by components over "
                                   "exactly its cells", "high"),
    "gt_interaction_joint_share": ("share of the effect on a planted interaction carried by components spanning "
                                   "all its cells", "high"),
    "gt_interaction_singleton_share": ("share of the effect on a planted interaction carried by single-region "
                                       "components", "low"),
    "gt_single_cell_multi_share": ("control: share of the effect on single-cell objects carried by multi-region "
                                   "components", "low"),
    "gt_objects_present": ("objects present in this scene", "—"),
    "gt_components_scored": ("components scored (the top ones)", "—"),
}


def gt_scores(objects: Sequence, components: Sequence[tuple[int, Tensor]], subsets: Tensor,
              player_masks: Tensor) -> dict[str, float]:
    """Scores (keys `gt_*`) of the given components against the scene's objects.

    objects: `scenes.SceneObject`s (name, present, mask [H, W] bool, slot [H, W] bool or None);
    components: (subset row, leave-one-out energy map [H, W]) for the top-k components;
    subsets: uint8 [2**n, n] (row k marks the players of subset k);
    player_masks: float [n, H, W] (a pixel belongs to a player where the mask > 0.5)."""
    scene = _scene_masks(objects)
    pm = player_masks.detach().float().cpu() > 0.5
    subsets = subsets.detach().cpu()
    per: dict[str, list[float]] = {key: [] for key in PER_COMPONENT}
    covered: set[int] = set()
    for row, energy in components:
        members = subsets[int(row)].bool()
        region = pm[members].any(0) if bool(members.any()) else torch.zeros_like(pm[0])
        scores, hits = _component_scores(energy.detach().float().cpu().clamp(min=0), region, scene)
        for key in PER_COMPONENT:
            per[key].append(scores[key])
        covered |= hits

    def mean(v: list[float]) -> float:
        return float(sum(v) / len(v)) if v else 0.0

    n_present = 0 if scene["masks"] is None else scene["masks"].shape[0]
    return {
        "gt_object_purity": mean(per["purity"]),
        "gt_object_coverage": (len(covered) / n_present) if n_present else 0.0,
        "gt_region_agreement": mean(per["agree"]),
        "gt_background_share": mean(per["background"]),
        "gt_region_contains_object": mean(per["contains"]),
        "gt_slot_purity": mean(per["slot_purity"]),
        "gt_absent_share": mean(per["absent_share"]),
        "gt_objects_present": float(n_present),
        "gt_components_scored": float(len(components)),
    }


PER_COMPONENT = ("purity", "agree", "background", "contains", "slot_purity", "absent_share")


def _scene_masks(objects: Sequence) -> dict:
    """The present objects' masks [m, H, W] and their union, every non-empty slot, and the union of
    the slots of absent objects (None where there are none)."""
    present = [o for o in objects if o.present and bool(o.mask.any())]
    masks = torch.stack([o.mask.bool().cpu() for o in present]) if present else None
    absent = [o.slot.bool().cpu() for o in objects
              if not o.present and getattr(o, "slot", None) is not None and bool(o.slot.any())]
    return {"masks": masks, "union": masks.any(0) if masks is not None else None,
            "slots": [o.slot.bool().cpu() for o in objects
                      if getattr(o, "slot", None) is not None and bool(o.slot.any())],
            "absent_union": torch.stack(absent).any(0) if absent else None}


def _component_scores(e: Tensor, region: Tensor, scene: dict) -> tuple[dict[str, float], set[int]]:
    """One component's shares (energy e [H, W] >= 0, its regions' pixels `region`) and the indices
    of the present objects it covers (share above COVERAGE_THRESHOLD)."""
    total = float(e.sum())
    if total <= 0.0:
        return dict.fromkeys(PER_COMPONENT, 0.0), set()
    masks, union, absent_union = scene["masks"], scene["union"], scene["absent_union"]
    out = {"slot_purity": max((float((e * m).sum()) / total for m in scene["slots"]), default=0.0)}
    outside = ~union if union is not None else torch.ones_like(e, dtype=torch.bool)
    out["absent_share"] = float((e * (absent_union & outside)).sum()) / total if absent_union is not None else 0.0
    if masks is None:
        return {**out, "purity": 0.0, "agree": 0.0, "background": 1.0, "contains": 0.0}, set()
    shares = (e.unsqueeze(0) * masks).flatten(1).sum(1) / total       # [m]
    best = int(shares.argmax())
    obj = masks[best]
    out.update(purity=float(shares[best]), agree=float((e * (region & union)).sum()) / total,
               background=float((e * ~union).sum()) / total,
               contains=float((obj & region).sum()) / float(obj.sum()))
    return out, {j for j in range(masks.shape[0]) if float(shares[j]) > COVERAGE_THRESHOLD}


# ----------------------------------------------------------------------------------------------
# Planted interactions (planted.py): does the decomposition find the multi-region components?

PART_SHARE = 0.15        # a player "holds" a part when it has at least this share of the part's pixels
FOUND_SHARE = 0.5        # a component "draws" an interaction when this share of its energy is on it


def planted_regions(parts: Sequence[Tensor], player_masks: Tensor) -> frozenset[int]:
    """P: the players that hold at least PART_SHARE of some part's pixels."""
    pm = player_masks.detach().float().cpu() > 0.5
    out: set[int] = set()
    for part in parts:
        n = float(part.sum())
        if n > 0:
            counts = (pm & part.bool().cpu()).flatten(1).sum(1)
            out |= {i for i, c in enumerate(counts.tolist()) if c >= PART_SHARE * n}
    return frozenset(out)


def _shares(q: Tensor, members: list[frozenset[int]], energies: list[Tensor], P: frozenset[int]) -> dict:
    """For one region set P and pixel mask q: what the components do on q, by their region sets."""
    on_q = [float((e * q).sum()) for e in energies]
    totals = [float(e.sum()) for e in energies]
    all_q = sum(on_q)
    found = any(P <= m and t > 0 and eq / t > FOUND_SHARE for m, eq, t in zip(members, on_q, totals))
    if all_q <= 0:
        return {"found": found, "exact": 0.0, "joint": 0.0, "multi": 0.0, "singleton": None}
    return {"found": found,
            "exact": sum(eq for m, eq in zip(members, on_q) if m == P) / all_q,
            "joint": sum(eq for m, eq in zip(members, on_q) if P <= m) / all_q,
            "multi": sum(eq for m, eq in zip(members, on_q) if len(m) > 1) / all_q,
            "singleton": sum(eq for m, eq in zip(members, on_q) if len(m) == 1) / all_q}


def gt_interaction_scores(interactions: Sequence, objects: Sequence, components: Sequence[tuple[int, Tensor]],
                          subsets: Tensor, player_masks: Tensor) -> dict[str, float]:
    """Scores (keys `gt_interaction_*`, `gt_single_cell_multi_share`) of the top components
    against the scene's planted interactions (`planted.PlantedInteraction`s that are present and
    span >= 2 players of this layout) and, as a control, against its single-player objects.
    Keys whose mean would be over nothing are left out (absent, never a perfect score)."""
    subsets = subsets.detach().cpu()
    members = [frozenset(torch.nonzero(subsets[int(r)]).view(-1).tolist()) for r, _ in components]
    energies = [e.detach().float().cpu().clamp(min=0) for _, e in components]
    planted, singles = [], []
    for inter in interactions:
        P = planted_regions(inter.parts, player_masks) if inter.present else frozenset()
        if len(P) >= 2:
            planted.append(_shares(inter.mask.cpu(), members, energies, P))
    in_interaction = {n for i in interactions for n in (i.name, i.trigger) if n}
    for o in objects:
        if o.present and o.name not in in_interaction and bool(o.mask.any()):
            P = planted_regions([o.mask], player_masks)
            if len(P) == 1:
                singles.append(_shares(o.mask.cpu(), members, energies, P))
    out = {"gt_interactions_planted": float(len(planted))}
    if planted:
        out["gt_interaction_found"] = sum(s["found"] for s in planted) / len(planted)
        out["gt_interaction_exact_share"] = sum(s["exact"] for s in planted) / len(planted)
        out["gt_interaction_joint_share"] = sum(s["joint"] for s in planted) / len(planted)
        seen = [s["singleton"] for s in planted if s["singleton"] is not None]
        if seen:
            out["gt_interaction_singleton_share"] = sum(seen) / len(seen)
    if singles:
        out["gt_single_cell_multi_share"] = sum(s["multi"] for s in singles) / len(singles)
    return out


# ----------------------------------------------------------------------------------------------
# Method against the geometric null over many scenes (benchmarks/bench_groundtruth.py --json)

INTERACTION_KEYS = ("gt_interaction_found", "gt_interaction_exact_share", "gt_interaction_joint_share",
                    "gt_interaction_singleton_share")
MARGIN = 0.10            # "a clear margin": stated before the first measurement (model card)
BENCHMARK_PATH = Path(__file__).resolve().parents[2] / "data" / "groundtruth_benchmark.json"


def beats_null(row: dict) -> bool:
    """A benchmark row {good, method, null, better, worse}: the method's mean is better than the
    null's by at least MARGIN (absolute; the scores are shares in [0, 1]) and it is better in
    more (class, seed) pairs than it is worse."""
    sign = {"high": 1.0, "low": -1.0}.get(row["good"], 0.0)
    return sign * (row["method"] - row["null"]) >= MARGIN - 1e-9 and row["better"] > row["worse"]


def load_benchmark(path: Path = BENCHMARK_PATH) -> dict | None:
    """The recorded method-vs-null benchmark (written by benchmarks/bench_groundtruth.py), or None."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
