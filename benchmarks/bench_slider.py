"""Server time of one mixer change in the explorer (target: <= 100 ms on the demo generator).

One change = what the explorer's mixer fragment computes when a user moves a slider, ticks a
box or picks a preset: compose the feature (f0 + sum w_S Df_S + w_r r), run the generator's tail
once, compute the live metrics (PSNR on the players, strength switched on, the additivity error
of the mix) and encode the two PNGs the page shows (the mix and its difference heatmap). The
Streamlit widget tree around it is not included (see docs/benchmarks.md).

    python benchmarks/bench_slider.py                       # demo, face, seed 0, 3x3, default settings
    python benchmarks/bench_slider.py --changes 500 --while-decomposing

--while-decomposing measures again while another decomposition runs in a background thread of
the same process (two users: one explores, one waits for a result), the explorer's worst case.
The transplant case measures again with a transplant active (the donor: the same class at seed +
1, its strongest component): one tail pass renders the mix without and with it (the change inside
vs outside T needs both), and a quarter of the changes move the transplant's weight.
The first run computes the decompositions (tens of seconds each) into the cache; later runs reuse them.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return f"{cpu}, {os.cpu_count()} cores, load average {load[0]:.2f}"


def random_change(rng: random.Random, view, dec, top: list[int]):
    from regionprims.mix.presets import preset
    kind = rng.random()
    row = rng.choice(top)
    if kind < 0.6:
        return view.with_weight(row, round(rng.uniform(-1, 2) / 0.05) * 0.05), "weight"
    if kind < 0.75:
        return view.with_on(row, not view.is_on(row)), "on/off"
    if kind < 0.85:
        return view.with_solo(row, row not in view.solo), "solo"
    if kind < 0.93:
        return view.with_residual(round(rng.uniform(-1, 2) / 0.05) * 0.05), "residual"
    name = rng.choice(["all", "none", "top-k", "only-region", "but-region"])
    return preset(view, name, dec.n, dec.ranking, k=rng.randint(1, 40), region=rng.randrange(dec.n)), "preset"


def measure(mixer, changes: int, seed: int, transplant=None) -> dict[str, list[float]]:
    """Server time of `changes` random changes; with `transplant` = (the donor's Δf_T, T's row), the
    mix carries it and a quarter of the changes move its weight."""
    from regionprims.mix import transplant as tp
    from regionprims.mix.state import ViewState
    from regionprims.pictures import mix_pngs
    rng = random.Random(seed)
    dec = mixer.dec
    lay = dec.spec.layout
    top = list(dec.ranking[:12])                   # the cards the page shows by default
    view, weight = ViewState(), 1.0
    out: dict[str, list[float]] = {"total": [], "render": [], "png": []}
    for _ in range(changes):
        if transplant is not None and rng.random() < 0.25:
            weight = round(rng.uniform(-1, 2) / 0.05) * 0.05
        else:
            view, _ = random_change(rng, view, dec, top)
        t0 = time.perf_counter()
        if transplant is None:
            rendered = mixer.render(view)          # compose + tail + live metrics
        else:                                      # the same, the mix without and with the transplant
            rendered = tp.render(mixer, view, transplant[0], weight, transplant[1])
        t1 = time.perf_counter()
        mix_pngs(rendered.rgb, rendered.diff, lay.rows, lay.cols)   # the mix and its difference as PNGs
        t2 = time.perf_counter()
        out["render"].append(t1 - t0)
        out["png"].append(t2 - t1)
        out["total"].append(t2 - t0)
    return out


def summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"{name:28s} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   max {ms[-1]:7.2f} ms"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--class", dest="class_", default="face")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layout", default="3x3")
    ap.add_argument("--steps", type=int, default=None, help="optimisation steps (default: the engine's)")
    ap.add_argument("--changes", type=int, default=300)
    ap.add_argument("--while-decomposing", action="store_true",
                    help="also measure while another decomposition runs in a background thread")
    ap.add_argument("--omp-active", action="store_true",
                    help="do not set OMP_WAIT_POLICY=PASSIVE (the explorer sets it in app.py)")
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args(argv)
    if not args.omp_active:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")      # as app.py does, before torch loads

    import torch

    from regionprims import pipeline
    from regionprims.store.cache import ResultCache
    from regionprims.models.registry import load_generator
    from regionprims.method.specs import OptimSettings
    from regionprims.mix.mixer import Mixer
    from regionprims.mix.state import ViewState

    print(f"machine: {machine()}")
    print(f"python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    gen = load_generator("demo")
    settings = OptimSettings() if args.steps is None else OptimSettings(steps=args.steps)
    spec = pipeline.make_spec(gen, args.class_, args.seed, layout=args.layout, settings=settings)
    cache = ResultCache(args.cache_dir)
    t = time.perf_counter()
    dec, hit = pipeline.decompose(gen, spec, cache=cache)
    print(f"decomposition: {dec.spec.layout.name}, {dec.subsets.shape[0]} subsets, "
          f"{'cached' if hit else 'computed'} in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    ctx = pipeline.image_and_feature(gen, spec)[3]
    mixer = Mixer(gen, dec, ctx)
    mixer.render(ViewState())
    print(f"prepare (once per decomposition, incl. Gram matrix): {1000 * (time.perf_counter() - t):.0f} ms")

    res = measure(mixer, args.changes, seed=1)
    print(f"\n{args.changes} random changes (weights, on/off, solo, residual, presets) on the top-12 cards:")
    report(res)

    donor_spec = pipeline.make_spec(gen, args.class_, args.seed + 1, layout=args.layout, settings=settings)
    t = time.perf_counter()
    donor, hit = pipeline.decompose(gen, donor_spec, cache=cache)
    print(f"\ndonor (seed {args.seed + 1}): {'cached' if hit else 'computed'} in {time.perf_counter() - t:.1f} s")
    row = donor.ranking[0]
    res_t = measure(mixer, args.changes, seed=3, transplant=(donor.components[row].clone(), row))
    print(f"the same with a transplant active (the donor's strongest component, row {row}; a quarter of the "
          "changes move its weight):")
    report(res_t)

    if args.while_decomposing:
        other = pipeline.make_spec(gen, args.class_, args.seed + 1, layout=args.layout, settings=settings)
        stop = threading.Event()

        def background():
            while not stop.is_set():
                try:
                    pipeline.decompose(gen, other, cache=None, cancel=stop)
                except Exception:  # noqa: BLE001 - Cancelled when we stop it
                    return

        thread = threading.Thread(target=background, daemon=True)
        thread.start()
        time.sleep(2.0)
        res2 = measure(mixer, args.changes, seed=2)
        stop.set()
        thread.join(timeout=60)
        print("\nthe same while another decomposition runs in a background thread:")
        report(res2)
    return 0


def report(res: dict[str, list[float]]) -> None:
    print(summary("one change (server work)", res["total"]))
    print(summary("  compose+tail+metrics", res["render"]))
    print(summary("  2 PNGs (mix, difference)", res["png"]))


if __name__ == "__main__":
    sys.exit(main())
