"""omniart-eyes, default 3x3 decomposition: the engine's built-in model against the
straightforward library route, side by side in one run.

engine:          registry model `omniart-eyes` (BatchNorm folded, channels-last, the exact
                 spatial-mask route for the first tail layer), default settings, no cache.
straightforward: the same weights in the package's own layer layout (ConvTranspose2d + BatchNorm +
                 ReLU, default memory format) wrapped by `regionprims.models.wrap_module`, the same
                 spec and settings.
Engine time is the sum of the decomposition's own stage timings (baseline, minimal features,
components, metrics); loading is not counted. The machine's load average is printed with the
result: on a shared machine absolute times are noisy, the ratio measured in one run is what counts.

usage: python benchmarks/bench_omniart.py [--class blue] [--seed 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--class", dest="class_", default="blue")
    p.add_argument("--seed", default="3")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    engine = load_generator("omniart-eyes", "cpu")
    plain = wrap_module(PackageLayout(), name="omniart-eyes-plain", z_dim=omniart.Z_DIM,
                        split_points=[f"net.{s}" for s in omniart.SPLIT_POINTS],
                        default_split=f"net.{omniart.DEFAULT_SPLIT}", class_names=omniart.CLASSES)
    plain.sample_z = engine.sample_z            # the same codes for both routes
    load_before = os.getloadavg()
    c0 = time.process_time()
    eng = run(engine, args)
    eng["cpu_seconds"] = round(time.process_time() - c0, 2)
    c1 = time.process_time()
    straight = run(plain, args)
    straight["cpu_seconds"] = round(time.process_time() - c1, 2)
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
                   f"torch {torch.__version__}",
        "load_average_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "engine": eng, "straightforward": straight,
        "speedup_engine_time": round(straight["engine_seconds"] / eng["engine_seconds"], 2),
        "speedup_cpu_time": round(straight["cpu_seconds"] / eng["cpu_seconds"], 2),
    }, indent=1))


if __name__ == "__main__":
    main()
