"""Ground truth on the demo generator, method against the geometric null: decompose (class, seed)
pairs with the default settings and print every gt_ score (docs/demo_model_card.md defines them)
for the method and for the null side by side, the planted-interaction scores broken down by how
far apart the interaction's cells are, the faithfulness metrics and the wall time.

usage: python benchmarks/bench_groundtruth.py --seeds 1,2,3,4,5 [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from regionprims.method.render import pattern_energy, regional_patterns
from regionprims.models.demo.groundtruth import gt_interaction_scores, planted_regions
from regionprims.models.demo.planted import scene_interactions
from regionprims.models.registry import load_generator
from regionprims.pipeline import decompose, image_and_feature, make_spec, null_decomposition

# good is: "high", "low" or "—" (a count or a description, no direction)
GT_KEYS = {"gt_object_purity": "high", "gt_object_coverage": "high", "gt_region_agreement": "high",
           "gt_background_share": "low", "gt_region_contains_object": "high", "gt_slot_purity": "high",
           "gt_absent_share": "—", "gt_interactions_planted": "—", "gt_interaction_found": "high",
           "gt_interaction_exact_share": "high", "gt_interaction_joint_share": "high",
           "gt_interaction_singleton_share": "low", "gt_single_cell_multi_share": "low"}
OTHER_KEYS = {"residual_ratio": "low", "fit_psnr": "high", "additivity_error_top20": "low",
              "leakage_top20": "low", "sparsity_top20": "high"}
PER_INTERACTION = ("gt_interaction_found", "gt_interaction_exact_share", "gt_interaction_joint_share",
                   "gt_interaction_singleton_share")


def adjacent(cells: frozenset[int], width: int = 3) -> bool:
    """Every cell of P touches another (4-neighbours on the 3x3 grid): within the tail's reach."""
    rc = [divmod(i, width) for i in cells]
    return all(any(abs(a - c) + abs(b - d) == 1 for c, d in rc) for a, b in rc)


def per_interaction(gen, dec, null) -> list[tuple[str, str, dict, dict]]:
    """(interaction, group, method scores, null scores) for every planted interaction of the scene."""
    _, _, _, ctx = image_and_feature(gen, dec.spec)
    scored = []
    for d in (dec, null):
        top = d.ranking[:20]
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


def _mean(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f}" if values else "—"


def side_by_side(rows: list[dict], keys: dict[str, str]) -> None:
    print("| score | good is | method | null | method − null | method better / worse / tied | pairs |")
    print("|---|---|---:|---:|---:|---|---:|")
    for key, good in keys.items():
        both = [(m[key], m["null_" + key]) for m in rows if key in m and "null_" + key in m]
        if not both:
            continue
        diff = statistics.fmean(a - b for a, b in both)
        sign = {"high": 1, "low": -1}.get(good, 0)
        better = sum(sign * (a - b) > 1e-9 for a, b in both)
        worse = sum(sign * (a - b) < -1e-9 for a, b in both)
        tally = f"{better} / {worse} / {len(both) - better - worse}" if sign else "—"
        print(f"| `{key}` | {good} | {_mean([a for a, _ in both])} | {_mean([b for _, b in both])} | "
              f"{diff:+.3f} | {tally} | {len(both)} |")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="1,2,3,4,5")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    gen = load_generator("demo")
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
            inters += per_interaction(gen, dec, null_decomposition(gen, ctx, dec))
            rows.append(dec.metrics)
            m = dec.metrics
            print(f"{class_name:8} seed {seed}: {seconds[-1]:5.1f} s  planted {m['gt_interactions_planted']:.0f}  "
                  f"joint share method {m.get('gt_interaction_joint_share', float('nan')):.3f} "
                  f"null {m.get('null_gt_interaction_joint_share', float('nan')):.3f}", flush=True)
    load = max(load, os.getloadavg()[0])
    print(f"\n{len(rows)} (class, seed) pairs, seeds {args.seeds}, demo {gen.identity}, {platform.machine()}, "
          f"{os.cpu_count()} cores, load average up to {load:.1f}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}\n")
    print("Ground truth (means over the pairs where the score is defined):\n")
    side_by_side(rows, GT_KEYS)
    print("\nFaithfulness metrics:\n")
    side_by_side(rows, OTHER_KEYS)
    print("\nPlanted interactions, one row per group (means over interactions):\n")
    print("| group | interactions | " + " | ".join(f"{k.replace('gt_interaction_', '')} method / null"
                                                   for k in PER_INTERACTION) + " |")
    print("|---|---:|" + "---:|" * len(PER_INTERACTION))
    for group in sorted({g for _, g, _, _ in inters}):
        sel = [(m, n) for _, g, m, n in inters if g == group]
        cells = [f"{_mean([m[k] for m, _ in sel if k in m])} / {_mean([n[k] for _, n in sel if k in n])}"
                 for k in PER_INTERACTION]
        print(f"| {group} | {len(sel)} | " + " | ".join(cells) + " |")
    print(f"\nseconds per decomposition (method + null + metrics): mean {statistics.fmean(seconds):.1f}, "
          f"max {max(seconds):.1f}")


if __name__ == "__main__":
    main()
