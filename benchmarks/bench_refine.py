"""Refinement schedules side by side: the full schedule (--refine all), the exact skip (the
default) and order caps (--max-order K), on the same images in one run.

For each image the feature, the image and the baseline f0 are computed once; then each schedule
optimises the minimal features and the script prints its per-sample tail passes (forward +
backward, counted by the optimiser where they happen), its wall time, the subsets of 2+ players it
stepped, and the relative L2 change of all non-empty components against the reference schedule
(the full one unless --schedules leaves it out; metrics.component_change). The summary gives, per
schedule, the median ratio of tail passes and of time against the reference, and the largest
component change.

usage: python benchmarks/bench_refine.py --model demo --classes all --seeds 3,4,5,6
       python benchmarks/bench_refine.py --model omniart-eyes --classes 0,1,2 --seeds 0,1
       python benchmarks/bench_refine.py --model biggan-random --layout 2x2 --classes 0 --seeds 0 --estimate-layout 3x3
       python benchmarks/bench_refine.py --model biggan-random --layout 3x3 --classes 0 --seeds 0 --schedules skip,cap2
       [--split NAME] [--mask spatial|channel] [--threads 2] [--json out.json]
       [--schedules full,skip,cap2,cap3,tol0.01] [--cache-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from regionprims import allocator                                        # noqa: E402
from regionprims.method.interactions import or_interactions             # noqa: E402
from regionprims.method.metrics import component_change                 # noqa: E402
from regionprims.method import minimal                                   # noqa: E402
from regionprims.method.minimal import NOISE, optimize_minimal_features  # noqa: E402
from regionprims.method.regions import player_masks, subset_matrix     # noqa: E402
from regionprims.method.specs import OptimSettings                      # noqa: E402
from regionprims.models.registry import load_generator                  # noqa: E402
from regionprims.pipeline import baseline, image_and_feature, make_spec  # noqa: E402
from regionprims.store.cache import ResultCache                          # noqa: E402

SCHEDULES = {"full": {"refine": "all"}, "skip": {"refine": "skip"}, "cap2": {"refine": "skip", "max_order": 2}}


def schedules(names: str) -> dict[str, dict]:
    """The schedules of --schedules, in order: full, skip, capK (the order cap K with the skip) or
    tolT (an experiment, not a setting: the skip with minimal.NOISE = T, i.e. a row is skipped when
    its strongest upward pull is below T of its largest gradient, so under ngd its cells could move
    by at most about T x the sum of the learning rates). The first is the reference every change
    and ratio is measured against (full, when listed)."""
    out = {}
    for name in names.split(","):
        if name.startswith("cap") and name[3:].isdigit():
            out[name] = {"refine": "skip", "max_order": int(name[3:])}
        elif name.startswith("tol") and _is_number(name[3:]):
            out[name] = {"refine": "skip", "noise": float(name[3:])}
        elif name in SCHEDULES:
            out[name] = SCHEDULES[name]
        else:
            raise SystemExit(f"unknown schedule {name!r}: use full, skip, capK or tolT (K, T numbers)")
    return dict(sorted(out.items(), key=lambda item: item[0] != "full"))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def generator(model: str):
    if model != "biggan-random":
        return load_generator(model, "cpu")
    from bench_minimal import random_biggan_folder
    return load_generator(random_biggan_folder(128), "cpu")


def measure(gen, class_id: int, seed: int, args) -> dict:
    settings = OptimSettings(mask=args.mask)
    spec = make_spec(gen, class_id, seed, split=args.split, layout=args.layout, settings=settings)
    _, f, x, ctx = image_and_feature(gen, spec)
    f0 = baseline(gen, spec, args.cache).f0
    masks = player_masks(spec.layout, gen.image_size, gen.image_size).to(gen.device)
    subsets = subset_matrix(spec.layout.n)
    out, reference = {}, None
    for name, change in args.runs.items():
        change = dict(change)
        minimal.NOISE = change.pop("noise", NOISE)
        try:
            start = time.perf_counter()
            u, _, info = optimize_minimal_features(gen, ctx, f, f0, x, masks, subsets, replace(settings, **change))
            seconds = time.perf_counter() - start
        finally:
            minimal.NOISE = NOISE                    # the tolerance experiment never outlives its schedule
        comps = or_interactions(u.cpu())
        reference = comps if reference is None else reference
        out[name] = {"tail_passes": info["tail_passes"], "seconds": seconds, "stepped": info["subsets_stepped"],
                     "change": component_change(reference, comps), "moving_by_order": info["moving_by_order"]}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="demo")
    p.add_argument("--classes", default="all", help="indices, comma-separated, or 'all'")
    p.add_argument("--seeds", default="3,4")
    p.add_argument("--layout", default="3x3")
    p.add_argument("--split", default=None)
    p.add_argument("--mask", default="spatial", choices=["spatial", "channel"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    p.add_argument("--estimate-layout", default=None, help="also print the estimate of each schedule at this layout")
    p.add_argument("--cache-dir", default=None, help="a result cache for the baselines (omniart-eyes: minutes per class)")
    p.add_argument("--schedules", default="full,skip,cap2",
                   help="full, skip, capK (the order cap K), tolT (skip tolerance T, an experiment), comma-separated; "
                   "the first (full when listed) is the reference")
    args = p.parse_args()
    args.runs = schedules(args.schedules)
    args.cache = ResultCache(args.cache_dir) if args.cache_dir else None
    allocator.tune()
    torch.set_num_threads(args.threads)
    gen = generator(args.model)
    classes = range(len(gen.class_names)) if args.classes == "all" else [int(c) for c in args.classes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{args.model} split {args.split or gen.default_split} {args.layout} {args.mask}, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"{'image':24} " + "  ".join(f"{n:>7} passes {n:>4} s  stepped  change" for n in args.runs), flush=True)
    rows = []
    for c in classes:
        for s in seeds:
            r = measure(gen, c, s, args)
            rows.append({"class": gen.class_names[c], "seed": s, **r})
            print(f"{gen.class_names[c][:18] + ' ' + str(s):24} " + "  ".join(
                f"{r[n]['tail_passes']:14d} {r[n]['seconds']:6.1f} {r[n]['stepped']:8d} {r[n]['change']:7.4f}"
                for n in args.runs), flush=True)
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    ref = next(iter(args.runs))
    for name in list(args.runs)[1:]:
        passes = statistics.median(row[ref]["tail_passes"] / row[name]["tail_passes"] for row in rows)
        speed = statistics.median(row[ref]["seconds"] / row[name]["seconds"] for row in rows)
        worst = max(row[name]["change"] for row in rows)
        over = sum(row[name]["change"] > 0.02 for row in rows)
        print(f"{name}: median {passes:.2f}x fewer tail passes, median {speed:.2f}x faster than {ref}; "
              f"largest component change {worst:.2e} ({over} of {len(rows)} over 0.02)")
    estimates = estimate_layout(gen, args, rows) if args.estimate_layout else {}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": {k: v for k, v in vars(args).items() if k != "cache"}, "rows": rows,
                       "estimates": estimates}, fh, indent=1)


def estimate_layout(gen, args, rows: list[dict]) -> dict:
    """The estimate module's figures for --estimate-layout (e.g. the 3x3 that is too slow to run here):
    one fresh probe, then each schedule; the skip without a measured share counts every subset as
    moving (its upper bound), and with the shares this run measured where the orders match."""
    from regionprims.estimate import estimate_seconds, format_seconds, probe_tail_cost
    cost = probe_tail_cost(gen, args.split or gen.default_split)
    shares: dict[str, list[float]] = {}
    for row in rows:
        for order, share in row["skip"]["moving_by_order"].items():
            shares.setdefault(order, []).append(share)
    measured = {k: statistics.mean(v) for k, v in shares.items()}
    out = {}
    print(f"estimates at {args.estimate_layout} (probe: {cost.probe_seconds:.1f} s, load {os.getloadavg()[0]:.1f}):")
    for name, change, moving in (("full", SCHEDULES["full"], None), ("skip, no share known", SCHEDULES["skip"], None),
                                 ("skip, this run's shares (1.0 where not measured)", SCHEDULES["skip"], measured),
                                 ("cap2, no share known", SCHEDULES["cap2"], None)):
        spec = make_spec(gen, 0, 0, split=args.split, layout=args.estimate_layout,
                         settings=replace(OptimSettings(mask=args.mask), **change))
        est = estimate_seconds(spec, cost, moving)
        out[name] = {"seconds": est.seconds, "tail_passes": est.parts["sample_steps"]}
        print(f"  {name:50} {est.parts['sample_steps']:6d} passes  {format_seconds(est.seconds):>8}", flush=True)
    return out


if __name__ == "__main__":
    main()
