"""The Study page: choose a finished study (from the cache or a folder), read its report
(transfer within class / across classes / of the geometric null / the geometry control, consistency across seeds, metric
distributions) as Plotly charts and tables, open any of its images in the mixer, and start a
study in the background (progress and cancel, like a single decomposition)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import streamlit as st

from regionprims import jobs
from regionprims.errors import UserError
from regionprims.method.render import to_rgb
from regionprims.method import settings_table
from regionprims.study import records, tables
from regionprims.study.plan import StudyPlan, plan_from_mapping
from regionprims.study.report import study_report
from regionprims.ui import state, study_charts
from regionprims.ui.state import Current
from regionprims.models.registry import class_names, shown_name
from regionprims.pictures import png_bytes, upscale
from regionprims.ui.urlstate import AppState
from regionprims.validation import printable

SOURCE, FOLDER, CHOSEN, JOB = "study_source", "study_folder", "study_chosen", "study_job"
CLASSES, SEEDS, METRIC = "study_classes", "study_seeds", "study_metric"
GOTO, OPEN_ERROR = "_study_goto_explore", "_study_open_error"
FROM_CACHE, FROM_FOLDER = "Cache", "Folder"
GALLERY = 24
POLL_SECONDS = 0.5


# ---------------------------------------------------------------------------- loading (cached)

def _load(where: str, study_id: str) -> records.StudyRecord:
    """The record of a study folder (where = its path) or of the cache (where = '')."""
    if where:
        return records.load_folder(where)
    record = records.load_cached(jobs.result_cache(), study_id)
    if record is None:
        raise UserError(f"study {study_id} is no longer in the cache")
    return record


@st.cache_data(show_spinner="Reading the study's decompositions…", max_entries=8)
def _report(where: str, study_id: str, stamp: float, count: int, top: int = 20, pool: int = 100) -> dict:
    return study_report(_load(where, study_id), jobs.result_cache(), top, pool)


@st.cache_data(show_spinner=False, max_entries=256)
def _thumbnail(where: str, study_id: str, class_id: int, seed: int) -> bytes:
    record = _load(where, study_id)
    image = next(im for im in record.done() if im["class_id"] == class_id and im["seed"] == seed)
    rgb = to_rgb(records.open_image(record, image, jobs.result_cache()).image)
    return png_bytes(upscale(rgb, max(1, 96 // rgb.shape[0])))


# ---------------------------------------------------------------------------- choosing

def choose(model: str | None = None) -> tuple[records.StudyRecord | None, str]:
    """The study to show (and where it lives: a folder path, or '' for the cache), if its model
    may be loaded (records.trusted_model; `model` is the sidebar's, which the user chose)."""
    record, where = _choose()
    if record is None:
        return None, ""
    try:
        records.trusted_model(record, (model,))
    except UserError as exc:
        st.error(printable(exc))
        return None, ""
    return record, where


def _choose() -> tuple[records.StudyRecord | None, str]:
    ss = st.session_state
    source = st.segmented_control("Studies from", [FROM_CACHE, FROM_FOLDER], key=SOURCE, default=FROM_CACHE)
    if source == FROM_FOLDER:
        folder = st.text_input("Study folder (written by `regionprims batch --out`)", key=FOLDER)
        if not folder:
            return None, ""
        try:
            return records.load_folder(Path(folder).expanduser()), str(Path(folder).expanduser())
        except UserError as exc:
            st.error(printable(exc))
            return None, ""
    studies = records.cached_studies(jobs.result_cache())
    if not studies:
        st.info("No study in the cache yet: start one above (Start a study), or run `regionprims batch`.")
        return None, ""
    ids = [r.study_id for r in studies]
    if ss.get(CHOSEN) not in ids:
        ss[CHOSEN] = ids[0]
    labels = {r.study_id: r.label() for r in studies}
    st.selectbox("Study", ids, key=CHOSEN, format_func=lambda i: f"{labels[i]} · {i}")
    return studies[ids.index(ss[CHOSEN])], ""


# ---------------------------------------------------------------------------- opening an image

def explorer_can_open(plan: StudyPlan) -> str:
    """'' when the explorer's controls reproduce the study's settings (so its decompositions open
    from the cache); else what they cannot set."""
    s = plan.settings
    same = replace(settings_table.defaults(), **{r.name: getattr(s, r.name) for r in settings_table.shown()})
    diff = [k for k in vars(s) if getattr(s, k) != getattr(same, k)]
    if plan.rank_by != "norm":
        diff.append("rank_by")
    return ", ".join(diff)


def _open(plan_json: dict, class_id: int, seed: int) -> None:
    """Button callback: put the image's selection into the sidebar's state, then go to Explore.
    The model is checked again here: the sidebar loads whatever it is given."""
    from regionprims.models.registry import resolve_stored
    plan = StudyPlan.from_json(plan_json)
    try:
        model = resolve_stored(plan.model, "the study", typed=(st.session_state.get(state.MODEL),))
    except UserError as exc:
        st.session_state[OPEN_ERROR] = printable(exc)
        return
    state.load(AppState(model=model, class_id=class_id, seed=seed, truncation=plan.truncation,
                        split=plan.split, layout=plan.layout, players=plan.players, settings=plan.settings))
    st.session_state[GOTO] = True


def gallery(record: records.StudyRecord, where: str) -> None:
    done = record.done()
    blocked = explorer_can_open(record.plan)
    if blocked:
        st.caption(f":orange[This study sets {blocked}, which the explorer's controls do not: its images open "
                   "with the explorer's settings (and are decomposed again).]")
    names = sorted({im.get("class_name") or str(im["class_id"]) for im in done})
    pick = st.selectbox("Class", ["all"] + names, key="study_gallery_class",
                        format_func=printable) if len(names) > 1 else "all"
    shown = [im for im in done if pick in ("all", im["class_name"])][:GALLERY]
    cols = st.columns(6)
    for i, im in enumerate(shown):
        with cols[i % 6].container(key=f"px_study_{im['class_id']}_{im['seed']}"):
            try:
                st.image(_thumbnail(where, record.study_id, im["class_id"], im["seed"]), width="stretch")
            except UserError as exc:
                st.caption(printable(exc))
            st.button(f"{printable(im.get('class_name') or im['class_id'])} · seed {im['seed']}", key=f"open_{im['class_id']}_{im['seed']}",
                      on_click=_open, args=(record.plan.to_json(), im["class_id"], im["seed"]), width="stretch",
                      help="Open this decomposition in the mixer (Explore page)")
    if len(shown) < len([im for im in done if pick in ("all", im["class_name"])]):
        st.caption(f"The first {GALLERY} images are shown; pick a class to see others.")


# ---------------------------------------------------------------------------- the report

def report_view(record: records.StudyRecord, where: str) -> None:
    try:
        report = _report(where, record.study_id, record.finished or record.created, len(record.done()))
    except UserError as exc:
        st.warning(printable(exc))
        return
    st.caption(f"{printable(record.plan.model)} ({printable(record.model_identity)}) · layout "
               f"{printable(record.plan.layout)} · "
               f"{report['images']} images · {report['n_components']} components each · "
               f"{len(record.failed())} failed · study {record.study_id}")
    left, right = st.columns(2)
    for col, kind in ((left, "asym"), (right, "sym")):
        if report["transfer_defined"][kind]:
            col.plotly_chart(study_charts.transfer(report, kind), config=study_charts.CONFIG, key=f"tr_{kind}")
        else:
            col.info(f"{'Asymmetric' if kind == 'asym' else 'Symmetric'} transfer is undefined for "
                     f"{report['n_components']} components (the top holds all of them).")
    st.markdown("\n".join(tables.transfer_table(report)))
    st.plotly_chart(study_charts.consistency(report), config=study_charts.CONFIG, key="consistency")
    st.markdown("\n".join(tables.consistency_table(report)))
    keys = [k for k in report["metrics"]["overall"] if not k.startswith("null_")]
    key = st.selectbox("Metric", keys, key=METRIC)
    event = st.plotly_chart(study_charts.metric_strip(report, key), config=study_charts.CONFIG, key="strip",
                            on_select="rerun", selection_mode="points")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points and points[0].get("customdata"):
        c, s = points[0]["customdata"][:2]
        st.button(f"Open class {c} seed {s} in the mixer", on_click=_open, args=(record.plan.to_json(), c, s),
                  key="open_selected", type="primary")
    with st.expander("All metrics (distribution over the study, null beside)"):
        st.markdown("\n".join(tables.metrics_table(report)))
    if record.failed():
        with st.expander(f"{len(record.failed())} failed image(s)"):
            st.markdown("\n".join(f"- class {f['class_id']} ({printable(f.get('class_name'))}) seed {f['seed']}: "
                                  f"{printable(f.get('error'))}" for f in record.failed()))


# ---------------------------------------------------------------------------- starting a study

def _start(cur: Current) -> None:
    ss = st.session_state
    try:
        names = class_names(cur.app.model)
        plan = plan_from_mapping({"model": cur.app.model, "classes": [str(names.index(n)) for n in ss[CLASSES]],
                                  "seeds": ss[SEEDS], "truncation": cur.app.truncation, "split": cur.app.split,
                                  "layout": cur.app.layout, "players": cur.app.players,
                                  **{r.name: getattr(state.settings(), r.name) for r in settings_table.shown()}})
    except UserError as exc:
        ss["study_error"] = str(exc)
        return
    ss["study_error"] = None
    ss[JOB] = jobs.submit_study(plan, state.owner()).key


def _cancel(key: str) -> None:
    jobs.study_registry().cancel(key, state.owner())


def start_panel(cur: Current) -> None:
    ss = st.session_state
    job = jobs.study_registry().get(ss.get(JOB, "")) if ss.get(JOB) else None
    if job is not None and job.active:
        _progress(job.key)
        return
    with st.expander("Start a study", expanded=job is not None and job.state == jobs.ERROR):
        if job is not None and job.state == jobs.ERROR:
            st.error(job.error)
        elif job is not None and job.state == jobs.CANCELLED:
            st.info("The study was cancelled; its finished images stay in the cache (a rerun skips them).")
        st.caption(f"Model, layout, players, truncation, split and optimisation settings come from the sidebar "
                   f"({shown_name(cur.app.model)}, {cur.app.layout}). Runs on Ray on this machine, in the background.")
        names = class_names(cur.app.model)
        st.multiselect("Classes", names, key=CLASSES, default=list(names[:2]))
        st.text_input("Seeds", key=SEEDS, value="0-2", help="A list (0,3,7), a range (0-9), or both")
        st.button("Run study", type="primary", on_click=_start, args=(cur,), key="run_study")
        if ss.get("study_error"):
            st.error(ss["study_error"])


@st.fragment(run_every=POLL_SECONDS)
def _progress(key: str) -> None:
    job = jobs.study_registry().get(key)
    if job is None or not job.active:
        if job is not None and job.state == jobs.DONE:
            st.session_state[CHOSEN] = key.split("/", 1)[1]
        st.rerun()
        return
    text = job.message if job.state == jobs.RUNNING else "queued"
    st.progress(job.fraction, text=f"Study: {text} — {job.elapsed():.0f} s elapsed")
    st.button("Cancel study", on_click=_cancel, args=(key,), key="cancel_study", icon=":material/stop:")


def page(cur: Current) -> None:
    if st.session_state.pop(GOTO, False):
        st.switch_page("pages/explore.py")
    st.title("Study")
    start_panel(cur)
    if st.session_state.get(OPEN_ERROR):
        st.error(st.session_state.pop(OPEN_ERROR))
    record, where = choose(cur.app.model)
    if record is None:
        return
    report_view(record, where)
    st.subheader("Images — open one in the mixer")
    gallery(record, where)
