"""Ground truth on the demo generator, method against the geometric null: decompose (class, seed)
pairs with the default settings and print every gt_ score (docs/demo_model_card.md defines them)
for the method and for the tight geometric null side by side (the budget-matched null's mean
beside them), the planted-interaction scores broken down by how far apart the interaction's cells
are, the faithfulness metrics, the beyond-geometry figures (method/beyond.py) and the wall time.

usage: python benchmarks/bench_groundtruth.py --seeds 1,2,3,4,5 [--threads 2] [--device cpu] \
           [--json regionprims/data/groundtruth_benchmark.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from regionprims import allocator
from regionprims.method.beyond import nonzero_rows
from regionprims.method.null import BUDGET_DEFINITION, BUDGET_PREFIX, DEFINITION, NULL_PREFIX
from regionprims.method.render import pattern_energy, regional_patterns
from regionprims.models.demo.groundtruth import (INTERACTION_KEYS, MARGIN, beats_null, gt_interaction_scores,
                                                 planted_regions)
from regionprims.models.demo.planted import scene_interactions
from regionprims.models.registry import load_generator
from regionprims.pipeline import decompose, image_and_feature, make_spec
from regionprims.scoring import null_decomposition

# good is: "high", "low" or "—" (a count or a description, no direction)
GT_KEYS = {"gt_object_purity": "high", "gt_object_coverage": "high", "gt_region_agreement": "high",
           "gt_background_share": "low", "gt_region_contains_object": "high", "gt_slot_purity": "high",
           "gt_absent_share": "—", "gt_interactions_planted": "—", "gt_interaction_found": "high",
           "gt_interaction_exact_share": "high", "gt_interaction_joint_share": "high",
           "gt_interaction_singleton_share": "low", "gt_single_cell_multi_share": "low"}
OTHER_KEYS = {"residual_ratio": "low", "fit_psnr": "high", "additivity_error_top20": "low",
              "leakage_top20": "low", "sparsity_top20": "high"}
BEYOND_KEYS = ("beyond_strength", "beyond_top10", "joint_need", "beyond_buildup_db", "beyond_buildup_budget_db",
               "baseline_change")
PER_INTERACTION = ("gt_interaction_found", "gt_interaction_exact_share", "gt_interaction_joint_share",
                   "gt_interaction_singleton_share")


def adjacent(cells: frozenset[int], width: int = 3) -> bool:
    """Every cell of P touches another (4-neighbours on the 3x3 grid): within the tail's reach."""
    rc = [divmod(i, width) for i in cells]
    return all(any(abs(a - c) + abs(b - d) == 1 for c, d in rc) for a, b in rc)


def per_interaction(gen, dec, null) -> list[tuple[str, str, dict, dict]]:
    """(interaction, group, method scores, null scores) for every planted interaction of the scene
    (the top 20 without empty components, as scoring.compute_metrics ranks them)."""
    _, _, _, ctx = image_and_feature(gen, dec.spec)
    scored = []
    for d in (dec, null):
        nonzero = nonzero_rows(d.components)
        top = [r for r in d.ranking[:20] if nonzero[r]]
        energy = pattern_energy(regional_patterns(gen, ctx, d.feature, d.baseline, d.components, top, "loo"))
        scored.append(list(zip(top, energy)))
    out = []
    for inter in scene_interactions(dec.z, dec.spec.class_id):
        P = planted_regions(inter.parts, dec.player_masks) if inter.present else frozenset()
        if len(P) < 2:
            continue
        group = f"{inter.kind}, {'adjacent' if adjacent(P) else 'apart'}"
        m, n = (gt_interaction_scores([inter], [], comps, dec.subsets, dec.player_masks) for comps in scored)
        out.append((inter.name, group, m, n))
    return out


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def compare(rows: list[dict], keys: dict[str, str]) -> dict[str, dict]:
    """Per score: method and tight-null means over the pairs where both are defined, and the tally
    of pairs where the method is better / worse (by the score's direction); `budget_null` is the
    budget-matched null's mean over the pairs where it is defined (no tally). A score the tight
    null never defines (absent by construction: on a grid aligned with the feature cells it has
    only its single-player components) keeps the method's mean over its pairs, with null None."""
    out = {}
    for key, good in keys.items():
        both = [(m[key], m[NULL_PREFIX + key]) for m in rows if key in m and NULL_PREFIX + key in m]
        if not both:
            own = [m[key] for m in rows if key in m]
            if own:
                out[key] = {"good": good, "method": _mean(own), "null": None, "better": 0, "worse": 0, "pairs": 0,
                            "method_pairs": len(own),
                            "budget_null": _mean([m[BUDGET_PREFIX + key] for m in rows if BUDGET_PREFIX + key in m])}
            continue
        sign = {"high": 1, "low": -1}.get(good, 0)
        out[key] = {"good": good, "method": _mean([a for a, _ in both]), "null": _mean([b for _, b in both]),
                    "better": sum(sign * (a - b) > 1e-9 for a, b in both),
                    "worse": sum(sign * (a - b) < -1e-9 for a, b in both), "pairs": len(both),
                    "budget_null": _mean([m[BUDGET_PREFIX + key] for m in rows if BUDGET_PREFIX + key in m])}
    return out


def beyond_table(rows: list[dict]) -> dict[str, dict]:
    """Mean, min and max over the pairs of each beyond-geometry figure (and the baseline change)."""
    out = {}
    for key in BEYOND_KEYS:
        vals = [float(m[key]) for m in rows if isinstance(m.get(key), (int, float)) and m[key] == m[key]]
        if vals:
            out[key] = {"mean": statistics.fmean(vals), "min": min(vals), "max": max(vals), "pairs": len(vals)}
    return out


def print_table(table: dict[str, dict]) -> None:
    print("| score | good is | method | tight null | method − null | method better / worse / tied | pairs "
          "| budget-matched null |")
    print("|---|---|---:|---:|---:|---|---:|---:|")
    for key, r in table.items():
        if r["null"] is None:
            print(f"| `{key}` | {r['good']} | {_f(r['method'])} | absent | — | — (method on {r['method_pairs']} pairs) "
                  f"| 0 | {_f(r['budget_null'])} |")
            continue
        tally = (f"{r['better']} / {r['worse']} / {r['pairs'] - r['better'] - r['worse']}"
                 if r["good"] != "—" else "—")
        print(f"| `{key}` | {r['good']} | {_f(r['method'])} | {_f(r['null'])} | {r['method'] - r['null']:+.3f} | "
              f"{tally} | {r['pairs']} | {_f(r['budget_null'])} |")


def groups_table(inters: list) -> dict[str, dict]:
    out = {}
    for group in sorted({g for _, g, _, _ in inters}):
        sel = [(m, n) for _, g, m, n in inters if g == group]
        out[group] = {"interactions": len(sel), **{
            k.replace("gt_interaction_", ""): {"method": _mean([m[k] for m, _ in sel if k in m]),
                                               "null": _mean([n[k] for _, n in sel if k in n])}
            for k in PER_INTERACTION}}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="1,2,3,4,5")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="torch device (default cpu: the time targets of docs/design.md §7)")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="also write the tables as JSON (the explorer reads regionprims/data/groundtruth_benchmark.json)")
    args = p.parse_args()
    allocator.tune()                    # as the CLI and the explorer run (regionprims/allocator.py)
    torch.set_num_threads(args.threads)
    gen = load_generator("demo", device=args.device)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, seconds, inters = [], [], []
    load = os.getloadavg()[0]
    for class_name in gen.class_names:
        for seed in seeds:
            spec = make_spec(gen, class_name, seed)
            t = time.perf_counter()
            dec, _ = decompose(gen, spec)
            seconds.append(time.perf_counter() - t)
            _, _, _, ctx = image_and_feature(gen, spec)
            inters += per_interaction(gen, dec, null_decomposition(gen, ctx, dec)[0])
            rows.append(dec.metrics)
            m = dec.metrics
            print(f"{class_name:8} seed {seed}: {seconds[-1]:5.1f} s  planted {m['gt_interactions_planted']:.0f}  "
                  f"joint share method {m.get('gt_interaction_joint_share', float('nan')):.3f} "
                  f"null {m.get('null_gt_interaction_joint_share', float('nan')):.3f}", flush=True)
    load = max(load, os.getloadavg()[0])
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, device {gen.device}, load average up to {load:.1f}, "
               f"{torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"\n{len(rows)} (class, seed) pairs, seeds {args.seeds}, demo {gen.identity}, {machine}\n")
    gt, other, groups = compare(rows, GT_KEYS), compare(rows, OTHER_KEYS), groups_table(inters)
    beyond = beyond_table(rows)
    print(f"null: {DEFINITION}\nbudget-matched null: {BUDGET_DEFINITION}\n")
    print("Ground truth (means over the pairs where the score is defined for both):\n")
    print_table(gt)
    for key in INTERACTION_KEYS:
        if key in gt:
            print(f"{key}: the method {'beats' if beats_null(gt[key]) else 'does NOT beat'} the null "
                  f"by the stated margin ({MARGIN:.2f}, better in more pairs than worse)")
    print("\nFaithfulness metrics:\n")
    print_table(other)
    print("\nPlanted interactions, one row per group (means over interactions, method / null):\n")
    print("| group | interactions | " + " | ".join(k.replace("gt_interaction_", "") for k in PER_INTERACTION) + " |")
    print("|---|---:|" + "---:|" * len(PER_INTERACTION))
    for group, r in groups.items():
        cells = [f"{_f(r[k.replace('gt_interaction_', '')]['method'])} / {_f(r[k.replace('gt_interaction_', '')]['null'])}"
                 for k in PER_INTERACTION]
        print(f"| {group} | {r['interactions']} | " + " | ".join(cells) + " |")
    print("\nBeyond geometry (method/beyond.py; over the pairs):\n")
    print("| figure | mean | min | max | pairs |\n|---|---:|---:|---:|---:|")
    for key, r in beyond.items():
        print(f"| `{key}` | {r['mean']:.4g} | {r['min']:.4g} | {r['max']:.4g} | {r['pairs']} |")
    print(f"\nseconds per decomposition (method + both nulls + metrics): mean {statistics.fmean(seconds):.1f}, "
          f"max {max(seconds):.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "identity": gen.identity, "pairs": len(rows), "seeds": args.seeds, "machine": machine,
            "command": "python benchmarks/bench_groundtruth.py " + " ".join(sys.argv[1:]),
            "null": DEFINITION, "budget_null": BUDGET_DEFINITION,
            "gt": gt, "metrics": other, "groups": groups, "beyond": beyond,
            "seconds_mean": statistics.fmean(seconds), "seconds_max": max(seconds)}, indent=1) + "\n")


if __name__ == "__main__":
    main()
