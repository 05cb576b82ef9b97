"""The Explore page's player picker: the image with its grid, and one toggle button per patch."""
from __future__ import annotations

import streamlit as st

from regionprims.method.regions import MAX_PLAYERS, parse_layout
from regionprims.ui import resources, state
from regionprims.ui.state import Current


def _toggle_patch(patch: int, chosen: tuple[int, ...]) -> None:
    now = set(chosen)
    now ^= {patch}
    st.session_state[state.PLAYERS] = tuple(sorted(now))


def _set_players(value) -> None:
    st.session_state[state.PLAYERS] = value


def players_picker(cur: Current) -> None:
    """The image with its grid, and one toggle button per patch (click to add/remove a player)."""
    app = cur.app
    lay_default = parse_layout(app.layout, None, force=True)
    chosen = cur.spec.layout.players if cur.spec is not None else (app.players or lay_default.players)
    left, right = st.columns([3, 2], gap="large")
    with left.container(key="px_preview"):
        if cur.gen is not None:
            try:
                png = resources.preview(cur.gen.identity, app.model, app.class_id, app.seed, app.truncation,
                                        app.layout, tuple(chosen) or None, _gen=cur.gen)
                st.image(png, caption="Generated image x: grid patches numbered, players bright", width=360,
                         output_format="PNG")
            except Exception as exc:  # noqa: BLE001 - bad input is reported in the sidebar
                st.caption(str(exc))
    with right:
        st.markdown(f"**Players** — {len(chosen)} of {lay_default.rows * lay_default.cols} patches "
                    f"({2 ** len(chosen)} subsets; at most {MAX_PLAYERS} players)")
        for r in range(lay_default.rows):
            cols = st.columns(lay_default.cols, gap="small")
            for c in range(lay_default.cols):
                p = r * lay_default.cols + c
                on = p in chosen
                cols[c].button(f"{p}", key=f"patch_{p}", type="primary" if on else "secondary",
                               on_click=_toggle_patch, args=(p, tuple(chosen)), width="stretch",
                               help=f"patch {p}: {'player — click to remove' if on else 'click to add'}")
        b1, b2 = st.columns(2)
        b1.button("Default players", on_click=_set_players, args=(None,), key="players_default", width="stretch")
        if app.layout != "paper":
            b2.button("All patches", on_click=_set_players, args=(tuple(lay_default.players),),
                      key="players_all", width="stretch")
