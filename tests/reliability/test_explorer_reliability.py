"""Reliability of the explorer (issue 10): it listens on 127.0.0.1, a URL cannot start costly
work or tie up the job queue, jobs nobody watches stop, memory is bounded by bytes, a cancelled
job is never joined, and any URL value is clamped with one short warning."""
from __future__ import annotations

import threading
import time
import tomllib
from pathlib import Path

import pytest

from regionprims import jobs
from regionprims.progress import Cancelled
from regionprims.method import settings_table
from regionprims.ui.urlstate import TRUNC_RANGE, decode_state

ROOT = Path(__file__).resolve().parents[2]


def test_binds_to_localhost_by_default():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"


def test_no_forced_garbage_collection_after_every_script_run():
    """Streamlit's gc.collect(2) after each run (every progress poll) holds the GIL and stalls a
    running decomposition (demo: 'computed in' 5 s with it, 4 s without; docs/benchmarks.md)."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


# ------------------------------------------------------------------------------ URL values

HUGE = "9" * 4300
STEPS_MAX = next(r for r in settings_table.in_url() if r.meta.url == "steps").ui_range()[1]


@pytest.mark.parametrize("params, check", [
    ({"seed": HUGE}, lambda app: app.seed == 2 ** 32 - 1),
    ({"cls": HUGE}, lambda app: app.class_id == 0),
    ({"w": f"{HUGE}:0.5"}, lambda app: not app.view.weights),
    ({"w": f"1:{HUGE}"}, lambda app: not app.view.weights),
    ({"w": "1:1e300"}, lambda app: app.view.weights == {1: 2.0}),
    ({"trunc": "0.01"}, lambda app: app.truncation == TRUNC_RANGE[0]),
    ({"steps": "5000"}, lambda app: app.settings.steps == STEPS_MAX),
    ({"w": ",".join(["zz"] * 20_000)}, lambda app: not app.view.weights),
    ({"layout": "x" * 100_000}, lambda app: app.layout == "3x3"),
    ({"players": "1," * 50_000}, lambda app: app.players is None),
    ({"off": "1," * 50_000}, lambda app: not app.view.off),
    ({f"k{i}": "1" for i in range(5000)}, lambda app: app.seed == 0),
])
def test_url_values_clamped_with_one_short_warning(params, check):
    app, errors = decode_state(params)
    assert check(app), app
    assert 1 <= len(errors) <= 6 and sum(map(len, errors)) < 600, [e[:80] for e in errors]
    name = next(iter(params))
    assert name.rstrip("0123456789") in errors[0] or "cls" in params, errors


def test_many_problems_are_summed_up():
    params = {"seed": "x", "trunc": "y", "steps": "z", "codes": "q", "model": "m", "split": "s", "r": "nan",
              "w": "bad", "off": "b!!", "solo": "b!!", "layout": "9y9"}
    app, errors = decode_state(params)
    assert len(errors) == 6 and errors[-1].startswith("... and ")


# ------------------------------------------------------------------------------ job registry

def _blocking(release: threading.Event, started: threading.Event | None = None):
    def fn(progress, cancel):
        if started is not None:
            started.set()
        while not release.wait(0.01):
            progress(0, 1, "working")
            if cancel.is_set():
                raise Cancelled("cancelled")
        return None, False
    return fn


def test_queue_is_bounded_with_a_busy_message():
    reg = jobs.JobRegistry(max_active=3)
    release = threading.Event()
    try:
        for i in range(3):
            reg.submit(f"k{i}", _blocking(release), "tab")
        with pytest.raises(jobs.Busy, match="busy"):
            reg.submit("k3", _blocking(release), "tab")
        assert reg.submit("k0", _blocking(release), "other").key == "k0"     # joining is not a new job
    finally:
        release.set()
        reg.shutdown()


def test_job_nobody_watches_is_cancelled():
    reg = jobs.JobRegistry(watch_seconds=0.3)
    release, started = threading.Event(), threading.Event()
    try:
        job = reg.submit("k", _blocking(release, started), "tab", watch=True)
        reg.submit("q", _blocking(release), "tab2", watch=True)
        free = reg.submit("d", _blocking(release), "tab3")          # a download: not watched
        assert started.wait(10)
        for _ in range(5):                                   # the tab of "k" keeps looking ...
            time.sleep(0.1)
            reg.heartbeat("k", "tab")
        assert job.state == jobs.RUNNING
        assert reg.wait("k", 10).state == jobs.CANCELLED     # ... then leaves: the job stops
        assert reg.wait("q", 10).state == jobs.CANCELLED     # the queued one was never looked at
        time.sleep(0.5)
        assert free.state == jobs.RUNNING                    # runs on without heartbeats
    finally:
        release.set()
        reg.shutdown()


def test_finished_records_are_dropped():
    reg = jobs.JobRegistry(keep_record_seconds=0.2)
    reg.submit("k", lambda p, c: (_ for _ in ()).throw(ValueError("x")), "tab")
    assert reg.wait("k", 10).state == jobs.ERROR
    time.sleep(0.3)
    assert reg.get("k") is None
    reg.shutdown()


def test_results_are_bounded_by_bytes(tiny_gen, small_spec):
    from dataclasses import replace

    from regionprims.pipeline import decompose
    dec = decompose(tiny_gen, small_spec)[0]
    size = jobs.result_nbytes(dec)
    reg = jobs.JobRegistry(result_bytes=int(2.5 * size))
    for i in range(4):
        reg.remember(f"k{i}", replace(dec))
    assert [reg.result(f"k{i}") is not None for i in range(4)] == [False, False, True, True]
    small = jobs.JobRegistry(result_bytes=size // 2)
    small.remember("big", dec)
    assert small.result("big") is None                       # larger than the bound: not kept


def test_cancelled_job_is_never_joined():
    """Tab A cancels; tab B asks for the same key at once: B gets a fresh job that runs."""
    reg = jobs.JobRegistry()
    release, started = threading.Event(), threading.Event()
    try:
        a = reg.submit("k", _blocking(release, started), "A")
        assert started.wait(10)
        assert reg.cancel("k", "A")
        b = reg.submit("k", lambda p, c: (None, False), "B")
        assert b is not a and not b.cancel.is_set()
        assert reg.wait("k", 10) is b and b.state == jobs.DONE
        assert a.state == jobs.CANCELLED
    finally:
        release.set()
        reg.shutdown()


# ------------------------------------------------------------------------------ the app

@pytest.fixture
def fresh_app():
    import streamlit as st
    st.cache_data.clear()
    st.cache_resource.clear()
    jobs.reset_registry()
    yield
    jobs.reset_registry()


def test_costly_link_waits_for_a_click(fresh_app):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"layout": "3x4", "steps": "2000", "codes": "4096"})
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["current"].job is None and jobs.registry().runs == 0
    note = next(i.value for i in at.sidebar.info if "costs more than the default" in i.value)
    assert "expected about" in note and "the default one: about" in note
    assert any(c.value.startswith("Expected time: about ") for c in at.sidebar.caption)
    at.run()
    assert at.session_state["current"].job is None                # still nothing: it waits for a click
