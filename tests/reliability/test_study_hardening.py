"""A study folder is data, checked against its files: a model named by study.json or a study TOML
is never imported unless the user names it too; each image's own file (or cache entry) is the
truth about its class, seed and model; one batch writes a folder at a time; study.json and the
TOML are checked against a schema; text from them is shown escaped. Every case is one `error:`
line and exit 2, before any work (Ray is never started here)."""
from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from reliability_helpers import one_line_error, run

APP = str(Path(__file__).resolve().parents[2] / "app.py")


# ---------------------------------------------------------------------------- building studies

@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """A finished folder study (2 classes x 2 seeds of the tiny generator, 2x2) and its cache:
    (folder, cache folder). Tests copy it before changing anything."""
    from tiny_generator import TinyGenerator

    from regionprims.pipeline import decompose, decomposition_key, make_spec, report_json
    from regionprims.store.cache import ResultCache
    from regionprims.store.fileformat import save_decomposition
    from regionprims.study import records
    from regionprims.study.plan import plan_from_mapping
    root = tmp_path_factory.mktemp("study")
    gen, cache = TinyGenerator(seed=0), ResultCache(root / "cache")
    plan = plan_from_mapping({"model": "demo", "classes": "0,1", "seeds": "0-1", "layout": "2x2", "steps": 3,
                              "baseline_codes": 4})
    record = records.StudyRecord(plan=plan, model_identity=gen.identity, folder=root / "out")
    record.folder.mkdir()
    for class_id in (0, 1):
        for seed in (0, 1):
            spec = make_spec(gen, class_id, seed, layout="2x2", settings=plan.settings)
            dec, hit = decompose(gen, spec, cache=cache)
            name = records.image_file_name(class_id, gen.class_names[class_id], seed)
            save_decomposition(dec, record.folder / name)
            record.images.append({"class_id": class_id, "class_name": gen.class_names[class_id], "seed": seed,
                                  "status": "done", "key": decomposition_key(spec), "cache_hit": hit,
                                  "seconds": 0.1, "file": name, "report": report_json(dec, hit, 0.1)})
    record.finished = time.time()
    records.save(record, None)
    return record.folder, root / "cache"


@pytest.fixture
def study_dir(tiny_study, tmp_path, monkeypatch):
    """A copy of the tiny study in this test's folder, read through this test's copy of the cache."""
    import shutil
    folder, cache = tiny_study
    shutil.copytree(folder, tmp_path / "study")
    shutil.copytree(cache, tmp_path / "cache", dirs_exist_ok=True)
    monkeypatch.setenv("REGIONPRIMS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "study"


def edit(folder: Path, change) -> dict:
    """Apply `change` to the folder's study.json (as a dict) and write it back."""
    path = folder / "study.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return data


@pytest.fixture
def no_ray(monkeypatch):
    """Any attempt to start Ray or a batch fails the test (the check must come first)."""
    from regionprims.study import runner

    def refuse(*a, **k):
        raise AssertionError("Ray was started")
    monkeypatch.setattr(runner, "connect", refuse)
    monkeypatch.setattr(runner, "run_batch", refuse)


@pytest.fixture
def evil_plugin(tmp_path):
    """A plug-in file that leaves a marker when it is imported: (spec, marker)."""
    marker = tmp_path / "imported.marker"
    code = f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\ndef make():\n    return None\n"
    (tmp_path / "evil.py").write_text(code)
    return f"{tmp_path / 'evil.py'}:make", marker


# ---------------------------------------------------------------------------- no code from a folder

@pytest.mark.parametrize("which", ["file", "stdlib"])
def test_study_refuses_a_model_named_only_by_the_folder(study_dir, evil_plugin, capsys, which):
    spec, marker = evil_plugin
    model = spec if which == "file" else "this:s"
    edit(study_dir, lambda d: d["plan"].update(model=model))
    code, out, err = run(capsys, "study", study_dir)
    one_line_error(code, err, "--model")
    assert not marker.exists() and "Zen of Python" not in out + err
    # the user vouches for it: the report needs no generator, so nothing is imported either
    code, out, err = run(capsys, "study", study_dir, "--model", model, "--json")
    assert code == 0, err
    assert not marker.exists()


def test_batch_resuming_a_folder_refuses_its_plugin(study_dir, evil_plugin, no_ray, capsys):
    spec, marker = evil_plugin
    edit(study_dir, lambda d: d["plan"].update(model=spec))
    code, _, err = run(capsys, "batch", "--out", study_dir)
    one_line_error(code, err, "--model")
    assert not marker.exists()


def test_batch_resumes_a_folder_from_its_record(study_dir, monkeypatch, capsys):
    """`batch --out DIR` alone reruns the study recorded in DIR (with its plan)."""
    from regionprims.study import records, runner
    seen = {}

    def fake_run(plan, opts, *a, **k):
        seen["plan"] = plan
        return records.load_folder(opts.out)
    monkeypatch.setattr(runner, "connect", lambda address=None: False)
    monkeypatch.setattr(runner, "run_batch", fake_run)
    monkeypatch.setattr("regionprims.cli.study.write_report", lambda *a, **k: {})
    code, _, err = run(capsys, "batch", "--out", study_dir, "--quiet")
    assert code == 0, err
    assert seen["plan"].study_id() == records.load_folder(study_dir).study_id


def test_a_toml_model_is_a_stored_name(tmp_path, evil_plugin, no_ray, capsys):
    spec, marker = evil_plugin
    toml = tmp_path / "s.toml"
    toml.write_text(f'model = "{spec}"\nclasses = "0"\nseeds = "0"\n')
    code, _, err = run(capsys, "batch", toml)
    one_line_error(code, err, "--model")
    assert not marker.exists()


def test_a_toml_model_the_user_also_typed_is_used(tmp_path, evil_plugin):
    from regionprims.cli.commands import build_parser
    from regionprims.cli.study import plan_from_args
    spec, marker = evil_plugin
    toml = tmp_path / "s.toml"
    toml.write_text(f'model = "{spec}"\nclasses = "0"\nseeds = "0"\n')
    plan = plan_from_args(build_parser().parse_args(["batch", str(toml), "--model", spec]))
    assert plan.model == spec and not marker.exists()


@pytest.fixture
def _fresh_streamlit():
    from regionprims import jobs
    st.cache_data.clear()
    st.cache_resource.clear()
    jobs.reset_registry()
    yield
    jobs.reset_registry()


def _study_page_on(folder: Path) -> AppTest:
    """The explorer's Study page with `folder` entered as the study folder (no exception raised)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at = at.switch_page("pages/study.py").run()
    at.segmented_control(key="study_source").set_value("Folder").run()
    at.text_input(key="study_folder").input(str(folder)).run()
    assert not at.exception, at.exception
    return at


def test_study_page_imports_no_plugin_named_by_the_folder(study_dir, evil_plugin, _fresh_streamlit):
    spec, marker = evil_plugin
    edit(study_dir, lambda d: d["plan"].update(model=spec))
    at = _study_page_on(study_dir)
    for button in [b for b in at.button if " · seed " in b.label][:1]:    # open an image, if offered
        button.click().run()
        at.run()
    assert not marker.exists()
    assert any("--model" in e.value for e in at.error), [e.value for e in at.error]


def test_study_page_shows_stored_text_escaped(study_dir, _fresh_streamlit):
    edit(study_dir, lambda d: d["images"].append({"class_id": 2, "class_name": "\x1b[31mred", "seed": 0,
                                                  "status": "failed", "error": "boom\x1b[2J"}))
    at = _study_page_on(study_dir)
    shown = [b.label for b in at.button] + [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert any("\\x1b[31mred" in text for text in shown)        # the failed image is listed, escaped
    assert not any("\x1b" in text for text in shown)


# ---------------------------------------------------------------------------- the files are the truth

def _swap(a: str, b: str):
    """Swap the files of the entries that name `a` and `b`."""
    def change(d):
        first, second = (next(im for im in d["images"] if im["file"] == name) for name in (a, b))
        first["file"], second["file"] = b, a
    return change


def test_swapped_files_are_refused(study_dir, capsys):
    edit(study_dir, _swap("0000-zero-seed0.safetensors", "0001-one-seed0.safetensors"))
    code, _, err = run(capsys, "study", study_dir)
    one_line_error(code, err, "class 0 seed 0")


def test_swapped_seeds_are_refused(study_dir, capsys):
    edit(study_dir, _swap("0000-zero-seed0.safetensors", "0000-zero-seed1.safetensors"))
    code, _, err = run(capsys, "study", study_dir)
    one_line_error(code, err, "seed")


def test_one_file_listed_four_times_is_refused(study_dir, capsys):
    edit(study_dir, lambda d: [im.update(file=d["images"][0]["file"]) for im in d["images"]])
    code, _, err = run(capsys, "study", study_dir)
    one_line_error(code, err, "0000-zero-seed0.safetensors")


def test_a_repeated_class_and_seed_is_refused(study_dir, capsys):
    edit(study_dir, lambda d: d["images"].append(dict(d["images"][0], file="copy.safetensors")))
    (study_dir / "copy.safetensors").write_bytes((study_dir / "0000-zero-seed0.safetensors").read_bytes())
    code, _, err = run(capsys, "study", study_dir)
    one_line_error(code, err, "class 0 seed 0")


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink"])
def test_a_file_outside_the_folder_is_refused(study_dir, tmp_path, capsys, where):
    outside = tmp_path / "x.safetensors"
    outside.write_bytes((study_dir / "0000-zero-seed0.safetensors").read_bytes())
    name = {"parent": "../x.safetensors", "absolute": str(outside), "symlink": "link.safetensors"}[where]
    if where == "symlink":
        os.symlink(outside, study_dir / name)
    edit(study_dir, lambda d: d["images"][0].update(file=name))
    code, _, err = run(capsys, "study", study_dir)
    one_line_error(code, err, "outside")


def test_cache_entries_must_match_their_entry(study_dir, capsys):
    """Without files, entries are served from the cache by key: swapped keys are refused too."""
    def change(d):
        for im in d["images"]:
            im.pop("file")
        d["images"][0]["key"], d["images"][2]["key"] = d["images"][2]["key"], d["images"][0]["key"]
    edit(study_dir, change)
    code, _, err = run(capsys, "study", study_dir)
    one_line_error(code, err, "class 0 seed 0")


def test_the_record_model_identity_must_match_the_files(study_dir, capsys):
    edit(study_dir, lambda d: d.update(model_identity="demo:0000"))
    code, _, err = run(capsys, "study", study_dir)
    one_line_error(code, err, "model")


def test_the_untouched_study_still_reports(study_dir, capsys):
    code, out, err = run(capsys, "study", study_dir, "--json")
    assert code == 0, err
    assert json.loads(out)["images"] == 4


# ---------------------------------------------------------------------------- one batch per folder

def test_a_second_batch_into_a_locked_folder_is_refused(tmp_path, no_ray, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".regionprims-batch.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, _, err = run(capsys, "batch", "--classes", "0", "--seeds", "0", "--out", out)
    one_line_error(code, err, "another")
    assert str(out) in err


def test_run_batch_takes_the_folder_lock(tmp_path):
    from regionprims.errors import UserError
    from regionprims.study import runner
    from regionprims.study.plan import plan_from_mapping
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".regionprims-batch.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(UserError, match="another"):
            runner.run_batch(plan_from_mapping({"classes": "0", "seeds": "0"}), runner.BatchOptions(out=out))


def test_a_folder_holding_another_study_is_refused(study_dir, no_ray, capsys):
    code, _, err = run(capsys, "batch", "--classes", "0", "--seeds", "5", "--out", study_dir)
    one_line_error(code, err, "another study")


# ---------------------------------------------------------------------------- schema

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("name, change", [
    ("missing class_id", lambda d: d["images"][0].pop("class_id")),
    ("class_id text", lambda d: d["images"][0].update(class_id="zero")),
    ("class_id float", lambda d: d["images"][0].update(class_id=1.5)),
    ("class_id bool", lambda d: d["images"][0].update(class_id=True)),
    ("images not a list", lambda d: d.update(images={"a": 1})),
    ("images a number", lambda d: d.update(images=5)),
    ("seed text", lambda d: d["images"][1].update(seed="x")),
    ("seed negative", lambda d: d["images"][1].update(seed=-1)),
    ("status", lambda d: d["images"][1].update(status=5)),
    ("file", lambda d: d["images"][1].update(file=7)),
    ("key", lambda d: d["images"][1].update(key=["a"])),
    ("image not an object", lambda d: d["images"].append("x")),
    ("plan seeds", lambda d: d["plan"].update(seeds=["a"])),
    ("plan seeds not a list", lambda d: d["plan"].update(seeds=3)),
    ("plan classes", lambda d: d["plan"].update(classes=5)),
    ("plan model", lambda d: d["plan"].update(model=5)),
    ("plan layout", lambda d: d["plan"].update(layout=["2x2"])),
    ("plan players", lambda d: d["plan"].update(players="x")),
    ("plan settings", lambda d: d["plan"]["settings"].update(steps="abc")),
    ("plan settings lr", lambda d: d["plan"]["settings"].update(lr=[1])),
    ("plan settings unknown", lambda d: d["plan"]["settings"].update(colours=3)),
    ("plan not an object", lambda d: d.update(plan=[1])),
    ("plan truncation", lambda d: d["plan"].update(truncation="half")),
    ("model identity", lambda d: d.update(model_identity=3)),
    ("created", lambda d: d.update(created="today")),
    ("study id", lambda d: d.update(study_id="../../etc")),
])
def test_study_json_checked_against_the_schema(study_dir, capsys, name, change):
    edit(study_dir, change)
    code, _, err = run(capsys, "study", study_dir)
    one_line_error(code, err, "study.json")


def test_deeply_nested_study_json(study_dir, capsys):
    (study_dir / "study.json").write_text('{"format": "regionprims-study", "format_version": 1, "images": '
                                          + DEEP + "}")
    code, _, err = run(capsys, "study", study_dir)
    one_line_error(code, err, "study.json")


@pytest.mark.parametrize("body, needle", [
    ('steps = "abc"', "steps"),
    ("steps = 1.5", "steps"),
    ("steps = true", "steps"),
    ('[settings]\nsteps = "abc"', "steps"),
    ("[settings]\nlr = [1]", "lr"),
    ('lam = "x"', "lam"),
    ("layout = 3", "layout"),
    ('truncation = "x"', "truncation"),
    ('force = "yes"', "force"),
    ("seeds = 1.5", "seeds"),
    ("seeds = [[1]]", "seeds"),
    ("classes = {a = 1}", "classes"),
    ("players = 1.5", "players"),
    ("model = 3", "model"),
    ("settings = 3", "settings"),
    ('baseline_codes = "many"', "baseline_codes"),
    ("tol = -1.0", "tol"),
    ("[settings]\npatience = -5", "patience"),
    ("opt_seed = -1", "opt_seed"),
    ("chunk = 1000000000000000000", "chunk"),
])
def test_study_toml_checked_against_the_schema(tmp_path, no_ray, capsys, body, needle):
    toml = tmp_path / "s.toml"
    head = "\n".join(line for line in ('model = "demo"', 'classes = "0"', "seeds = 0")
                     if line.split(" =")[0] not in body.split(" =")[0])
    toml.write_text(head + "\n" + body + "\n")
    code, _, err = run(capsys, "batch", toml)
    one_line_error(code, err, needle)


@pytest.mark.parametrize("flag, value", [
    ("--cpus-per-task", "nan"), ("--cpus-per-task", "inf"), ("--cpus-per-task", "-1"), ("--cpus-per-task", "0"),
    ("--gpus-per-task", "nan"), ("--gpus-per-task", "inf"), ("--gpus-per-task", "-1"),
])
def test_batch_resources_checked_before_ray(tmp_path, no_ray, capsys, flag, value):
    code, _, err = run(capsys, "batch", "--classes", "0", "--seeds", "0", flag, value)
    one_line_error(code, err, flag)


def test_batch_options_refuse_nan_without_the_cli(tmp_path):
    from regionprims.errors import UserError
    from regionprims.study import runner
    from regionprims.study.plan import plan_from_mapping
    with pytest.raises(UserError, match="cpus"):
        runner.run_batch(plan_from_mapping({"classes": "0", "seeds": "0"}),
                         runner.BatchOptions(cpus_per_task=float("nan")))


# ---------------------------------------------------------------------------- escaped text

def test_study_prints_stored_text_escaped(study_dir, capsys):
    edit(study_dir, lambda d: d["images"].append({"class_id": 2, "class_name": "\x1b]0;owned\x07x", "seed": 0,
                                                  "status": "failed", "error": "boom\x1b[31m"}))
    code, out, err = run(capsys, "study", study_dir)
    assert code == 0, err
    assert "\x1b" not in out + err and "\\x1b" in out
    assert "\x1b" not in (study_dir / "report.md").read_text()


def test_errors_name_stored_text_escaped(study_dir, capsys):
    edit(study_dir, lambda d: d["images"][0].update(file="\x1b[2J../x.safetensors"))
    code, _, err = run(capsys, "study", study_dir)
    one_line_error(code, err)
    assert "\x1b" not in err
