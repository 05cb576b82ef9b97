"""Reliability of the command line (issue 10): every bad value, unusable path or unexpected
failure is one `error:` line — never a stack trace — and a doomed --out fails before the work."""
import sqlite3

import pytest

from reliability_helpers import SMALL, one_line_error, run

HUGE = "9" * 5000


@pytest.mark.parametrize("argv, needle", [
    (["decompose", "--class", HUGE, "--seed", "1"], "out of range"),
    (["decompose", "--class", "1", "--seed", HUGE], "seed"),
    (["sample", "--class", HUGE, "--seed", "1", "--out", "x.png"], "out of range"),
    (["decompose", "--class", "1", "--seed", "1", "--steps", HUGE], "steps"),
    (["decompose", "--class", "x" * 100_000, "--seed", "1"], "too long"),
    (["decompose", *SMALL, "--lr", "inf"], "learning rate"),
    (["decompose", *SMALL, "--lr", "nan"], "learning rate"),
    (["decompose", *SMALL, "--lam", "inf"], "lambda"),
    (["decompose", "--class", "1", "--seed", "1", "--baseline-codes", "0"], "baseline codes"),
    (["decompose", "--class", "1", "--seed", "1", "--memory-mb", "0"], "memory"),
    (["decompose", *SMALL, "--out", "x.png"], ".safetensors"),
    (["sample", "--class", "1", "--seed", "1", "--scale", "100000", "--out", "x.png"], "scale"),
    (["sample", "--class", "1", "--seed", "1", "--out", "x.jpg"], ".png"),
])
def test_bad_values_one_line(use_tiny, capsys, tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    one_line_error(code, err, needle)
    assert list(tmp_path.iterdir()) == []                 # nothing written, no cache folder made


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if any generator is loaded (the output check must come first)."""
    import regionprims.models.registry as registry

    def refuse(*a, **k):
        raise AssertionError("work started before --out was checked")
    monkeypatch.setattr(registry, "load_generator", refuse)


@pytest.mark.parametrize("command", ["decompose", "sample"])
@pytest.mark.parametrize("where", ["unwritable", "folder", "under_a_file"])
def test_out_checked_before_computing(no_work, capsys, tmp_path, command, where):
    suffix = ".safetensors" if command == "decompose" else ".png"
    (tmp_path / "afile").write_text("x")
    out = {"unwritable": f"/sys/kernel/out{suffix}", "folder": str(tmp_path),
           "under_a_file": str(tmp_path / "afile" / f"out{suffix}")}[where]
    code, _, err = run(capsys, command, "--class", "1", "--seed", "1", "--out", out, "--quiet" if command ==
                       "decompose" else "--scale", *([] if command == "decompose" else ["1"]))
    one_line_error(code, err, "--out")


def test_export_out_checked_before_loading(no_work, small_file, capsys):
    code, _, err = run(capsys, "export", small_file, "--out", "/sys/kernel/panel.png")
    one_line_error(code, err, "--out")


@pytest.mark.parametrize("argv, needle", [
    (["export", "{file}", "--out", "{tmp}/p.png", "--residual", "1e300"], "--residual"),
    (["export", "{file}", "--out", "{tmp}/p.png", "--residual", "nan"], "--residual"),
    (["export", "{file}", "--out", "{tmp}/p.png", "--weights", "1:1e300"], "weight"),
    (["export", "{file}", "--out", "{tmp}/p.png", "--weights", HUGE + ":1"], "row"),
    (["info", "{tmp}"], "folder"),
    (["info", "/proc/self/mem", "--verify"], "cannot read"),
    (["transfer", "/proc/self/mem", "{file}"], "cannot read"),
    (["export", "/proc/self/mem", "--out", "{tmp}/p.png"], "cannot read"),
])
def test_bad_export_and_input_files(use_tiny, small_file, capsys, tmp_path, argv, needle):
    argv = [a.format(file=small_file, tmp=tmp_path) for a in argv]
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, needle)
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("exc, exit_code, needle", [
    (PermissionError(13, "Permission denied", "/some/where"), 2, "permission denied (/some/where)"),
    (sqlite3.DatabaseError("file is not a database"), 2, "database error"),
    (MemoryError(), 2, "out of memory"),
    (RuntimeError("boom"), 1, "please report"),
    (KeyError("x"), 1, "bug"),
])
def test_any_failure_is_one_line(monkeypatch, capsys, exc, exit_code, needle):
    from regionprims.cli import commands

    def fail(args):
        raise exc
    monkeypatch.setattr(commands, "cmd_models", fail)
    code, _, err = run(capsys, "models")
    one_line_error(code, err, needle, exit_code=exit_code)
