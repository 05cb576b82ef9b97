"""The shared sidebar: choose model, class, seed, truncation, split, layout (players are clicked
on the Explore page), start/cancel the decomposition job, and find out whether a result exists."""
from __future__ import annotations

import logging
import random

import streamlit as st

from regionprims import jobs
from regionprims.errors import UserError
from regionprims.method import settings_table
from regionprims.pipeline import MAX_SEED, decomposition_key
from regionprims.models.registry import class_names, model_defaults, model_info, plugin_names, shown_name
from regionprims.ui import download, resources, state
from regionprims.ui.state import Current
from regionprims.ui.urlstate import TRUNC_RANGE

POLL_SECONDS = 0.5                  # progress poll of a short job (the demo's: a few seconds)
POLL_MAX_SECONDS = 2.0              # ... and of a long one
log = logging.getLogger(__name__)


def _on_model() -> None:
    ss = st.session_state
    t_def, s_def, _ = model_defaults(ss[state.MODEL])
    n_classes = len(class_names(ss[state.MODEL]))
    if ss.get(state.CLASS, 0) >= n_classes:
        ss[state.CLASS] = 0
    ss[state.TRUNC] = float(t_def)
    ss[state.SPLIT] = s_def
    ss[state.PLAYERS] = None if ss.get(state.LAYOUT) == "paper" else ss.get(state.PLAYERS)


def _on_layout() -> None:
    st.session_state[state.PLAYERS] = None


def _dice() -> None:
    st.session_state[state.SEED] = random.randrange(0, 100_000)


def _model_label(info: dict) -> str:
    classes = f"{info['classes']} classes" if info["classes"] != 1 else "unconditional"
    mark = "weights present" if info["weights_present"] else "weights missing"
    return f"{shown_name(info['name'])} — {info['image_size']} px, {classes} ({mark})"


MODEL_HELP = ("The built-in generator families, installed plug-ins and the plug-ins of REGIONPRIMS_MODELS, each "
              "plug-in under the name its factory gives it (`regionprims models` lists the same). A model "
              "whose weights are not on this machine says below how to get them.")


def _model_help() -> str:
    """The model list's help: what it lists, and the spec behind each plug-in's name."""
    named = plugin_names()
    if not named:
        return MODEL_HELP
    return MODEL_HELP + "\n\nPlug-ins of REGIONPRIMS_MODELS:\n" + "\n".join(
        f"- **{name}**: `{spec}`" for spec, name in named.items())


def choose() -> None:
    """The selection widgets (values restored from the URL on the first run by state.init)."""
    ss = st.session_state
    infos = {m["name"]: m for m in resources.models()}
    st.selectbox("Model", list(infos), key=state.MODEL, on_change=_on_model,
                 format_func=lambda n: _model_label(infos[n]), help=_model_help())
    info = infos[ss[state.MODEL]]
    about = "" if "error" in info else model_info(info["name"])["description"]
    spec = info["name"] if shown_name(info["name"]) != info["name"] else ""
    if about or spec:
        st.caption(" ".join(filter(None, (about, f"Plug-in `{spec}`." if spec else ""))))
    if not info["weights_present"]:
        download.panel(info["name"])
    names = class_names(ss[state.MODEL])
    if len(names) > 1:                  # an unconditional generator has one class: no picker
        st.selectbox("Class", range(len(names)), key=state.CLASS, format_func=lambda i: f"{names[i]} ({i})",
                     help="Type to search by name.")
    else:
        ss[state.CLASS] = 0
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    c1.number_input("Seed", min_value=0, max_value=MAX_SEED, step=1, key=state.SEED)
    c2.button("", icon=":material/casino:", on_click=_dice, help="A random seed", key="dice")
    t_def, s_def, splits = model_defaults(ss[state.MODEL])
    st.slider("Truncation", *TRUNC_RANGE, step=0.02, key=state.TRUNC,
              help=f"Scales the latent code (default {t_def:g} for this model).")
    if ss.get(state.SPLIT) not in splits:
        ss[state.SPLIT] = s_def
    st.selectbox("Split point", splits, key=state.SPLIT,
                 help="The generator block whose output feature is decomposed.")
    layouts = list(state.LAYOUTS)
    if ss.get(state.LAYOUT) not in layouts:
        layouts.append(ss[state.LAYOUT])
    st.selectbox("Layout", layouts, key=state.LAYOUT, on_change=_on_layout,
                 help="RxC: a grid whose cells are the players (click patches on the Explore page to "
                      "change them). paper: a 6x6 grid with 9 foreground players.")
    with st.expander("Optimisation settings"):
        for row in settings_table.shown():
            setting_widget(row)


def setting_widget(row: settings_table.Row) -> None:
    """One setting's widget as its table row declares it (kind, label, range, step, help), keyed
    by row.key so that state.settings() reads it back."""
    w = row.meta.widget
    text = w.help or row.meta.help
    kind = row.widget_kind()
    if kind == "checkbox":
        st.checkbox(w.label, key=row.key, help=text)
    elif kind == "select":
        st.selectbox(w.label, row.choices, key=row.key, help=text)
    else:
        lo, hi = row.ui_range()
        number = row.kind if row.kind in (int, float) else float     # one numeric type for value, bounds, step
        draw = st.slider if kind == "slider" else st.number_input
        draw(w.label, number(lo), number(hi), step=number(w.step), key=row.key, help=text)


def build_current() -> Current:
    """Generator, validated spec and (if finished or cached) the decomposition of the current
    selection. Bad input ends in `error` (one line), never an exception."""
    app = state.app_state()
    cur = Current(app=app)
    try:
        gen = resources.generator(app.model)
        cur.gen = gen
        cur.spec = resources.spec(gen.identity, app.model, app.class_id, app.seed, app.truncation, app.split,
                                  app.layout, app.players, app.settings, _gen=gen)
    except UserError as exc:
        cur.error = str(exc)
        return cur
    cur.key = decomposition_key(cur.spec)
    state.adopt_view(cur.key)
    cur.dec, _ = jobs.lookup(cur.spec)
    jobs.registry().heartbeat(cur.key, state.owner())       # this tab still looks at its job
    cur.job = jobs.registry().get(cur.key)
    return cur


def _start(cur: Current) -> None:
    try:
        jobs.submit_decomposition(cur.gen, cur.spec, state.owner())
        st.session_state.pop(state.BUSY, None)
    except jobs.Busy as exc:
        st.session_state[state.BUSY] = str(exc)


def _url_may_start(cur: Current) -> tuple[bool, str]:
    """A shared link starts its decomposition by itself only when it costs no more than the
    default one (3x3, default settings, default split) of the same model and image; anything
    dearer waits for a click. Returns (may start, what it costs against the default)."""
    from regionprims.method.specs import OptimSettings
    from regionprims.pipeline import make_spec
    est = _estimate(cur)
    try:
        default = make_spec(cur.gen, cur.spec.class_id, cur.spec.seed, truncation=cur.spec.truncation,
                            layout="3x3", settings=OptimSettings())
    except UserError:
        return False, ""
    base = _estimate(Current(app=cur.app, gen=cur.gen, spec=default))
    if est is None or base is None:
        return False, ""
    cost = f" (expected {est.text()}; the default one: {base.text()})"
    return not est.needs_confirmation and est.seconds <= 1.05 * base.seconds, cost


def _cancel(key: str) -> None:
    jobs.registry().cancel(key, state.owner())


def _fmt_seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


def job_panel(cur: Current) -> None:
    """Decompose button, or the running job's progress (polled), or the finished state."""
    if cur.error:
        st.error(cur.error)
        return
    if cur.dec is not None:
        t = cur.dec.info.get("timings", {})
        total = sum(t.values()) if t else None
        st.success(f"Decomposed: {cur.dec.subsets.shape[0]} subsets"
                   + (f", computed in {_fmt_seconds(total)}" if total else ""), icon=":material/check_circle:")
        return
    job = cur.job
    if job is not None and job.active:
        from regionprims.estimate import known_estimate
        est = known_estimate(cur.gen, cur.spec)       # no probe while the job runs
        st.fragment(_progress, run_every=poll_seconds(est.seconds if est is not None else None))(cur.key)
        return
    ss = st.session_state
    if ss.get(state.BUSY):
        st.warning(ss[state.BUSY], icon=":material/hourglass_disabled:")
    waits = ss.get(state.URL_WAITS)
    if waits is not None and waits[0] == cur.key:
        st.info(f"This link asks for a decomposition that costs more than the default one{waits[1]}; it "
                "starts when you press **Decompose**.", icon=":material/touch_app:")
    if job is not None and job.state == jobs.ERROR:
        st.error(job.error)
    elif job is not None and job.state == jobs.CANCELLED:
        st.info("The decomposition was cancelled.")
    n = cur.spec.layout.n
    est = _estimate(cur)
    if est is not None and st.session_state.get(state.CONFIRM) == cur.key:
        _confirm(cur, est)
        return
    st.button(f"Decompose ({2 ** n} subsets)", type="primary", on_click=_request, args=(cur, est),
              key="decompose", width="stretch")
    expected = f"Expected time: {est.text()}. " if est is not None else ""
    st.caption(f"{expected}Runs in the background on {cur.gen.device}; the page stays usable.")


def _estimate(cur: Current):
    """The expected time of the current selection (a short probe, measured once per model,
    split and device); None when it cannot be measured (the button still works)."""
    from regionprims.estimate import estimate
    try:
        with st.spinner("Measuring the cost on this device…"):
            return estimate(cur.gen, cur.spec, jobs.result_cache())
    except Exception:   # noqa: BLE001 - an estimate must never block a decomposition
        log.exception("cost probe failed")
        return None


def _request(cur: Current, est) -> None:
    """Start at once, or first ask when the job is expected to take longer than the threshold."""
    if est is not None and est.needs_confirmation:
        st.session_state[state.CONFIRM] = cur.key
    else:
        _start(cur)


def _confirm(cur: Current, est) -> None:
    st.warning(f"This decomposition ({2 ** cur.spec.layout.n} subsets) is expected to take {est.text()}. "
               "Start it?", icon=":material/schedule:")
    c1, c2 = st.columns(2)
    c1.button("Start", type="primary", on_click=_confirmed, args=(cur,), key="confirm_start", width="stretch")
    c2.button("Not now", on_click=_unconfirm, key="confirm_cancel", width="stretch")


def _confirmed(cur: Current) -> None:
    _unconfirm()
    _start(cur)


def _unconfirm() -> None:
    st.session_state.pop(state.CONFIRM, None)


def poll_seconds(expected: float | None) -> float:
    """How often the running job's progress is polled: a tenth of its expected time, between
    POLL_SECONDS and POLL_MAX_SECONDS. Every poll is a script run that takes the CPU from the job
    (on 2 cores, frequent polls slow a long decomposition down: docs/benchmarks.md, "The
    allocator", progress polls), and a tenth keeps the lag between the job's end and the result
    showing under a tenth of the wait."""
    if expected is None or not expected > 0:
        return POLL_SECONDS
    return min(POLL_MAX_SECONDS, max(POLL_SECONDS, expected / 10))


def _progress(key: str) -> None:
    """The running job's progress bar and Cancel button (a fragment, rerun every poll_seconds)."""
    jobs.registry().heartbeat(key, state.owner())
    job = jobs.registry().get(key)
    if job is None or not job.active:
        st.rerun()                      # finished: show the result on the whole page
        return
    text = job.message if job.state == jobs.RUNNING else "queued (another decomposition is running)"
    eta = job.eta_seconds()
    detail = f"{_fmt_seconds(job.elapsed())} elapsed" + (f", about {_fmt_seconds(eta)} left" if eta else "")
    st.progress(job.fraction, text=f"{text} — {detail}")
    st.button("Cancel", on_click=_cancel, args=(key,), key="cancel", icon=":material/stop:")


def show() -> Current:
    """Draw the sidebar; return the current selection for the page."""
    with st.sidebar:
        choose()
        cur = build_current()
        ss = st.session_state
        if (ss.get(state.FROM_URL) and not ss.get(state.AUTO_STARTED) and cur.dec is None
                and cur.error is None and (cur.job is None or not cur.job.active)):
            ss[state.AUTO_STARTED] = True       # a shared link: compute what it shows, if cheap
            may_start, cost = _url_may_start(cur)
            if may_start:
                _start(cur)
                cur.job = jobs.registry().get(cur.key)
            else:
                ss[state.URL_WAITS] = (cur.key, cost)
        st.divider()
        job_panel(cur)
        if cur.gen is not None:
            cache = jobs.result_cache()
            where = cache.directory if cache is not None else "none (the cache folder is not usable; see the log)"
            st.caption(f"Device: {cur.gen.device} · cache: {where}")
    state.set_current(cur)
    return cur
