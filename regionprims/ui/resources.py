"""Per-process resources shared by every session: generators (loaded once, registry), specs,
prepared mixers (one per decomposition, LRU), preview images. Backend calls only."""
from __future__ import annotations

import streamlit as st

from regionprims import pipeline
from regionprims.errors import UserError
from regionprims.models import registry
from regionprims.method.regions import parse_layout
from regionprims.method.specs import OptimSettings
from regionprims.method.mixer import Mixer
from regionprims.pictures import grid_overlay, png_bytes, scale_for, upscale
from regionprims.ui import state


def generator(model: str):
    """The shared generator of a registry model; UserError (with how to get the weights) when
    it cannot be loaded. Never downloads: missing weights are fetched by the sidebar's Download
    button, as a job with progress and cancel."""
    info = next((m for m in models() if m["name"] == model), None)
    if info is not None and not info["weights_present"] and registry.downloadable(model):
        raise UserError(f"The weights of {model} are not on this machine yet: use Download weights "
                        "in the sidebar (or choose the demo model, which works offline)")
    try:
        return registry.load_generator(model)
    except UserError as exc:
        try:
            hint = registry.how_to_get_weights(model)
        except UserError:
            hint = ""
        raise UserError(f"{exc}" + (f" — {hint}" if hint and hint not in str(exc) else "")) from None


@st.cache_resource(show_spinner=False, ttl=600)
def models() -> list[dict]:
    return registry.list_models()


@st.cache_data(show_spinner="Choosing the foreground players…", max_entries=128)
def spec(identity: str, model: str, class_id: int, seed: int, truncation: float | None, split: str | None,
         layout: str, players: tuple[int, ...] | None, steps: int, codes: int, _gen=None):
    """pipeline.make_spec, cached (for the paper layout it runs the generator to choose the
    foreground players). Raises UserError for bad input."""
    gen = _gen if _gen is not None else generator(model)
    return pipeline.make_spec(gen, class_id, seed, truncation=truncation, split=split, layout=layout,
                              players=players, settings=OptimSettings(steps=steps, baseline_codes=codes))


@st.cache_resource(show_spinner="Preparing the decomposition for live rendering…", max_entries=4)
def mixer(key: str, _gen, _dec) -> Mixer:
    """The decomposition prepared for live rendering (one per decomposition key)."""
    ctx = pipeline.image_and_feature(_gen, _dec.spec)[3]
    return Mixer(_gen, _dec, ctx)


def page_mixer(cur: state.Current, title: str) -> Mixer | None:
    """A result page's start: its title, then the prepared mixer of the current decomposition;
    None (after showing the selection's error or the no-result note) when there is none."""
    if not state.page_start(cur, title):
        return None
    return mixer(cur.key, cur.gen, cur.dec)


@st.cache_data(show_spinner=False, max_entries=64)
def preview(identity: str, model: str, class_id: int, seed: int, truncation: float | None, layout: str,
            players: tuple[int, ...] | None, _gen=None) -> bytes:
    """PNG of the generated image with the grid, numbered patches and the players outlined."""
    gen = _gen if _gen is not None else generator(model)
    rgb = pipeline.sample_image(gen, class_id, seed, truncation)
    lay = parse_layout(layout, players, force=True)
    chosen = lay.players
    f = scale_for(rgb.shape[0])
    partial = bool(chosen) and len(chosen) < lay.rows * lay.cols
    big = grid_overlay(upscale(rgb, f), lay.rows, lay.cols, players=chosen, numbers=True, dim_others=partial,
                       highlight=chosen if partial else ())
    return png_bytes(big)
