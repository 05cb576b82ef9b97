"""`regionprims batch`: every (class, seed) of a study decomposed on Ray.

One actor per worker slot (num_cpus / num_gpus of one task); the generator is loaded once per
actor process (models.registry caches it per process) and every image goes through
`pipeline.decompose`, so results land in the shared cache under the keys `decompose` uses and a
rerun finds them there (it computes nothing). Images are handed to idle actors as they free up;
Ray restarts an actor whose process died (max_restarts) and runs the image again
(max_task_retries), and retries out-of-memory errors (retry_exceptions). An image that still
fails is recorded with its error and the study goes on. Progress (done / failed / running / time
left) goes to a callback; the record is saved after every image, so an interrupted batch loses
only the images in flight.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import ray
import torch

from regionprims.errors import UserError
from regionprims.progress import Cancelled
from regionprims.store.cache import ResultCache
from regionprims.study import records
from regionprims.study.plan import StudyPlan

RETRYABLE = [torch.OutOfMemoryError, MemoryError]
MAX_RETRIES = 8                     # per image: a crashed worker's restart takes several of these
                                    # (each call while it restarts counts), a retryable error one


@dataclass
class BatchProgress:
    """Counts of a running batch, for a progress bar."""

    total: int
    done: int = 0                   # finished (computed or cached)
    cached: int = 0
    failed: int = 0
    running: int = 0
    started: float = field(default_factory=time.monotonic)
    compute_seconds: float = 0.0    # summed over computed images (worker time)
    workers: int = 1

    @property
    def finished(self) -> int:
        return self.done + self.failed

    def eta_seconds(self) -> float | None:
        """Images left x mean time of a computed image / workers; None until one was computed."""
        computed = self.done - self.cached
        if computed <= 0:
            return None
        return (self.total - self.finished) * self.compute_seconds / computed / max(1, self.workers)

    def message(self) -> str:
        eta = self.eta_seconds()
        left = "" if eta is None else f" · ~{eta:.0f} s left"
        return (f"{self.done}/{self.total} done ({self.cached} cached) · {self.failed} failed · "
                f"{self.running} running{left}")


ProgressCallback = Callable[[BatchProgress], None]


@ray.remote(max_restarts=-1)
class Worker:
    """One worker slot: threads bounded to its CPUs; runs the study's functions."""

    def __init__(self, threads: int):
        from regionprims import allocator
        allocator.tune()
        torch.set_num_threads(max(1, threads))

    @ray.method(max_task_retries=MAX_RETRIES, retry_exceptions=RETRYABLE)
    def call(self, fn: Callable, *args):
        return fn(*args)


def resolve_plan(plan: StudyPlan, device: str) -> dict:
    """In a worker: the model's identity, the class ids and names of the plan, and one spec
    made to check the settings that need the model (split, truncation, players)."""
    from regionprims.models.registry import load_generator
    from regionprims.pipeline import make_spec
    from regionprims.study.plan import resolve_classes
    gen = load_generator(plan.model, device)
    class_ids = resolve_classes(plan.classes, gen.class_names)
    _spec(gen, plan, class_ids[0], plan.seeds[0], make_spec)
    return {"identity": gen.identity, "classes": [(i, gen.class_names[i]) for i in class_ids]}


def _spec(gen, plan: StudyPlan, class_id: int, seed: int, make_spec):
    return make_spec(gen, class_id, seed, truncation=plan.truncation, split=plan.split, layout=plan.layout,
                     players=plan.players, settings=plan.settings, rank_by=plan.rank_by, force=plan.force)


_CACHES: dict[str, ResultCache] = {}


def decompose_image(request: dict) -> dict:
    """In a worker: one image of the study through pipeline.decompose (cached). Returns the
    `decompose --json` report, the cache key and, when asked, the file's bytes."""
    from regionprims.models.registry import load_generator
    from regionprims.pipeline import decompose, decomposition_key, make_spec, report_json
    from regionprims.store.fileformat import to_bytes
    plan: StudyPlan = request["plan"]
    gen = load_generator(plan.model, request["device"])
    spec = _spec(gen, plan, request["class_id"], request["seed"], make_spec)
    cache = _CACHES.get(request["cache_dir"])
    if cache is None:
        cache = _CACHES[request["cache_dir"]] = ResultCache(request["cache_dir"])
    start = time.perf_counter()
    dec, hit = decompose(gen, spec, cache=cache)
    out = {"report": report_json(dec, hit, time.perf_counter() - start), "key": decomposition_key(spec),
           "pid": os.getpid()}
    if request["want_file"]:
        out["file_bytes"] = to_bytes(dec)
    return out


def connect(address: str | None = None) -> bool:
    """Start (or join, with an address) Ray unless this process already did. True when this call
    started it, so the caller shuts it down."""
    if ray.is_initialized():
        return False
    kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        ray.init(address=address, **kwargs) if address else ray.init(**kwargs)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UserError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {exc}") from None
    return True


@dataclass
class BatchOptions:
    """How the batch runs (none of it changes a result)."""

    out: Path | None = None
    cache_dir: Path | None = None
    cpus_per_task: float = 1.0
    gpus_per_task: float | None = None   # None: 1 when the cluster has GPUs, else 0
    workers: int | None = None           # None: as many as the resources hold
    task: Callable[[dict], dict] = decompose_image

    def validate(self) -> "BatchOptions":
        """Resources Ray can reserve (nan or inf would reach Ray's scheduler); returns self."""
        cpus, gpus = self.cpus_per_task, self.gpus_per_task
        if not _finite(cpus) or cpus <= 0:
            raise UserError(f"--cpus-per-task must be a finite number above 0, got {cpus}")
        if gpus is not None and (not _finite(gpus) or gpus < 0):
            raise UserError(f"--gpus-per-task must be a finite number of at least 0, got {gpus}")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or self.workers < 1):
            raise UserError(f"--workers must be at least 1, got {self.workers}")
        if self.out is not None and self.out.exists() and not self.out.is_dir():
            raise UserError(f"--out {self.out} exists and is not a folder")
        return self


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _slots(opts: BatchOptions, n_images: int) -> tuple[int, float, str]:
    """(number of actors, GPUs per actor, device) from the cluster's resources."""
    res = ray.cluster_resources()
    gpus = opts.gpus_per_task if opts.gpus_per_task is not None else (1.0 if res.get("GPU", 0) >= 1 else 0.0)
    if gpus > 0 and res.get("GPU", 0) < gpus:
        raise UserError(f"{gpus:g} GPU(s) per task asked for, but the Ray cluster has {res.get('GPU', 0):g}")
    if opts.cpus_per_task <= 0 or res.get("CPU", 0) < opts.cpus_per_task:
        raise UserError(f"{opts.cpus_per_task:g} CPU(s) per task asked for, but the Ray cluster has "
                        f"{res.get('CPU', 0):g}")
    fit = int(res.get("CPU", 0) // opts.cpus_per_task)
    if gpus > 0:
        fit = min(fit, int(res.get("GPU", 0) // gpus))
    n = min(fit, opts.workers or fit, n_images)
    return max(1, n), gpus, ("cuda" if gpus > 0 else "cpu")


def _error_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    if isinstance(cause, UserError):
        return str(cause)
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}"[:500]


def run_batch(plan: StudyPlan, opts: BatchOptions, progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None) -> records.StudyRecord:
    """Run the study on the Ray this process is connected to (see `connect`). With opts.out, the
    folder is held for the whole batch (records.claim_folder)."""
    plan.validate()
    opts.validate()
    claim = records.claim_folder(opts.out, plan) if opts.out is not None else contextlib.nullcontext()
    with claim:
        return _run(plan, opts, progress, cancel)


def _run(plan: StudyPlan, opts: BatchOptions, progress: ProgressCallback | None,
         cancel: threading.Event | None) -> records.StudyRecord:
    cache_dir = Path(opts.cache_dir or os.environ.get("REGIONPRIMS_CACHE") or "cache").resolve()
    cache = ResultCache(cache_dir)
    _, gpus, device = _slots(opts, 1)
    threads = max(1, int(opts.cpus_per_task))
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    make = Worker.options(num_cpus=opts.cpus_per_task, num_gpus=gpus, runtime_env={"env_vars": env})
    workers = [make.remote(threads)]
    try:
        info = _get(workers[0].call.remote(resolve_plan, plan, device))
        record = records.StudyRecord(plan=plan, model_identity=info["identity"], folder=opts.out)
        requests = [{"plan": plan, "class_id": c, "class_name": name, "seed": s, "device": device,
                     "cache_dir": str(cache_dir), "want_file": opts.out is not None}
                    for c, name in info["classes"] for s in plan.seeds]
        n = _slots(opts, len(requests))[0]
        workers += [make.remote(threads) for _ in range(n - 1)]
        records.save(record, None)              # the folder names its study from the start
        state = BatchProgress(total=len(requests), workers=len(workers))
        _dispatch(workers, requests, opts.task, lambda r, ref: _finish(record, r, ref, state, cache),
                  state, progress, cancel)
        record.finished = time.time()
        records.save(record, cache)
        return record
    finally:
        for w in workers:
            ray.kill(w)


def _get(ref):
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, UserError):
            raise exc.cause from None
        raise


def _dispatch(workers: list, requests: list[dict], task: Callable, finish: Callable, state: BatchProgress,
              progress: ProgressCallback | None, cancel: threading.Event | None) -> None:
    """Hand each image to an idle actor; Ray queues, places, restarts and retries."""
    idle, todo, pending = list(workers), deque(requests), {}
    while todo or pending:
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        while todo and idle:
            worker, request = idle.pop(), todo.popleft()
            pending[worker.call.remote(task, request)] = (request, worker)
        state.running = len(pending)
        if progress is not None:
            progress(state)
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
        for ref in ready:
            request, worker = pending.pop(ref)
            idle.append(worker)
            finish(request, ref)
    state.running = 0
    if progress is not None:
        progress(state)


def _finish(record: records.StudyRecord, request: dict, ref, state: BatchProgress, cache: ResultCache) -> None:
    """Record one finished image (and write its file); save the record."""
    entry = {"class_id": request["class_id"], "class_name": request["class_name"], "seed": request["seed"]}
    try:
        result = ray.get(ref)
    except (ray.exceptions.RayError, UserError) as exc:
        entry.update(status=records.FAILED, error=_error_line(exc))
        state.failed += 1
    else:
        report = result["report"]
        entry.update(status=records.DONE, key=result["key"], cache_hit=report["cache_hit"],
                     seconds=report["seconds"], report=report)
        if record.folder is not None:
            name = records.image_file_name(request["class_id"], request["class_name"], request["seed"])
            records.write_atomic(record.folder / name, result["file_bytes"])
            entry["file"] = name
        state.done += 1
        state.cached += int(report["cache_hit"])
        state.compute_seconds += 0.0 if report["cache_hit"] else report["seconds"]
    record.images.append(entry)
    record.images.sort(key=lambda im: (im["class_id"], im["seed"]))
    records.save(record, cache)
