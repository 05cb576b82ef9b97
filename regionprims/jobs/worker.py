"""The job registry: a queue with ONE worker thread per registry, its bounds, and the results
it keeps in memory; the process-wide registries by name (no Streamlit in here).

One generator job at a time per registry (docs/architecture.md). Jobs are keyed (for a decomposition by
`pipeline.decomposition_key(spec)`), so the same request from two browser tabs is one job: the
second tab joins the first one's job and sees its progress. Finished results also stay in a
small in-memory LRU, so a finished result opens at once. Cancelling is per watcher: the job
stops only when every tab that asked for it has cancelled.

Bounds (docs/reliability.md: a URL must not be able to tie the explorer up): at most MAX_ACTIVE jobs queued
or running (more is refused with a one-line `Busy`); a watched job none of whose owners has
looked at it (`heartbeat`) for WATCH_SECONDS is cancelled (downloads and studies run on);
finished job records are dropped after KEEP_RECORD_SECONDS; results kept in memory are bounded
by their bytes, not their count. A job whose cancel flag is set is never joined: a new request
for its key gets a fresh job.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict

from regionprims.budgets import budget_bytes
from regionprims.errors import UserError
from regionprims.jobs.job import CANCELLED, DONE, ERROR, QUEUED, RUNNING, Job, JobFn
from regionprims.method.decomposition import Decomposition
from regionprims.progress import Cancelled

log = logging.getLogger(__name__)

MAX_ACTIVE = 4                       # queued + running jobs per process
WATCH_SECONDS = 60.0                 # a job nobody polled for this long is cancelled
KEEP_RECORD_SECONDS = 600.0          # finished job records are dropped after this
RESULT_MB = 256                      # in-memory results (the disk cache keeps everything);
                                     # REGIONPRIMS_JOB_RESULTS_MB overrides it


def result_budget() -> int:
    """Bytes of finished results a registry keeps in memory: REGIONPRIMS_JOB_RESULTS_MB (MB), else
    RESULT_MB. A result dropped from memory is read again from the disk cache when asked for."""
    return budget_bytes("REGIONPRIMS_JOB_RESULTS_MB", RESULT_MB)


RESULT_BYTES = RESULT_MB << 20


class Busy(UserError):
    """The job queue is full."""


class JobRegistry:
    """Process-wide jobs, one worker thread. Thread-safe; never touches a UI."""

    def __init__(self, result_bytes: int = RESULT_BYTES, max_active: int = MAX_ACTIVE,
                 watch_seconds: float = WATCH_SECONDS, keep_record_seconds: float = KEEP_RECORD_SECONDS):
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._results: "OrderedDict[str, Decomposition]" = OrderedDict()
        self._result_bytes = result_bytes
        self.max_active, self.watch_seconds, self.keep_record_seconds = max_active, watch_seconds, keep_record_seconds
        self._queue: "queue.Queue[Job | None]" = queue.Queue()
        self._worker: threading.Thread | None = None
        self.runs = 0                   # how many job functions actually ran (for tests)

    # -- queries -------------------------------------------------------------------------
    def get(self, key: str) -> Job | None:
        with self._lock:
            self._tidy(time.monotonic())
            return self._jobs.get(key)

    def result(self, key: str) -> Decomposition | None:
        """A finished decomposition held in memory (most recently used first to survive)."""
        with self._lock:
            dec = self._results.get(key)
            if dec is not None:
                self._results.move_to_end(key)
            return dec

    def remember(self, key: str, dec: Decomposition) -> None:
        """Keep a result in memory; the least recently used go once the total passes the bound
        (the disk cache still has them). A result larger than the bound is not kept."""
        with self._lock:
            self._results[key] = dec
            self._results.move_to_end(key)
            while self._results and sum(map(result_nbytes, self._results.values())) > self._result_bytes:
                old, _ = self._results.popitem(last=False)
                job = self._jobs.get(old)
                if job is not None and not job.active:
                    job.result = None
                    del self._jobs[old]

    def heartbeat(self, key: str, owner: str) -> None:
        """`owner` is still looking at the job for `key` (the explorer calls this on every run)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and owner in job.owners:
                job.seen[owner] = time.monotonic()

    def _tidy(self, now: float) -> None:
        """Cancel jobs nobody watches; drop old finished records (lock held)."""
        for key, job in list(self._jobs.items()):
            if job.active and not job.cancel.is_set() and not job.watched(now, self.watch_seconds):
                self._cancel(job, now)
            elif not job.active and job.finished is not None and now - job.finished > self.keep_record_seconds:
                del self._jobs[key]

    # -- commands ------------------------------------------------------------------------
    def submit(self, key: str, fn: JobFn, owner: str, label: str = "", watch: bool = False) -> Job:
        """Start (or join) the job for `key`. A finished job with a result is returned as is;
        a failed or cancelled one (or one told to stop) is replaced by a fresh job. With `watch`,
        the job is cancelled once no owner has called `heartbeat` for watch_seconds. Raises Busy
        when MAX_ACTIVE jobs are already queued or running."""
        now = time.monotonic()
        with self._lock:
            self._tidy(now)
            job = self._jobs.get(key)
            if job is not None and not job.cancel.is_set() and (
                    job.active or (job.state == DONE and job.result is not None)):
                job.owners.add(owner)
                job.seen[owner] = now
                return job
            active = sum(1 for j in self._jobs.values() if j.active and not j.cancel.is_set())
            if active >= self.max_active:
                raise Busy(f"the explorer is busy ({active} decompositions queued or running); "
                           "try again when one has finished")
            job = Job(key=key, label=label or key, fn=fn, owners={owner}, seen={owner: now}, watch=watch)
            self._jobs[key] = job
            self._ensure_worker()
        self._queue.put(job)
        return job

    def cancel(self, key: str, owner: str) -> bool:
        """Withdraw `owner` from the job; the job stops once nobody waits for it. True when the
        job was told to stop."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or not job.active:
                return False
            job.owners.discard(owner)
            if job.owners:
                return False
            self._cancel(job, time.monotonic())
            return True

    @staticmethod
    def _cancel(job: Job, now: float) -> None:
        job.cancel.set()
        if job.state == QUEUED:
            job.state, job.message, job.finished = CANCELLED, "cancelled", now

    # -- worker --------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._loop, name="regionprims-jobs", daemon=True)
            self._worker.start()

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.state != QUEUED or job.cancel.is_set() or not job.watched(time.monotonic(), self.watch_seconds):
                if job.state == QUEUED:
                    job.state, job.message, job.finished = CANCELLED, "cancelled", time.monotonic()
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        job.state, job.started, job.message = RUNNING, time.monotonic(), "starting"
        self.runs += 1

        def progress(done: int, total: int, message: str) -> None:
            job._progress(done, total, message)
            if not job.watched(time.monotonic(), self.watch_seconds):
                job.cancel.set()                # nobody looks any more: stop at the next check

        try:
            dec, hit = job.fn(progress, job.cancel)
        except Cancelled:
            job.state, job.message = CANCELLED, "cancelled"
        except UserError as exc:
            job.state, job.error = ERROR, str(exc)
        except Exception as exc:  # noqa: BLE001 - shown as one line; the traceback goes to the log
            log.exception("decomposition job %s failed", job.key)
            job.state, job.error = ERROR, f"internal error ({type(exc).__name__}): {exc}"
        else:
            job.result, job.cache_hit = dec, hit
            job.done = job.total
            job.state, job.message = DONE, "done"
            if isinstance(dec, Decomposition):  # a download or study job has none
                self.remember(job.key, dec)
        finally:
            job.finished = time.monotonic()

    def wait(self, key: str, timeout: float = 60.0) -> Job | None:
        """Block until the job for `key` is no longer active (tests and scripts)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            job = self.get(key)
            if job is None or not job.active:
                return job
            time.sleep(0.02)
        return self.get(key)

    def shutdown(self) -> None:
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
            worker = self._worker
        self._queue.put(None)
        if worker is not None:
            worker.join(timeout=30)


def result_nbytes(dec: Decomposition) -> int:
    """Bytes of a decomposition's tensors (what holding it in memory costs)."""
    return sum(t.numel() * t.element_size() for t in (dec.z, dec.image, dec.feature, dec.baseline, dec.subsets,
                                                        dec.minimal, dec.components, dec.residual,
                                                        dec.player_masks, dec.fit_loss))


_REGISTRIES: dict[str, JobRegistry] = {}
_REGISTRY_LOCK = threading.Lock()


def _named_registry(name: str) -> JobRegistry:
    """The process-wide registry called `name`, created on first use; each has its own worker."""
    with _REGISTRY_LOCK:
        if name not in _REGISTRIES:
            _REGISTRIES[name] = JobRegistry(result_bytes=result_budget())
        return _REGISTRIES[name]


def registry() -> JobRegistry:
    """The process-wide registry of decompositions and downloads."""
    return _named_registry("decompositions")


def study_registry() -> JobRegistry:
    """The process-wide registry of studies: its own worker thread, so that a study (whose work
    runs in Ray's processes) never holds up a single decomposition."""
    return _named_registry("studies")


def reset_registry() -> None:
    """Stop the workers and forget every job and result (tests)."""
    with _REGISTRY_LOCK:
        olds = list(_REGISTRIES.values())
        _REGISTRIES.clear()
    for old in olds:
        old.shutdown()
