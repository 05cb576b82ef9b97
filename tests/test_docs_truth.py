"""Numbers and names the docs state that the code or the measurements determine (issue 9, part 4):
each test reads the doc and checks it against the source of truth, so a doc that drifts fails."""
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_method_doc_names_bigGAN_default_split():
    from regionprims.models import biggan
    split = biggan.architecture_info("biggan-deep-128")["default_split"]
    text = (ROOT / "docs" / "method.md").read_text()
    named = re.search(r"\(`(generator\.layers\.\d+)` for BigGAN-deep", text)
    assert named and named.group(1) == split          # the doc used to say layers.4; the code uses layers.3


def test_readme_bigGAN_cpu_cost_matches_the_measurement():
    bench = (ROOT / "docs" / "benchmarks.md").read_text()
    split = "generator.layers.3"
    measured = float(re.search(re.escape(split) + r"\s+feature \([^)]*\): ([\d.]+) s per sample", bench).group(1))
    readme = (ROOT / "README.md").read_text()
    low, high = (float(v) for v in re.search(r"tail costs about ([\d.]+)[–-]([\d.]+) s per sample", readme).groups())
    assert low <= measured <= high                      # the README said 1–2 s against 0.3 s measured


def test_equal_loss_step_counts_updates():
    steps_to_reach = _bench("bench_minimal").steps_to_reach
    # the trace holds the loss before each update: [start, after 1, after 2, ...]
    assert steps_to_reach([5.0, 3.0, 2.0, 1.0], 2.0) == 2   # the old code said 3
    assert steps_to_reach([1.0, 0.5], 2.0) == 0
    assert steps_to_reach([5.0, 4.0], 1.0) is None


def test_trace_holds_the_loss_before_each_update(tiny_gen):
    import torch
    from regionprims.method.minimal import optimize_minimal_features
    from regionprims.method.regions import parse_layout, player_masks, subset_matrix
    from regionprims.method.specs import OptimSettings
    from regionprims.pipeline import image_and_feature, make_spec
    settings = OptimSettings(steps=3, warm_steps=0, baseline_codes=2, tie="none", lam=0.0, mu=0.0)
    spec = make_spec(tiny_gen, 1, 1, layout="2x2", settings=settings)
    _, f, x, ctx = image_and_feature(tiny_gen, spec)
    f0 = torch.zeros_like(f)
    masks = player_masks(parse_layout("2x2"), 12, 12)
    rows = subset_matrix(4)[[0, 15]]
    trace: list[float] = []
    _, _, info0 = optimize_minimal_features(tiny_gen, ctx, f, f0, x, masks, rows, settings, trace=trace)
    _, _, info_none = optimize_minimal_features(tiny_gen, ctx, f, f0, x, masks, rows,
                                                OptimSettings(steps=1, warm_steps=0, baseline_codes=2, tie="none",
                                                              lam=0.0, mu=0.0, lr=1e-12))
    assert len(trace) == 3
    assert trace[0] == pytest.approx(info_none["minimised_mean"], rel=1e-4)    # the start's loss


@pytest.mark.parametrize("where", ["minimal", "specs", "bench_minimal"])
def test_docstrings_describe_the_current_method(where):
    from regionprims.method import minimal, specs
    doc = {"minimal": minimal.__doc__, "specs": inspect.getdoc(specs.OptimSettings),
           "bench_minimal": _bench("bench_minimal").__doc__}[where]
    assert "monotone" in doc                              # the default tie between subsets
    assert "mean over the pixels of M_S" not in doc and "mean over pixels of M_S" not in doc   # the old loss
    assert "leaves the batch once its loss stops improving (defaults)" not in doc            # old early stop
    assert "region" in doc
