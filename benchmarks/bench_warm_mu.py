"""Where the mask sits with and without the uniqueness term in the warm start (docs/method.md §4,
third stability round): for each image and warm_mu in {mu, 0}, the mean single-player mask, the mean
increment m_S - b_S that the levels >= 2 add to the union of their subsets' masks, the share of the
components' squared norm in orders >= 3, and the objective.

usage: python benchmarks/bench_warm_mu.py [--images 0:4,0:3,4:3] [--threads 2]
"""
from __future__ import annotations

import argparse

import torch

from regionprims import allocator
from regionprims.method.interactions import or_interactions
from regionprims.method.minimal import optimize_minimal_features
from regionprims.method.monotone import level_rows, union_below
from regionprims.method.regions import player_masks, subset_matrix
from regionprims.method.specs import OptimSettings
from regionprims.models.registry import load_generator
from regionprims.pipeline import baseline, image_and_feature, make_spec


def mask_mass(gen, class_id: int, seed: int, settings: OptimSettings) -> dict:
    """The masks' mean at level 1, their mean increment over levels >= 2, the order >= 3 share."""
    spec = make_spec(gen, class_id, seed, settings=settings)
    _, f, x, ctx = image_and_feature(gen, spec)
    f0 = baseline(gen, spec, None).f0
    n = spec.layout.n
    subsets = subset_matrix(n)
    pm = player_masks(spec.layout, gen.image_size, gen.image_size).to(gen.device)
    u, _, info = optimize_minimal_features(gen, ctx, f, f0, x, pm, subsets, settings)
    delta = (f - f0).unsqueeze(0)           # spatial masks back from u(S) = f0 + m_S * (f - f0)
    m = ((u - f0) * delta).sum(1, keepdim=True) / delta.square().sum(1, keepdim=True).clamp_min(1e-20)
    levels = level_rows(n)
    increment = torch.cat([(m[r] - union_below(m, r, n)).flatten(1).mean(1) for r in levels[1:]])
    norms = or_interactions(u).flatten(1).norm(dim=1).square()
    high = norms[subsets.sum(1) >= 3].sum() / norms[1:].sum()
    return {"singleton mask": float(m[levels[0]].mean()), "increment": float(increment.mean()),
            "order>=3 share": float(high), "objective": info["objective_mean"]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", default="0:4,0:3,4:3", help="class:seed,...")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    allocator.tune()
    torch.set_num_threads(a.threads)
    gen = load_generator("demo")
    default = OptimSettings()
    print("| image | warm_mu | mean single-player mask | mean increment, levels >= 2 | order >= 3 share | objective |")
    print("|---|---|---|---|---|---|")
    for item in a.images.split(","):
        c, s = (int(v) for v in item.split(":"))
        for warm_mu in (default.mu, 0.0):
            r = mask_mass(gen, c, s, OptimSettings(warm_mu=warm_mu))
            print(f"| {gen.class_names[c]} {s} | {warm_mu:g} | {r['singleton mask']:.4f} | {r['increment']:.5f} | "
                  f"{r['order>=3 share']:.3f} | {r['objective']:.6f} |", flush=True)


if __name__ == "__main__":
    main()
