"""The Explore page's method-vs-null view: the **Geometric null** toggle, which switches the
component cards, the mix and its live metrics to the tight geometric null's components (the same
players, controls and presets); the beyond-geometry figures, always in view; and the build-ups of
the method and of the null on one chart.

The null (method/null.py: u0(S) = f0 + m0_S ⊙ (f − f0), its OR components ranked like the
method's) is prepared once per decomposition key as a Mixer in the shared byte-bounded store
(resources.shared) under ("null", key). Its fit losses are not computed (the mixer does not use
them; the null's recorded scores are the decomposition's `null_` metrics). The mixer's fragments
tell the null by its key, the decomposition key + SUFFIX, so that its cards, stills and rendered
mixes are kept apart from the method's.
"""
from __future__ import annotations

import copy
from dataclasses import replace

import streamlit as st
import torch

from regionprims.method.decomposition import Decomposition
from regionprims.method.interactions import or_interactions
from regionprims.method.null import DEFINITION, NULL_PREFIX, geometric_null
from regionprims.mix.mixer import Mixer
from regionprims.scoring import rank_components
from regionprims.ui import charts, memory, resources, state
from regionprims.ui.faithfulness import headline
from regionprims.ui.state import Current

SUFFIX = "#null"
TOGGLE = "null_toggle"          # the toggle's widget key (state.NULL keeps the choice across pages)
BUILDUP_K = 20                  # the build-ups on the chart: k = 0 .. this (or every component)


def active() -> bool:
    return bool(st.session_state.get(state.NULL))


def _toggled() -> None:
    st.session_state[state.NULL] = bool(st.session_state[TOGGLE])


def is_null(key: str | None) -> bool:
    return key is not None and key.endswith(SUFFIX)


def selection(cur: Current) -> Current:
    """The selection the mixer's fragments work on: `cur`, its key marked when the null is shown."""
    if not active() or cur.key is None or is_null(cur.key):
        return cur
    out = copy.copy(cur)
    out.key = cur.key + SUFFIX
    return out


def null_decomposition(gen, ctx, dec: Decomposition) -> Decomposition:
    """The tight geometric null of `dec` as a decomposition the mixer can show: its u0(S), OR
    components, residual f − u0(N) and ranking (by the method's rank_by); fit losses NaN (not
    computed); metrics the null's recorded ones (dec's `null_` scores, unprefixed)."""
    minimal = geometric_null(dec.feature, dec.baseline, dec.player_masks, dec.subsets)
    components = or_interactions(minimal)
    ranking, _ = rank_components(gen, ctx, dec.baseline, components, dec.spec.rank_by)
    recorded = {k[len(NULL_PREFIX):]: v for k, v in dec.metrics.items() if k.startswith(NULL_PREFIX)}
    return replace(dec, minimal=minimal, components=components, residual=dec.feature - minimal[-1],
                   fit_loss=torch.full_like(dec.fit_loss, float("nan")), ranking=ranking, metrics=recorded,
                   info={"null": DEFINITION})


def mixer(cur: Current) -> Mixer | None:
    """The null's prepared mixer for `cur` (its key plain or marked), made from the method's on
    first use and kept in the shared store; None when the method's decomposition is nowhere."""
    base = cur.key[:-len(SUFFIX)] if is_null(cur.key) else cur.key
    store = resources.shared()
    mx = store.get(("null", base))
    if mx is not None:
        return mx
    method = resources.mixer(base, cur.gen, cur.dec, cur.spec)
    if method is None:
        return None
    with st.spinner("Preparing the geometric null…"):
        null = null_decomposition(method.gen, method.ctx, method.dec)
        mx = Mixer(method.gen, null, method.ctx, memo=memory.ByteLRU(memory.mixer_memo_bytes()))
    return store.put(("null", base), mx)


def panel(cur: Current) -> None:
    """Above the mixer: the toggle; the beyond-geometry figures beside the build-ups of the method
    and of the null on one chart (under a note of what the page shows while the null is on)."""
    ss = st.session_state
    ss[TOGGLE] = active()
    with st.container(border=True, key="px_null"):
        st.toggle("Geometric null", key=TOGGLE, on_change=_toggled,
                  help="Show the tight geometric null's components instead of the method's: u0(S) = f0 + m0_S ⊙ "
                       "(f − f0), the players' masks max-pooled onto the feature grid, no optimisation. The same "
                       "players, controls and presets; the URL records it (null=1).")
        left, right = st.columns([1, 1], gap="large")
        with left:
            headline(cur.dec, per_row=2)
        with right:
            if active():
                st.info("The cards, the mix and its metrics below are the **tight geometric null's**: its OR "
                        "components, ranked by the same rule, on the same players, with the same controls and "
                        "presets. A score the null matches is the grid's, not the method's finding. Switch the "
                        "toggle off to see the method's again.", icon=":material/grid_on:")
            _versus(cur)


def _versus(cur: Current) -> None:
    """Players' PSNR against k for the method's build-up and the null's, on one chart."""
    method = resources.mixer(cur.key, cur.gen, cur.dec, cur.spec)
    null = mixer(cur)
    if method is None or null is None:
        return
    k = min(BUILDUP_K, len(method.dec.ranking))
    a, b = method.buildup(k), null.buildup(k)
    fig = charts.buildup_versus(a.ks, a.player_psnr, b.player_psnr, height=320 if active() else 440)
    st.plotly_chart(fig, key="null_versus", config=charts.CONFIG)
