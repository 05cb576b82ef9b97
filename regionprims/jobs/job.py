"""One background job: its state, progress, owners and the time it has left (no worker here).

A job carries its progress (done, total, message, the start of the current stage -> an estimate
of the time left), the tabs that asked for it (`owners`, each with its last heartbeat), a cancel
event, and its result or a one-line error. The states are plain strings (QUEUED ... CANCELLED).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from regionprims.method.decomposition import Decomposition


QUEUED, RUNNING, DONE, ERROR, CANCELLED = "queued", "running", "done", "error", "cancelled"
ACTIVE = (QUEUED, RUNNING)

# fn(progress_callback, cancel_event) -> (Decomposition, cache_hit)
JobFn = Callable[[Callable[[int, int, str], None], threading.Event], "tuple[Decomposition, bool]"]


@dataclass
class Job:
    key: str
    label: str
    fn: JobFn = field(repr=False)
    owners: set = field(default_factory=set)
    seen: dict = field(default_factory=dict, repr=False)    # owner -> last heartbeat (monotonic)
    watch: bool = False            # cancelled when no owner has sent a heartbeat for a while
    state: str = QUEUED
    done: int = 0
    total: int = 1
    message: str = "queued"
    submitted: float = field(default_factory=time.monotonic)
    started: Optional[float] = None
    finished: Optional[float] = None
    stage_started: Optional[float] = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    result: Optional[Decomposition] = field(default=None, repr=False)
    cache_hit: bool = False
    error: Optional[str] = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def fraction(self) -> float:
        if self.state == DONE:
            return 1.0
        return min(1.0, max(0.0, self.done / self.total)) if self.total > 0 else 0.0

    def elapsed(self, now: float | None = None) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or now or time.monotonic()) - self.started

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Time left in the current stage, extrapolated from its rate so far; None until the
        stage has run long enough (2% or 1 s) to say."""
        if self.state != RUNNING or self.stage_started is None:
            return None
        now = now or time.monotonic()
        spent = now - self.stage_started
        frac = self.fraction
        if frac < 0.02 or spent < 1.0:
            return None
        return spent * (1.0 - frac) / frac

    def watched(self, now: float, timeout: float) -> bool:
        """Whether some owner has looked at the job within `timeout` seconds (always, for a job
        submitted without `watch`)."""
        return not self.watch or any(now - self.seen.get(o, self.submitted) < timeout for o in self.owners)

    def _progress(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if total != self.total or done < self.done or self.stage_started is None:
            self.stage_started = now            # a new stage (baseline, optimisation, metrics)
        self.done, self.total, self.message = int(done), max(1, int(total)), str(message)
