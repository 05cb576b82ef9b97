"""Engine vs the straightforward reading of the paper, for the minimal features u(S).

engine:          the default settings: all subsets batched (chunked), the single-player masks
                 first, then monotone masks level by level from the union of the smaller sets'
                 masks, the same number of optimiser steps for every subset (docs/method.md §4).
straightforward: one subset at a time, cold start (m ~ 0.95 everywhere: sigmoid logits, free
                 masks), Adam (lr 0.25) for a fixed number of steps (--fixed-steps), no early stopping.

Both minimise the same objective (region-normalised masked error + lam * mean(m) + mu * mean(m^2),
the engine's `minimised_mean`) for the same image, baseline and
players; the script prints wall time, the mean final objective over the optimised subsets, and
the speed-up measured side by side in one run. The straightforward method runs on --sample K evenly spaced
subsets (its time per subset-step is constant, so it is scaled to all subsets, as the output says);
"at equal loss" uses the number of steps after which its mean objective over those subsets first
reaches the engine's mean objective over the same subsets (steps_to_reach: the trace holds the
objective before each step's update, so entry k is the loss after k steps).

usage: python benchmarks/bench_minimal.py --model demo --class face --seed 3
       python benchmarks/bench_minimal.py --biggan-random 128 --split generator.layers.8 --layout 2x2 --sample 3
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import replace

import torch

from regionprims.method.minimal import optimize_minimal_features
from regionprims.models.registry import load_generator
from regionprims.pipeline import baseline, image_and_feature, make_spec
from regionprims.method.regions import player_masks, subset_matrix


def random_biggan_model(resolution: int = 128):
    """A randomly initialised BigGAN-deep of the real architecture (final BN at unit scale, the
    spectral-norm power iteration converged a little), eval mode; (model, config)."""
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig
    if resolution != 128:
        raise SystemExit("only the 128 architecture is set up here")
    torch.manual_seed(0)
    cfg = BigGANConfig(output_dim=resolution)
    model = BigGAN(cfg)
    with torch.no_grad():
        model.generator.bn.weight.fill_(1.0)
        model.generator.bn.bias.zero_()
        model.train()
        z, y = torch.zeros(1, 128), torch.zeros(1, 1000)
        y[0, 0] = 1
        for _ in range(3):                       # converge spectral-norm power iteration
            model(z, y, 1.0)
    return model.eval(), cfg


def random_biggan_folder(resolution: int) -> str:
    """A randomly initialised BigGAN-deep of the real architecture, saved like the release."""
    model, cfg = random_biggan_model(resolution)
    folder = tempfile.mkdtemp(prefix="biggan-random-")
    torch.save(model.state_dict(), f"{folder}/pytorch_model.bin")
    with open(f"{folder}/config.json", "w") as fh:
        fh.write(cfg.to_json_string())
    return folder


def steps_to_reach(curve: list[float], target: float) -> int | None:
    """Steps after which a traced objective first reaches `target`: entry k of the trace is the
    loss before update k + 1, i.e. after k updates (0 = the start already reaches it)."""
    reached = [k for k, v in enumerate(curve) if v <= target]
    return reached[0] if reached else None


def run(gen, spec, rows, settings, masks, ctx, feature, f0, image, trace=None):
    subsets = subset_matrix(spec.layout.n)[[0] + rows]
    t = time.perf_counter()
    _, fit, info = optimize_minimal_features(gen, ctx, feature, f0, image, masks, subsets, settings, trace=trace)
    return time.perf_counter() - t, info


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="demo")
    p.add_argument("--biggan-random", type=int, default=None, help="use a random BigGAN-deep of this resolution")
    p.add_argument("--class", dest="class_", default="0")
    p.add_argument("--seed", default="3")
    p.add_argument("--split", default=None)
    p.add_argument("--layout", default="3x3")
    p.add_argument("--fixed-steps", type=int, default=200)
    p.add_argument("--sample", type=int, default=32, help="straightforward method on this many subsets (0 = all)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    gen = load_generator(random_biggan_folder(args.biggan_random) if args.biggan_random else args.model)
    spec = make_spec(gen, args.class_, args.seed, split=args.split, layout=args.layout)
    _, feature, image, ctx = image_and_feature(gen, spec)
    f0 = baseline(gen, spec, None).f0
    masks = player_masks(spec.layout, gen.image_size, gen.image_size).to(gen.device)
    all_rows = list(range(1, 2 ** spec.layout.n))
    engine_t, engine_info = run(gen, spec, all_rows, spec.settings, masks, ctx, feature, f0, image)

    sample = all_rows if not args.sample else all_rows[:: max(1, len(all_rows) // args.sample)][: args.sample]
    _, eng_sample = run(gen, spec, sample, spec.settings, masks, ctx, feature, f0, image)
    target = eng_sample["minimised_mean"]          # the engine's loss on exactly these subsets
    straight = replace(spec.settings, steps=args.fixed_steps, init="full", tie="none", param="sigmoid",
                       optimizer="adam", lr=0.25, schedule="constant", early_stop=False, chunk=1)
    s_time, s_final, curves = 0.0, [], []
    for row in sample:
        curve: list[float] = []
        t, info = run(gen, spec, [row], straight, masks, ctx, feature, f0, image, trace=curve)
        s_time += t
        s_final.append(info["minimised_mean"])
        curves.append(curve)
    mean_curve = torch.tensor(curves).mean(0)      # mean objective over the sample at each step
    k_equal = steps_to_reach(mean_curve.tolist(), target)
    per_step = s_time / (args.fixed_steps * len(sample))
    scale = len(all_rows)
    straight_fixed = per_step * args.fixed_steps * scale
    straight_equal = per_step * k_equal * scale if k_equal else None
    result = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}",
        "model": gen.name, "identity": gen.identity, "split": spec.split, "layout": spec.layout.name,
        "subsets_optimised": len(all_rows),
        "engine_seconds": round(engine_t, 2), "engine_steps": spec.settings.steps,
        "engine_objective_all": round(engine_info["minimised_mean"], 6),
        "engine_objective_sample": round(target, 6),
        "straightforward_subsets_timed": len(sample),
        "straightforward_seconds_per_subset_step": round(per_step, 5),
        "straightforward_objective_after_fixed_steps": round(sum(s_final) / len(s_final), 6),
        "straightforward_steps_to_engine_loss": k_equal,
        "straightforward_seconds_fixed_steps_all_subsets": round(straight_fixed, 1),
        "straightforward_seconds_to_engine_loss_all_subsets": round(straight_equal, 1) if straight_equal else None,
        "speedup_vs_fixed_steps": round(straight_fixed / engine_t, 1),
        "speedup_at_equal_loss": round(straight_equal / engine_t, 1) if straight_equal else None,
    }
    if args.json:
        print(json.dumps(result))
        return
    for k, v in result.items():
        print(f"{k:52} {v}")
    print(f"(straightforward times are measured on {len(sample)} subsets and scaled to {scale})")


if __name__ == "__main__":
    sys.exit(main())
