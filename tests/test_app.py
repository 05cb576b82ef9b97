"""AppTest flows through every page of the explorer (app.py), on the demo generator with small
settings (2x2 layout, 3 steps, 4 baseline codes) so that a decomposition takes about a second.

AppTest does not tick `run_every` fragments: the tests sleep and run the script again, as the
polling fragment would. Plotly figures are not rendered by AppTest; their JSON is checked."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from regionprims import jobs

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SMALL_URL = {"layout": "2x2", "steps": "3", "codes": "4"}


@pytest.fixture(autouse=True)
def _fresh(demo_weights):
    st.cache_data.clear()
    st.cache_resource.clear()
    jobs.reset_registry()
    yield
    jobs.reset_registry()


@pytest.fixture(scope="session")
def demo_weights(tmp_path_factory):
    """The bundled demo weights; until they are trained, an untrained net of the same
    architecture (the explorer's behaviour does not depend on what the net draws)."""
    from regionprims.models.demo import generator as demo
    from regionprims.models.demo.network import DemoNet
    if demo.WEIGHTS_PATH.is_file():
        yield demo.WEIGHTS_PATH
        return
    import torch
    from safetensors.torch import save_file
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("demo") / "untrained.safetensors"
    save_file({k: v.contiguous() for k, v in DemoNet().eval().state_dict().items()}, str(path))
    original = demo.WEIGHTS_PATH
    demo.WEIGHTS_PATH = path
    yield path
    demo.WEIGHTS_PATH = original


def new_app(params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if params:
        at.query_params.update(params)
    return at


def wait_for_result(at: AppTest, timeout: float = 90.0) -> AppTest:
    """Rerun (as the polling fragment would) until the decomposition is shown."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        at.run()
        assert not at.exception, at.exception
        cur = at.session_state["current"]
        if cur.dec is not None:
            return at
        if cur.job is not None and cur.job.state == jobs.ERROR:
            raise AssertionError(cur.job.error)
        time.sleep(0.3)
    raise AssertionError("the decomposition did not finish")


def full(at: AppTest) -> AppTest:
    """A mixer control reruns only the image fragment (st.rerun(key) from its callback); AppTest
    then holds only that fragment's elements, so run the whole script to see every widget again."""
    assert not at.exception, at.exception
    return at.run()


def url(at: AppTest) -> dict[str, str]:
    """The query parameters the script left in the URL."""
    return {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_shared_link_decomposes_and_mixer_updates_live():
    at = wait_for_result(new_app({**SMALL_URL, "seed": "3"}))
    assert not at.warning and not at.error
    assert at.selectbox(key="layout").value == "2x2" and at.number_input(key="seed").value == 3
    dec = at.session_state["current"].dec
    assert metric(at, "Components on") == "15 / 15"
    assert metric(at, "Additivity error") == "0.000"
    assert len(at.main.get("image")) >= 4 + 12               # original, baseline, mix, diff + cards
    top = dec.ranking[0]
    at.slider(key=f"w_{top}").set_value(0.0).run()
    assert metric(at, "Additivity error") != "0.000"            # the image fragment reran ...
    assert not at.checkbox and not at.sidebar.button            # ... and nothing else did
    assert at.session_state["view"].weight(top) == 0.0
    assert url(at)["w"] == f"{top}:0"                           # the URL carries the weight
    full(at)
    at.checkbox(key=f"on_{dec.ranking[1]}").uncheck().run()
    assert metric(at, "Components on") == "13 / 15"          # weight 0 counts as off too
    full(at).button(key="preset_none").click().run()
    assert metric(at, "Components on") == "0 / 15" and metric(at, "Strength on") == "0.0 %"
    full(at).number_input(key="preset_k").set_value(3).run()
    full(at).button(key="preset_topk").click().run()
    assert metric(at, "Components on") == "3 / 15"
    full(at).checkbox(key=f"solo_{dec.ranking[0]}").check().run()
    assert metric(at, "Components on") == "1 / 15"
    full(at).button(key="preset_all").click().run()
    assert metric(at, "Components on") == "15 / 15"
    full(at).slider(key="w_residual").set_value(0.0).run()
    assert url(at)["r"] == "0"
    full(at)
    # build-up tab: a frame, a curve, a strip
    at.slider(key="buildup_k").set_value(2).run()
    curve = next(s for s in plotly_specs(at)
                 if s["layout"].get("title", {}).get("text", "").startswith("Build-up: PSNR on the players"))
    assert curve["data"][0]["x"][:3] == [0, 1, 2]
    assert not at.exception


def test_restores_exact_view_from_url():
    first = wait_for_result(new_app({**SMALL_URL, "seed": "4"}))
    dec = first.session_state["current"].dec
    row = dec.ranking[2]
    params = {**SMALL_URL, "seed": "4", "w": f"{row}:0.25", "off": str(dec.ranking[0]), "r": "0.5"}
    at = new_app(params)
    at.run()                                                   # cached: opens at once, no new job
    assert at.session_state["current"].dec is not None and jobs.registry().runs == 1
    view = at.session_state["view"]
    assert view.weight(row) == 0.25 and not view.is_on(dec.ranking[0]) and view.residual == 0.5
    assert at.slider(key=f"w_{row}").value == 0.25
    assert at.checkbox(key=f"on_{dec.ranking[0]}").value is False
    assert at.slider(key="w_residual").value == 0.5
    assert metric(at, "Components on") == "14 / 15"
    assert url(at) == params


def test_malformed_url_is_reported_and_replaced_by_defaults():
    at = new_app({"seed": "-5", "trunc": "abc", "model": "nope", "w": "zz", "layout": "9y9"})
    at.run()
    assert not at.exception
    text = at.warning[0].value
    for part in ("seed='-5'", "trunc='abc'", "model='nope'", "w: 'zz'", "layout:"):
        assert part in text, text
    assert at.number_input(key="seed").value == 0 and at.selectbox(key="layout").value == "3x3"
    at.button(key="dismiss_url_errors").click().run()
    assert not at.warning


def test_decompose_button_progress_and_cached_reopen():
    at = new_app()
    at.run()
    assert not at.exception and at.session_state["current"].job is None       # no link: no auto start
    assert any("Decompose" in b.label for b in at.sidebar.button)
    at.selectbox(key="layout").set_value("2x2").run()
    at.number_input(key="steps").set_value(3).run()
    at.number_input(key="codes").set_value(4).run()
    at.button(key="decompose").click().run()
    assert at.session_state["current"].job is not None
    wait_for_result(at)
    # a second tab with the same selection: the result opens at once
    other = new_app(SMALL_URL)
    other.run()
    assert other.session_state["current"].dec is not None
    assert jobs.registry().runs == 1


def test_expected_time_shown_and_a_long_job_asks_first():
    at = new_app()
    at.run()
    assert any(c.value.startswith("Expected time: about ") for c in at.sidebar.caption)
    at.number_input(key="steps").set_value(2000).run()        # 511 subsets x 2000 steps: far over 2 min
    at.button(key="decompose").click().run()
    assert at.session_state["current"].job is None               # nothing started yet
    assert any("is expected to take about" in w.value for w in at.sidebar.warning)
    at.button(key="confirm_cancel").click().run()
    assert at.session_state["current"].job is None and not at.sidebar.warning
    at.button(key="decompose").click().run()
    at.button(key="confirm_start").click().run()
    job = at.session_state["current"].job
    assert job is not None and job.active
    jobs.registry().cancel(job.key, at.session_state["owner"])


def test_two_tabs_share_one_job():
    a, b = new_app({**SMALL_URL, "seed": "8"}), new_app({**SMALL_URL, "seed": "8"})
    a.run()
    b.run()
    wait_for_result(a)
    wait_for_result(b)
    assert jobs.registry().runs == 1


def test_cancel_stops_the_job():
    at = new_app({"layout": "3x3", "steps": "400", "codes": "4", "seed": "9"})
    at.run()
    assert at.session_state["current"].job is None          # dearer than the default: waits for a click
    at.button(key="decompose").click().run()
    if at.session_state["current"].job is None:            # expected to take long: confirm
        at.button(key="confirm_start").click().run()
    job = at.session_state["current"].job
    assert job is not None and job.active
    for _ in range(50):                    # wait until it runs (the progress fragment shows)
        if job.state == jobs.RUNNING:
            break
        time.sleep(0.1)
    at.run()
    at.button(key="cancel").click().run()
    assert jobs.registry().wait(job.key, 60).state == jobs.CANCELLED
    at.run()
    assert any("cancelled" in i.value for i in at.sidebar.info)
    assert at.session_state["current"].dec is None


def test_bad_input_is_one_clear_message():
    at = new_app()
    at.run()
    at.selectbox(key="model").set_value("biggan-deep-128").run()
    assert not at.exception
    from regionprims.models import biggan
    if biggan.find_local_weights("biggan-deep-128") is None:
        assert at.error and "biggan-deep-128" in at.error[0].value
    at.selectbox(key="model").set_value("demo").run()
    at.selectbox(key="layout").set_value("paper").run()
    # 13 players are refused with one line
    at.session_state["players"] = tuple(range(13))
    at.run()
    assert not at.exception
    assert any("13 players" in e.value for e in at.error)


def test_components_page():
    at = wait_for_result(new_app({**SMALL_URL, "seed": "5"}))
    at.switch_page("pages/components.py").run()
    assert not at.exception
    assert at.title[0].value == "Components"
    n_cards = len([b for b in at.button if b.key and b.key.startswith("solo_mixer_")])
    assert n_cards == 15
    heat = plotly_specs(at)[0]
    assert heat["data"][0]["type"] == "heatmap" and len(heat["data"][0]["y"]) == 15
    at.multiselect(key="comp_regions").set_value([0, 3]).run()
    at.segmented_control(key="comp_mode").set_value("contains all").run()
    n_cards = len([b for b in at.button if b.key and b.key.startswith("solo_mixer_")])
    assert n_cards == 4                                     # {0,3}, {0,1,3}, {0,2,3}, {0,1,2,3}
    row = next(b for b in at.button if b.key and b.key.startswith("solo_mixer_"))
    row.click().run()
    assert at.session_state["view"].solo == frozenset({int(row.key.rsplit("_", 1)[1])})


def test_faithfulness_page():
    at = wait_for_result(new_app({**SMALL_URL, "seed": "6"}))
    at.switch_page("pages/faithfulness.py").run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    # the page opens with the verdict sentence and the beyond-geometry figures
    from regionprims.method.beyond import HEADLINE, verdict
    dec = at.session_state["current"].dec
    assert verdict(dec.metrics) in at.markdown[0].value and "Beyond geometry" in at.markdown[0].value
    assert labels[:len(HEADLINE)] == [label for label, _ in HEADLINE.values()]
    for name in ("Residual ratio", "Fit PSNR (dB)", "Additivity error, top 20", "Leakage, top 20",
                 "Sparsity, top 20", "Stability"):
        assert name in labels
    cards = {m.label: m for m in at.metric}
    # 2x2: 15 components, so the top-20 scores are undefined: "n/a", never a perfect 0 or 1
    for name in ("Additivity error, top 20", "Sparsity, top 20"):
        assert cards[name].value == "n/a"
    from regionprims.ui.faithfulness import _fmt
    assert cards["Residual ratio"].value == _fmt("residual_ratio", dec.metrics["residual_ratio"])
    # a null's score that holds by construction is labelled so, never shown as a plain value
    made = dec.info["null"]["by_construction"]
    for label, key in (("Residual ratio", "residual_ratio"), ("Leakage, top 20", "leakage_top20")):
        delta = str(cards[label].proto.delta)
        if "null_" + key in made and "budget_null_" + key in made:
            assert "null and budget: by construction" in delta
            continue
        tight, budget = delta.split("·")
        assert ("by construction" in tight) == ("null_" + key in made)
        assert ("by construction" in budget) == ("budget_null_" + key in made)
        if "null_" + key not in made:
            assert _fmt(key, dec.metrics["null_" + key]) in tight
    titles = [s["layout"]["title"]["text"] for s in plotly_specs(at)]
    assert any("Sparsity" in t for t in titles) and any("Additivity" in t for t in titles)
    assert any("Leakage" in t for t in titles)
    if any(k.startswith("gt_") for k in dec.metrics):
        assert any("gt_" in str(t.value) for t in at.table)
        # the recorded method-vs-null verdict on the planted interactions, in plain words
        assert any("Planted interactions" in md.value and "geometric null" in md.value for md in at.markdown)


def test_export_page():
    at = wait_for_result(new_app({**SMALL_URL, "seed": "7"}))
    at.switch_page("pages/export.py").run()
    assert not at.exception, at.exception
    names = {b.key for b in at.get("download_button")}
    assert {"dl_png", "dl_svg", "dl_pdf", "dl_pptx", "dl_safetensors", "dl_gif"} <= names
    from regionprims import export
    dec = at.session_state["current"].dec
    gen = at.session_state["current"].gen
    assert export.panel_bytes(gen, dec, "png")[:4] == b"\x89PNG"


def test_pages_are_listed_once():
    """Every stub in pages/ is a row of shell.PAGES and calls shell.page with its own name, and
    every row has its stub: a page added only one way is caught here, not by the first visitor."""
    import ast

    from regionprims.ui import shell
    root = Path(APP).parent
    stubs = {p.stem: p for p in (root / "pages").glob("*.py")}
    assert set(stubs) == {p.name for p in shell.PAGES}
    for name, path in stubs.items():
        calls = [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Attribute) and n.func.attr == "page"]
        assert [c.args[0].value for c in calls] == [name], path


def test_the_order_cap_is_an_optimisation_setting_in_the_sidebar_and_the_url():
    at = wait_for_result(new_app({**SMALL_URL, "seed": "6", "order": "1"}))
    cur = at.session_state["current"]
    assert cur.spec.settings.max_order == 1 and at.number_input(key="order").value == 1
    assert cur.dec.info["subsets_stepped"] == 0                 # only the single players were optimised
    assert url(at)["order"] == "1"
    at.number_input(key="order").set_value(0).run()             # back to every subset: the default
    assert at.session_state["current"].spec.settings.max_order == 0 and "order" not in url(at)
