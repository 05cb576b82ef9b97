"""Stability of the components against the optimisation's own settings (docs/design.md §7, docs/method.md §4):
for each demo image and each method variant, decompose with the variant, with 4x its refinement
steps, and with 4x every step (warm start too), and print side by side the relative L2 change of
all non-empty components (metrics.component_change), the free proxy that every decomposition
reports as `stability` (the change over the second half of each optimisation), the objective (the minimised loss, mean
over the 2^n - 1 subsets) and the optimisation's seconds.

usage: python benchmarks/bench_stability.py [--model demo] [--classes all] [--seeds 3,4]
       [--variants today,default] [--device cpu|cuda] [--threads 2] [--quick]
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

from regionprims import allocator
from regionprims.method.interactions import or_interactions
from regionprims.method.metrics import component_change
from regionprims.method.minimal import optimize_minimal_features
from regionprims.method.regions import player_masks, subset_matrix
from regionprims.method.specs import OptimSettings
from regionprims.models.registry import load_generator
from regionprims.pipeline import baseline, baseline_key, image_and_feature, make_spec

HISTORY = {
    # the variants measured before warm_mu existed (the warm start used mu); the first ones ran Adam
    "today": OptimSettings(optimizer="adam", lr=0.25, mu=0.0, tie="none", param="sigmoid", schedule="constant", steps=5, warm_steps=60),
    "monotone": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="cosine", steps=5, warm_steps=60),
    "monotone-10": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="cosine", steps=10, warm_steps=60),
    "monotone-20": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="cosine", steps=20, warm_steps=60),
    "monotone-w200": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="cosine", steps=5, warm_steps=200),
    "monotone-lr0.1": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="cosine", steps=10, lr=0.1),
    "monotone-const": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="constant", steps=5),
    "ridge-mono": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="cosine", steps=10, lr=0.1, mu=0.01),
    "ridge-mono-0.05": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="cosine", steps=10, lr=0.1, mu=0.05),
    "ridge-free": OptimSettings(optimizer="adam", param="box", schedule="cosine", steps=10, lr=0.1, mu=0.01),
    "free-box-lr0.1": OptimSettings(optimizer="adam", param="box", schedule="cosine", steps=10, lr=0.1),
    "ridge-mono-0.003": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="cosine", steps=10, lr=0.1, mu=0.003),
    "ridge-mono-0.003-20": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="cosine", steps=20, lr=0.1, mu=0.003),
    "mono-lr0.05-20": OptimSettings(optimizer="adam", tie="monotone", param="box", schedule="cosine", steps=20, lr=0.05),
    "ngd-0.2": OptimSettings(lr=0.2),
    "ngd-0.2-mu0": OptimSettings(lr=0.2, mu=0.0),
    "ngd-0.2-mu0.001": OptimSettings(lr=0.2, mu=0.001),
    "ngd-0.2-mu0.002": OptimSettings(lr=0.2, mu=0.002),
    "ngd-0.5": OptimSettings(lr=0.5),
    "ngd-0.4": OptimSettings(lr=0.4),  # the second round's default (warm start with mu 0.003)
}
VARIANTS = {**{name: replace(s, warm_mu=s.mu) for name, s in HISTORY.items()},
            "warm0-mu0.001": OptimSettings(mu=0.001),
            "default": OptimSettings()}    # monotone, mu 0.003 (warm start 0), ngd, lr 0.4, 10 steps


_BASELINES: dict = {}      # f0 per image's class/split/baseline settings: the variants of one image share it


def components(gen, spec, settings):
    """(components [2^n, C, h, w], objective, seconds of the optimisation) for one image."""
    _, f, x, ctx = image_and_feature(gen, spec)
    key = baseline_key(spec)
    if key not in _BASELINES:
        _BASELINES[key] = baseline(gen, spec, None).f0     # grown until converged (method/baseline.py)
    f0 = _BASELINES[key]
    masks = player_masks(spec.layout, gen.image_size, gen.image_size).to(gen.device)
    subsets = subset_matrix(spec.layout.n)
    if gen.device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    halfway: dict = {}
    u, _, info = optimize_minimal_features(gen, ctx, f, f0, x, masks, subsets, settings, halfway=halfway)
    if gen.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    comps = or_interactions(u.cpu())
    info["proxy"] = component_change(comps, or_interactions(halfway["minimal"].cpu()))
    return comps, info, seconds


def measure(gen, class_id, seed, settings, quick: bool = False) -> dict:
    spec = make_spec(gen, class_id, seed, settings=settings)
    ref, info, sec = components(gen, spec, settings)
    steps4, info4, sec4 = components(gen, spec, replace(settings, steps=4 * settings.steps))
    if quick:
        nan = float("nan")
        return {"steps x4": component_change(ref, steps4), "all steps x4": nan, "lr / 2": nan,
                "proxy (halfway)": info["proxy"], "objective": info["objective_mean"],
                "objective steps x4": info4["objective_mean"], "seconds": sec, "seconds steps x4": sec4}
    all4, _, _ = components(gen, spec, replace(settings, steps=4 * settings.steps, warm_steps=4 * settings.warm_steps))
    lr_half, _, _ = components(gen, spec, replace(settings, lr=settings.lr / 2))
    return {"steps x4": component_change(ref, steps4), "all steps x4": component_change(ref, all4),
            "lr / 2": component_change(ref, lr_half), "proxy (halfway)": info["proxy"],
            "objective": info["objective_mean"], "objective steps x4": info4["objective_mean"],
            "seconds": sec, "seconds steps x4": sec4}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="demo")
    p.add_argument("--images", default=None, help="class:seed,... instead of --classes x --seeds")
    p.add_argument("--classes", default="all")
    p.add_argument("--seeds", default="3,4")
    p.add_argument("--variants", default="today,default")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="only the steps x4 change (skip all x4 and lr / 2)")
    a = p.parse_args()
    allocator.tune()                    # as the CLI and the explorer run (regionprims/allocator.py)
    torch.set_num_threads(a.threads)
    gen = load_generator(a.model, a.device)
    classes = range(len(gen.class_names)) if a.classes == "all" else [int(c) for c in a.classes.split(",")]
    seeds = [int(s) for s in a.seeds.split(",")]
    images = ([tuple(int(v) for v in x.split(":")) for x in a.images.split(",")] if a.images
              else [(c, s) for c in classes for s in seeds])
    cols = ["steps x4", "all steps x4", "lr / 2", "proxy (halfway)", "objective", "objective steps x4", "seconds", "seconds steps x4"]
    print(f"model {gen.identity} on {gen.device}, {torch.get_num_threads()} threads")
    print(f"| variant | image | {' | '.join(cols)} |\n|---|---|{'---|' * len(cols)}")
    for name in a.variants.split(","):
        rows = []
        for c, s in images:
            r = measure(gen, c, s, VARIANTS[name], a.quick)
            rows.append(r)
            print(f"| {name} | {gen.class_names[c]} {s} | " + " | ".join(_fmt(k, r[k]) for k in cols) + " |",
                  flush=True)
        mean = {k: statistics.fmean(r[k] for r in rows) for k in cols}
        worst = {k: max(r[k] for r in rows) for k in cols}
        over = sum(r["steps x4"] > 0.10 for r in rows)
        print(f"{name}: steps x4 over 0.10 on {over} of {len(rows)} images")
        print(f"| **{name}** | mean of {len(rows)} | " + " | ".join(_fmt(k, mean[k]) for k in cols) + " |")
        print(f"| **{name}** | max | " + " | ".join(_fmt(k, worst[k]) for k in cols) + " |", flush=True)


def _fmt(key: str, v: float) -> str:
    if v != v:
        return "—"                         # not measured (--quick)
    return f"{v:.6f}" if key.startswith("objective") else f"{v:.2f}" if key.startswith("seconds") else f"{v:.3f}"


if __name__ == "__main__":
    main()
