"""Ground truth on the demo generator: decompose (class, seed) pairs with the default settings
and report the gt_ scores (docs/demo_model_card.md defines them), the faithfulness metrics and
the wall time with where it goes, as mean and worst case over all pairs.

usage: python benchmarks/bench_groundtruth.py --seeds 1,2,3,4 [--threads 2]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from regionprims.models.registry import load_generator
from regionprims.pipeline import decompose, make_spec

# for each key: is higher better? (decides which end is the worst case)
KEYS = {"gt_object_purity": True, "gt_object_coverage": True, "gt_region_agreement": True,
        "gt_background_share": False, "gt_region_contains_object": True, "gt_slot_purity": True,
        "gt_absent_share": False,
        "residual_ratio": False, "fit_psnr": True, "additivity_error_top20": False, "leakage_top20": False,
        "sparsity_top20": True}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="1,2,3,4")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    gen = load_generator("demo")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, seconds, stages = [], [], {}
    for class_name in gen.class_names:
        for seed in seeds:
            spec = make_spec(gen, class_name, seed)
            t = time.perf_counter()
            dec, _ = decompose(gen, spec)
            seconds.append(time.perf_counter() - t)
            for stage, value in dec.info["timings"].items():
                stages.setdefault(stage, []).append(value)
            rows.append((class_name, seed, dec.metrics))
            print(f"{class_name:8} seed {seed}: {seconds[-1]:5.1f} s  " +
                  "  ".join(f"{k.replace('gt_', '')}={dec.metrics[k]:.3f}" for k in KEYS), flush=True)
    print(f"\n{len(rows)} pairs on {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}\n")
    print("| metric | mean | worst | worst pair |")
    print("|---|---|---|---|")
    for key, higher in KEYS.items():
        values = [(m[key], c, s) for c, s, m in rows]
        worst = min(values) if higher else max(values)
        print(f"| {key} | {statistics.fmean(v for v, _, _ in values):.3f} | {worst[0]:.3f} | {worst[1]} seed {worst[2]} |")
    print(f"| seconds per decomposition | {statistics.fmean(seconds):.1f} | {max(seconds):.1f} | |")
    print("\nwhere the time goes (mean seconds): " +
          ", ".join(f"{k} {statistics.fmean(v):.2f}" for k, v in stages.items()))
    per_class = {}
    for c, _, m in rows:
        per_class.setdefault(c, []).append(m["gt_object_coverage"])
    print("object coverage by class: " + ", ".join(f"{c} {statistics.fmean(v):.2f}" for c, v in per_class.items()))


if __name__ == "__main__":
    main()
