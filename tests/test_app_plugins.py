"""The explorer with plug-in generators: REGIONPRIMS_MODELS=file.py:make lists the model under
the name its factory gives it (the spec as help), hides the class picker of an unconditional one
and decomposes it; the URL names it by that name; a URL naming any other spec imports nothing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from regionprims import jobs
from regionprims.models import registry

HERE = Path(__file__).resolve().parent
APP = str(HERE.parent / "app.py")


@pytest.fixture
def plugin_env(tmp_path, monkeypatch):
    src = tmp_path / "my_gen.py"
    shutil.copy(HERE / "plugin_generators.py", src)
    src.write_text(src.read_text() + "\n\ndef make():\n    return make_dcgan()\n")
    spec = f"{src}:make"
    monkeypatch.setenv("REGIONPRIMS_MODELS", spec)
    registry.clear_loaded()
    st.cache_data.clear()
    st.cache_resource.clear()
    jobs.reset_registry()
    yield spec, tmp_path
    jobs.reset_registry()
    monkeypatch.delenv("REGIONPRIMS_MODELS")
    registry.clear_loaded()
    st.cache_resource.clear()


def test_environment_plugin_is_listed_and_decomposes(plugin_env):
    spec, _ = plugin_env
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"model": spec, "layout": "2x2", "steps": "2", "codes": "4"})
    at.run()
    assert not at.exception, at.exception
    assert any(o.startswith("test-dcgan — ") for o in at.selectbox(key="model").options)
    assert at.selectbox(key="model").value == spec
    assert not [s for s in at.sidebar.selectbox if s.key == "cls"]      # unconditional: no class picker
    import time
    for _ in range(200):
        at.run()
        cur = at.session_state["current"]
        if cur.dec is not None:
            break
        assert cur.job is None or cur.job.state != jobs.ERROR, cur.job.error
        time.sleep(0.3)
    assert cur.dec is not None and cur.dec.spec.model == "test-dcgan"


def test_url_cannot_make_the_app_import_code(plugin_env):
    _, tmp_path = plugin_env
    marker = tmp_path / "imported.txt"
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('x')\n\ndef make():\n    return None\n")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"model": f"{evil}:make"})
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="model").value == "demo"
    assert any("unknown" in w.value for w in at.warning) or any("unknown" in e.value for e in at.error) \
        or any("unknown" in str(m.value) for m in at.main.get("alert"))
    assert not marker.exists()


def test_plugin_is_listed_under_its_name_and_the_url_keeps_the_name(plugin_env):
    spec, _ = plugin_env
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"model": "test-dcgan", "layout": "2x2", "steps": "400"})   # by name; dear: no job
    at.run()
    assert not at.exception, at.exception
    box = at.selectbox(key="model")
    assert box.value == spec                                    # the name resolves to the listed spec
    label = next(o for o in box.options if "test-dcgan" in o)
    assert label.startswith("test-dcgan — ") and spec not in label
    assert not any(o.startswith(spec) for o in box.options)     # listed by its name, not by its spec
    assert f"**test-dcgan**: `{spec}`" in box.help
    assert any(spec in c.value for c in at.sidebar.caption)     # the chosen plug-in's spec under the list
    assert not [w for w in at.warning if "unknown" in w.value]
    assert at.query_params["model"] == "test-dcgan"             # the URL keeps the name
    fresh = AppTest.from_file(APP, default_timeout=120)
    fresh.query_params.update({"model": spec, "layout": "2x2", "steps": "400"})    # an older link, by spec
    fresh.run()
    assert fresh.selectbox(key="model").value == spec
    assert fresh.query_params["model"] == "test-dcgan"          # ... is rewritten to the name


def test_a_plugin_name_in_a_url_loads_nothing_unlisted(monkeypatch):
    monkeypatch.delenv("REGIONPRIMS_MODELS", raising=False)
    registry.clear_loaded()
    jobs.reset_registry()
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params.update({"model": "test-dcgan"})
        at.run()
        assert not at.exception, at.exception
        assert at.selectbox(key="model").value == "demo"
    finally:
        jobs.reset_registry()                   # stop the worker threads the run started
        registry.clear_loaded()
