"""The one settings table (method/settings_table.py): every OptimSettings field declares its
help, range, CLI flag, sidebar widget and URL key once, and the CLI, the batch, the sidebar, the
URL and OptimSettings.validate are made from it. The last tests add a setting to the table alone
and find it in `decompose --help`, the explorer's sidebar and its URL."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from regionprims import jobs
from regionprims.errors import UserError
from regionprims.method import settings_table, specs
from regionprims.method.settings_table import Widget, setting
from regionprims.method.specs import OptimSettings
from regionprims.ui import urlstate
from regionprims.ui.urlstate import AppState, decode_state, encode_state

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SMALL_URL = {"layout": "2x2", "steps": "3", "codes": "4"}


def parse(*argv: str):
    from regionprims.cli.commands import build_parser
    return build_parser().parse_args(list(argv))


# ------------------------------------------------------------------------------ the table itself

def test_every_field_declares_its_setting_and_the_front_ends_keep_their_names():
    rows = settings_table.table()
    assert [r.name for r in rows] == [f for f in OptimSettings.__dataclass_fields__]
    assert {r.meta.flag for r in settings_table.flagged()} == {
        "--steps", "--lr", "--lam", "--mask", "--baseline-codes", "--baseline-tol", "--baseline-max-codes",
        "--chunk", "--memory-mb", "--refine", "--max-order"}
    assert {r.meta.url: r.name for r in settings_table.in_url()} == {
        "steps": "steps", "codes": "baseline_codes", "order": "max_order"}
    assert [r.name for r in settings_table.shown()] == ["steps", "baseline_codes", "max_order"]


def test_url_keys_are_unique_and_apart_from_the_other_parameters():
    keys = urlstate.url_keys()
    assert len(set(keys)) == len(keys) and not set(keys) & set(urlstate.PARAMS)


@pytest.mark.parametrize("row", settings_table.table(), ids=lambda r: r.name)
def test_a_widget_or_url_range_lies_inside_the_valid_range(row):
    if row.meta.widget is None and not row.meta.url or row.choices or row.kind is bool:
        return
    lo, hi = row.ui_range()
    assert row.problem(lo, OptimSettings()) is None and row.problem(hi, OptimSettings()) is None


@pytest.mark.parametrize("row", [r for r in settings_table.table() if r.meta.between or r.choices],
                         ids=lambda r: r.name)
def test_validate_refuses_each_setting_outside_its_range_in_one_line_naming_it(row):
    if row.choices:
        bad, allowed = "nope", ", ".join(row.choices)
    else:
        bad, hi = row.meta.between[1] * 2 + 1, row.meta.between[1]
        allowed = f"{hi:g}" if isinstance(hi, float) else str(hi)
    with pytest.raises(UserError) as exc:
        replace(OptimSettings(), **{row.name: bad}).validate()
    text = str(exc.value)
    assert "\n" not in text and text.startswith(f"{row.label} must be") and allowed in text


@pytest.mark.parametrize("change, message", [
    ({"steps": 0}, "steps must be between 1 and 100000, got 0"),
    ({"lr": 0.0}, "learning rate must be in (0, 1000], got 0.0"),
    ({"lam": float("inf")}, "lambda must be in [0, 1000], got inf"),
    ({"baseline_codes": 0}, "baseline codes must be between 1 and 4096, got 0"),
    ({"baseline_tol": float("nan")}, "baseline tolerance must be in [0, 1], got nan"),
    ({"baseline_max_codes": 10}, "baseline max codes must be between baseline codes (64) and 1048576, got 10"),
    ({"chunk": -1}, "chunk must be between 0 (automatic) and 1048576, got -1"),
    ({"max_order": True}, "max order must be a whole number between 0 (no cap) and 64, got True"),
    ({"memory_mb": 0}, "memory bound must be between 64 MB and 16777216 MB, got 0"),
    ({"optimizer": "sgd"}, "optimizer must be one of ngd, adam, got 'sgd'"),
    ({"init": "full"}, "monotone masks start from the single-player masks: use init 'singletons'"),
])
def test_validate_messages(change, message):
    with pytest.raises(UserError) as exc:
        replace(OptimSettings(), **change).validate()
    assert str(exc.value) == message


# ------------------------------------------------------------------------------ the new flags

def test_baseline_tolerance_and_cap_have_flags_for_decompose_and_batch():
    from regionprims.cli.options import optim_settings
    from regionprims.cli.study import plan_from_args
    args = parse("decompose", "--seed", "1", "--baseline-tol", "0", "--baseline-max-codes", "128")
    assert (optim_settings(args).baseline_tol, optim_settings(args).baseline_max_codes) == (0.0, 128)
    plain = optim_settings(parse("decompose", "--seed", "1"))
    assert plain == OptimSettings()
    plan = plan_from_args(parse("batch", "--classes", "0", "--seeds", "0", "--baseline-tol", "0.1"))
    assert plan.settings.baseline_tol == 0.1
    with pytest.raises(UserError, match="baseline tolerance must be in"):
        optim_settings(parse("decompose", "--seed", "1", "--baseline-tol", "2")).validate()


# ------------------------------------------------------------------------------ a new setting, declared once

@dataclass(frozen=True)
class Extended(OptimSettings):
    """OptimSettings and one more setting, declared only here (module level: the explorer's
    spec cache pickles the settings)."""

    probe_weight: int = setting(3, "weight of the probe term (a setting that exists only in this test)",
                                between=(0, 50), flag="--probe-weight", url="probe",
                                widget=Widget("Probe weight", 0, 20, help="The probe term's weight."))


@pytest.fixture
def extended(monkeypatch):
    monkeypatch.setattr(specs, "OptimSettings", Extended)
    yield Extended


def test_a_new_setting_gets_its_cli_flag(extended, capsys):
    from regionprims.cli.options import optim_settings
    with pytest.raises(SystemExit):
        parse("decompose", "--help")
    assert "--probe-weight" in capsys.readouterr().out
    settings = optim_settings(parse("decompose", "--seed", "1", "--probe-weight", "7"))
    assert isinstance(settings, Extended) and settings.probe_weight == 7
    with pytest.raises(UserError, match="probe weight must be between 0 and 50, got 51"):
        optim_settings(parse("decompose", "--seed", "1", "--probe-weight", "51")).validate()


def test_a_new_setting_travels_through_the_url(extended):
    app = AppState(settings=Extended(probe_weight=5))
    assert encode_state(app) == {"probe": "5"}
    assert decode_state({"probe": "5"}) == (app, [])
    back, errors = decode_state({"probe": "99"})               # clamped into the widget's range
    assert back.settings.probe_weight == 20 and errors == ["probe=99 is outside [0, 20]; using 20"]
    assert encode_state(AppState()) == {}


@pytest.fixture
def fresh_app_state():
    st.cache_data.clear()
    st.cache_resource.clear()
    jobs.reset_registry()
    yield
    jobs.reset_registry()


def test_a_new_setting_gets_its_sidebar_widget(extended, fresh_app_state):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({**SMALL_URL, "seed": "5", "probe": "6"})
    at.run()
    assert not at.exception, at.exception
    assert at.number_input(key="probe").value == 6              # from the URL into the widget ...
    assert at.session_state["current"].spec.settings.probe_weight == 6     # ... and into the spec
    at.number_input(key="probe").set_value(2).run()
    assert not at.exception, at.exception
    assert at.session_state["current"].spec.settings.probe_weight == 2
    assert {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}["probe"] == "2"
