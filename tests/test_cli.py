"""The command line, in process, on the tiny generator: JSON on stdout, progress on stderr,
bad input -> exit 2 with one line that names the problem and no traceback."""
import json

import pytest

from regionprims import cli


@pytest.fixture
def use_tiny(monkeypatch, tiny_gen):
    import regionprims.models.registry as registry
    monkeypatch.setattr(registry, "load_generator", lambda name="demo", device=None: tiny_gen)
    return tiny_gen


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_decompose_json_and_file(use_tiny, capsys, tmp_path):
    out_file = tmp_path / "d.safetensors"
    code, out, err = run(capsys, "decompose", "--class", "one", "--seed", "1", "--layout", "2x2", "--steps", "3",
                         "--baseline-codes", "4", "--json", "--out", str(out_file))
    assert code == 0, err
    report = json.loads(out)
    assert report["class_id"] == 1 and report["n_subsets"] == 16 and report["cache_hit"] is False
    assert set(report["metrics"]) >= {"residual_ratio", "fit_psnr", "fit_error_mean", "leakage_top20",
                                      "null_residual_ratio", "null_fit_psnr", "null_leakage_top20",
                                      "beyond_strength", "beyond_top10", "joint_need", "beyond_buildup_db",
                                      "baseline_change", "budget_null_leakage_top20"}
    assert "additivity_error_top20" not in report["metrics"]      # 15 components: undefined, absent
    assert report["baseline_codes"] >= 4 and "null_fit_psnr" in report["by_construction"]
    assert "%" in err                                   # progress went to stderr
    assert out_file.exists()
    code, out, _ = run(capsys, "decompose", "--class", "1", "--seed", "1", "--layout", "2x2", "--steps", "3",
                       "--baseline-codes", "4", "--json")
    assert json.loads(out)["cache_hit"] is True
    code, out, _ = run(capsys, "info", str(out_file), "--verify")
    assert code == 0 and "residual_ratio" in out and "beyond geometry: " in out and "beyond_top10" in out


@pytest.mark.parametrize("argv, needle", [
    (["decompose", "--class", "1", "--seed", "-3"], "seed"),
    (["decompose", "--class", "99", "--seed", "1"], "class"),
    (["decompose", "--class", "1", "--seed", "1", "--truncation", "0"], "truncation"),
    (["decompose", "--class", "1", "--seed", "1", "--split", "layers.99"], "split"),
    (["decompose", "--class", "1", "--seed", "1", "--layout", "4x4"], "players"),
    (["decompose", "--class", "1", "--seed", "1", "--players", "a,b"], "players"),
    (["decompose", "--seed", "1"], "--class"),
    (["info", "/nonexistent.safetensors"], "no such file"),
])
def test_bad_input(use_tiny, capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err
    assert "Traceback" not in err


def test_sample_png(use_tiny, capsys, tmp_path):
    from PIL import Image
    out = tmp_path / "x.png"
    code, _, err = run(capsys, "sample", "--class", "2", "--seed", "3", "--out", str(out), "--scale", "4")
    assert code == 0, err
    assert Image.open(out).size == (48, 48)


def test_transfer_prints_chance_null_and_cross_class_control(use_tiny, capsys, tmp_path):
    files = {}
    for name, class_, seed in (("a", "1", "1"), ("b", "1", "2"), ("c", "2", "1")):
        files[name] = str(tmp_path / f"{name}.safetensors")
        code, _, err = run(capsys, "decompose", "--class", class_, "--seed", seed, "--layout", "3x3", "--steps", "1",
                           "--baseline-codes", "2", "--quiet", "--no-cache", "--out", files[name])
        assert code == 0, err
    code, out, err = run(capsys, "transfer", files["a"], files["b"], "--control", files["c"], "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["n_components"] == 511
    assert rep["chance_top20_top100"] == pytest.approx(100 / 511)
    assert rep["chance_top20_top20"] == pytest.approx(20 / 511)
    for key in ("transfer_top20_top100", "null_transfer_top20_top100", "control_transfer_top20_top100",
                "geometry_control_top20_top100", "p_top20_top100"):
        assert 0.0 <= rep[key] <= 1.0
    assert rep["within_class"] is True
    code, out, _ = run(capsys, "transfer", files["a"], files["b"])
    assert code == 0 and "within one class" in out and "null" in out and "geometry" in out
    assert "footnote: uniformly random rankings would give top20_top100 0.196" in out
    code, _, err = run(capsys, "transfer", files["a"], files["b"], "--control", files["b"])   # same class
    assert code == 2 and err.startswith("error:") and "another class" in err


def test_progress_on_a_pipe_every_two_percent_and_while_the_bar_holds(capsys, monkeypatch):
    """Not a terminal: a line per ~2 %, and one at least every HEARTBEAT_S seconds even when the
    fraction does not move (the baseline past its estimated count holds the bar)."""
    from regionprims.cli import terminal
    clock = [100.0]
    monkeypatch.setattr(terminal.time, "perf_counter", lambda: clock[0])
    p = terminal.StderrProgress()
    p.tty = False
    p(100, 1000, "a")                     # 10 %: printed
    p(105, 1000, "b")                     # +0.5 %: not
    clock[0] += p.HEARTBEAT_S + 1
    p(105, 1000, "c")                     # the bar held, but long enough: printed
    p(130, 1000, "d")                     # +2.5 %: printed
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split()[-1] for line in lines] == ["a", "c", "d"]
