"""The cross-image report of a study (`regionprims study`; docs/batch.md): for every class, transfer
within the class, across classes, of the tight geometric null (within and across), and of a control
that keeps the grid's geometry but breaks the image (method/transfer.py), with the uniform chance
level as a footnote, for the paper's asymmetric
top-20-in-top-100 and the symmetric top-20/top-20, each with its spread; consistency of the top
components across seeds (their region sets, and where and through which channels each shared
region set acts); the faithfulness metrics (and their null_ versions) as distributions.

Components of two images are the same when they cover the same set of patches (their region
set). Each decomposition is read once and reduced to an ImageSummary, so a study of any size
fits in memory.
"""
from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch

from regionprims.errors import UserError
from regionprims.method.decomposition import Decomposition
from regionprims.method.metrics import TOP, transfer_chance, transfer_chance_spread, transfer_defined
from regionprims.method.regions import Layout
from regionprims.method.transfer import geometry_control, null_ranking, overlap
from regionprims.method.transfer import region_sets as rows_region_sets
from regionprims.store.cache import ResultCache
from regionprims.study import records

POOL = 100           # the paper's top-100 of the other image
RECURRING = 10       # region sets listed per class


@dataclass
class ImageSummary:
    """What the report needs of one decomposition."""

    class_id: int
    class_name: str
    seed: int
    n_components: int
    ranked: list[frozenset]                      # region sets, strongest first (top `pool`)
    footprint: dict[frozenset, torch.Tensor]     # top-k region set -> where Δf_S acts (unit vector over h*w)
    profile: dict[frozenset, torch.Tensor]       # top-k region set -> through which channels (unit vector over C)
    metrics: dict = field(default_factory=dict)
    null_ranked: list[frozenset] = field(default_factory=list)   # the tight null's region sets, strongest first
    layout: Layout | None = None


def region_sets(dec: Decomposition) -> list[frozenset]:
    """Region set (patch indices) of every subset row."""
    return rows_region_sets(dec, range(dec.subsets.shape[0]))


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm().clamp_min(1e-12)


def summarize(image: dict, dec: Decomposition, top: int = TOP, pool: int = POOL) -> ImageSummary:
    sets = region_sets(dec)
    rows = dec.ranking[:max(top, pool)]
    foot, prof = {}, {}
    for row in rows[:top]:
        energy = dec.components[row].double().square()
        foot[sets[row]] = _unit(energy.sum(0).flatten())
        prof[sets[row]] = _unit(energy.sum((1, 2)))
    return ImageSummary(class_id=image["class_id"], class_name=image.get("class_name") or str(image["class_id"]),
                        seed=image["seed"], n_components=len(dec.ranking), ranked=[sets[r] for r in rows],
                        footprint=foot, profile=prof, metrics=dict(dec.metrics),
                        null_ranked=rows_region_sets(dec, null_ranking(dec)[:max(top, pool)]), layout=dec.spec.layout)


def stats(values: Iterable[float]) -> dict | None:
    """n, mean, std (population), min, median, max of the finite values; None when there are none."""
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    if not v:
        return None
    return {"n": len(v), "mean": statistics.fmean(v), "std": statistics.pstdev(v), "min": min(v),
            "median": statistics.median(v), "max": max(v)}


def transfer_pair(a: ImageSummary, b: ImageSummary, top: int, pool: int) -> float:
    """|top(a) ∩ pool(b)| / top, by region set (metrics.transfer, on region sets)."""
    return overlap(a.ranked, b.ranked, top, pool)


def null_pair(a: ImageSummary, b: ImageSummary, top: int, pool: int) -> float | None:
    """The same for the two images' tight geometric nulls."""
    return overlap(a.null_ranked, b.null_ranked, top, pool) if a.null_ranked and b.null_ranked else None


def geometry_pair(a: ImageSummary, b: ImageSummary, top: int, pool: int) -> float | None:
    """a into b's region sets moved by the grid's symmetries (the geometry-keeping control)."""
    return geometry_control(a.ranked, b.ranked, a.layout, top, pool) if a.layout is not None else None


def _pairs(summaries: Sequence[ImageSummary], same_class: bool):
    """Ordered pairs (a, b), a != b, of one class (same_class) or of two different classes."""
    for a, b in itertools.permutations(summaries, 2):
        if (a.class_id == b.class_id) == same_class:
            yield a, b


def _transfer_block(subjects: Sequence[ImageSummary], all_: Sequence[ImageSummary], top: int, pool: int) -> dict:
    """Within-class and cross-class transfer of the subjects (as image a) against every other image."""
    ids = {id(s) for s in subjects}
    within = [(a, b) for a, b in _pairs(all_, True) if id(a) in ids]
    across = [(a, b) for a, b in _pairs(all_, False) if id(a) in ids]
    out = {}
    for name, k in (("asym", pool), ("sym", top)):
        out[name] = {"within": stats(transfer_pair(a, b, top, k) for a, b in within),
                     "across": stats(transfer_pair(a, b, top, k) for a, b in across),
                     "null_within": stats(null_pair(a, b, top, k) for a, b in within),
                     "null_across": stats(null_pair(a, b, top, k) for a, b in across),
                     "geometry": stats(geometry_pair(a, b, top, k) for a, b in within)}
    return out


def _cosines(pairs, top: int, attr: str) -> list[float]:
    """Cosine similarity of the same region set's footprint/profile in two images (top of both)."""
    out = []
    for a, b in pairs:
        va, vb = getattr(a, attr), getattr(b, attr)
        for s in set(a.ranked[:top]) & set(b.ranked[:top]):
            if s in va and s in vb and va[s].shape == vb[s].shape:
                out.append(float((va[s] * vb[s]).sum()))
    return out


def _consistency(members: Sequence[ImageSummary], top: int) -> dict:
    pairs = list(itertools.combinations(members, 2))
    jaccard = [len(set(a.ranked[:top]) & set(b.ranked[:top])) / len(set(a.ranked[:top]) | set(b.ranked[:top]))
               for a, b in pairs]
    counts: dict[frozenset, int] = {}
    for m in members:
        for s in m.ranked[:top]:
            counts[s] = counts.get(s, 0) + 1
    common = sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), sorted(kv[0])))[:RECURRING]
    return {"seeds": len(members), "region_sets": stats(jaccard),
            "footprint": stats(_cosines(pairs, top, "footprint")),
            "profile": stats(_cosines(pairs, top, "profile")),
            "recurring": [{"patches": sorted(s), "share": c / len(members)} for s, c in common]}


def metric_distributions(summaries: Sequence[ImageSummary]) -> dict:
    """Every numeric metric (and null_ metric) over the study: its stats overall and per class."""
    keys = sorted({k for s in summaries for k, v in s.metrics.items() if isinstance(v, (int, float))})
    overall = {k: stats(s.metrics.get(k) for s in summaries) for k in keys}
    classes = sorted({s.class_id for s in summaries})
    by_class = {str(c): {k: stats(s.metrics.get(k) for s in summaries if s.class_id == c) for k in keys}
                for c in classes}
    return {"overall": {k: v for k, v in overall.items() if v is not None}, "by_class": by_class}


def build_report(summaries: Sequence[ImageSummary], top: int = TOP, pool: int = POOL) -> dict:
    """The report as one JSON-able dict (tables and plots are drawn from it)."""
    if not summaries:
        raise UserError("a study report needs at least one decomposition")
    n_comp = min((s.n_components for s in summaries), default=0)
    defined = {"asym": transfer_defined(n_comp, top, pool), "sym": transfer_defined(n_comp, top, top)}
    chance = {"asym": {"mean": transfer_chance(n_comp, top, pool), "std": transfer_chance_spread(n_comp, top, pool)},
              "sym": {"mean": transfer_chance(n_comp, top, top), "std": transfer_chance_spread(n_comp, top, top)}}
    classes = sorted({s.class_id for s in summaries})
    rows = []
    for c in classes:
        members = [s for s in summaries if s.class_id == c]
        rows.append({"class_id": c, "class_name": members[0].class_name, "images": len(members),
                     "transfer": _transfer_block(members, summaries, top, pool),
                     "consistency": _consistency(members, top)})
    across = list(_pairs(summaries, False))
    return {"top": top, "pool": pool, "n_components": n_comp, "images": len(summaries),
            "transfer_defined": defined, "chance": chance, "classes": rows,
            "all": {"transfer": _transfer_block(summaries, summaries, top, pool),
                    "consistency_across_classes": {"footprint": stats(_cosines(across, top, "footprint")),
                                                   "profile": stats(_cosines(across, top, "profile"))}},
            "metrics": metric_distributions(summaries)}


def study_report(record: records.StudyRecord, cache: ResultCache, top: int = TOP, pool: int = POOL) -> dict:
    """Read every finished image of a study once and build its report (plus the study's facts)."""
    summaries, missing, per_image = [], [], []
    for image, dec in records.iter_images(record, cache):
        if isinstance(dec, str):
            missing.append({"class_id": image["class_id"], "seed": image["seed"], "reason": dec})
            continue
        summaries.append(summarize(image, dec, top, pool))
        per_image.append({"class_id": image["class_id"], "class_name": summaries[-1].class_name,
                          "seed": image["seed"], "file": image.get("file"), "key": image.get("key"),
                          "metrics": summaries[-1].metrics})
    if not summaries:
        raise UserError(f"none of the {len(record.done())} finished images of study {record.study_id} could be read"
                        + (f" ({missing[0]['reason']})" if missing else ""))
    report = build_report(summaries, top, pool)
    report.update(study_id=record.study_id, model=record.plan.model, model_identity=record.model_identity,
                  layout=record.plan.layout, seeds=list(record.plan.seeds), per_image=per_image, missing=missing,
                  failed=[{k: im.get(k) for k in ("class_id", "class_name", "seed", "error")}
                          for im in record.failed()])
    return report
