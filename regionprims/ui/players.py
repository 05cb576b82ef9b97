"""The Explore page's player picker: the generated image with its grid, where a click on a patch
makes it a player or not (a Plotly figure: the picture as a layout image under one transparent
point per patch, read through Streamlit's selection events), and one toggle button per patch,
the keyboard's way to the same state (state.PLAYERS)."""
from __future__ import annotations

import base64
import io
from functools import partial

import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from regionprims.method.regions import MAX_PLAYERS, grid_edges, parse_layout
from regionprims.ui import resources, state
from regionprims.ui.state import Current

PICKER = "players_image"          # the clickable image's widget key
PICKER_WIDTH = 360                # px on the page
ALT = "Generated image x with its numbered grid: click a patch to make it a player or not"


def _toggle_patch(patch: int, chosen: tuple[int, ...]) -> None:
    now = set(chosen)
    now ^= {patch}
    st.session_state[state.PLAYERS] = tuple(sorted(now))


def _set_players(value) -> None:
    st.session_state[state.PLAYERS] = value


def clicked_patches(event, n_patches: int) -> list[int]:
    """The patches a selection event names: each selected point's patch (its customdata, else its
    index among the patch points), those of the patch trace only, in order, without repeats."""
    selection = (event or {}).get("selection") or {}
    found: list[int] = []
    for point in selection.get("points") or ():
        if point.get("curve_number", 0) != 0:
            continue
        data = point.get("customdata")
        patch = data[0] if isinstance(data, (list, tuple)) and data else data
        if patch is None:
            patch = point.get("point_index", point.get("point_number"))
        if isinstance(patch, (int, float)) and 0 <= int(patch) < n_patches and int(patch) not in found:
            found.append(int(patch))
    return found


def _clicked(chosen: tuple[int, ...], n_patches: int) -> None:
    """on_select: toggle every clicked patch. The figure changes with the players, so the chart is
    a new widget on the next run and its selection starts empty again (one click, one toggle)."""
    now = set(chosen)
    for patch in clicked_patches(st.session_state.get(PICKER), n_patches):
        now ^= {patch}
    if now != set(chosen):
        st.session_state[state.PLAYERS] = tuple(sorted(now))


def picker_figure(png: bytes, rows: int, cols: int, chosen, width: int = PICKER_WIDTH) -> go.Figure:
    """The picture (PNG) filling the plot, axes in its pixels (y down), and one transparent point
    at the centre of each grid patch; hover goes to the nearest centre, so a click anywhere in a
    patch selects that patch's point."""
    w, h = Image.open(io.BytesIO(png)).size
    xs, ys = grid_edges(w, cols), grid_edges(h, rows)
    patches = range(rows * cols)
    cx = [(xs[p % cols] + xs[p % cols + 1]) / 2 for p in patches]
    cy = [(ys[p // cols] + ys[p // cols + 1]) / 2 for p in patches]
    text = [f"patch {p}: {'player, click to remove' if p in chosen else 'click to make it a player'}" for p in patches]
    fig = go.Figure(go.Scatter(
        x=cx, y=cy, customdata=list(patches), text=text, mode="markers", hovertemplate="%{text}<extra></extra>",
        marker=dict(size=max(6, min(w / cols, h / rows) * width / w / 3), color="rgba(255,255,255,0.01)",
                    symbol="square"),
        selected=dict(marker=dict(opacity=0.01)), unselected=dict(marker=dict(opacity=0.01)), showlegend=False))
    fig.add_layout_image(source="data:image/png;base64," + base64.b64encode(png).decode(), xref="x", yref="y",
                         x=0, y=0, sizex=w, sizey=h, xanchor="left", yanchor="top", sizing="stretch", layer="below")
    axis = dict(visible=False, fixedrange=True, showgrid=False, zeroline=False)
    fig.update_xaxes(range=[0, w], **axis)
    fig.update_yaxes(range=[h, 0], scaleanchor="x", **axis)
    fig.update_layout(width=width, height=round(width * h / w), margin=dict(l=0, r=0, t=0, b=0),
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", hovermode="closest",
                      hoverdistance=-1, clickmode="event+select", dragmode=False)
    return fig


def _image(cur: Current, chosen: tuple[int, ...], rows: int, cols: int) -> None:
    """The clickable image (or, when the image cannot be made, the reason in one line)."""
    app = cur.app
    try:
        png = resources.preview(cur.gen.identity, app.model, app.class_id, app.seed, app.truncation,
                                app.layout, chosen or None, _gen=cur.gen)
    except Exception as exc:  # noqa: BLE001 - bad input is reported in the sidebar
        st.caption(str(exc))
        return
    on_select = partial(_clicked, chosen, rows * cols)
    st.plotly_chart(picker_figure(png, rows, cols, chosen), key=PICKER, on_select=on_select,
                    selection_mode=("points",), theme=None, width="content",
                    config={"displayModeBar": False, "scrollZoom": False, "doubleClick": False}, alt=ALT)
    st.caption("Generated image x: grid patches numbered, players bright. Click a patch to make it a player "
               "or not (or use the buttons).")


def players_picker(cur: Current) -> None:
    """The clickable image with its grid, and one toggle button per patch (click to add/remove a player)."""
    app = cur.app
    lay_default = parse_layout(app.layout, None, force=True)
    chosen = tuple(cur.spec.layout.players if cur.spec is not None else (app.players or lay_default.players))
    left, right = st.columns([3, 2], gap="large")
    with left.container(key="px_preview"):
        if cur.gen is not None:
            _image(cur, chosen, lay_default.rows, lay_default.cols)
    with right:
        st.markdown(f"**Players** — {len(chosen)} of {lay_default.rows * lay_default.cols} patches "
                    f"({2 ** len(chosen)} subsets; at most {MAX_PLAYERS} players)")
        for r in range(lay_default.rows):
            cols = st.columns(lay_default.cols, gap="small")
            for c in range(lay_default.cols):
                p = r * lay_default.cols + c
                on = p in chosen
                cols[c].button(f"{p}", key=f"patch_{p}", type="primary" if on else "secondary",
                               on_click=_toggle_patch, args=(p, chosen), width="stretch",
                               help=f"patch {p}: {'player — click to remove' if on else 'click to add'}")
        b1, b2 = st.columns(2)
        b1.button("Default players", on_click=_set_players, args=(None,), key="players_default", width="stretch")
        if app.layout != "paper":
            b2.button("All patches", on_click=_set_players, args=(tuple(lay_default.players),),
                      key="players_all", width="stretch")
