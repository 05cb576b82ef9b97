"""benchmarks/bench_refine.py runs against today's library (it once unpacked a baseline that had
become a dataclass and nobody noticed until the next measurement): one small image, every kind of
schedule, and the figures it prints mean what docs/benchmarks.md says."""
import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

from regionprims.models.registry import load_generator

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("bench_refine", ROOT / "benchmarks" / "bench_refine.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_the_schedules_are_parsed_with_the_reference_first(bench):
    runs = bench.schedules("skip,cap3,tol0.01,full")
    assert list(runs) == ["full", "skip", "cap3", "tol0.01"]
    assert runs["cap3"] == {"refine": "skip", "max_order": 3}
    assert runs["tol0.01"] == {"refine": "skip", "noise": 0.01}
    with pytest.raises(SystemExit, match="unknown schedule"):
        bench.schedules("skip,capx")


def test_the_benchmark_measures_a_small_image(bench):
    from regionprims.method import minimal
    gen = load_generator("demo", "cpu")
    args = argparse.Namespace(split=None, layout="2x2", mask="spatial", cache=None,
                              runs=bench.schedules("full,skip,cap2,tol0.5"))
    out = bench.measure(gen, 1, 7, args)
    assert minimal.NOISE == bench.NOISE                         # the tolerance experiment is undone
    n, warm, steps = 4, 60, 10                                  # 2x2 at the default settings
    assert out["full"]["tail_passes"] == n * warm + 11 * steps and out["full"]["change"] == 0.0
    assert out["skip"]["change"] <= 1e-5                        # the exact skip
    stepped = out["skip"]["stepped"]
    assert out["skip"]["tail_passes"] == n * warm + 11 + stepped * (steps - 1)
    assert out["cap2"]["stepped"] <= 6 and set(out["cap2"]["moving_by_order"]) == {"2"}
    assert out["tol0.5"]["stepped"] <= stepped
