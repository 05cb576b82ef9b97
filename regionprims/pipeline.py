"""Orchestration: (generator, class, seed, settings) -> a verified Decomposition, cached.

The steps: feature and image of the code; baseline f0 (cached per model/class/truncation/split);
players; u(S) for all subsets; OR components; residual; ranking; metrics. Nothing here does
math of its own beyond wiring; each step lives in its module.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Sequence

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from regionprims.store.cache import ResultCache
from regionprims.models.classes import resolve_class
from regionprims.method.decomposition import Decomposition
from regionprims.errors import UserError
from regionprims.store.fileformat import from_bytes, to_bytes
from regionprims.method.interactions import or_interactions
from regionprims.method.baseline import Baseline, compute_baseline
from regionprims.method.minimal import optimize_minimal_features
from regionprims.models.base import SplitContext, SplitGenerator, default_truncation
from regionprims.progress import ProgressFn, Reporter
from regionprims.method.regions import (Layout, foreground_players, parse_layout, player_masks,
                                        subset_matrix)
from regionprims.method.render import render_features
from regionprims.scoring import rank_components, score
from regionprims.keys import baseline_key, decomposition_key  # noqa: F401 (decomposition_key re-exported)
from regionprims.estimate import known_estimate, record_baseline_codes, record_moving
from regionprims.method.specs import DecompositionSpec, OptimSettings
from regionprims.validation import MAX_SEED, split_index, validate_seed, validate_truncation  # noqa: F401 (MAX_SEED re-exported)

STABILITY_DEFINITION = ("relative L2 change of all non-empty components between the result and the result after half "
                        "of every optimisation's steps (a free proxy of the change between the default and 4x the "
                        "default steps, a rough guide rather than a bound: benchmarks/bench_stability.py compares the two); "
                        "low is stable, target <= 0.10")


def validate_split(gen: SplitGenerator, split: str | None) -> str:
    if split is None or split == "":
        return gen.default_split
    split_index(split, gen.split_points, gen.name)
    return split


def choose_class(gen: SplitGenerator, class_: str | int | None) -> int:
    """The class index; None is the only class of an unconditional generator."""
    if class_ is None:
        if len(gen.class_names) == 1:
            return 0
        raise UserError(f"{gen.name} has {len(gen.class_names)} classes: give --class (an index or a name "
                        f"such as {gen.class_names[min(1, len(gen.class_names) - 1)]!r})")
    return resolve_class(class_, gen.class_names)


def make_spec(gen: SplitGenerator, class_: str | int | None, seed: object, *, truncation: object | None = None,
              split: str | None = None, layout: str = "3x3", players: Sequence[int] | None = None,
              settings: OptimSettings | None = None, rank_by: str = "norm", force: bool = False) -> DecompositionSpec:
    """Validate every user input (one UserError naming the problem) and build the frozen spec.
    For the `paper` layout without explicit players, the players are chosen here by the stated
    foreground rule (regions.foreground_players), so that they are part of the cache key."""
    settings = settings or OptimSettings()
    settings.validate()
    if rank_by not in ("norm", "effect"):
        raise UserError(f"rank-by must be 'norm' or 'effect', got '{rank_by}'")
    spec = DecompositionSpec(
        model=gen.name, model_identity=gen.identity, class_id=choose_class(gen, class_),
        seed=validate_seed(seed, allow_text=True),
        truncation=validate_truncation(default_truncation(gen) if truncation is None else truncation),
        split=validate_split(gen, split), layout=parse_layout(layout, players, force=force),
        settings=settings, rank_by=rank_by, precision=getattr(gen, "precision", "fp32"))
    if not spec.layout.players:
        spec = replace(spec, layout=choose_foreground(gen, spec))
    return spec


@torch.no_grad()
def image_and_feature(gen: SplitGenerator, spec: DecompositionSpec) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, SplitContext]:
    """z [z_dim], feature f [C,h,w], image x [3,H,W] and the split context of the spec's code."""
    z = gen.sample_z(spec.seed, spec.truncation, 1)
    feature, ctx = gen.head(z, spec.class_id, spec.truncation, spec.split)
    image = gen.tail(feature, ctx)
    if not torch.isfinite(image).all():
        raise UserError(f"{gen.name} produced a non-finite image for class {spec.class_id}, seed {spec.seed}")
    return z[0], feature[0], image[0], ctx


def baseline(gen: SplitGenerator, spec: DecompositionSpec, cache: ResultCache | None,
             report: Reporter | None = None, expected: int | None = None) -> Baseline:
    """f0, grown until converged (method/baseline.py), cached per model/class/truncation/split/settings.
    `expected`: the code count the progress is reported against (the estimate's)."""
    key, s = baseline_key(spec), spec.settings

    def compute():
        return compute_baseline(gen, spec.class_id, spec.truncation, spec.split, s.baseline_codes,
                                s.baseline_tol, s.baseline_max_codes, report, expected)

    def encode(v: Baseline):
        return st_save({"f0": v.f0.cpu().contiguous(), "stability": torch.tensor([v.change]),
                        "codes": torch.tensor([float(v.codes)])})

    def decode(b):
        got = checked_baseline(st_load(b), gen.feature_shape(spec.split))
        return replace(got, f0=got.f0.to(gen.device))

    if cache is None:
        return compute()
    what = f"the {spec.model} baseline of class {spec.class_id}"
    return cache.get_or_compute(key, compute, encode, decode, what)[0]


def checked_baseline(t: dict[str, torch.Tensor], shape: Sequence[int]) -> Baseline:
    """The Baseline of a cached entry, refused (ValueError) unless it holds exactly a finite
    float32 f0 of the split's feature shape, its change and a positive whole code count."""
    f0, stability, codes = t.get("f0"), t.get("stability"), t.get("codes")
    if (set(t) != {"f0", "stability", "codes"} or f0.dtype != torch.float32 or tuple(f0.shape) != tuple(shape)
            or stability.shape != (1,) or codes.shape != (1,) or not torch.isfinite(f0).all() or stability.isinf().any()
            or not torch.isfinite(codes).all() or float(codes[0]) < 1 or float(codes[0]) != int(codes[0])):
        raise ValueError("damaged baseline entry")
    return Baseline(f0=f0, change=float(stability[0]), codes=int(codes[0]))


def checked_decomposition(data: bytes, spec: DecompositionSpec, gen: SplitGenerator | None = None) -> Decomposition:
    """A cached decomposition, refused (UserError) unless it passes every file check and is the
    one asked for (same frozen spec; with `gen`, the generator's feature and image shapes)."""
    dec = from_bytes(data, "cache entry")
    if dec.spec.frozen() != spec.frozen() or (gen is not None and shape_mismatch(gen, dec)):
        raise UserError("cache entry does not match its key")
    return dec


def shape_mismatch(gen: SplitGenerator, dec: Decomposition) -> str:
    """'' when the decomposition's feature and image have the shapes the generator gives at its
    split (a file or entry may claim a generator's identity with other shapes); else what differs."""
    want = {"feature": tuple(gen.feature_shape(dec.spec.split)), "image": (3, gen.image_size, gen.image_size)}
    for name, shape in want.items():
        have = tuple(getattr(dec, name).shape)
        if have != shape:
            return f"its {name} has shape {list(have)}, but {gen.name} gives {list(shape)} at split {dec.spec.split}"
    return ""


def choose_foreground(gen: SplitGenerator, spec: DecompositionSpec, cache: ResultCache | None = None) -> Layout:
    """The paper layout's players: the 9 patches where the image differs most from the baseline image."""
    _, _, image, ctx = image_and_feature(gen, spec)
    f0 = baseline(gen, spec, cache).f0
    base_image = render_features(gen, ctx, f0.unsqueeze(0))[0]
    saliency = (image.cpu() - base_image).abs().sum(0)
    players = foreground_players(saliency, spec.layout.rows, spec.layout.cols)
    return replace(spec.layout, players=players)


def decompose(gen: SplitGenerator, spec: DecompositionSpec, *, cache: ResultCache | None = None,
              progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> tuple[Decomposition, bool]:
    """Run (or fetch from the cache) one decomposition. Returns (decomposition, cache_hit).
    Raises progress.Cancelled when `cancel` is set; nothing is cached then."""
    report = Reporter(progress, cancel)
    if cache is None:
        return _compute(gen, spec, None, report), False
    what = f"the {spec.model} decomposition of class {spec.class_id}, seed {spec.seed}"
    return cache.get_or_compute(decomposition_key(spec), lambda: _compute(gen, spec, cache, report),
                                to_bytes, lambda data: checked_decomposition(data, spec, gen), what)


BASELINE_SHARE = 0.05       # of the progress bar, when nothing better is known


def baseline_share(gen: SplitGenerator, spec: DecompositionSpec, cache: ResultCache | None) -> tuple[float, int | None]:
    """The part of the progress bar (up to the metrics' last 5 %) that the baseline takes, and the
    code count it is expected to need: from the estimate when this process has probed the tail
    (the CLI and the explorer estimate before they start; a first omniart-eyes baseline is most of
    the run), else 5 % and the cap."""
    est = known_estimate(gen, spec, cache)
    if est is None or not est.seconds > 0:
        return BASELINE_SHARE, None
    return min(0.9, max(0.0, 0.95 * est.parts["baseline"] / est.seconds)), int(est.parts["baseline_codes"]) or None


def _compute(gen: SplitGenerator, spec: DecompositionSpec, cache: ResultCache | None, report: Reporter) -> Decomposition:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    z, feature, image, ctx = image_and_feature(gen, spec)
    share, expected = baseline_share(gen, spec, cache)
    base = baseline(gen, spec, cache, report.stage(0.0, share), expected)
    f0 = base.f0
    timings["baseline"] = time.perf_counter() - t0
    masks = player_masks(spec.layout, gen.image_size, gen.image_size)
    subsets = subset_matrix(spec.layout.n)
    t1 = time.perf_counter()
    halfway: dict = {}
    minimal, fit_loss, opt_info = optimize_minimal_features(gen, ctx, feature, f0, image, masks.to(gen.device),
                                                            subsets, spec.settings, report.stage(share, 0.95),
                                                            halfway=halfway)
    timings["minimal_features"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    minimal, f0, feature = minimal.cpu(), f0.cpu(), feature.cpu()
    components = or_interactions(minimal)
    residual = feature - minimal[-1]
    ranking, strength = rank_components(gen, ctx, f0, components, spec.rank_by)
    timings["components"] = time.perf_counter() - t2
    dec = Decomposition(spec=spec, z=z.cpu(), image=image.cpu(), feature=feature, baseline=f0, subsets=subsets,
                        minimal=minimal, components=components, residual=residual, player_masks=masks,
                        fit_loss=fit_loss.cpu(), ranking=ranking)
    report(950, 1000, "metrics")
    t3 = time.perf_counter()
    dec.metrics, scored = score(gen, ctx, dec, strength, or_interactions(halfway["minimal"].cpu()))
    dec.metrics["baseline_change"] = base.change
    timings["metrics"] = time.perf_counter() - t3
    dec.info = {"class_name": gen.class_names[spec.class_id], "baseline_stability": base.change,
                "baseline_codes": base.codes, "device": str(gen.device), "precision": getattr(gen, "precision", "fp32"),
                "timings": timings, **opt_info, **scored, "stability_definition": STABILITY_DEFINITION}
    record_moving(cache, gen.identity, spec, opt_info.get("moving_by_order"))    # for the next estimate

    record_baseline_codes(cache, gen.identity, spec, base.codes)
    report(1, 1, "done")
    return dec


def report_json(dec: Decomposition, cache_hit: bool, seconds: float) -> dict:
    """The `decompose --json` object (docs/design.md §2)."""
    spec = dec.spec
    return {"model": spec.model, "class_id": spec.class_id, "class_name": dec.info.get("class_name"),
            "seed": spec.seed, "truncation": spec.truncation, "split": spec.split, "layout": spec.layout.name,
            "players": list(spec.layout.players), "n_subsets": int(dec.subsets.shape[0]),
            "seconds": round(seconds, 3), "cache_hit": cache_hit, "tail_passes": dec.info.get("tail_passes"),
            "metrics": dec.metrics, "baseline_codes": dec.info.get("baseline_codes"),
            "absent_metrics": dec.info.get("absent_metrics", {}),
            "by_construction": (dec.info.get("null") or {}).get("by_construction", {})}


def sample_image(gen: SplitGenerator, class_: str | int | None, seed: object, truncation: object | None = None):
    """uint8 [H, W, 3] of the generated image for (class, seed, truncation), validated."""
    from regionprims.method.render import to_rgb
    class_id = choose_class(gen, class_)
    t = validate_truncation(default_truncation(gen) if truncation is None else truncation)
    z = gen.sample_z(validate_seed(seed, allow_text=True), t, 1)
    with torch.no_grad():
        image = gen.forward(z, class_id, t)[0]
    if not torch.isfinite(image).all():
        raise UserError(f"{gen.name} produced a non-finite image")
    return to_rgb(image)
