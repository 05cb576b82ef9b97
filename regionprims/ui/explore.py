"""The Explore page: players on the grid, the method-vs-null view (ui.null_view: the Geometric null
toggle, the beyond-geometry figures), then original | baseline | current mix | difference, the
transplant panel (ui.transplant), the ranked components with their mixer controls (in a fragment,
so a slider reruns only the image area), presets, live metrics, and the build-up."""
from __future__ import annotations

import streamlit as st

from regionprims.method.regions import subset_label
from regionprims.method.render import to_rgb
from regionprims.mix.presets import preset
from regionprims.mix.state import R_MAX, R_MIN, W_MAX, W_MIN
from regionprims.pictures import DIFF_VMAX, grid_overlay, mix_pngs, png_bytes, scale_for, upscale
from regionprims.ui import charts, null_view, resources, state, transplant
from regionprims.ui.mixer_pictures import card_png, still_png
from regionprims.ui.players import players_picker
from regionprims.ui.state import Current

TOP_CHOICES = (8, 12, 16, 24, 32, 48)
CARDS_PER_ROW = 4


# ---------------------------------------------------------------------------------- mixer
# Two fragments: the image area (MIX_VIEW: the four images, the live metrics, the URL) and the
# controls (MIX_CONTROLS: presets, residual, component cards). A control's callback updates the
# view and reruns only MIX_VIEW (`st.rerun(key)` from a callback replaces the default rerun), so
# one slider change costs one compose + tail + two PNGs, not a redraw of every card. Presets
# change many controls at once and rerun both.
MIX_VIEW, MIX_CONTROLS = "mix_view", "mix_controls"


def _set_weight(row: int) -> None:
    state.set_view(state.view().with_weight(row, st.session_state[f"w_{row}"]))
    st.rerun(MIX_VIEW)


def _set_on(row: int) -> None:
    state.set_view(state.view().with_on(row, st.session_state[f"on_{row}"]))
    st.rerun(MIX_VIEW)


def _set_solo(row: int) -> None:
    state.set_view(state.view().with_solo(row, st.session_state[f"solo_{row}"]))
    st.rerun(MIX_VIEW)


def _set_residual() -> None:
    state.set_view(state.view().with_residual(st.session_state["w_residual"]))
    st.rerun(MIX_VIEW)


def _apply_preset(name: str, n: int, ranking: list[int]) -> None:
    ss = st.session_state
    state.set_view(preset(state.view(), name, n, ranking, k=int(ss.get("preset_k", 20)),
                          region=int(ss.get("preset_region", 0))))
    st.rerun([MIX_VIEW, MIX_CONTROLS])


def _mixer(cur: Current):
    """The prepared mixer of a fragment's selection (fragments hold Current.light); None, with
    the no-result note, when the decomposition is nowhere any more."""
    if null_view.is_null(cur.key):
        mx = null_view.mixer(cur)
    else:
        mx = resources.mixer(cur.key, cur.gen, cur.dec, cur.spec)
    if mx is None:
        state.no_result_note(cur)
    return mx


def _view_key(view) -> tuple:
    return (tuple(sorted(view.weights.items())), view.off, view.solo, view.residual)


def _mix_pictures(mx, key: str, view) -> tuple[bytes, bytes, dict]:
    """The mix's PNG, its difference PNG and its metrics, kept in the session's store: a view
    the user comes back to (a box ticked twice, a page rerun) is not rendered again."""
    store = resources.session_store()
    entry = ("mix", key, _view_key(view))
    out = store.get(entry)
    if out is None:
        rendered = mx.render(view)
        lay = mx.dec.spec.layout
        out = store.put(entry, (*mix_pngs(rendered.rgb, rendered.diff, lay.rows, lay.cols), rendered.metrics))
    return out


@st.fragment(key=MIX_VIEW)
def mix_view(cur: Current) -> None:
    """Original | baseline | current mix | difference, and the live metrics of the mix."""
    mx = _mixer(cur)
    if mx is None:
        return
    view = state.view()
    mix_png, diff_png, m = transplant.mix_pictures(mx, cur, view) or _mix_pictures(mx, cur.key, view)
    cols = st.container(key="px_view").columns(4, gap="small")
    cols[0].image(still_png(mx, cur.key, "original"), caption="original x = tail(f)", width="stretch", output_format="PNG")
    cols[1].image(still_png(mx, cur.key, "baseline"), caption="baseline tail(f0)", width="stretch", output_format="PNG")
    cols[2].image(mix_png, caption="current mix", width="stretch", output_format="PNG")
    cols[3].image(diff_png, caption=f"|mix − x| per pixel: dark 0 → bright ≥ {DIFF_VMAX:g}", width="stretch",
                  output_format="PNG")
    mc = st.columns(5)
    mc[0].metric("PSNR on players", f"{m['player_psnr']:.1f} dB",
                 help="PSNR of the current mix against x on the players' pixels (100 dB = identical).")
    mc[1].metric("PSNR, whole image", f"{m['image_psnr']:.1f} dB")
    mc[2].metric("Components on", f"{m['components_on']} / {m['components']}")
    mc[3].metric("Strength on", f"{100 * m['strength_on']:.1f} %",
                 help="Share of the summed component norms ||Δf_S|| that is switched on.")
    mc[4].metric("Additivity error", f"{m['additivity_error']:.3f}",
                 help="Mean over T of ||f0 + Σ_{S∩T≠∅} w_S Δf_S − u(T)|| / ||u(T) − f0|| for the "
                      "current weights (0 with every component at weight 1).")
    transplant.show_change(m, mx.dec.spec.layout.players)
    state.sync_url()


@st.fragment(key=MIX_CONTROLS)
def mix_controls(cur: Current) -> None:
    """Presets, the residual's weight, and one card per component with on / solo / weight."""
    mx = _mixer(cur)
    if mx is None:
        return
    dec = mx.dec
    lay = dec.spec.layout
    view = state.view()
    ranking = list(dec.ranking)
    with st.container(border=True):
        p = st.columns([1.1, 1.1, 1.2, 1.0, 1.6, 1.3, 1.7, 2.2], vertical_alignment="bottom")
        p[0].button("All", on_click=_apply_preset, args=("all", dec.n, ranking), key="preset_all", width="stretch")
        p[1].button("None", on_click=_apply_preset, args=("none", dec.n, ranking), key="preset_none",
                    width="stretch")
        p[2].button("Top k", on_click=_apply_preset, args=("top-k", dec.n, ranking), key="preset_topk",
                    width="stretch")
        p[3].number_input("k", 1, len(ranking), value=min(20, len(ranking)), key="preset_k")
        p[4].selectbox("region i", range(dec.n), key="preset_region",
                       format_func=lambda j: f"patch {lay.players[j]}")
        p[5].button("Only i", on_click=_apply_preset, args=("only-region", dec.n, ranking), key="preset_only",
                    width="stretch", help="Components whose region set contains region i: they rebuild u({i}).")
        p[6].button("All but i", on_click=_apply_preset, args=("but-region", dec.n, ranking), key="preset_but",
                    width="stretch", help="Every component whose region set does not contain region i.")
        st.session_state["w_residual"] = view.residual
        p[7].slider("residual r weight", R_MIN, R_MAX, step=0.05, key="w_residual", on_change=_set_residual,
                    help="Weight of the residual r = f − u(N), the part the players do not need.")

    top = st.session_state.get("show_top", 12)
    h1, h2 = st.columns([5, 1], vertical_alignment="bottom")
    h1.markdown(f"**Components, strongest first** ({len(ranking)} in all). Each card: the region set S on the "
                "grid | its regional pattern tail(f0 + Δf_S) − tail(f0) as luminance change "
                "(:red[red] brighter, :blue[blue] darker, white none; scaled per card)")
    h2.selectbox("show", TOP_CHOICES, index=TOP_CHOICES.index(top) if top in TOP_CHOICES else 1, key="show_top")
    total = mx.total_strength
    cards = st.container(key="px_cards")
    for start in range(0, min(top, len(ranking)), CARDS_PER_ROW):
        cols = cards.columns(CARDS_PER_ROW, gap="medium")
        for col, rank in zip(cols, range(start, min(start + CARDS_PER_ROW, top, len(ranking)))):
            row = ranking[rank]
            with col.container(border=True):
                _component_controls(mx, cur.key, view, rank, row, total)


def mixer(cur: Current, plain: Current | None = None) -> None:
    """The mix, the transplant panel and the controls; `cur` marked when the null is shown
    (null_view.selection), `plain` the method's selection (the transplant's)."""
    mix_view(cur)
    transplant.section(plain or cur, MIX_VIEW)
    mix_controls(cur)


def _component_controls(mx, key: str, view, rank: int, row: int, total: float) -> None:
    lay = mx.dec.spec.layout
    ss = st.session_state
    share = float(mx.norms[row]) / total if total > 0 else 0.0
    st.image(card_png(mx, key, row), width="stretch", output_format="PNG")
    st.markdown(f"**#{rank + 1} {subset_label(row, lay.players)}** · {100 * share:.1f} % of strength")
    ss[f"on_{row}"] = view.is_on(row)
    ss[f"solo_{row}"] = row in view.solo
    ss[f"w_{row}"] = view.weight(row)
    a, b = st.columns(2)
    a.checkbox("on", key=f"on_{row}", on_change=_set_on, args=(row,), help="Untick to mute this component.")
    b.checkbox("solo", key=f"solo_{row}", on_change=_set_solo, args=(row,),
               help="While any component is soloed, only soloed components play.")
    st.slider("weight", W_MIN, W_MAX, step=0.05, key=f"w_{row}", on_change=_set_weight, args=(row,),
              label_visibility="collapsed")


# ---------------------------------------------------------------------------------- build-up

@st.fragment
def buildup(cur: Current) -> None:
    mx = _mixer(cur)
    if mx is None:
        return
    n_comp = len(mx.dec.ranking)
    c1, c2, c3 = st.columns([1.3, 1, 3], vertical_alignment="bottom")
    with_res = c1.toggle("add the residual r", key="buildup_residual",
                         help="Add r = f − u(N) to every frame: then the frame with every component is x itself.")
    limits = [k for k in (20, 50, 100) if k < n_comp] + [n_comp]
    k_max = c2.selectbox("up to k", limits, key="buildup_kmax",
                         format_func=lambda k: f"{k} (all)" if k == n_comp else str(k))
    b = mx.buildup(k_max, with_res)
    k = c3.slider("components added (k, in rank order)", 0, k_max, value=min(5, k_max), key="buildup_k")
    left, right = st.container(key="px_build").columns([1, 2], gap="large")
    lay = mx.dec.spec.layout
    f = scale_for(mx.dec.image.shape[-1])
    frame = grid_overlay(upscale(to_rgb(b.images[k]), f), lay.rows, lay.cols)
    left.image(png_bytes(frame), caption=f"f0 + top {k} components{' + r' if with_res else ''}: "
                                         f"{b.player_psnr[k]:.1f} dB on the players", width="stretch",
               output_format="PNG")
    right.plotly_chart(charts.buildup_curve(b, k, full=mx.dec.metrics.get("fit_psnr")), key="buildup_chart",
                       config=charts.CONFIG)
    strip = sorted({round(k_max * t) for t in (0, 0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 0.8, 1.0)})
    cols = st.container(key="px_strip").columns(len(strip))
    fs = scale_for(mx.dec.image.shape[-1], 128)
    for col, k_ in zip(cols, strip):
        col.image(png_bytes(upscale(to_rgb(b.images[k_]), fs)), caption=f"k={k_}", width="stretch", output_format="PNG")


def page(cur: Current) -> None:
    """The Explore page body."""
    app = cur.app
    names = cur.gen.class_names if cur.gen is not None else ()
    title = f"{names[app.class_id]} · seed {app.seed}" if names and app.class_id < len(names) else "Explore"
    st.title(title)
    if cur.error:
        st.error(cur.error)
    with st.expander("Players: click patches on the grid", expanded=cur.dec is None):
        players_picker(cur)
    if cur.dec is None:
        if cur.error is None:
            state.no_result_note(cur, " to split this image into its regional components.")
        return
    if _mixer(cur) is None:
        return
    null_view.panel(cur)                    # the toggle, the beyond-geometry figures, method vs null
    transplant.prepare(cur)
    light = null_view.selection(cur.light())    # what the fragments keep between their reruns
    tab_mix, tab_build = st.tabs(["Mixer", "Build-up"])
    with tab_mix:
        mixer(light, cur.light())
    with tab_build:
        buildup(light)
