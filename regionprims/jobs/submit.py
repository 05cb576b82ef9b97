"""What runs as a background job: a decomposition (through `pipeline.decompose`, cached on disk),
a released model's weights download, and a study on Ray; and finding a finished decomposition
without computing (`lookup`: memory, then the disk cache)."""
from __future__ import annotations

import logging
import threading

from regionprims.jobs.job import Job
from regionprims.jobs.worker import JobRegistry, registry, study_registry
from regionprims.method.decomposition import Decomposition

log = logging.getLogger(__name__)

_CACHES: dict[str, object] = {}
_CACHES_LOCK = threading.Lock()


def result_cache():
    """The ResultCache of the current cache folder (REGIONPRIMS_CACHE or cache/), one per folder;
    None when that folder cannot be used (the explorer then runs uncached and says why)."""
    from regionprims.store.cache import CacheUnavailable, ResultCache, default_cache_dir
    folder = str(default_cache_dir().resolve())
    with _CACHES_LOCK:
        if folder not in _CACHES:
            try:
                _CACHES[folder] = ResultCache(folder)
            except CacheUnavailable as exc:
                log.warning("%s; running without a cache", exc)
                _CACHES[folder] = None
        return _CACHES[folder]


def submit_decomposition(gen, spec, owner: str, reg: JobRegistry | None = None) -> Job:
    """Queue `pipeline.decompose(gen, spec)` (cached on disk) as a background job."""
    from regionprims.pipeline import decompose, decomposition_key
    key = decomposition_key(spec)
    cache = result_cache()

    def run(progress, cancel):
        return decompose(gen, spec, cache=cache, progress=progress, cancel=cancel)

    label = f"{spec.model} class {spec.class_id} seed {spec.seed} {spec.layout.name}"
    return (reg or registry()).submit(key, run, owner, label, watch=True)


def lookup(spec, reg: JobRegistry | None = None) -> tuple[Decomposition | None, str]:
    """A finished decomposition for `spec` without computing: from memory, else from the disk
    cache (a damaged entry counts as absent). Returns (decomposition or None, key)."""
    from regionprims.pipeline import checked_decomposition, decomposition_key
    reg = reg or registry()
    key = decomposition_key(spec)
    dec = reg.result(key)
    if dec is not None:
        return dec, key
    cache = result_cache()
    data = cache.get_bytes(key) if cache is not None else None
    if data is None:
        return None, key
    try:
        dec = checked_decomposition(data, spec)
    except Exception:   # noqa: BLE001 - unreadable entries are recomputed, never served
        cache.delete(key)
        return None, key
    reg.remember(key, dec)
    return dec, key


def download_key(model: str) -> str:
    return f"download/{model}"


def submit_download(model: str, owner: str, reg: JobRegistry | None = None) -> Job:
    """Get a released model's weights in the background (registry.fetch_weights), with progress
    in bytes and cancel, on the same worker as the decompositions (one network/GPU job at a time)."""
    from regionprims.models.registry import fetch_weights

    def run(progress, cancel):
        fetch_weights(model, progress, cancel)
        return None, False

    return (reg or registry()).submit(download_key(model), run, owner, f"download {model} weights")


def submit_study(plan, owner: str, reg: JobRegistry | None = None) -> Job:
    """Queue `regionprims batch` of a study plan (local Ray, the current cache folder) as a
    background job; its result is the StudyRecord. Cancelling stops the study after the images
    in flight (what finished stays cached)."""
    from regionprims.study import runner
    key = "study/" + plan.study_id()
    cache_dir = result_cache().directory

    def run(progress, cancel):
        runner.connect()
        opts = runner.BatchOptions(cache_dir=cache_dir)
        record = runner.run_batch(plan, opts, lambda s: progress(s.finished, s.total, s.message()), cancel)
        return record, False

    label = f"study {plan.model} {len(plan.classes)} classes x {len(plan.seeds)} seeds"
    return (reg or study_registry()).submit(key, run, owner, label)
