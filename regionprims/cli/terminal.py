"""What the command line writes to the terminal besides results: progress on stderr and the
metrics table (decompose and info print the same)."""
from __future__ import annotations

import sys
import time


class StderrProgress:
    """One line on stderr, rewritten in place on a terminal; otherwise every ~2 %, and at least
    every HEARTBEAT_S seconds while the bar holds (a baseline past its estimated code count)."""

    HEARTBEAT_S = 30.0

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.start = time.perf_counter()
        self.last = -1.0
        self.last_time = self.start

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.quiet:
            return
        frac = done / total if total else 1.0
        now = time.perf_counter()
        if not self.tty and frac - self.last < 0.02 and frac < 1.0 and now - self.last_time < self.HEARTBEAT_S:
            return
        self.last, self.last_time = frac, now
        elapsed = now - self.start
        line = f"[{elapsed:6.1f}s] {100 * frac:5.1f}% {message}"
        sys.stderr.write(("\r" + line.ljust(100)) if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


def print_metrics(metrics: dict, absent: dict, by_construction: dict | None = None) -> None:
    """The beyond-geometry verdict and figures first, then each score beside the tight and the
    budget-matched null's (a null's score it gets by construction marked `*`, with why below),
    then the absent scores with why."""
    from regionprims.method.beyond import HEADLINE, verdict
    from regionprims.method.metrics import format_metric
    from regionprims.method.null import BUDGET_PREFIX, NULL_PREFIX
    from regionprims.validation import printable
    made = by_construction or {}
    print(f"  beyond geometry: {verdict(metrics)}")
    for key in HEADLINE:
        if key in metrics:
            print(f"  {key:32} {format_metric(key, metrics[key]):>10}")
    print(f"  {'metric':32} {'method':>10} {'null':>12} {'null budget':>12}")
    for key, value in metrics.items():
        if key.startswith((NULL_PREFIX, BUDGET_PREFIX)) or key in HEADLINE:
            continue
        nulls = []
        for prefix in (NULL_PREFIX, BUDGET_PREFIX):
            v = metrics.get(prefix + key)
            text = "absent " if prefix + key in absent else "" if v is None else format_metric(key, v)
            nulls.append(text + ("*" if prefix + key in made else " ") if v is not None else text)
        print(f"  {printable(key):32} {format_metric(key, value):>10} {nulls[0]:>12} {nulls[1]:>12}")
    for key, why in made.items():
        print(f"  * {printable(key)}: {printable(why)}")
    for key, why in absent.items():
        print(f"  absent {printable(key)}: {printable(why)}")
