"""omniart-eyes, default 3x3 decomposition: the engine's built-in model against the
straightforward library route, side by side in one run.

engine:          registry model `omniart-eyes` (BatchNorm folded, channels-last, the exact
                 spatial-mask route for the first tail layer), default settings, no cache.
straightforward: the same weights in the package's own layer layout (ConvTranspose2d + BatchNorm +
                 ReLU, default memory format) wrapped by `regionprims.models.wrap_module`, the same
                 spec and settings.
Each route runs in its own fresh process, with the allocator tuned as the CLI and the explorer
tune it (regionprims/allocator.py) and with glibc's default allocator, the routes interleaved,
`--repeats` times. Engine time is the sum of the decomposition's own stage timings (baseline,
minimal features, components, metrics, null); loading is not counted. The machine's load average
is printed with the result: on a shared machine absolute times are noisy, the ratios measured in
one run are what counts.

usage: python benchmarks/bench_omniart.py [--class blue] [--seed 3] [--threads 2] [--repeats 1]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from regionprims.models import omniart, wrap_module
from regionprims.models.registry import load_generator
from regionprims.pipeline import decompose, make_spec


class PackageLayout(torch.nn.Module):
    """EyeNet called as module(z, class_ids), for wrap_module."""

    def __init__(self):
        super().__init__()
        self.net = omniart.load_net()

    def forward(self, z, class_ids):
        return self.net(z, F.one_hot(class_ids, len(omniart.CLASSES)).float())


def run(gen, args) -> dict:
    spec = make_spec(gen, args.class_, args.seed)
    t0 = time.perf_counter()
    dec, _ = decompose(gen, spec)
    wall = time.perf_counter() - t0
    stages = dec.info["timings"]
    return {"engine_seconds": round(sum(stages.values()), 2), "wall_seconds": round(wall, 2),
            "stages": {k: round(v, 2) for k, v in stages.items()}, "split": spec.split,
            "objective_mean": round(dec.info["objective_mean"], 6), "metrics": dec.metrics,
            "cpu_seconds": None}


ROUTES = [("engine", "tuned"), ("engine", "default"), ("straightforward", "tuned"), ("straightforward", "default")]


def one_route(args) -> dict:
    """In a fresh process: one route, the allocator as asked."""
    from regionprims import allocator
    tuned = allocator.tune() if args.malloc == "tuned" else False
    torch.set_num_threads(args.threads)
    engine = load_generator("omniart-eyes", "cpu")
    gen = engine
    if args.route == "straightforward":
        gen = wrap_module(PackageLayout(), name="omniart-eyes-plain", z_dim=omniart.Z_DIM,
                          split_points=[f"net.{s}" for s in omniart.SPLIT_POINTS],
                          default_split=f"net.{omniart.DEFAULT_SPLIT}", class_names=omniart.CLASSES)
        gen.sample_z = engine.sample_z            # the same codes for both routes
    c0 = time.process_time()
    out = run(gen, args)
    out["cpu_seconds"] = round(time.process_time() - c0, 2)
    out["allocator_tuned"] = tuned
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--class", dest="class_", default="blue")
    p.add_argument("--seed", default="3")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--route", choices=["engine", "straightforward"])
    p.add_argument("--malloc", choices=["tuned", "default"], default="tuned")
    args = p.parse_args()
    if args.route:
        print(json.dumps(one_route(args)))
        return
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {}
    for _ in range(args.repeats):
        for route, malloc in ROUTES:
            cmd = [sys.executable, __file__, "--route", route, "--malloc", malloc, "--class", args.class_,
                   "--seed", args.seed, "--threads", str(args.threads)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs.setdefault(f"{route}, {malloc} allocator", []).append(json.loads(done.stdout.splitlines()[-1]))
    med = {name: {key: statistics.median(r[key] for r in rs) for key in ("engine_seconds", "cpu_seconds")}
           for name, rs in runs.items()}
    base = med["engine, tuned allocator"]
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} torch threads, "
                   f"torch {torch.__version__}",
        "load_average_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "runs": runs, "median": med,
        "ratio_to_engine_tuned": {name: {k: round(v[k] / base[k], 2) for k in v} for name, v in med.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
