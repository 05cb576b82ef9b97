"""Benchmark of the OR subset transform (regionprims.interactions) against the literal definitions.

Plain script, not a test. Prints one table per trailing size: the fast O(n·2^n) transforms
(OR interactions, chunked OR interactions, reconstruction), the literal O(3^n) double loop of
paper eq. (2), the lab code's dense-matrix form (build the 2^n x 2^n matrix of get_reward2Ior_mat,
then one matmul), and the literal O(4^n) reconstruction of eq. (4), with the speed-ups measured
side by side in this run. Baselines run only while their estimated time fits the budget
(--budget seconds in all); the rest are printed as "skipped (est. ...)" with the estimate
extrapolated from the largest measured n. Fast paths: best of --repeats calls after a warm-up;
baselines: one call (best of 3 when a call takes under 0.5 s). Peak extra memory is measured in
child processes (VmHWM of /proc/self/status), beyond the input and the returned output.

    .venv/bin/python benchmarks/bench_transform.py            # n = 8..14, 6912 floats, + 512 x 262144
    .venv/bin/python benchmarks/bench_transform.py --quick    # n = 8..10, small budget
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))     # the literal definitions (oracles)

from oracles import submasks, or_interactions_bruteforce, reconstruct_from_or_bruteforce  # noqa: E402

from regionprims.method.interactions import or_interactions, reconstruct_from_or  # noqa: E402

BLOCK_BYTES = 4 << 20     # chunked path: working block of about 4 MiB


def chunk_for(n: int, itemsize: int = 4) -> int:
    return max(1, BLOCK_BYTES // ((1 << n) * itemsize))


CLOCK = time.perf_counter   # --clock cpu: time.process_time with one torch thread


def timeit(fn, repeats: int) -> float:
    """Best time of `repeats` calls after one warm-up call (robust to other load)."""
    fn()
    times = []
    for _ in range(repeats):
        t = CLOCK()
        fn()
        times.append(CLOCK() - t)
    return min(times)


def once(fn) -> float:
    t = CLOCK()
    fn()
    return CLOCK() - t


def dense_or_matrix(n: int, dtype=torch.float32) -> torch.Tensor:
    """The lab code's form (get_reward2Ior_mat): I = M @ u with M[S, N\\L] = -(-1)^{|S|-|L|}."""
    full = (1 << n) - 1
    m = torch.zeros(1 << n, 1 << n, dtype=dtype)
    m[0, 0] = 1.0
    for s in range(1, full + 1):
        for l in submasks(s):
            m[s, full ^ l] = -1.0 if (s ^ l).bit_count() % 2 == 0 else 1.0
    return m


def dense_or(u: torch.Tensor) -> torch.Tensor:
    n = u.shape[0].bit_length() - 1
    return (dense_or_matrix(n, u.dtype) @ u.reshape(u.shape[0], -1)).reshape(u.shape)


def fmt_t(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


class Baseline:
    """A slow reference whose time is extrapolated from the last measured n (cost ~ base^n · D)."""

    def __init__(self, name: str, fn, base: float):
        self.name, self.fn, self.base = name, fn, base
        self.last: tuple[int, int, float] | None = None    # (n, trailing, seconds)

    def estimate(self, n: int, d: int) -> float | None:
        if self.last is None:
            return None
        n0, d0, t0 = self.last
        return t0 * self.base ** (n - n0) * d / d0

    def run(self, u: torch.Tensor, n: int, d: int, budget: list[float]) -> tuple[float | None, str]:
        est = self.estimate(n, d)
        if est is None and budget[0] <= 0:
            return None, "skipped (budget spent)"
        if est is not None and est > budget[0]:
            return None, f"skipped (est. {fmt_t(est)})"
        t = once(lambda: self.fn(u))
        budget[0] -= t
        if t < 0.5:                                  # cheap: best of 3, like the fast path
            extra = [once(lambda: self.fn(u)) for _ in range(2)]
            budget[0] -= sum(extra)
            t = min([t] + extra)
        self.last = (n, d, t)
        return t, fmt_t(t)


def mem_child(kind: str, n: int, d: int, chunk: int | None) -> None:
    """Child process: print the peak extra bytes of one call beyond input and output."""
    def hwm() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM")
    fn = {"or": or_interactions, "recon": reconstruct_from_or}[kind]
    for c in (None, 2):                                     # load torch's kernels (code pages) first
        fn(torch.randn(8, 2, 3), chunk_elems=c)
    u = torch.randn(1 << n, d)
    h0 = hwm()
    out = fn(u, chunk_elems=chunk)
    h1 = hwm()
    print(json.dumps({"extra": h1 - h0 - out.numel() * out.element_size(),
                      "tensor": u.numel() * u.element_size()}))


def measure_mem(kind: str, n: int, d: int, chunk: int | None) -> dict:
    args = [sys.executable, __file__, "--mem-child", kind, str(n), str(d), str(chunk or 0)]
    res = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def table(ns: list[int], d: int, repeats: int, budget: list[float],
          baselines: tuple[Baseline, Baseline, Baseline]) -> dict[int, float]:
    print(f"\n### trailing size {d} floats (float32), subsets stacked in dim 0\n")
    head = ["n", "2^n", "fast OR", "chunked OR", "recon", "literal loop eq.(2)", "speed-up",
            "dense matrix (lab code)", "speed-up", "literal recon eq.(4)", "speed-up"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    loop, dense, rloop = baselines
    fast_times = {}
    for n in ns:
        u = torch.randn(1 << n, d, generator=torch.Generator().manual_seed(n))
        t_or = timeit(lambda u=u: or_interactions(u), repeats)
        c = chunk_for(n)
        t_ch = timeit(lambda u=u: or_interactions(u, chunk_elems=c), repeats)
        I = or_interactions(u)
        t_rec = timeit(lambda I=I: reconstruct_from_or(I), repeats)
        err = (reconstruct_from_or(I) - u).abs().max().item()
        assert err < 1e-3 * u.abs().max().item() * n, err
        fast_times[n] = t_or
        cells = [str(n), str(1 << n), fmt_t(t_or), f"{fmt_t(t_ch)} (c={c})", fmt_t(t_rec)]
        for base, ref in ((loop, t_or), (dense, t_or), (rloop, t_rec)):
            t, text = base.run(u if base is not rloop else I, n, d, budget)
            est = base.estimate(n, d) if t is None else t
            ratio = f"{est / ref:.0f}x" if t is not None else (f"~{est / ref:.0f}x (est.)" if est else "-")
            cells += [text, ratio]
        print("| " + " | ".join(cells) + " |", flush=True)
        del u, I
    return fast_times


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-min", type=int, default=8)
    ap.add_argument("--n-max", type=int, default=14)
    ap.add_argument("--trailing", type=int, default=6912, help="floats per subset (6912 = demo feature)")
    ap.add_argument("--large", type=int, default=262144, help="second, large trailing size at n=9 (0: none)")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds for all literal baselines together")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="n = 8..10, budget 5 s, no large case")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall: perf_counter with torch's default threads; cpu: process CPU time with "
                         "one torch thread (less sensitive to other jobs on a shared machine)")
    ap.add_argument("--mem-child", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.mem_child:
        kind, n, d, chunk = a.mem_child
        mem_child(kind, int(n), int(d), int(chunk) or None)
        return
    if a.quick:
        a.n_max, a.budget, a.large = min(a.n_max, 10), 5.0, 0
    if a.clock == "cpu":
        global CLOCK
        CLOCK = time.process_time
        torch.set_num_threads(1)

    print("## Subset transform benchmark")
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, "
          f"{torch.get_num_threads()} torch threads, clock: {a.clock}, "
          f"torch {torch.__version__}, Python {platform.python_version()}")
    print("load average at start (1/5/15 min): %.2f %.2f %.2f" % os.getloadavg())
    print("command: " + " ".join([".venv/bin/python", "benchmarks/bench_transform.py"] + sys.argv[1:]))
    budget = [a.budget]
    t0 = time.perf_counter()
    # literal baselines; their estimates carry over between tables (cost ~ base^n x trailing size)
    baselines = (Baseline("loop", or_interactions_bruteforce, 3.0), Baseline("dense", dense_or, 4.0),
                 Baseline("rloop", reconstruct_from_or_bruteforce, 4.0))
    fast = table(list(range(a.n_min, a.n_max + 1)), a.trailing, a.repeats, budget, baselines)
    if a.large:
        table([9], a.large, a.repeats, budget, baselines)

    print("\n### peak extra memory beyond input and output (child processes, VmHWM)\n")
    print("| case | tensor size | chunk_elems | stated bound | OR: measured extra | recon: measured extra |")
    print("|---|---|---|---|---|---|")
    cases = [(12, a.trailing), (a.n_max, a.trailing)] + ([(9, a.large)] if a.large else [])
    for n, d in cases:
        for chunk in (None, chunk_for(n)):
            m_or = measure_mem("or", n, d, chunk)
            m_rec = measure_mem("recon", n, d, chunk)
            bound = (1 << n) * (chunk * 4 + 8) + chunk * 4 if chunk else d * 4   # block + index + row
            mib = 1 << 20
            print(f"| n={n}, {d} floats | {m_or['tensor'] / mib:.0f} MiB | {chunk or 'None'} | "
                  f"{bound / mib:.2f} MiB | {m_or['extra'] / mib:.2f} MiB | {m_rec['extra'] / mib:.2f} MiB |",
                  flush=True)

    if 12 in fast:
        ok = fast[12] < 0.5
        print(f"\ncheck: n=12, {a.trailing} floats, fast OR transform {fmt_t(fast[12])} "
              f"({'PASS' if ok else 'FAIL'}: target well under 1 s, i.e. < 0.5 s)")
    print("load average at end (1/5/15 min): %.2f %.2f %.2f" % os.getloadavg())
    print(f"baseline budget left: {budget[0]:.1f} s; total wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
