"""`regionprims batch` on local Ray (one Ray session, 2 CPUs, for the whole module) and the
study report recomputed independently from the files it wrote."""
from __future__ import annotations

import importlib.util
import itertools
import json
import os
import signal
import sys
import threading
from pathlib import Path

import pytest
import ray
import torch
from safetensors import safe_open

from regionprims.cli.commands import main
from regionprims.study import records, runner
from regionprims.study.plan import plan_from_mapping

SHARED_CHECKER = Path(__file__).resolve().parents[2] / "shared" / "checks" / "check_contract.py"
CHECKER = SHARED_CHECKER if SHARED_CHECKER.exists() else Path(__file__).parent / "contract" / "check_contract.py"
SMALL = {"steps": 1, "warm_steps": 5, "baseline_codes": 4}


@pytest.fixture(scope="module")
def ray_session():
    from ray import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])   # the test's task wrappers reach the workers
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def study(ray_session, tmp_path_factory):
    """2 classes x 3 seeds, 3x3 (511 components: top-20 and top-100 are defined), tiny settings."""
    root = tmp_path_factory.mktemp("study")
    os.environ["REGIONPRIMS_CACHE"] = str(root / "cache")
    plan = plan_from_mapping({"model": "demo", "classes": "face,house", "seeds": "0-2", "layout": "3x3", **SMALL})
    opts = runner.BatchOptions(out=root / "out", cache_dir=root / "cache")
    seen = []
    record = runner.run_batch(plan, opts, progress=lambda s: seen.append((s.done, s.failed, s.running)))
    return plan, opts, record, seen


def test_batch_writes_every_image_into_cache_and_folder(study):
    plan, opts, record, seen = study
    assert [(im["class_name"], im["seed"], im["status"]) for im in record.images] == [
        (c, s, "done") for c in ("face", "house") for s in (0, 1, 2)]
    assert not any(im["cache_hit"] for im in record.images)
    assert seen[-1] == (6, 0, 0) and max(r for _, _, r in seen) == 2      # two workers ran at once
    saved = json.loads((opts.out / "study.json").read_text())
    assert saved["counts"] == {"images": 6, "done": 6, "failed": 0}
    # the same keys as `decompose`: the explorer's lookup (pipeline.decompose with the cache) hits
    from regionprims.models.registry import load_generator
    from regionprims.pipeline import decompose, decomposition_key, make_spec
    from regionprims.store.cache import ResultCache
    gen = load_generator("demo", "cpu")
    im = record.images[4]
    spec = runner._spec(gen, plan, im["class_id"], im["seed"], make_spec)
    assert decomposition_key(spec) == im["key"]
    _, hit = decompose(gen, spec, cache=ResultCache(opts.cache_dir))
    assert hit


def test_files_pass_the_contract_check(study, tmp_path):
    _, opts, record, _ = study
    spec = importlib.util.spec_from_file_location("check_contract", CHECKER)
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)
    for im in record.images:
        report = tmp_path / f"{im['seed']}.json"
        report.write_text(json.dumps(im["report"]))
        assert checker.main(str(report), str(opts.out / im["file"])) == [], im["file"]


def test_rerun_computes_nothing(study):
    plan, opts, record, _ = study
    before = {im["file"]: (opts.out / im["file"]).read_bytes() for im in record.images}
    again = runner.run_batch(plan, opts)
    assert [im["cache_hit"] for im in again.images] == [True] * 6
    assert {im["file"]: (opts.out / im["file"]).read_bytes() for im in again.images} == before


def test_study_by_id_reads_the_cache(study, capsys, tmp_path):
    """The study's record and images from the cache alone (no folder): `regionprims study ID`."""
    _, opts, record, _ = study
    assert main(["study", record.study_id, "--cache-dir", str(opts.cache_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 6 and report["missing"] == [] and report["study_id"] == record.study_id
    assert main(["study", "0123456789abcdef", "--cache-dir", str(opts.cache_dir)]) == 2


def _read(path: Path):
    with safe_open(str(path), "pt") as fh:
        meta = json.loads(fh.metadata()["regionprims"])
        return meta, fh.get_tensor("subsets"), fh.get_tensor("ranking").tolist(), fh.get_tensor("components")


def test_report_recomputed_from_the_files(study, tmp_path, capsys):
    """The CLI's report against transfer computed here from the raw tensors of the files."""
    _, opts, record, _ = study
    assert main(["study", str(opts.out), "--cache-dir", str(opts.cache_dir)]) == 0
    text = capsys.readouterr().out
    report = json.loads((opts.out / "report.json").read_text())
    images = []
    for im in record.images:
        meta, subsets, ranking, comps = _read(opts.out / im["file"])
        players = meta["players"]
        sets = [frozenset(players[j] for j in range(len(players)) if row[j]) for row in subsets.tolist()]
        images.append((meta["class_id"], [sets[r] for r in ranking], meta["metrics"], comps, ranking, sets))
    n = len(images[0][1])
    assert n == report["n_components"] == 511

    def t(a, b, k):
        return len(set(a[1][:20]) & set(b[1][:k])) / 20

    for kind, k in (("asym", 100), ("sym", 20)):
        within = [t(a, b, k) for a, b in itertools.permutations(images, 2) if a[0] == b[0]]
        across = [t(a, b, k) for a, b in itertools.permutations(images, 2) if a[0] != b[0]]
        got = report["all"]["transfer"][kind]
        assert got["within"]["n"] == 12 and got["across"]["n"] == 18
        assert got["within"]["mean"] == pytest.approx(sum(within) / 12)
        assert got["across"]["mean"] == pytest.approx(sum(across) / 18)
        face_within = [t(a, b, k) for a, b in itertools.permutations(images[:3], 2)]
        assert report["classes"][0]["transfer"][kind]["within"]["mean"] == pytest.approx(sum(face_within) / 6)
        assert report["chance"][kind]["mean"] == pytest.approx(k / 511)
    # consistency: Jaccard of the face seeds' top-20 region sets
    face = images[:3]
    jac = [len(set(a[1][:20]) & set(b[1][:20])) / len(set(a[1][:20]) | set(b[1][:20]))
           for a, b in itertools.combinations(face, 2)]
    assert report["classes"][0]["consistency"]["region_sets"]["mean"] == pytest.approx(sum(jac) / 3)
    # footprint cosine of one shared region set, from the raw components
    a, b = face[0], face[1]
    shared = next(s for s in a[1][:20] if s in set(b[1][:20]))
    fa = a[3][a[5].index(shared)].double().square().sum(0).flatten()
    fb = b[3][b[5].index(shared)].double().square().sum(0).flatten()
    cos = float(fa @ fb / fa.norm() / fb.norm())
    assert report["classes"][0]["consistency"]["footprint"]["min"] <= cos + 1e-9
    assert report["classes"][0]["consistency"]["footprint"]["max"] >= cos - 1e-9
    # metric distributions from the files' metadata
    rr = torch.tensor([im[2]["residual_ratio"] for im in images], dtype=torch.float64)
    assert report["metrics"]["overall"]["residual_ratio"]["mean"] == pytest.approx(float(rr.mean()))
    assert report["metrics"]["overall"]["residual_ratio"]["std"] == pytest.approx(float(rr.std(unbiased=False)))
    # the printed tables carry the three transfer columns with the report's numbers
    assert "within class" in text and "across classes" in text and "chance" in text
    assert "null, within" in text and "geometry control" in text
    asym = report["all"]["transfer"]["asym"]
    assert report["all"]["transfer"]["asym"]["geometry"]["n"] == 12      # the within-class pairs
    assert f"{asym['within']['mean']:.3f} ± {asym['within']['std']:.3f}" in text
    assert f"{100 / 511:.3f}" in text
    for name in ("report.md", "transfer.png", "consistency.png", "metrics.png"):
        assert (opts.out / name).stat().st_size > 0


def _plan_2x2(seeds="0-2"):
    return plan_from_mapping({"model": "demo", "classes": "face", "seeds": seeds, "layout": "2x2", **SMALL})


def fails_on_seed_1(request: dict) -> dict:
    from regionprims.errors import UserError
    if request["seed"] == 1:
        raise UserError("planted failure for seed 1")
    return runner.decompose_image(request)


def test_a_failing_image_is_reported_and_the_others_finish(ray_session, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "decompose_image", fails_on_seed_1)
    code = main(["batch", "--model", "demo", "--classes", "face", "--seeds", "0-2", "--layout", "2x2", "--steps",
                 "1", "--baseline-codes", "4", "--out", str(tmp_path / "out"), "--json", "--quiet"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (summary["done"], summary["failed"]) == (2, 1)
    assert summary["failures"] == [{"class_id": 0, "class_name": "face", "seed": 1,
                                    "error": "planted failure for seed 1"}]
    saved = json.loads((tmp_path / "out" / "study.json").read_text())
    assert [im["status"] for im in saved["images"]] == ["done", "failed", "done"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.safetensors")) == [
        "0000-face-seed0.safetensors", "0000-face-seed2.safetensors"]


def killed_once(request: dict) -> dict:
    """Kills its own worker process the first time it sees seed 0 (a marker file remembers)."""
    marker = Path(request["cache_dir"]).parent / f"killed-{request['seed']}"
    if request["seed"] == 0 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return runner.decompose_image(request)


def test_a_killed_worker_does_not_lose_the_study(ray_session, tmp_path):
    opts = runner.BatchOptions(out=tmp_path / "out", cache_dir=tmp_path / "cache", task=killed_once)
    record = runner.run_batch(_plan_2x2("0-1"), opts)
    assert (tmp_path / "killed-0").exists()                       # the worker was killed ...
    assert [im["status"] for im in record.images] == ["done", "done"]    # ... and Ray ran the image again
    assert len(records.load_folder(tmp_path / "out").done()) == 2


def test_an_interrupted_batch_loses_only_the_images_in_flight(ray_session, tmp_path):
    from regionprims.progress import Cancelled
    stop = threading.Event()
    opts = runner.BatchOptions(out=tmp_path / "out", cache_dir=tmp_path / "cache", workers=1)
    with pytest.raises(Cancelled):
        runner.run_batch(_plan_2x2("0-3"), opts, progress=lambda s: s.done and stop.set(), cancel=stop)
    kept = records.load_folder(tmp_path / "out").done()
    assert 1 <= len(kept) < 4
    again = runner.run_batch(_plan_2x2("0-3"), opts)
    hits = {im["seed"]: im["cache_hit"] for im in again.images}
    assert all(hits[im["seed"]] for im in kept) and len(again.done()) == 4


def waits_for_release(request: dict) -> dict:
    """Holds its image until the test creates the `release` file (so a batch stays running)."""
    import time
    gate = Path(request["cache_dir"]).parent / "release"
    end = time.monotonic() + 120
    while not gate.exists() and time.monotonic() < end:
        time.sleep(0.05)
    return runner.decompose_image(request)


def test_a_second_batch_into_a_running_folder_is_refused(ray_session, tmp_path, capsys):
    """Two batches into one --out: the second exits 2 at once, the first's study is kept whole."""
    import time
    out = tmp_path / "out"
    opts = runner.BatchOptions(out=out, cache_dir=tmp_path / "cache", task=waits_for_release, workers=1)
    result = {}
    first = threading.Thread(target=lambda: result.update(record=runner.run_batch(_plan_2x2("0"), opts)))
    first.start()
    try:
        end = time.monotonic() + 120
        while not (out / "study.json").exists() and time.monotonic() < end:    # the first holds the folder
            time.sleep(0.05)
        code = main(["batch", "--model", "demo", "--classes", "house", "--seeds", "0", "--layout", "2x2",
                     "--steps", "1", "--baseline-codes", "4", "--out", str(out), "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "another regionprims batch" in err[0] and str(out) in err[0]
    finally:
        (tmp_path / "release").touch()
        first.join(180)
    assert len(result["record"].done()) == 1
    assert records.load_folder(out).study_id == result["record"].study_id
