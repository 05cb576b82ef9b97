"""Cost before commitment: how long a decomposition will take on this device, said before it starts.

A short probe times the unit of work of the minimal-feature optimisation on the real generator
(one optimiser step's tail forward + backward, at batch 1 and at a larger batch, so that a call costs
`fixed + batch * per_sample`), a forward-only tail call and a head call. The probe is cached per
model identity, split, device and thread count (in this process, and in the result cache when
one is given). `estimate_seconds(spec, cost)` then counts the calls a decomposition makes, the
way `method.minimal` makes them:

    baseline:      M head passes (0 when cached; M the count last needed for this model and split,
                   else predicted from the spread of the probe's head features: method/baseline.py)
    warm start:    warm_steps steps of the n single-player masks (batch n)
    optimisation:  the batches of the optimiser's own schedule (minimal.refinement_schedule): each
                   chunk of each level of 2..n players below the order cap (monotone masks), with
                   refine 'skip' one probe pass per subset and steps for the expected moving share
                   only (measured by the last run of this model, split and grid), or of all
                   2^n - 1 subsets (free masks); batch = chunk, from the memory bound
    scoring:       the tail forwards `scoring.render_count` publishes (both nulls' fits of every
                   subset, the patterns of the tops, the build-ups)

This module is orchestration (it may use the store); the CLI prints its estimate before a job, the
explorer shows it by the Decompose button and asks for a confirmation above CONFIRM_SECONDS.
"""
from __future__ import annotations

import json
import math
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from regionprims.method.baseline import code_counts
from regionprims.method.chunking import activation_bytes_per_sample, chunk_for, memory_budget_mb
from regionprims.method.minimal import refinement_schedule
from regionprims.method.specs import DecompositionSpec, OptimSettings, stable_hash
from regionprims.models.base import SplitGenerator, default_truncation, mask_renderer
from regionprims.scoring import render_count

CONFIRM_SECONDS = 120.0          # the explorer asks before starting a job expected to take longer
PROBE_BUDGET_S = 0.5             # target length of the larger timed batch of the probe
HEAD_BATCH = 16                  # compute_baseline's batch
MOST_BATCH = 512                 # the largest batch the probe times (= the largest chunk)
RENDER_BATCH = 64                # render.render_features' batch


@dataclass(frozen=True)
class TailCost:
    """Measured seconds on one device: `steps` holds (batch, seconds of one optimisation step of
    that batch) at batch 1, 2, 4, ... up to the first that took longer than the probe budget."""

    steps: tuple[tuple[int, float], ...]
    forward_per_sample: float
    head_per_sample: float
    bytes_per_sample: int        # activation memory of one more sample (sets the automatic chunk)
    device: str
    probe_seconds: float         # how long the probe itself took
    head_spread: float = float("nan")   # sqrt(Σ var of head features) / ‖their mean‖ over HEAD_BATCH codes:
                                        # f0 over M codes moves about this / sqrt(M) between M/2 and M

    def step(self, batch: int) -> float:
        """Seconds of one step of `batch` samples: interpolated between the measured batches;
        beyond the largest, its time plus the marginal per-sample cost of the last doubling
        (at least half the average per-sample cost there, so that noise cannot make it free)."""
        pts = sorted(self.steps)
        if batch <= pts[0][0]:
            return pts[0][1] * batch / pts[0][0]
        for (b0, t0), (b1, t1) in zip(pts, pts[1:]):
            if batch <= b1:
                return t0 + (t1 - t0) * (batch - b0) / (b1 - b0)
        b_last, t_last = pts[-1]
        average = t_last / b_last
        marginal = (t_last - pts[-2][1]) / (b_last - pts[-2][0]) if len(pts) > 1 else average
        return t_last + (batch - b_last) * max(marginal, 0.5 * average)


@dataclass(frozen=True)
class Estimate:
    """Expected seconds of a decomposition, and of its parts."""

    seconds: float
    parts: dict
    device: str

    @property
    def needs_confirmation(self) -> bool:
        return self.seconds > CONFIRM_SECONDS

    def text(self) -> str:
        return f"about {format_seconds(self.seconds)} on {self.device}"


def format_seconds(seconds: float) -> str:
    """'4 s', '95 s', '16 min', '1.5 h' (rounded; an estimate has no more precision)."""
    if seconds < 100:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------------------------
# The probe


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[int], None], batch: int, device: torch.device) -> float:
    _sync(device)
    t = time.perf_counter()
    fn(batch)
    _sync(device)
    return time.perf_counter() - t


def probe_tail_cost(gen: SplitGenerator, split: str, budget_s: float = PROBE_BUDGET_S) -> TailCost:
    """Time the tail at `split` on the generator's device: one warm-up step, then steps of batch
    1, 2, 4, ... (at most the automatic chunk of the default memory bound, so that the probe fits
    wherever the run fits) until one takes longer than `budget_s` (the cheap ones five times, keeping the
    median): about 3 x budget_s in all on a fast device, two single-sample steps on a slow one."""
    start = time.perf_counter()
    device = torch.device(gen.device)
    t = 0.5
    z = gen.sample_z(0, t, 1)
    with torch.no_grad():
        feature, ctx = gen.head(z, 0, t, split)
    f = feature[0]
    delta = torch.randn_like(f) * f.std().clamp_min(1e-3)
    c, h, w = f.shape

    render = mask_renderer(gen, ctx, f, delta.unsqueeze(0))   # the engine's route (a model's fast one)

    def step(b: int) -> None:                      # one optimiser step's autograd work (minimal._descend_masks)
        a = torch.zeros(b, 1, h, w, device=device, requires_grad=True)
        images = render(torch.sigmoid(a))
        loss = images.square().mean((1, 2, 3)).sum() + a.mean()
        torch.autograd.grad(loss, a)

    @torch.no_grad()
    def forward(b: int) -> None:
        gen.tail(f.expand(b, c, h, w), ctx)

    @torch.no_grad()
    def head(b: int) -> None:
        gen.head(gen.sample_z(1, t, b), 0, t, split)

    with torch.no_grad():                          # how fast a mean over codes converges (baseline)
        feats, _ = gen.head(gen.sample_z(2, default_truncation(gen), HEAD_BATCH), 0, default_truncation(gen), split)
    spread = float(feats.var(0).sum().sqrt() / feats.mean(0).norm().clamp_min(1e-12))

    nbytes = activation_bytes_per_sample(gen, ctx, f)
    largest = chunk_for(nbytes, memory_budget_mb(device, OptimSettings().memory_mb), MOST_BATCH)
    _timed(step, 1, device)                        # warm-up (allocation, kernel choice)
    steps: list[tuple[int, float]] = []
    b = 1
    while True:
        took = _timed(step, b, device)
        if took < budget_s / 4:                    # cheap: the median of five, because a shared CPU
            took = statistics.median([took] + [_timed(step, b, device) for _ in range(4)])   # is noisy
        steps.append((b, took))
        if took > budget_s or b >= largest:        # never a batch the run itself would not fit
            break
        b = min(2 * b, largest)
    bf = min(b, RENDER_BATCH)
    fwd = _timed(forward, bf, device) / bf
    hd = _timed(head, HEAD_BATCH, device) / HEAD_BATCH
    if device.type == "cuda":
        torch.cuda.empty_cache()                   # the probe's blocks go back before the run
    return TailCost(steps=tuple(steps), forward_per_sample=fwd, head_per_sample=hd, bytes_per_sample=int(nbytes),
                    device=str(device), probe_seconds=time.perf_counter() - start, head_spread=spread)


_COSTS: dict[str, TailCost] = {}
_LOCK = threading.Lock()


def cost_key(gen: SplitGenerator, split: str) -> str:
    precision = getattr(gen, "precision", "fp32")
    return stable_hash(["tailcost/v3", gen.identity, split, str(gen.device), precision, torch.get_num_threads()])


def tail_cost(gen: SplitGenerator, split: str, cache=None) -> TailCost:
    """The probe of (model, split, device), measured once per process (and kept in `cache`, a
    store.cache.ResultCache, when given, so that the next CLI run need not measure again)."""
    key = cost_key(gen, split)
    with _LOCK:
        if key in _COSTS:
            return _COSTS[key]
    if cache is None:
        cost = probe_tail_cost(gen, split)
    else:
        from regionprims.store.cache import cache_key
        cost, _hit = cache.get_or_compute(cache_key("tailcost", key), lambda: probe_tail_cost(gen, split),
                                          lambda v: json.dumps(asdict(v)).encode(),
                                          _decode_cost)
    with _LOCK:
        _COSTS[key] = cost
    return cost


def _decode_cost(data: bytes) -> TailCost:
    d = json.loads(data.decode())
    d["steps"] = tuple((int(b), float(t)) for b, t in d["steps"])
    return TailCost(**d)


def forget_costs() -> None:
    """Drop the in-process probes (tests)."""
    with _LOCK:
        _COSTS.clear()


# --------------------------------------------------------------------------------------------
# Counting the work


def refinement_batches(n: int, chunk: int, tie: str) -> list[int]:
    """Batch sizes of the refinement steps of the full schedule (every subset stepped), read from
    the optimiser's own schedule (minimal.refinement_schedule) without the warm start."""
    settings = OptimSettings(tie=tie, init="singletons", warm_steps=0, refine="all")
    return [b.rows for b in refinement_schedule(n, settings, chunk)]


NOT_SECONDS = ("chunk", "sample_steps", "skip_share_known", "baseline_codes")    # parts that are counts


def estimate_seconds(spec: DecompositionSpec, cost: TailCost, moving: dict[str, float] | None = None,
                     baseline_codes: int | None = None) -> Estimate:
    """Expected seconds of `pipeline.decompose(spec)` (not cached) from a measured TailCost. The
    optimisation is counted batch by batch from the optimiser's schedule (minimal.refinement_schedule);
    where a batch is probed (refine 'skip'), the probe costs one pass per row and only the expected
    share of moving rows takes the other steps (the probe was the first): `moving` (share per order,
    measured by the last decomposition of this model, split and grid: pipeline.record_moving), else
    every row (an upper bound)."""
    s = spec.settings
    n = spec.layout.n
    rows = 2 ** n - 1
    chunk = s.chunk or chunk_for(cost.bytes_per_sample, memory_budget_mb(cost.device, s.memory_mb))
    seconds = {"warm_start": 0.0, "optimisation": 0.0}
    passes = 0.0
    for batch in refinement_schedule(n, s, chunk):
        share = (moving or {}).get(str(batch.level), 1.0) if batch.probe else 1.0
        stepped = batch.rows * share
        part = "warm_start" if batch.level == 1 else "optimisation"
        steps = batch.steps - 1 if batch.probe else batch.steps    # a moving row's first step is its probe
        seconds[part] += (cost.step(batch.rows) if batch.probe else 0.0) + \
            (steps * cost.step(max(1, round(stepped))) if stepped > 0 else 0.0)
        passes += (batch.rows if batch.probe else 0) + steps * stepped
    renders = render_count(rows, spec.rank_by)           # published by the scoring that makes them
    codes = baseline_codes if baseline_codes is not None else predicted_codes(cost.head_spread, s)
    parts = {"baseline": (codes + 1) * cost.head_per_sample if codes else 0.0,
             **seconds, "renders": renders * cost.forward_per_sample,
             "chunk": chunk, "sample_steps": round(passes), "skip_share_known": moving is not None,
             "baseline_codes": codes}
    total = sum(v for k, v in parts.items() if k not in NOT_SECONDS)
    return Estimate(seconds=float(total), parts=parts, device=cost.device)


def moving_key(identity: str, spec: DecompositionSpec) -> str:
    """Where the measured share of moving subsets per order of a model, split, grid and mask kind is kept."""
    return stable_hash(["moving/v1", identity, spec.split, spec.layout.n, spec.settings.mask])


def record_moving(cache, identity: str, spec: DecompositionSpec, moving: dict[str, float]) -> None:
    """Keep the shares a refine-'skip' decomposition measured, for the next estimate of its kind."""
    if cache is None or spec.settings.refine != "skip" or not moving:
        return
    from regionprims.store.cache import cache_key
    cache.set_bytes(cache_key("moving", moving_key(identity, spec)), json.dumps(moving).encode())


def known_moving(cache, identity: str, spec: DecompositionSpec) -> dict[str, float] | None:
    """The shares recorded by record_moving, or None (never measured here, or unreadable)."""
    if cache is None:
        return None
    from regionprims.store.cache import cache_key
    data = cache.get_bytes(cache_key("moving", moving_key(identity, spec)))
    try:
        raw = json.loads(data) if data else None
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    shares = {str(k): float(v) for k, v in raw.items() if isinstance(v, (int, float)) and 0 <= v <= 1}
    return shares or None


def known_estimate(gen: SplitGenerator, spec: DecompositionSpec, cache=None) -> Estimate | None:
    """The estimate if this process has already probed the spec's model, split and device (with
    what `cache` recorded, as `estimate`); None otherwise (never probes: for callers that must not
    compete with a running job)."""
    with _LOCK:
        cost = _COSTS.get(cost_key(gen, spec.split))
    if cost is None:
        return None
    return estimate_seconds(spec, cost, known_moving(cache, gen.identity, spec),
                            expected_baseline_codes(cache, gen.identity, spec))


def predicted_codes(spread: float, s: OptimSettings) -> int:
    """The code count the baseline's growth is expected to stop at: the first of baseline_codes,
    twice that, ... whose expected change spread / sqrt(M) is within the tolerance (the cap when
    the spread was not measured)."""
    counts = code_counts(s.baseline_codes, s.baseline_tol, s.baseline_max_codes)
    if s.baseline_tol <= 0 or not math.isfinite(spread):
        return counts[-1]
    return next((m for m in counts if spread / math.sqrt(m) <= s.baseline_tol), counts[-1])


def baseline_codes_key(identity: str, spec: DecompositionSpec) -> str:
    s = spec.settings
    return stable_hash(["codes/v1", identity, spec.split, s.baseline_codes, s.baseline_tol, s.baseline_max_codes])


def record_baseline_codes(cache, identity: str, spec: DecompositionSpec, codes: int) -> None:
    """Keep how many codes a baseline of this model and split needed, for the next estimate."""
    if cache is not None:
        from regionprims.store.cache import cache_key
        cache.set_bytes(cache_key("codes", baseline_codes_key(identity, spec)), str(int(codes)).encode())


def expected_baseline_codes(cache, identity: str, spec: DecompositionSpec) -> int | None:
    """0 when the spec's baseline is cached; the count a baseline of this model and split needed
    last time; None (the estimate assumes the cap) when never measured here."""
    if cache is None:
        return None
    from regionprims.keys import baseline_key
    from regionprims.store.cache import cache_key
    if baseline_key(spec) in cache:
        return 0
    data = cache.get_bytes(cache_key("codes", baseline_codes_key(identity, spec)))
    return int(data) if data and data.isdigit() else None


def estimate(gen: SplitGenerator, spec: DecompositionSpec, cache=None) -> Estimate:
    """Probe (or reuse the probe of) the spec's model, split and device, and estimate (with the
    moving shares and the baseline's code count last measured for this model and split, when the
    cache has them)."""
    return estimate_seconds(spec, tail_cost(gen, spec.split, cache), known_moving(cache, gen.identity, spec),
                            expected_baseline_codes(cache, gen.identity, spec))
