"""Where the method finds something beyond geometry: every split point x mask kind of a model.

For each generator, split point (`gen.split_points`) and mask kind (spatial, channel), a few
images are decomposed through the real pipeline (default settings, 3x3) with one result cache,
so a class's baseline f0 is computed once per split and shared by both mask kinds. Reported per
configuration, mean (min–max) over the images:

- the beyond-geometry figures of `dec.metrics` (docs/method.md §7): beyond_strength, beyond_top10,
  joint_need, beyond_buildup_db, beyond_buildup_budget_db, and baseline_change with the code count
  the baseline used (`dec.info["baseline_codes"]`);
- the decomposition's wall time with the baseline already cached, and the baseline's one-time cost
  (computed first, on its own, through `pipeline.baseline`);
- the tail's reach. For player i, g_i = |∂(Σ_{p∈M_i} x_p)/∂f| summed over channels (one backward
  per player through `gen.tail`; x summed over RGB too). Reach outside: the share of g_i's mass on
  feature cells outside player i's tight pooled mask (the null's mask). Reach radius: the smallest
  Chebyshev distance d (feature cells) from the pooled mask within which 99 % of g_i's mass lies,
  in region units (d divided by one player region's width in feature cells, feature width / grid
  columns). Both are averaged over the players.

A configuration whose decomposition takes longer than --slow seconds for one image is marked
"too slow: N s for one image" and its other images are not run; one that passes --cap is cancelled.

`--baseline-movement` also decomposes, at each model's default split with spatial masks, the same
images with a fixed 64-code baseline (`baseline_tol=0`), and prints the relative L2 change of all
non-empty components against the default (converged) baseline (`metrics.component_change`).

usage: python benchmarks/bench_splits.py [--models omniart-eyes,demo] [--splits main.12,...]
       [--masks spatial,channel] [--baseline-movement] [--cache-dir /tmp/x] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import threading
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from regionprims import allocator                                          # noqa: E402
from regionprims.method.beyond import ZERO_TOL, beyond_strength, recovered_masks  # noqa: E402
from regionprims.method.interactions import or_interactions                # noqa: E402
from regionprims.method.metrics import component_change                    # noqa: E402
from regionprims.method.null import geometric_null, pooled_masks           # noqa: E402
from regionprims.method.regions import player_masks                        # noqa: E402
from regionprims.method.specs import OptimSettings                         # noqa: E402
from regionprims.models import registry                                    # noqa: E402
from regionprims.pipeline import baseline, baseline_key, decompose, image_and_feature, make_spec  # noqa: E402
from regionprims.progress import Cancelled                                 # noqa: E402
from regionprims.store.cache import ResultCache                            # noqa: E402

IMAGES = {"omniart-eyes": ([0, 2], 0), "demo": ([0, 1, 2], 0)}      # model -> (classes, seed)
FIGURES = ("beyond_strength", "beyond_top10", "joint_need", "beyond_buildup_db", "beyond_buildup_budget_db",
           "baseline_change")
REACH_QUANTILE = 0.99


def say(text: str) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024          # the process's peak memory, MB
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f} peak {peak:.0f} MB] {text}", flush=True)


def chebyshev_from(mask: torch.Tensor) -> torch.Tensor:
    """[h, w]: each cell's Chebyshev distance (cells) to the nearest cell of the 0/1 `mask` (0 inside)."""
    h, w = mask.shape
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    inside = mask > 0
    dy = (ys.reshape(-1, 1) - ys[inside].reshape(1, -1)).abs()
    dx = (xs.reshape(-1, 1) - xs[inside].reshape(1, -1)).abs()
    return torch.maximum(dy, dx).min(1).values.reshape(h, w).float()


def mass_radius(g: torch.Tensor, dist: torch.Tensor, q: float = REACH_QUANTILE) -> float:
    """The smallest distance d such that the cells at distance ≤ d hold a share ≥ q of g's mass."""
    total = float(g.sum())
    for d in torch.unique(dist).tolist():
        if float(g[dist <= d].sum()) >= q * total:
            return d
    return float(dist.max())


def reach(gen, spec) -> dict:
    """The tail's reach, averaged over the players (module docstring): outside share and radius."""
    _, feature, _, ctx = image_and_feature(gen, spec)
    masks = player_masks(spec.layout, gen.image_size, gen.image_size)
    feat_hw = tuple(feature.shape[-2:])
    pooled = pooled_masks(masks, feat_hw)[:, 0].cpu()
    region_width = feat_hw[1] / spec.layout.cols
    outside, radius = [], []
    for i in range(masks.shape[0]):
        f = feature.detach().unsqueeze(0).clone().requires_grad_(True)
        image = gen.tail(f, ctx)[0]
        grad, = torch.autograd.grad((image * masks[i].to(image.device)).sum(), f)
        g = grad[0].abs().sum(0).cpu()
        total = float(g.sum())
        outside.append(float(g[pooled[i] == 0].sum()) / total if total > 0 else float("nan"))
        radius.append(mass_radius(g, chebyshev_from(pooled[i])) / region_width)
    return {"reach_outside": sum(outside) / len(outside), "reach_radius": sum(radius) / len(radius)}


@torch.no_grad()
def singles_union_strength(dec, block: int = 16) -> float:
    """beyond_strength of the components the single players' masks alone give (m_S = max_{i∈S} m_i,
    no joint need). When it matches beyond_strength, what lies beyond the null's region sets is the
    single players' masks reaching past their pooled cells and overlapping, not subsets needing more.
    Computed `block` channels at a time (the squared norms add up), so that the 2^n stacks of a
    large feature are never all in memory at once."""
    n = int(dec.subsets.shape[1])
    singles, _ = recovered_masks(dec.minimal[[1 << i for i in range(n)]], dec.feature, dec.baseline)
    squares = torch.zeros(2, 2 ** n)                # rows: the singles' union, the tight null
    for c in range(0, dec.feature.shape[0], block):
        f, f0 = dec.feature[c:c + block], dec.baseline[c:c + block]
        union = torch.zeros((2 ** n,) + tuple(f.shape))
        for k in range(1, 2 ** n):                  # row k = row k without its lowest player, max that player
            low = k & -k
            union[k] = torch.maximum(union[k ^ low], singles[low.bit_length() - 1, c:c + block])
        squares[0] += or_interactions(f0 + union * (f - f0)).flatten(1).pow(2).sum(1)
        squares[1] += or_interactions(geometric_null(f, f0, dec.player_masks, dec.subsets)).flatten(1).pow(2).sum(1)
    norms = squares.sqrt()
    norms[:, 0] = 0.0
    return beyond_strength(norms[0], norms[1] > ZERO_TOL * norms[1].max().clamp_min(1e-30))


def printer(label: str, every: float = 30.0):
    """A progress callback that prints at most every `every` seconds."""
    last = [time.perf_counter()]

    def report(done: int, total: int, message: str) -> None:
        if time.perf_counter() - last[0] >= every:
            last[0] = time.perf_counter()
            say(f"  {label}: {100 * done / max(total, 1):.0f} % {message}")
    return report


def timed_decompose(gen, spec, cache, label: str, cap: float):
    """(decomposition or None when cancelled at `cap` seconds, wall seconds, process CPU seconds,
    cache hit). CPU seconds (all threads) say less about the other jobs on a shared machine than
    wall seconds do; a cache hit has no CPU figure (nan) and the stored stage times as wall."""
    cancel = threading.Event()
    timer = threading.Timer(cap, cancel.set)
    timer.start()
    start, cpu = time.perf_counter(), time.process_time()
    try:
        dec, hit = decompose(gen, spec, cache=cache, progress=printer(label), cancel=cancel)
    except Cancelled:
        return None, time.perf_counter() - start, time.process_time() - cpu, False
    finally:
        timer.cancel()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if hit:                                     # a cached result: the stored stage times of its run
        seconds, cpu = float(sum(dec.info.get("timings", {}).values())), float("nan")
    return dec, seconds, cpu, hit


def settings(args, **changes) -> OptimSettings:
    """The default settings, with --baseline-max-codes when given (to reuse a cache made with another cap)."""
    if args.baseline_max_codes:
        changes.setdefault("baseline_max_codes", args.baseline_max_codes)
    return OptimSettings(**changes)


def one_image(gen, split: str, mask: str, class_id: int, seed: int, cache, args, once: dict) -> dict:
    """Baseline (timed on its own the first time, then cached) and reach, both once per image and
    split (`once`), then the decomposition."""
    spec = make_spec(gen, class_id, seed, split=split, settings=settings(args, mask=mask))
    name = gen.class_names[class_id]
    earlier = args.earlier.get((gen.name, split, mask, name, seed), {})
    base_hit = baseline_key(spec) in cache
    start = time.perf_counter()
    base = baseline(gen, spec, cache)
    if (class_id, seed) not in once:
        seconds = earlier.get("baseline_seconds", float("nan")) if base_hit else time.perf_counter() - start
        once[(class_id, seed)] = {"baseline_seconds": seconds, **reach(gen, spec)}
    row = {"class": name, "seed": seed, **once[(class_id, seed)]}
    dec, seconds, cpu, hit = timed_decompose(gen, spec, cache, f"{gen.name} {split} {mask} {name} {seed}", args.cap)
    if hit and "seconds" in earlier:            # the times of the run that computed it (--times-from)
        seconds, cpu = earlier["seconds"], earlier.get("cpu_seconds", float("nan"))
    row.update(seconds=seconds, cpu_seconds=cpu, cache_hit=hit, baseline_codes=base.codes)
    if dec is None:
        row["too_slow"] = f"too slow: > {args.cap:.0f} s for one image (cancelled)"
        return row
    row.update({k: float(dec.metrics.get(k, float("nan"))) for k in FIGURES})
    row["baseline_codes"] = int(dec.info.get("baseline_codes", base.codes))
    row["joint_need_by_order"] = dec.info.get("joint_need_by_order")
    row["singles_union_strength"] = singles_union_strength(dec)
    if seconds > args.slow:
        row["too_slow"] = f"too slow: {seconds:.0f} s for one image"
    return row


def run_configuration(gen, split: str, mask: str, cache, args, once: dict) -> list[dict]:
    classes, seed = IMAGES.get(gen.name, ([0], 0))
    rows = []
    for class_id in classes:
        row = one_image(gen, split, mask, class_id, seed, cache, args, once)
        rows.append(row)
        figs = "  ".join(f"{k}={row[k]:.4g}" for k in FIGURES if k in row)
        say(f"{gen.name} {split} {mask} {row['class']} {seed}: {row['seconds']:.1f} s, CPU {row['cpu_seconds']:.1f} s (baseline "
            f"{row['baseline_seconds']:.1f} s, {row['baseline_codes']} codes) reach {row['reach_outside']:.3f} / "
            f"{row['reach_radius']:.2f}  {figs}" + (f"  [{row['too_slow']}]" if "too_slow" in row else ""))
        if "too_slow" in row and not args.keep_going:
            break
    return rows


def spread(values: list[float], fmt: str = ".3f") -> str:
    """'mean (min–max)' of the finite values, or the single value, or 'n/a'."""
    got = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    if not got:
        return "n/a"
    mean, lo, hi = sum(got) / len(got), min(got), max(got)
    if len(got) == 1 or lo == hi:
        return format(mean, fmt)
    return f"{format(mean, fmt)} ({format(lo, fmt)}–{format(hi, fmt)})"


def summary_tables(configs: list[dict]) -> str:
    """Two Markdown tables: the beyond-geometry figures, and cost and reach, one row per configuration."""
    head1 = ("| model | split | feature | mask | images | beyond_strength | … of the singles' union | beyond_top10 | "
             "joint_need | beyond_buildup_db | beyond_buildup_budget_db | baseline_change |\n|" + "---|" * 12)
    head2 = ("| model | split | mask | baseline codes | baseline s (once per class) | decomposition s | "
             "decomposition CPU s | reach outside | reach radius (regions) | note |\n|" + "---|" * 10)
    lines1, lines2 = [head1], [head2]
    for c in configs:
        rows, done = c["rows"], [r for r in c["rows"] if "beyond_strength" in r]
        key = f"| {c['model']} | {c['split']} |"
        col = lambda k, fmt=".3f": spread([r[k] for r in done if k in r], fmt)    # noqa: E731
        lines1.append(f"{key} {c['feature']} | {c['mask']} | {len(done)} | {col('beyond_strength')} | "
                      f"{col('singles_union_strength')} | {col('beyond_top10')} | {col('joint_need', '.1e')} | {col('beyond_buildup_db', '.2f')} | "
                      f"{col('beyond_buildup_budget_db', '.2f')} | {col('baseline_change', '.4f')} |")
        note = "; ".join(r["too_slow"] for r in rows if "too_slow" in r)
        lines2.append(f"{key} {c['mask']} | {spread([r['baseline_codes'] for r in rows], '.0f')} | "
                      f"{spread([r['baseline_seconds'] for r in rows], '.1f')} | "
                      f"{spread([r['seconds'] for r in rows], '.1f')} | {spread([r.get('cpu_seconds') for r in rows], '.1f')} | "
                      f"{spread([r['reach_outside'] for r in rows])} | "
                      f"{spread([r['reach_radius'] for r in rows], '.2f')} | {note} |")
    return "\n".join(lines1) + "\n\n" + "\n".join(lines2)


def baseline_movement(gen, cache, args) -> list[dict]:
    """Component change between the default (converged) baseline and a fixed 64-code one, at the
    model's default split with spatial masks."""
    classes, seed = IMAGES.get(gen.name, ([0], 0))
    out = []
    for class_id in classes:
        specs = {name: make_spec(gen, class_id, seed, settings=s)
                 for name, s in (("default", settings(args)), ("fixed64", settings(args, baseline_tol=0.0)))}
        decs = {}
        for name, spec in specs.items():
            dec, seconds, _, _ = timed_decompose(gen, spec, cache, f"{gen.name} {name} {class_id}", args.cap)
            if dec is None:
                raise SystemExit(f"{gen.name} {name} class {class_id}: cancelled after {seconds:.0f} s")
            decs[name] = dec
        row = {"model": gen.name, "split": gen.default_split, "class": gen.class_names[class_id], "seed": seed,
               "codes": int(decs["default"].info["baseline_codes"]),
               "change_default": float(decs["default"].metrics["baseline_change"]),
               "change_fixed64": float(decs["fixed64"].metrics["baseline_change"]),
               "component_change": component_change(decs["default"].components, decs["fixed64"].components)}
        out.append(row)
        say(f"movement {gen.name} {row['class']} {seed}: {row}")
    return out


def movement_table(rows: list[dict]) -> str:
    lines = ["| model | split | image | default: codes, baseline_change | 64 codes: baseline_change | "
             "component change (64 codes vs default) |", "|" + "---|" * 6]
    for r in rows:
        lines.append(f"| {r['model']} | {r['split']} | {r['class']} {r['seed']} | {r['codes']}, "
                     f"{r['change_default']:.4f} | {r['change_fixed64']:.4f} | {r['component_change']:.4f} |")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="omniart-eyes,demo")
    p.add_argument("--splits", default="", help="comma-separated split points (default: every split of the model)")
    p.add_argument("--masks", default="spatial,channel")
    p.add_argument("--baseline-movement", action="store_true", help="also the 64-code vs converged baseline change")
    p.add_argument("--cache-dir", default="/tmp/regionprims-bench-splits")
    p.add_argument("--cache-gb", type=float, default=64.0, help="the cache's size limit (a main.15 file is 1 GB)")
    p.add_argument("--baselines-from", default=None, help="copy the cached baselines of this cache folder into "
                   "--cache-dir first: the decompositions are then timed afresh with their baseline cached")
    p.add_argument("--slow", type=float, default=300.0, help="seconds for one decomposition that mark 'too slow'")
    p.add_argument("--cap", type=float, default=900.0, help="seconds after which one decomposition is cancelled")
    p.add_argument("--keep-going", action="store_true", help="run every image of a too-slow configuration too")
    p.add_argument("--baseline-max-codes", type=int, default=0, help="the baseline's code cap (0: the default)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    p.add_argument("--times-from", default=None, help="the --json of an earlier run on the same cache: its times "
                   "stand for the baselines and decompositions this run finds cached")
    args = p.parse_args()
    args.earlier = earlier_rows(args.times_from)
    return args


def copy_baselines(source: str, cache: ResultCache) -> int:
    """Copy every baseline entry of the cache folder `source` into `cache`; the count copied."""
    src, copied = ResultCache(source, size_limit=cache.size_limit), 0
    for key in src.keys():
        data = src.get_bytes(key) if "/baseline/" in key else None
        if data is not None:
            cache.set_bytes(key, data)
            copied += 1
    return copied


def earlier_rows(path: str | None) -> dict:
    """(model, split, mask, class name, seed) -> row of an earlier run's --json (empty without one)."""
    if not path:
        return {}
    with open(path) as fh:
        configs = json.load(fh)["configs"]
    return {(c["model"], c["split"], c["mask"], r["class"], r["seed"]): r for c in configs for r in c["rows"]}


def main() -> None:
    args = parse_args()
    allocator.tune()
    torch.set_num_threads(args.threads)
    cache = ResultCache(args.cache_dir, size_limit=int(args.cache_gb * 2 ** 30))
    if args.baselines_from:
        say(f"{copy_baselines(args.baselines_from, cache)} baselines copied from {args.baselines_from}")
    say(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, cache {args.cache_dir}")
    configs, movement = [], []
    for model in args.models.split(","):
        gen = registry.load_generator(model)
        splits = [s for s in gen.split_points if not args.splits or s in args.splits.split(",")]
        for split in splits:
            once: dict = {}          # (class, seed) -> baseline seconds and reach, shared by the mask kinds
            for mask in args.masks.split(","):
                rows = run_configuration(gen, split, mask, cache, args, once)
                shape = "×".join(str(d) for d in gen.feature_shape(split))
                configs.append({"model": model, "split": split, "feature": shape, "mask": mask, "rows": rows})
                save(args, configs, movement)
        if args.baseline_movement:
            movement += baseline_movement(gen, cache, args)
            save(args, configs, movement)
    print("\n" + summary_tables(configs))
    if movement:
        print("\n" + movement_table(movement))
    say("done")


def save(args, configs: list[dict], movement: list[dict]) -> None:
    """Write --json after every configuration, so that a run stopped from outside leaves what it measured."""
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": {k: v for k, v in vars(args).items() if k != "earlier"}, "configs": configs,
                       "movement": movement}, fh, indent=1)


if __name__ == "__main__":
    main()
