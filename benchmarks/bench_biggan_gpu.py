"""Time a default 3x3 BigGAN-deep-128 decomposition (511 subsets + the empty one, default settings,
default split) on whatever device is present, and measure what reduced precision changes.

The model is BigGAN-deep-128's real architecture with random weights built here (no download).
For each precision (the device's default first, then the fp32 reference) the script prints the
measured per-sample tail cost (the estimate module's probe: one optimisation step, forward and
backward, at the largest batch it timed), the estimate made from it, and the wall time of the whole
decomposition; then the differences between the reduced-precision result and fp32: every metric
(absolute and relative), the components and the minimal features (relative L2), each against the
stated tolerance.

Imports only torch, numpy, scipy, safetensors, diskcache, pillow and pytorch-pretrained-biggan
(through regionprims' engine), so it runs on a bare GPU machine with the repository checked out.

usage: python benchmarks/bench_biggan_gpu.py                       # the real thing (GPU: about 2-3 min)
       python benchmarks/bench_biggan_gpu.py --layout 2x2 --steps 1 --warm-steps 2 --codes 4   # quick CPU check
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_minimal import random_biggan_model                       # noqa: E402
from regionprims import allocator                                    # noqa: E402
from regionprims.estimate import probe_tail_cost, estimate_seconds   # noqa: E402
from regionprims.method.specs import OptimSettings                  # noqa: E402
from regionprims.models.biggan.generator import BigGANDeep          # noqa: E402
from regionprims.models.precision import default_precision          # noqa: E402
from regionprims.pipeline import decompose, make_spec               # noqa: E402

# What "changes nothing that matters" means (docs/benchmarks.md): metrics in [0, 1] pixel or
# share units may move by 0.01 absolute, PSNR by 0.5 dB; components and minimal features by 2%
# relative L2 over all of them (a fifth of the 0.10 the stability target allows between settings).
TOLERANCE = {"abs": 0.01, "fit_psnr": 0.5, "tensors": 0.02}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def run_once(gen: BigGANDeep, spec, precision: str) -> dict:
    gen.precision = precision
    cost = probe_tail_cost(gen, spec.split)
    est = estimate_seconds(spec, cost)
    b, t = max(cost.steps)
    if gen.device.type == "cuda":
        torch.cuda.synchronize(gen.device)
        torch.cuda.reset_peak_memory_stats(gen.device)
    start = time.perf_counter()
    dec, _ = decompose(gen, spec, cache=None)
    if gen.device.type == "cuda":
        torch.cuda.synchronize(gen.device)
    total = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(gen.device) / 2 ** 30 if gen.device.type == "cuda" else float("nan")
    print(f"[{precision}] tail step per sample {t / b * 1000:.1f} ms (batch {b}; probe {cost.probe_seconds:.1f} s); "
          f"estimated {est.seconds:.1f} s; decomposition took {total:.1f} s "
          f"(minimal features {dec.info['timings']['minimal_features']:.1f} s, chunk {dec.info['chunk']}"
          + (f", peak GPU memory {peak:.1f} GiB" if peak == peak else "") + ")", flush=True)
    return {"precision": precision, "per_sample_s": t / b, "probe_batch": b, "estimate_s": est.seconds,
            "total_s": total, "dec": dec}


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def compare(reduced: dict, reference: dict) -> bool:
    """Print the differences of a reduced-precision result against fp32; True when within tolerance."""
    ok = True
    a, r = reduced["dec"], reference["dec"]
    print(f"{reduced['precision']} vs fp32 ({'metric':24} {'reduced':>10} {'fp32':>10} {'|diff|':>9} tolerance)")
    for key, ref in r.metrics.items():
        got = a.metrics.get(key, float("nan"))
        diff = abs(got - ref)
        tol = TOLERANCE["fit_psnr"] if key == "fit_psnr" else TOLERANCE["abs"]
        ok &= diff <= tol
        print(f"    {key:24} {got:10.4f} {ref:10.4f} {diff:9.4f} {'ok' if diff <= tol else 'OVER'} ({tol})")
    for name, x, y in (("components", a.components, r.components), ("minimal features", a.minimal, r.minimal)):
        d = rel_l2(x, y)
        ok &= d <= TOLERANCE["tensors"]
        print(f"    {name:24} relative L2 {d:.4f} {'ok' if d <= TOLERANCE['tensors'] else 'OVER'} "
              f"({TOLERANCE['tensors']})")
    return ok


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--layout", default="3x3")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps per subset (default: the engine's)")
    p.add_argument("--warm-steps", type=int, default=None)
    p.add_argument("--codes", type=int, default=None, help="baseline codes (default: the engine's)")
    p.add_argument("--precisions", default=None,
                   help="comma-separated, the first is timed against the last as reference "
                        "(default: the device's default, then fp32; on a CPU only fp32)")
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    p.add_argument("--estimate-only", action="store_true",
                   help="only probe the tail and print the estimate (for a device too slow to run it)")
    args = p.parse_args()
    allocator.tune()                    # as the CLI and the explorer run (regionprims/allocator.py)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    precisions = (args.precisions.split(",") if args.precisions else
                  list(dict.fromkeys([default_precision(device), "fp32"])))
    t0 = time.perf_counter()
    model, _cfg = random_biggan_model(128)
    gen = BigGANDeep(model, "biggan-deep-128", "biggan-deep-128@random-seed0", device)
    base = OptimSettings()
    settings = replace(base, steps=args.steps or base.steps,
                       warm_steps=base.warm_steps if args.warm_steps is None else args.warm_steps,
                       baseline_codes=args.codes or base.baseline_codes)
    spec = make_spec(gen, 0, 1, layout=args.layout, settings=settings)
    print(f"device: {device_name(device)} (torch {torch.__version__}); model built in {time.perf_counter() - t0:.1f} s")
    print(f"BigGAN-deep-128 (random weights), split {spec.split}, layout {spec.layout.name} "
          f"({2 ** spec.layout.n} subsets), steps {settings.steps}, warm steps {settings.warm_steps}, "
          f"baseline codes {settings.baseline_codes}", flush=True)
    if args.estimate_only:
        for prec in precisions:
            gen.precision = prec
            cost = probe_tail_cost(gen, spec.split)
            b, t = max(cost.steps)
            print(f"[{prec}] tail step per sample {t / b * 1000:.1f} ms (batch {b}); estimated "
                  f"{estimate_seconds(spec, cost).seconds:.0f} s for the decomposition")
        return
    runs = [run_once(gen, spec, prec) for prec in precisions]
    within = compare(runs[0], runs[-1]) if len(runs) > 1 else None
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": device_name(device), "layout": spec.layout.name, "settings": vars(settings),
                       "runs": [{k: v for k, v in r.items() if k != "dec"} for r in runs],
                       "metrics": {r["precision"]: r["dec"].metrics for r in runs},
                       "within_tolerance": within}, fh, indent=1, default=str)
    print(f"total {runs[0]['total_s']:.1f} s for the {runs[0]['precision']} decomposition on {device_name(device)}"
          + ("" if within is None else f"; {runs[0]['precision']} within tolerance of fp32: {within}"))


if __name__ == "__main__":
    main()
