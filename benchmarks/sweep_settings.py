"""Sweep of the minimal-feature settings on the demo generator: how the choices the paper leaves
open (loss normalisation, steps, learning rate, lambda, early stopping) move the faithfulness
metrics. Prints one markdown row per variant; docs/method.md quotes the output.

usage: python benchmarks/sweep_settings.py --class face --seed 3 [--threads 1]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from regionprims.models.registry import load_generator
from regionprims.pipeline import decompose, make_spec
from regionprims.method.specs import OptimSettings

# the method before issue 9 (free masks, sigmoid logits, constant learning rate, 5 steps); the old
# variants below are changes of it, the last rows the monotone default (docs/method.md §4)
OLD = OptimSettings(optimizer="adam", tie="none", param="sigmoid", schedule="constant", mu=0.0, steps=5, lr=0.25)
VARIANTS = {
    "mean-normalised loss, receptive start, 60 steps, early stop":
        replace(OLD, loss_norm="mean", init="receptive", steps=60, early_stop=True),
    "receptive start, 60 steps, early stop": replace(OLD, init="receptive", steps=60, early_stop=True),
    "receptive start, 60 steps": replace(OLD, init="receptive", steps=60),
    "receptive start, 20 steps": replace(OLD, init="receptive", steps=20),
    "singletons start, 1 step": replace(OLD, steps=1),
    "singletons start, 5 steps (before issue 9)": OLD,
    "singletons start, 10 steps": replace(OLD, steps=10),
    "singletons start, 20 steps": replace(OLD, steps=20),
    "singletons start, 5 steps, λ 0.003": replace(OLD, lam=0.003),
    "singletons start, 5 steps, λ 0.03": replace(OLD, lam=0.03),
    "singletons start, 5 steps, lr 0.1": replace(OLD, lr=0.1),
    "singletons start, 5 steps, channel masks": replace(OLD, mask="channel"),
    "default (monotone, ngd, μ 0.003 after the warm start)": OptimSettings(),
    "default with μ 0": OptimSettings(mu=0.0),
}
COLUMNS = ["objective", "residual_ratio", "fit_psnr", "additivity_error_top20", "leakage_top20", "sparsity_top20",
           "gt_object_purity", "gt_region_agreement"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--class", dest="class_", default="face")
    p.add_argument("--seed", default="3")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    gen = load_generator("demo")
    print(f"| variant | seconds | mask mean | {' | '.join(COLUMNS)} |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for name, settings in VARIANTS.items():
        spec = make_spec(gen, args.class_, args.seed, settings=settings)
        t = time.perf_counter()
        dec, _ = decompose(gen, spec)
        seconds = time.perf_counter() - t
        values = {**dec.metrics, "objective": dec.info["objective_mean"]}
        cells = [f"{values[c]:.4f}" if c == "objective" else f"{values[c]:.3f}" for c in COLUMNS]
        print(f"| {name} | {seconds:.1f} | {dec.info['mask_mean']:.3f} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
