"""The Study page (AppTest): a finished study from the cache and from a folder, its report, an
image opened in the mixer; and a study started from the page (local Ray) with its progress."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from regionprims import jobs
from regionprims.models.registry import load_generator
from regionprims.pipeline import decompose, decomposition_key, make_spec, report_json
from regionprims.store.fileformat import save_decomposition
from regionprims.study import records
from regionprims.study.plan import plan_from_mapping

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(autouse=True)
def _fresh():
    st.cache_data.clear()
    st.cache_resource.clear()
    jobs.reset_registry()
    yield
    jobs.reset_registry()


def make_study(folder: Path | None) -> records.StudyRecord:
    """2 classes x 2 seeds, 2x2, decomposed in this process into the test's cache (and folder)."""
    plan = plan_from_mapping({"model": "demo", "classes": "face,house", "seeds": "0-1", "layout": "2x2",
                              "steps": 3, "baseline_codes": 4})
    gen, cache = load_generator("demo", "cpu"), jobs.result_cache()
    record = records.StudyRecord(plan=plan, model_identity=gen.identity, folder=folder)
    for class_id in (0, 4):
        for seed in (0, 1):
            spec = make_spec(gen, class_id, seed, layout="2x2", settings=plan.settings)
            dec, hit = decompose(gen, spec, cache=cache)
            entry = {"class_id": class_id, "class_name": gen.class_names[class_id], "seed": seed, "status": "done",
                     "key": decomposition_key(spec), "cache_hit": hit, "seconds": 0.1,
                     "report": report_json(dec, hit, 0.1)}
            if folder is not None:
                entry["file"] = records.image_file_name(class_id, entry["class_name"], seed)
                save_decomposition(dec, folder / entry["file"])
            record.images.append(entry)
    record.finished = time.time()
    records.save(record, cache)
    return record


def study_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at.switch_page("pages/study.py").run()


def test_cached_study_report_and_open_in_mixer():
    record = make_study(None)
    at = study_page()
    assert not at.exception, at.exception
    assert at.selectbox(key="study_chosen").value == record.study_id
    text = "\n".join(m.value for m in at.markdown)
    assert "within class" in text and "across classes" in text and "null, within" in text and "geometry control" in text
    assert "| face | 2 |" in text and "| house | 2 |" in text
    assert any("undefined" in i.value for i in at.info)            # 15 components: top-20 is not defined
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    assert any("Consistency" in s["layout"]["title"]["text"] for s in specs)
    strip = next(s for s in specs if "one point per image" in s["layout"]["title"]["text"])
    assert sum(len(t["y"]) for t in strip["data"] if t["name"] == "method") == 4
    open_house_1 = next(b for b in at.button if b.label == "house · seed 1")
    open_house_1.click().run()                                     # -> Explore, with that decomposition
    at.run()
    assert not at.exception, at.exception
    cur = at.session_state["current"]
    assert (cur.app.class_id, cur.app.seed, cur.app.layout) == (4, 1, "2x2")
    assert cur.dec is not None and cur.key == record.images[3]["key"]    # opened from the cache, not recomputed
    assert jobs.registry().runs == 0


def test_folder_study(tmp_path):
    make_study(tmp_path / "study")
    at = study_page()
    at.segmented_control(key="study_source").set_value("Folder").run()
    at.text_input(key="study_folder").input(str(tmp_path / "study")).run()
    assert not at.exception, at.exception
    assert "| face | 2 |" in "\n".join(m.value for m in at.markdown)
    at.text_input(key="study_folder").input(str(tmp_path)).run()
    assert any("no study.json" in e.value for e in at.error)


@pytest.fixture
def ray_after():
    """The page starts Ray in this process (as the explorer does); stop it after the test."""
    yield
    import ray
    ray.shutdown()


def test_start_a_study_from_the_page(ray_after):
    """One class x 2 seeds on local Ray, in the background; the page polls and then shows it."""
    at = study_page()
    at.multiselect(key="study_classes").set_value(["garden"])
    at.text_input(key="study_seeds").input("0-1")
    at.sidebar.selectbox(key="layout").set_value("2x2")
    at.sidebar.number_input(key="steps").set_value(2)
    at.sidebar.number_input(key="codes").set_value(4)
    at.run()
    next(b for b in at.button if b.label == "Run study").click().run()
    assert not at.exception, at.exception
    end = time.monotonic() + 240
    while time.monotonic() < end:
        job = jobs.study_registry().get(at.session_state["study_job"])
        if not job.active:
            break
        time.sleep(0.5)
    assert job.state == jobs.DONE, job.error
    at.run()
    assert not at.exception, at.exception
    assert "garden" in at.selectbox(key="study_chosen").format_func(at.selectbox(key="study_chosen").value)
    assert len([b for b in at.button if b.label.startswith("garden · seed")]) == 2
