"""Engine vs the straightforward reading of the paper, for the minimal features u(S).

engine:          all subsets in one batch (chunked), warm start from the dilated region mask,
                 Adam, a subset leaves the batch once its loss stops improving (defaults).
straightforward: one subset at a time, cold start (m ~ 0.95 everywhere), Adam for a fixed
                 number of steps (--fixed-steps), no early stopping.

Both minimise the same objective (masked MSE + lam * mean mask) for the same image, baseline and
players; the script prints wall time, the mean final objective over the optimised subsets, and
the speed-up measured side by side in one run. With --sample K the straightforward method runs
on K evenly spaced subsets and its time is scaled to all subsets (said in the output).

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

from regionprims.minimal import optimize_minimal_features
from regionprims.models.registry import load_generator
from regionprims.pipeline import baseline, image_and_feature, make_spec
from regionprims.regions import player_masks, subset_matrix
from regionprims.specs import OptimSettings


def random_biggan_folder(resolution: int) -> str:
    """A randomly initialised BigGAN-deep of the real architecture, saved like the release."""
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig
    torch.manual_seed(0)
    cfg = BigGANConfig(output_dim=resolution)
    if resolution != 128:
        raise SystemExit("only the 128 architecture is set up here")
    model = BigGAN(cfg)
    with torch.no_grad():
        model.generator.bn.weight.fill_(1.0)
        model.generator.bn.bias.zero_()
        model.train()
        z, y = torch.zeros(1, 128), torch.zeros(1, 1000)
        y[0, 0] = 1
        for _ in range(3):                       # converge spectral-norm power iteration
            model(z, y, 1.0)
    folder = tempfile.mkdtemp(prefix="biggan-random-")
    torch.save(model.state_dict(), f"{folder}/pytorch_model.bin")
    with open(f"{folder}/config.json", "w") as fh:
        fh.write(cfg.to_json_string())
    return folder


def run(gen, spec, rows, settings, masks, ctx, feature, f0, image):
    subsets = subset_matrix(spec.layout.n)[[0] + rows]
    t = time.perf_counter()
    _, fit, info = optimize_minimal_features(gen, ctx, feature, f0, image, masks, subsets, settings)
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
    p.add_argument("--sample", type=int, default=0, help="straightforward method on this many subsets only")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(2)
    gen = load_generator(random_biggan_folder(args.biggan_random) if args.biggan_random else args.model)
    spec = make_spec(gen, args.class_, args.seed, split=args.split, layout=args.layout)
    _, feature, image, ctx = image_and_feature(gen, spec)
    f0, _ = baseline(gen, spec, None)
    masks = player_masks(spec.layout, gen.image_size, gen.image_size).to(gen.device)
    all_rows = list(range(1, 2 ** spec.layout.n))
    engine_t, engine_info = run(gen, spec, all_rows, spec.settings, masks, ctx, feature, f0, image)

    sample = all_rows if not args.sample else all_rows[:: max(1, len(all_rows) // args.sample)][: args.sample]
    straight = replace(spec.settings, steps=args.fixed_steps, init="full", tol=0.0, patience=args.fixed_steps + 1, chunk=1)
    s_time, s_obj = 0.0, []
    for row in sample:
        t, info = run(gen, spec, [row], straight, masks, ctx, feature, f0, image)
        s_time += t
        s_obj.append(info["objective_mean"])
    # the engine's objective on the same sampled rows, for a like-for-like comparison
    if args.sample:
        _, eng_sample = run(gen, spec, sample, spec.settings, masks, ctx, feature, f0, image)
        engine_obj_sample = eng_sample["objective_mean"]
    else:
        engine_obj_sample = engine_info["objective_mean"]
    straight_total = s_time * len(all_rows) / len(sample)
    result = {
        "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
        "model": gen.name, "identity": gen.identity, "split": spec.split, "layout": spec.layout.name,
        "subsets_optimised": len(all_rows),
        "engine_seconds": round(engine_t, 2), "engine_steps_mean": round(engine_info["steps_mean"], 1),
        "engine_objective": engine_info["objective_mean"], "engine_objective_on_sample": engine_obj_sample,
        "straightforward_steps": args.fixed_steps, "straightforward_subsets_run": len(sample),
        "straightforward_seconds": round(straight_total, 2),
        "straightforward_seconds_measured": round(s_time, 2),
        "straightforward_objective": sum(s_obj) / len(s_obj),
        "speedup": round(straight_total / engine_t, 2),
        "engine_loss_le_straightforward": engine_obj_sample <= sum(s_obj) / len(s_obj),
    }
    if args.json:
        print(json.dumps(result))
        return
    for k, v in result.items():
        print(f"{k:36} {v}")


if __name__ == "__main__":
    sys.exit(main())
