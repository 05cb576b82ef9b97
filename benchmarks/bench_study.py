"""A study as a user runs it: `regionprims batch ... --out DIR --json` in a fresh process with an
empty cache, then the same command again (everything cached); prints the machine and its load,
the wall time of each run against the sum of the per-image engine times divided by the workers
(docs/design.md §7: N images on k workers take about N/k single decompositions plus start-up), and the
study's transfer and consistency tables (report.md).

usage: python benchmarks/bench_study.py --classes all --seeds 0-4 [--out DIR] [-- extra batch flags]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def batch(argv: list[str], cache: str) -> tuple[float, dict]:
    env = {**os.environ, "REGIONPRIMS_CACHE": cache}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "regionprims", "batch", *argv, "--json", "--quiet"],
                         capture_output=True, text=True, env=env)
    if out.returncode not in (0, 1):
        sys.exit(out.stderr)
    return time.perf_counter() - t, json.loads(out.stdout)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="demo")
    p.add_argument("--classes", default="all")
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--layout", default="3x3")
    p.add_argument("--out", default=None)
    p.add_argument("extra", nargs="*", help="more `batch` flags (after --)")
    args = p.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="study-"))
    argv = ["--model", args.model, "--classes", args.classes, "--seeds", args.seeds, "--layout", args.layout,
            "--out", str(out), *args.extra]
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as cache:
        wall, summary = batch(argv, cache)
        wall2, again = batch(argv, cache)
    load1 = os.getloadavg()
    record = json.loads((out / "study.json").read_text())
    engine = sum(im.get("seconds", 0.0) for im in record["images"] if im["status"] == "done")
    workers = min(os.cpu_count() or 1, len(record["images"]))
    print(f"machine: {os.cpu_count()} CPUs, load average {load0[0]:.1f} before, {load1[0]:.1f} after "
          "(other jobs were running)")
    print(f"command: regionprims batch {' '.join(argv)}")
    print(f"images {summary['images']}, done {summary['done']}, failed {summary['failed']}, workers {workers}")
    print(f"first run: {wall:.1f} s wall; engine time summed over images {engine:.1f} s; "
          f"sum / workers {engine / workers:.1f} s; wall / (sum / workers) = {wall / (engine / workers):.2f}")
    print(f"second run: {wall2:.1f} s wall, {again['cached']}/{again['images']} cached "
          f"(first / second = {wall / wall2:.1f}x)")
    print()
    print((out / "report.md").read_text())


if __name__ == "__main__":
    main()
