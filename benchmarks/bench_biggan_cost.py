"""BigGAN-deep-128's real architecture with random weights: the cost of one tail forward+backward
per sample at each split point (the unit of work of the minimal-feature optimisation), and the
estimated time of a default 3x3 decomposition from it: (n * warm_steps + (2^n - 1) * steps)
sample passes. On a GPU the same script measures the GPU (pass --device cuda).

usage: python benchmarks/bench_biggan_cost.py [--splits generator.layers.3,generator.layers.9] [--batch 4]
"""
from __future__ import annotations

import argparse
import time

import torch

from regionprims.models.registry import load_generator
from regionprims.method.specs import OptimSettings

from bench_minimal import random_biggan_folder


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--splits", default="generator.layers.3,generator.layers.9")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    gen = load_generator(random_biggan_folder(128), args.device)
    s = OptimSettings()
    passes = 9 * s.warm_steps + 511 * s.steps
    print(f"model {gen.identity} on {gen.device}; default settings: 9 x {s.warm_steps} warm + 511 x {s.steps} "
          f"= {passes} sample passes for a 3x3 decomposition")
    z = gen.sample_z(1, 0.4, 1)
    for split in args.splits.split(","):
        feat, ctx = gen.head(z, 3, 0.4, split)
        x = feat.repeat(args.batch, 1, 1, 1).requires_grad_(True)
        gen.tail(x, ctx).square().mean().backward()            # warm-up
        if gen.device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(args.repeats):
            x.grad = None
            gen.tail(x, ctx).square().mean().backward()
        if gen.device.type == "cuda":
            torch.cuda.synchronize()
        per = (time.perf_counter() - t) / (args.repeats * args.batch)
        print(f"{split:20} feature {tuple(feat.shape[1:])}: {per:.3f} s per sample fwd+bwd (batch {args.batch}) "
              f"-> estimated 3x3 decomposition {per * passes / 60:.1f} min")


if __name__ == "__main__":
    main()
