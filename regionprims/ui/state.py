"""Session state of one browser tab: the keys, the first-run restore from the URL, writing the
state back to the URL, and the current selection shared by all pages."""
from __future__ import annotations

import copy
import uuid
import weakref
from dataclasses import replace

import streamlit as st

from regionprims.method import settings_table
from regionprims.method.specs import OptimSettings
from regionprims.mix.state import ViewState
from regionprims.models.registry import model_defaults
from regionprims.ui import urlcompare
from regionprims.ui.urlstate import AppState, decode_state, encode_state

# widget keys (the sidebar's widgets live on every page, so their values persist); a setting's is
# its settings_table.Row.key (its URL key: steps, codes, order)
MODEL, CLASS, SEED, TRUNC, SPLIT, LAYOUT = ("model", "cls", "seed", "trunc", "split", "layout")
PLAYERS = "players"            # tuple of patches, or None for the layout's default
VIEW = "view"                  # ViewState of the mixer
VIEW_FOR = "view_for"          # decomposition key the view belongs to (PENDING: the URL's)
URL_ERRORS = "url_errors"
FROM_URL = "from_url"          # the session was opened with state in its URL
AUTO_STARTED = "auto_started"
URL_WAITS = "url_waits_for"    # (key, cost text) of a link's decomposition that waits for a click
BUSY = "busy"                  # the job queue's "busy" message of the last start
CONFIRM = "confirm_for"        # decomposition key whose long expected time awaits a confirmation
NULL = "null_mode"             # the mixer shows the geometric null (the toggle; URL null=1)
TRANSPLANT = "transplant"      # the active mix.transplant.TransplantRef, or None (URL tp=)
OWNER = "owner"
CURRENT = "current"
PENDING = "<from-url>"
_INIT = "_initialised"

LAYOUTS = ("3x3", "2x2", "2x3", "3x4", "paper")


class Current:
    """What every page of this run works on (built by the sidebar).

    `dec` is held strongly while a script run uses it and only weakly in the copy a session
    keeps between runs (`light`): the decomposition stays reachable while the shared stores
    (the job registry, the prepared mixers) keep it, and a tab never keeps it alive alone."""

    def __init__(self, app: AppState, gen: object = None, spec: object = None, key: str | None = None,
                 dec: object = None, error: str | None = None, job: object = None):
        self.app, self.gen, self.spec, self.key, self.error, self.job = app, gen, spec, key, error, job
        self.dec = dec

    @property
    def dec(self):
        if self._dec is not None:
            return self._dec
        return self._dec_ref() if self._dec_ref is not None else None

    @dec.setter
    def dec(self, value) -> None:
        self._dec = value
        self._dec_ref = weakref.ref(value) if value is not None else None

    def light(self) -> "Current":
        """This selection holding its decomposition weakly: what the session keeps between
        runs and what fragments capture (they find the mixer again by key: resources.mixer)."""
        out = copy.copy(self)
        out._dec = None
        return out

    def __repr__(self) -> str:
        return f"Current(app={self.app!r}, key={self.key!r}, dec={'set' if self.dec is not None else None}, " \
               f"error={self.error!r})"


def init() -> None:
    """First run of a session: restore the state from the URL (reporting malformed values)."""
    ss = st.session_state
    if ss.get(_INIT):
        return
    params = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    app, errors = decode_state(params)
    compare = urlcompare.decode(params, app.n_players(), errors)
    ss[URL_ERRORS] = errors
    ss[NULL], ss[TRANSPLANT] = compare["null"], compare["transplant"]
    ss[FROM_URL] = any(k not in ("embed", "embed_options") for k in params)
    load(app)
    ss[OWNER] = uuid.uuid4().hex
    ss[_INIT] = True


def load(app: AppState) -> None:
    """Put an AppState into the widgets' session state (before they are drawn)."""
    ss = st.session_state
    t_def, s_def, _ = model_defaults(app.model)
    ss[MODEL] = app.model
    ss[CLASS] = app.class_id
    ss[SEED] = app.seed
    ss[TRUNC] = float(app.truncation if app.truncation is not None else t_def)
    ss[SPLIT] = app.split or s_def
    ss[LAYOUT] = app.layout
    ss[PLAYERS] = app.players
    for row in carried():
        ss[row.key] = getattr(app.settings, row.name)
    ss[VIEW] = app.view
    ss[VIEW_FOR] = PENDING


def app_state() -> AppState:
    """The AppState of the widgets now. Truncation and split are the widgets' values (load() put
    the model's defaults there), so the pipeline never works a default out again; the URL
    still leaves out what equals the default (encode_state)."""
    ss = st.session_state
    model = ss.get(MODEL, "demo")
    t_def, s_def, _ = model_defaults(model)
    return AppState(model=model, class_id=int(ss.get(CLASS, 0)), seed=int(ss.get(SEED, 0)),
                    truncation=float(ss.get(TRUNC, t_def)), split=ss.get(SPLIT, s_def),
                    layout=ss.get(LAYOUT, "3x3"), players=ss.get(PLAYERS), settings=settings(), view=view())


def carried() -> tuple[settings_table.Row, ...]:
    """The settings the explorer keeps in its session state: those its sidebar shows or its URL records."""
    return tuple(r for r in settings_table.table() if r.meta.widget is not None or r.meta.url)


def settings() -> OptimSettings:
    """The settings of the widgets now (the others at their defaults): the object the decomposition gets."""
    ss = st.session_state
    return replace(settings_table.defaults(), **{r.name: ss[r.key] for r in carried() if r.key in ss})


def view() -> ViewState:
    return st.session_state.get(VIEW) or ViewState()


def set_view(v: ViewState) -> None:
    st.session_state[VIEW] = v


def adopt_view(key: str | None) -> None:
    """The mixer's weights belong to one decomposition: keep them for the decomposition the
    URL described, reset them when the user moves to another one."""
    ss = st.session_state
    if key is None:
        return
    if ss.get(VIEW_FOR) == PENDING:
        ss[VIEW_FOR] = key
    elif ss.get(VIEW_FOR) != key:
        ss[VIEW_FOR] = key
        ss[VIEW] = ViewState(residual=view().residual)


def sync_url() -> None:
    """Write the state into the URL (only values that differ from the defaults)."""
    ss = st.session_state
    wanted = {**encode_state(app_state()), **urlcompare.encode(bool(ss.get(NULL)), ss.get(TRANSPLANT))}
    have = {k: st.query_params.get(k) for k in st.query_params.keys() if k not in ("embed", "embed_options")}
    if have != wanted:
        for k in list(have):
            if k not in wanted:
                del st.query_params[k]
        st.query_params.update(wanted)


def set_current(cur: Current) -> None:
    st.session_state[CURRENT] = cur


def end_run() -> None:
    """After a script run: keep the selection, its decomposition only weakly (Current.light)."""
    cur = st.session_state.get(CURRENT)
    if cur is not None:
        st.session_state[CURRENT] = cur.light()


def current() -> Current:
    cur = st.session_state.get(CURRENT)
    return cur if cur is not None else Current(app=app_state())


def no_result_note(cur: Current, what: str = "") -> None:
    """What a page says while its selection has no decomposition (yet)."""
    if cur.job is not None and cur.job.active:
        st.info("Decomposing in the background (progress in the sidebar); the result appears here when it is "
                "done. The page stays usable meanwhile.", icon=":material/hourglass_top:")
    else:
        st.info("No decomposition for this selection yet: press **Decompose** in the sidebar" + (what or ".")
                + " It runs in the background; a cached result opens at once.")


def owner() -> str:
    return st.session_state.setdefault(OWNER, uuid.uuid4().hex)


def page_start(cur: Current, title: str) -> bool:
    """A result page's title, then the selection's error or the no-result note. True when the
    page has a decomposition to show."""
    st.title(title)
    if cur.error:
        st.error(cur.error)
        return False
    if cur.dec is None:
        no_result_note(cur)
        return False
    return True
