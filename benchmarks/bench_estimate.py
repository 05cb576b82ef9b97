"""The cost estimate against the decomposition it predicts, side by side in one process: for each
model, a fresh probe and estimate (regionprims/estimate.py) of the default 3x3 decomposition, then
the decomposition itself (no cache), and estimate / actual.

usage: python benchmarks/bench_estimate.py [--images omniart-eyes:blue:3,demo:face:3] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from regionprims import allocator
from regionprims import estimate as E
from regionprims.models.registry import load_generator
from regionprims.pipeline import decompose, make_spec


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", default="omniart-eyes:blue:3,demo:face:3", help="model:class:seed,...")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    allocator.tune()                    # as the CLI and the explorer run (regionprims/allocator.py)
    torch.set_num_threads(a.threads)
    print(f"{torch.get_num_threads()} torch threads, load average {os.getloadavg()[0]:.1f}")
    print("| model | image | estimate | actual | estimate / actual | batches of the refinement |")
    print("|---|---|---:|---:|---:|---|")
    for item in a.images.split(","):
        model, class_, seed = item.split(":")
        gen = load_generator(model)
        spec = make_spec(gen, class_, int(seed))
        E.forget_costs()
        est = E.estimate(gen, spec)
        start = time.perf_counter()
        decompose(gen, spec, cache=None)
        actual = time.perf_counter() - start
        print(f"| {model} | {class_} {seed} | {est.seconds:.1f} s | {actual:.1f} s | {est.seconds / actual:.2f} | "
              f"chunk {est.parts['chunk']}, {est.parts['sample_steps']} sample steps |", flush=True)


if __name__ == "__main__":
    main()
