"""The Explore page's Transplant panel: the decompositions in the cache that share this one's model
identity, split, players and feature shape (other seeds and classes; whatever the cache holds, no
job is started), one of their components (by region set T) added to the current mix with a
weight (mix.transplant), the donor's card beside it, and the pixel change inside vs outside T.

The session holds the transplant as a mix.transplant.TransplantRef under state.TRANSPLANT (the URL
as tp=HASH:ROW:W, ui.urlcompare); it belongs to the decomposition it was made on (FOR), and a
link's is opened only when its donor is in the cache. The listing (store.catalog: headers only)
is kept in the shared store per state of the cache folder; a donor's Δf_T per (donor, row).
"""
from __future__ import annotations

import os

import streamlit as st
from torch import Tensor

from regionprims import jobs
from regionprims.export.caption import transplant_line
from regionprims.keys import decomposition_key
from regionprims.method.regions import subset_label
from regionprims.mix.state import W_MAX, W_MIN
from regionprims.mix.transplant import TransplantRef, donor_hash, fits, render, same_ground
from regionprims.pictures import mix_pngs
from regionprims.store import catalog
from regionprims.ui import resources, state
from regionprims.ui.mixer_pictures import card_png
from regionprims.ui.state import Current

PANEL = "transplant_panel"
DONOR, ROW, WEIGHT = "tp_donor", "tp_row", "tp_weight"      # the panel's widget keys
FOR = "transplant_for"          # the decomposition key the transplant was made on
NOTE = "transplant_note"        # why a link's transplant was not opened (said once)


def active() -> TransplantRef | None:
    return st.session_state.get(state.TRANSPLANT)


def _listing() -> list[catalog.Listed]:
    """Every decomposition in the cache (headers only), kept per state of the cache folder."""
    cache = jobs.result_cache()
    if cache is None:
        return []
    try:
        stamp = os.stat(cache.entries).st_mtime_ns
    except OSError:
        return []
    return resources.shared().get_or_make(("catalog", str(cache.directory), stamp),
                                          lambda: catalog.decompositions(cache))


def _fits(cur: Current, listed: catalog.Listed) -> bool:
    shape = tuple(cur.gen.feature_shape(cur.spec.split))
    return (decomposition_key(listed.spec) == listed.key
            and same_ground(cur.spec, shape, listed.spec, listed.feature_shape))


def donors(cur: Current) -> dict[str, catalog.Listed]:
    """{key hash: entry} of the cached decompositions that may give this one components, by class
    then seed."""
    found = sorted((x for x in _listing() if _fits(cur, x)), key=lambda x: (x.spec.class_id, x.spec.seed, x.key))
    return {donor_hash(x.key): x for x in found}


def _find(cur: Current, ref: TransplantRef) -> catalog.Listed | None:
    listed = next((x for x in _listing() if donor_hash(x.key) == ref.donor), None)
    return listed if listed is not None and _fits(cur, listed) else None


def _delta(listed: catalog.Listed, row: int) -> Tensor | None:
    """The donor's Δf_T (kept in the shared store); None when the donor cannot be read any more."""
    store = resources.shared()
    key = ("transplant", listed.key, row)
    delta = store.get(key)
    if delta is None:
        dec, _ = jobs.lookup(listed.spec)
        if dec is None or tuple(dec.feature.shape) != listed.feature_shape:
            return None
        delta = store.put(key, dec.components[row].clone())
    return delta


def prepare(cur: Current) -> None:
    """Keep the transplant only for the decomposition it was made on, and a link's only when its
    donor is in the cache (before the mixer draws)."""
    ss = st.session_state
    ref = active()
    if ref is None:
        return
    if ss.get(FOR) is None:
        ss[FOR] = cur.key
    if ss[FOR] != cur.key or not fits(cur.spec.layout, ref.row):
        ss[state.TRANSPLANT] = None
        return
    if _find(cur, ref) is None:
        ss[state.TRANSPLANT] = None
        ss[NOTE] = (f"The transplant's donor ({ref.donor[:10]}…) is not in this explorer's cache, or does not share "
                    "this image's model, split and players: it was not opened.")


def _label(listed: catalog.Listed, spec) -> str:
    s = listed.spec
    name = listed.class_name or f"class {s.class_id}"
    extra = [] if s.truncation == spec.truncation else [f"truncation {s.truncation:g}"]
    extra += ["other settings"] if s.settings != spec.settings or s.rank_by != spec.rank_by else []
    return f"{name} · seed {s.seed}" + (f" ({', '.join(extra)})" if extra else "")


def _ref_of_widgets() -> TransplantRef:
    ss = st.session_state
    return TransplantRef(ss[DONOR], int(ss[ROW]), 1.0).with_weight(float(ss[WEIGHT]))


def _changed(view_fragment: str, weight_only: bool) -> None:
    if active() is None:
        return                          # the panel's own rerun shows the new choice
    st.session_state[state.TRANSPLANT] = _ref_of_widgets()
    st.rerun(view_fragment if weight_only else [view_fragment, PANEL])


def _apply(key: str, view_fragment: str) -> None:
    st.session_state[state.TRANSPLANT] = _ref_of_widgets()
    st.session_state[FOR] = key
    st.rerun([view_fragment, PANEL])


def _remove(view_fragment: str) -> None:
    st.session_state[state.TRANSPLANT] = None
    st.rerun([view_fragment, PANEL])


def section(cur: Current, view_fragment: str) -> None:
    """The panel in an expander under the mix (open while a transplant is active)."""
    with st.expander("Transplant a component from another cached decomposition", expanded=active() is not None,
                     icon=":material/call_merge:"):
        panel(cur, view_fragment)


@st.fragment(key=PANEL)
def panel(cur: Current, view_fragment: str) -> None:
    """Donor, component and weight; Transplant / Remove transplant; the donor's card."""
    ss = st.session_state
    if ss.get(NOTE):
        st.info(ss.pop(NOTE), icon=":material/link_off:")
    found = donors(cur)
    if not found:
        st.caption("No other decomposition in the cache shares this one's model, split, players and feature "
                   "shape yet: decompose another seed or class with the same layout and settings, then come back. "
                   "Nothing is started from here.")
        return
    ref = active()
    if ref is not None:
        ss[DONOR], ss[ROW], ss[WEIGHT] = ref.donor, ref.row, ref.weight
    elif ss.get(DONOR) not in found:
        ss[DONOR] = next(iter(found))
    ss.setdefault(WEIGHT, 1.0)
    left, right = st.columns([1, 2], gap="large")
    with right:
        st.selectbox("donor (a cached decomposition of this model, split and players)", list(found), key=DONOR,
                     format_func=lambda h: _label(found[h], cur.spec), on_change=_changed, args=(view_fragment, False))
        listed = found[ss[DONOR]]
        dmx = resources.mixer(listed.key, cur.gen, None, listed.spec)
        if dmx is None:
            st.warning("This donor can no longer be read from the cache.")
            return
        _controls(dmx, ref, cur.key, view_fragment)
    with left:
        row = int(ss[ROW])
        st.image(card_png(dmx, listed.key, row), width="stretch", output_format="PNG")
        players = dmx.dec.spec.layout.players
        st.caption(f"Donor: {_label(listed, cur.spec)}, component #{dmx.dec.ranking.index(row) + 1} "
                   f"{subset_label(row, players)}: its region set on the donor's image | its regional pattern.")


def _controls(dmx, ref: TransplantRef | None, key: str, view_fragment: str) -> None:
    """The component (by region set, the donor's rank order), the weight and the button."""
    ss = st.session_state
    dec, players = dmx.dec, dmx.dec.spec.layout.players
    rows = list(dec.ranking)
    if ss.get(ROW) not in rows:
        ss[ROW] = rows[0]
    total = dmx.total_strength or 1.0
    rank = {r: i for i, r in enumerate(rows)}
    st.selectbox("component (region set T)", rows, key=ROW, on_change=_changed, args=(view_fragment, False),
                 format_func=lambda r: f"#{rank[r] + 1} {subset_label(r, players)} · "
                                       f"{100 * float(dmx.norms[r]) / total:.1f} % of the donor's strength")
    st.slider("transplant weight w_t", W_MIN, W_MAX, step=0.05, key=WEIGHT, on_change=_changed,
              args=(view_fragment, True), help="mix = tail(f_mix + w_t · Δf_T of the donor)")
    if ref is None:
        st.button("Transplant", type="primary", key="tp_apply", on_click=_apply, args=(key, view_fragment),
                  icon=":material/add_circle:", help="Add the donor's component to the current mix.")
    else:
        st.button("Remove transplant", key="tp_remove", on_click=_remove, args=(view_fragment,),
                  icon=":material/undo:", help="Undo: the mix without the donor's component.")


def mix_pictures(mx, cur: Current, view) -> tuple[bytes, bytes, dict] | None:
    """The mix of `cur` (the method's or the null's, by its key) with the active transplant as the
    Explore page shows it (its PNG, its difference PNG, its metrics), kept in the session's store;
    None without a (readable) transplant."""
    ref = active()
    listed = _find(cur, ref) if ref is not None and cur.spec is not None else None
    delta = _delta(listed, ref.row) if listed is not None else None
    if delta is None:
        return None
    store = resources.session_store()
    entry = ("mix", cur.key, (tuple(sorted(view.weights.items())), view.off, view.solo, view.residual), ref)
    out = store.get(entry)
    if out is None:
        rendered = render(mx, view, delta, ref.weight, ref.row)
        lay = mx.dec.spec.layout
        out = store.put(entry, (*mix_pngs(rendered.rgb, rendered.diff, lay.rows, lay.cols), rendered.metrics))
    return out


def show_change(m: dict, players) -> None:
    """The transplant's pixel change inside and outside its region set T (under the live metrics)."""
    if "transplant_inside" not in m:
        return
    label = subset_label(int(m["transplant_row"]), players)
    c = st.columns([1, 1, 3], vertical_alignment="center")
    c[0].metric(f"Transplant change inside {label}", f"{m['transplant_inside']:.4f}")
    c[1].metric(f"… outside {label}", f"{m['transplant_outside']:.4f}")
    c[2].caption(f"Mean |Δ pixel| (0–1 scale, mean over RGB) that the transplant (weight {m['transplant_weight']:g}) "
                 "makes to the mix, inside its region set T and outside it.")


def export_extra(cur: Current) -> tuple[Tensor, str] | None:
    """(w_t · Δf_T, the caption line) of the active transplant for the exports; None without one."""
    ref = active()
    listed = _find(cur, ref) if ref is not None and cur.spec is not None else None
    delta = _delta(listed, ref.row) if listed is not None else None
    if delta is None:
        return None
    return ref.weight * delta, transplant_line(listed.spec, listed.class_name, ref.row, ref.weight)
