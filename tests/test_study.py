"""Study plans, the report's arithmetic on hand-made rankings, and the CLI's answers to bad
input (no Ray needed)."""
from __future__ import annotations

import pytest
import torch

from regionprims.cli.commands import main
from regionprims.errors import UserError
from regionprims.method.metrics import transfer_chance, transfer_chance_spread
from regionprims.study.plan import parse_seeds, plan_from_mapping, read_study_file, resolve_classes
from regionprims.study.report import ImageSummary, build_report

NAMES = ("face", "traffic", "garden", "shelf", "house", "checker")


def test_seeds_and_classes_parse():
    assert parse_seeds("0-2") == (0, 1, 2)
    assert parse_seeds("5, 0-1 ,5") == (5, 0, 1)
    assert parse_seeds([3, "7-8"]) == (3, 7, 8)
    assert resolve_classes(("house", "0-1", "face"), NAMES) == [4, 0, 1]
    assert resolve_classes(("all",), NAMES) == list(range(6))
    for bad, msg in (("2-0", "backwards"), ("0,,1", "empty"), ("-1", "seed"), ("x", "seed")):
        with pytest.raises(UserError, match=msg):
            parse_seeds(bad)
    with pytest.raises(UserError, match="out of range"):
        resolve_classes(("9",), NAMES)


def test_study_file_and_flags(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('model = "demo"\nclasses = ["face", "house"]\nseeds = "0-2"\nlayout = "2x2"\n'
                    '[settings]\nsteps = 3\nbaseline_codes = 8\n')
    plan = plan_from_mapping(read_study_file(path))
    assert (plan.classes, plan.seeds, plan.layout, plan.settings.steps) == (("face", "house"), (0, 1, 2), "2x2", 3)
    flags = plan_from_mapping({"steps": 5, "seeds": None}, plan)          # a flag wins, None keeps the file's
    assert (flags.settings.steps, flags.seeds) == (5, (0, 1, 2))
    assert flags.study_id() != plan.study_id() and plan.study_id() == plan_from_mapping(read_study_file(path)).study_id()
    path.write_text('model = "demo"\ncolours = 3\n')
    with pytest.raises(UserError, match="unknown study key"):
        plan_from_mapping(read_study_file(path))
    path.write_text('model = "demo\n')
    with pytest.raises(UserError, match="not a valid TOML"):
        read_study_file(path)


@pytest.mark.parametrize("argv, message", [
    (["batch", "--seeds", "0"], "give --classes and --seeds"),
    (["batch", "--classes", "face", "--seeds", "3-1"], "runs backwards"),
    (["batch", "--classes", "face", "--seeds", "0", "--steps", "0"], "steps must be"),
    (["batch", "--classes", "face", "--seeds", "0", "--layout", "9x9"], ""),
    (["batch", "missing.toml"], "no such study file"),
    (["study", "nowhere"], "neither a study folder"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert list(tmp_path.iterdir()) == []                                 # nothing written


def _summary(class_id: int, seed: int, ranked: list[frozenset], metrics=None) -> ImageSummary:
    unit = torch.ones(4) / 2
    return ImageSummary(class_id=class_id, class_name=f"c{class_id}", seed=seed, n_components=len(ranked),
                        ranked=ranked, footprint={s: unit for s in ranked[:2]}, profile={s: unit for s in ranked[:2]},
                        metrics=metrics or {})


def test_report_arithmetic_on_hand_made_rankings():
    """Seven region sets; top 2 in pool 4. a and b share their top exactly, c (another class) half."""
    sets = [frozenset({i}) for i in range(7)]
    a = _summary(0, 0, sets, {"residual_ratio": 0.2, "null_residual_ratio": 0.6})
    b = _summary(0, 1, [sets[1], sets[0]] + sets[2:], {"residual_ratio": 0.4, "null_residual_ratio": 0.8})
    c = _summary(1, 0, [sets[0], sets[5], sets[6], sets[2], sets[1], sets[3], sets[4]], {"residual_ratio": 0.3})
    rep = build_report([a, b, c], top=2, pool=4)
    face = rep["classes"][0]["transfer"]
    assert face["asym"]["within"]["mean"] == 1.0 and face["sym"]["within"]["mean"] == 1.0
    # across: a->c: {0,1} in c's top-4 {0,5,6,2} = 1/2; b->c the same; top-2: {0,1} vs {0,5}: 1/2
    assert face["asym"]["across"] == pytest.approx({"n": 2, "mean": 0.5, "std": 0.0, "min": 0.5, "median": 0.5,
                                                    "max": 0.5})
    other = rep["classes"][1]["transfer"]
    # c -> a, c -> b: {0,5} in top-4 {0,1,2,3} = 1/2; no within-class pair for a single image
    assert other["asym"]["across"]["mean"] == 0.5 and other["asym"]["within"] is None
    assert rep["chance"]["asym"]["mean"] == pytest.approx(4 / 7) == transfer_chance(7, 2, 4)
    assert rep["chance"]["sym"]["std"] == pytest.approx(transfer_chance_spread(7, 2, 2))
    assert rep["classes"][0]["consistency"]["region_sets"]["mean"] == 1.0
    assert rep["classes"][0]["consistency"]["footprint"]["mean"] == pytest.approx(1.0)
    m = rep["metrics"]["overall"]
    assert m["residual_ratio"]["mean"] == pytest.approx(0.3) and m["null_residual_ratio"]["n"] == 2
    # a layout whose top-4 holds every component: the asymmetric score is undefined, not 1
    assert build_report([a, b], top=2, pool=7)["transfer_defined"] == {"asym": False, "sym": True}


def test_chance_spread_matches_sampling():
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([torch.randperm(511, generator=g)[:100] for _ in range(4000)])
    hits = (draws < 20).sum(1).double() / 20
    assert float(hits.mean()) == pytest.approx(transfer_chance(511), abs=0.005)
    assert float(hits.std()) == pytest.approx(transfer_chance_spread(511), abs=0.005)


def test_worker_slots_follow_the_cluster(monkeypatch):
    """GPUs are asked for per worker where the cluster has them; CPUs bound the count otherwise."""
    from regionprims.study import runner
    monkeypatch.setattr(runner.ray, "cluster_resources", lambda: {"CPU": 16.0, "GPU": 2.0})
    assert runner._slots(runner.BatchOptions(), 40) == (2, 1.0, "cuda")
    assert runner._slots(runner.BatchOptions(gpus_per_task=0.25), 40) == (8, 0.25, "cuda")
    assert runner._slots(runner.BatchOptions(gpus_per_task=0.1, cpus_per_task=2), 40) == (8, 0.1, "cuda")
    assert runner._slots(runner.BatchOptions(gpus_per_task=0, cpus_per_task=4), 40) == (4, 0, "cpu")
    assert runner._slots(runner.BatchOptions(gpus_per_task=0, workers=3), 40) == (3, 0, "cpu")
    assert runner._slots(runner.BatchOptions(gpus_per_task=0), 5) == (5, 0, "cpu")
    monkeypatch.setattr(runner.ray, "cluster_resources", lambda: {"CPU": 2.0})
    assert runner._slots(runner.BatchOptions(), 6) == (2, 0.0, "cpu")
    with pytest.raises(UserError, match="GPU"):
        runner._slots(runner.BatchOptions(gpus_per_task=1), 6)


def test_batch_takes_the_refinement_settings():
    """--refine and --max-order reach the study's settings (and so its cache keys), like every setting."""
    from regionprims.cli.commands import build_parser
    from regionprims.cli.study import plan_from_args
    args = build_parser().parse_args(["batch", "--classes", "0", "--seeds", "0", "--max-order", "2", "--refine", "all"])
    plan = plan_from_args(args)
    assert (plan.settings.max_order, plan.settings.refine) == (2, "all")
    plain = plan_from_args(build_parser().parse_args(["batch", "--classes", "0", "--seeds", "0"]))
    assert (plain.settings.max_order, plain.settings.refine) == (0, "skip")
    assert plain.study_id() != plan.study_id()


def test_report_has_the_nulls_transfer_and_the_geometry_control():
    """Within and across beside the tight null's transfer and the geometry control, by hand: on a
    2x2 grid the null ranks a and b alike; b's sets moved by each of the square grid's 7
    symmetries rarely land on a's."""
    from regionprims.method.regions import parse_layout
    lay = parse_layout("2x2")
    sets = [frozenset({0}), frozenset({1}), frozenset({2}), frozenset({3}), frozenset({0, 1})]
    a = _summary(0, 0, sets)
    b = _summary(0, 1, sets)
    a.layout = b.layout = lay
    a.null_ranked = b.null_ranked = [sets[2], sets[3]] + sets[:2]
    rep = build_report([a, b], top=2, pool=2)
    block = rep["classes"][0]["transfer"]["sym"]
    assert block["within"]["mean"] == 1.0 and block["null_within"]["mean"] == 1.0
    assert block["null_across"] is None and block["across"] is None
    # symmetries of the 2x2 grid: of the 7, only the diagonal reflection (0->0, 1->2) keeps {0};
    # none keeps both {0} and {1}: a's top {0},{1} against moved b tops
    from regionprims.method.transfer import geometry_control
    want = geometry_control(sets, sets, lay, 2, 2)
    assert block["geometry"]["mean"] == pytest.approx(want) and want < 1.0
    from regionprims.study.tables import transfer_table
    text = "\n".join(transfer_table({**rep, "images": 2}))
    assert "geometry control" in text and "null, within" in text and "Footnote, chance: uniformly random" in text


def test_metric_values_keep_their_digits():
    """A share of 2e-5 (joint_need) is not printed as 0; ordinary values keep four decimals."""
    from regionprims.study.tables import ms_metric, num
    assert num(1.98e-5) == "1.98e-05" and num(0.0) == "0.0000" and num(0.123456) == "0.1235"
    assert num(-4e-4) == "-4.00e-04" and num(44.5852) == "44.5852"
    assert ms_metric({"mean": 1.69e-5, "std": 9.2e-6}) == "1.69e-05 ± 9.20e-06" and ms_metric(None) == "—"
