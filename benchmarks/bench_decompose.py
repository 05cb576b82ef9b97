"""The demo decomposition as a user runs it: `regionprims decompose --model demo ... --json` in a
fresh process with an empty cache (computed), then the same command again (served from the
cache), repeated; prints the wall time of each process, the engine's own `seconds`, where the
time goes, and the cached/computed ratio side by side.

usage: python benchmarks/bench_decompose.py --class face --seed 3 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(args: list[str], cache: str) -> tuple[float, dict]:
    env = {**os.environ, "REGIONPRIMS_CACHE": cache}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "regionprims", *args], capture_output=True, text=True, env=env,
                         check=True)
    return time.perf_counter() - t, json.loads(out.stdout)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--class", dest="class_", default="face")
    p.add_argument("--seed", default="3")
    p.add_argument("--layout", default="3x3")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    cmd = ["decompose", "--model", "demo", "--class", a.class_, "--seed", a.seed, "--layout", a.layout, "--json"]
    computed, cached, engine, engine_cached, stages = [], [], [], [], []
    for _ in range(a.repeats):
        with tempfile.TemporaryDirectory() as cache:
            wall, rep = run(cmd, cache)
            assert not rep["cache_hit"]
            computed.append(wall)
            engine.append(rep["seconds"])
            wall, rep2 = run(cmd, cache)
            assert rep2["cache_hit"]
            cached.append(wall)
            engine_cached.append(rep2["seconds"])
            out = os.path.join(cache, "d.safetensors")
            subprocess.run([sys.executable, "-m", "regionprims", *cmd, "--out", out], capture_output=True,
                           env={**os.environ, "REGIONPRIMS_CACHE": cache}, check=True)
            info = json.loads(subprocess.run([sys.executable, "-m", "regionprims", "info", out, "--json"],
                                             capture_output=True, text=True, check=True).stdout)["info"]
            stages.append(info["timings"])
    print(f"command: regionprims {' '.join(cmd)}   ({a.repeats} repeats, median [min, max])")
    for name, xs in [("computed, whole process (s)", computed), ("computed, engine 'seconds'", engine),
                     ("cached, whole process (s)", cached), ("cached, engine 'seconds'", engine_cached)]:
        print(f"{name:32} {statistics.median(xs):7.3f}  [{min(xs):.3f}, {max(xs):.3f}]")
    print(f"{'cached / computed (engine)':32} {statistics.median(engine_cached) / statistics.median(engine):7.4f}")
    keys = stages[0].keys()
    print("where the time goes (engine, median s): " +
          ", ".join(f"{k} {statistics.median(s[k] for s in stages):.2f}" for k in keys))


if __name__ == "__main__":
    main()
