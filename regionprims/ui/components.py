"""The Components page: a gallery of the salient components, filtered by region, and the
component-by-region overlap heatmap."""
from __future__ import annotations

import numpy as np
import streamlit as st

from regionprims.method.regions import subset_label, subset_members
from regionprims.ui import charts, resources, state
from regionprims.ui.mixer_pictures import card_png
from regionprims.ui.state import Current

PER_ROW = 4


def _solo_in_mixer(row: int) -> None:
    v = state.view()
    state.set_view(type(v)(residual=v.residual, solo=frozenset({row})))


def page(cur: Current) -> None:
    mx = resources.page_mixer(cur, "Components")
    if mx is None:
        return
    dec = mx.dec
    lay = dec.spec.layout
    c1, c2, c3 = st.columns([3, 2, 1.4], vertical_alignment="bottom")
    regions = c1.multiselect("Filter by region (grid patches)", list(lay.players), key="comp_regions",
                             placeholder="all components")
    mode = c2.segmented_control("match", ["contains any", "contains all", "exactly"], default="contains any",
                                key="comp_mode")
    top = c3.number_input("salient components", 4, len(dec.ranking), value=min(24, len(dec.ranking)), step=4,
                          key="comp_top")
    ranked = list(dec.ranking)
    if regions:
        want = set(regions)

        def keep(row: int) -> bool:
            have = set(subset_members(row, lay.players))
            if mode == "contains all":
                return want <= have
            if mode == "exactly":
                return want == have
            return bool(want & have)
        ranked = [r for r in ranked if keep(r)]
    shown = ranked[:int(top)]
    rank_of = {r: i for i, r in enumerate(dec.ranking)}
    st.caption(f"{len(ranked)} components match; showing the {len(shown)} strongest. Each card: the region set "
               "on the grid | its regional pattern tail(f0 + Δf_S) − tail(f0) as luminance change (:red[red] brighter, "
               ":blue[blue] darker, white none; scaled per card). Leakage: share of the component's "
               "leave-one-out energy outside its regions.")
    if not shown:
        return
    leak = mx.leakage(shown)
    total = mx.total_strength
    gallery = st.container(key="px_gallery")
    for start in range(0, len(shown), PER_ROW):
        cols = gallery.columns(PER_ROW, gap="medium")
        for col, i in zip(cols, range(start, min(start + PER_ROW, len(shown)))):
            row = shown[i]
            with col.container(border=True):
                st.image(card_png(mx, cur.key, row), width="stretch", output_format="PNG")
                st.markdown(f"**#{rank_of[row] + 1} {subset_label(row, lay.players)}**  \n"
                            f"{100 * float(mx.norms[row]) / total:.1f} % of strength · leakage {leak[i]:.2f}")
                st.button("Solo in mixer", key=f"solo_mixer_{row}", on_click=_solo_in_mixer, args=(row,),
                          help="Hear this component alone on the Explore page.")

    st.subheader("Overlap: components × regions")
    heat_rows = shown[:min(len(shown), 32)]
    shares = mx.patch_energy(heat_rows)
    members = np.zeros_like(shares, dtype=bool)
    for i, row in enumerate(heat_rows):
        for p in subset_members(row, lay.players):
            members[i, p] = True
    labels = [f"#{rank_of[r] + 1} {subset_label(r, lay.players)}" for r in heat_rows]
    st.plotly_chart(charts.overlap_heatmap(labels, list(range(lay.rows * lay.cols)), shares, members), theme=None,
                    key="overlap", config=charts.CONFIG)
