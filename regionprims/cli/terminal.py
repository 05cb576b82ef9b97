"""What the command line writes to the terminal besides results: progress on stderr and the
metrics table (decompose and info print the same)."""
from __future__ import annotations

import sys
import time


class StderrProgress:
    """One line on stderr, rewritten in place on a terminal, every ~2% otherwise."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.start = time.perf_counter()
        self.last = -1.0

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.quiet:
            return
        frac = done / total if total else 1.0
        if not self.tty and frac - self.last < 0.02 and frac < 1.0:
            return
        self.last = frac
        elapsed = time.perf_counter() - self.start
        line = f"[{elapsed:6.1f}s] {100 * frac:5.1f}% {message}"
        sys.stderr.write(("\r" + line.ljust(100)) if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


def print_metrics(metrics: dict, absent: dict) -> None:
    """Each score beside the geometric null's (`null_` + key), then the absent ones with why."""
    from regionprims.method.metrics import format_metric
    from regionprims.validation import printable
    print(f"  {'metric':26} {'method':>10} {'null':>10}")
    for key, value in metrics.items():
        if not key.startswith("null_"):
            null = metrics.get("null_" + key)
            shown = format_metric(key, null) if null is not None else ""
            print(f"  {printable(key):26} {format_metric(key, value):>10} {shown:>10}")
    for key, why in absent.items():
        print(f"  {printable(key):26} {'absent':>10}  ({printable(why)})")
