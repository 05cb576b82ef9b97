"""Progress reporting and cancellation, shared by the engine, the CLI and the explorer.
The engine calls `report(done, total, message)`; it never prints and never imports a UI."""
from __future__ import annotations

import threading
from typing import Callable, Optional

ProgressFn = Callable[[int, int, str], None]


class Cancelled(RuntimeError):
    """Raised inside the engine when the caller's cancel event is set."""


class Reporter:
    """Adapts an optional callback and an optional cancel event; checks cancel on every report."""

    def __init__(self, callback: Optional[ProgressFn] = None, cancel: Optional[threading.Event] = None):
        self.callback = callback
        self.cancel = cancel

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")
        if self.callback is not None:
            self.callback(done, total, message)

    def stage(self, lo: float, hi: float) -> "Reporter":
        """A reporter for one stage that maps its own (done, total) onto [lo, hi] of the whole
        job (in thousandths), so the overall fraction only grows and a time-left estimate holds."""
        parent = self

        def mapped(done: int, total: int, message: str) -> None:
            frac = lo + (hi - lo) * (min(1.0, done / total) if total else 1.0)   # never past the stage
            if parent.callback is not None:
                parent.callback(int(round(1000 * frac)), 1000, message)

        return Reporter(mapped, self.cancel)
