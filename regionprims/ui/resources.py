"""Per-process resources shared by every session: generators (loaded once, registry), specs,
prepared mixers, their pictures (ui.mixer_pictures) and preview images (in one store bounded by
bytes, memory.explorer_bytes), and each session's own store (bounded by memory.session_bytes,
emptied when the session ends). Backend calls only."""
from __future__ import annotations

import threading
from typing import Hashable

import streamlit as st
from streamlit.errors import StreamlitAPIException

from regionprims import jobs, pipeline
from regionprims.errors import UserError
from regionprims.models import registry
from regionprims.method.regions import parse_layout
from regionprims.method.specs import OptimSettings
from regionprims.mix.mixer import Mixer
from regionprims.pictures import grid_overlay, png_bytes, scale_for, upscale
from regionprims.ui import memory, state


def generator(model: str):
    """The shared generator of a registry model; UserError (with how to get the weights) when
    it cannot be loaded. Never downloads: missing weights are fetched by the sidebar's Download
    button, as a job with progress and cancel."""
    info = next((m for m in models() if m["name"] == model), None)
    if info is None:                    # the explorer loads only the models it lists (registry.model_names)
        raise UserError(f"model {model!r} is not offered here (known: {', '.join(registry.model_names())})")
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
         layout: str, players: tuple[int, ...] | None, settings: OptimSettings, _gen=None):
    """pipeline.make_spec, cached (for the paper layout it runs the generator to choose the
    foreground players): `settings` as the sidebar made them. Raises UserError for bad input."""
    gen = _gen if _gen is not None else generator(model)
    return pipeline.make_spec(gen, class_id, seed, truncation=truncation, split=split, layout=layout,
                              players=players, settings=settings)


_SHARED: memory.ByteLRU | None = None
_SHARED_LOCK = threading.Lock()


def shared() -> memory.ByteLRU:
    """The process-wide store of prepared mixers, their pictures and previews, bounded by bytes.
    A plain module object rather than st.cache_resource: download callables read it on threads
    that have no session."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = memory.ByteLRU(memory.explorer_bytes(), on_evict=_evicted)
        return _SHARED


def reset_shared() -> None:
    """Forget the shared store (tests; a new budget is read on next use)."""
    global _SHARED
    with _SHARED_LOCK:
        _SHARED = None


def _evicted(key: Hashable, value: object) -> None:
    if isinstance(value, Mixer):
        memory.release_free_memory_soon()


def _released(store: memory.ByteLRU) -> None:
    """A session disconnected (Streamlit clears its session-scoped resources): drop what it
    kept and hand the freed heap back."""
    store.clear()
    memory.release_free_memory_soon()


@st.cache_resource(scope="session", on_release=_released, show_spinner=False)
def _session_store() -> memory.ByteLRU:
    return memory.ByteLRU(memory.session_bytes())


def session_store() -> memory.ByteLRU:
    """This session's own store (rendered mixes, the export preview), bounded by bytes and
    emptied when the session disconnects. Outside a session (a script, a download callable's
    thread) a throwaway one."""
    try:
        return _session_store()
    except StreamlitAPIException:
        return memory.ByteLRU(memory.session_bytes())


def decomposition(key: str, spec) -> object | None:
    """The finished decomposition of `key` without computing: a prepared mixer's, else the job
    registry's or the disk cache's (jobs.lookup). Sessions keep only the key and the spec
    between runs, so a decomposition the stores have let go is not held alive by a tab."""
    mx = shared().get(("mixer", key))
    if mx is not None:
        return mx.dec
    return jobs.lookup(spec)[0] if spec is not None else None


def mixer(key: str, gen, dec=None, spec=None) -> Mixer | None:
    """The decomposition of `key` prepared for live rendering, shared by every session looking
    at it; None when it is nowhere to be found (not computed, or dropped from every store)."""
    store = shared()
    mx = store.get(("mixer", key))
    if mx is not None:
        return mx
    if dec is None:
        dec = decomposition(key, spec)
    if dec is None:
        return None
    with st.spinner("Preparing the decomposition for live rendering…"):
        ctx = pipeline.image_and_feature(gen, dec.spec)[3]
        mx = Mixer(gen, dec, ctx, memo=memory.ByteLRU(memory.mixer_memo_bytes()))
    store.put(("mixer", key), mx)
    memory.release_free_memory_soon()       # the job that made it has freed its buffers by now
    return mx


def page_mixer(cur: state.Current, title: str) -> Mixer | None:
    """A result page's start: its title, then the prepared mixer of the current decomposition;
    None (after showing the selection's error or the no-result note) when there is none."""
    if not state.page_start(cur, title):
        return None
    mx = mixer(cur.key, cur.gen, cur.dec, cur.spec)
    if mx is None:
        state.no_result_note(cur)
    return mx


def preview(identity: str, model: str, class_id: int, seed: int, truncation: float | None, layout: str,
            players: tuple[int, ...] | None, _gen=None) -> bytes:
    """PNG of the generated image with the grid, numbered patches and the players outlined
    (kept in the shared store)."""
    key = ("preview", identity, model, class_id, seed, truncation, layout, players)
    png = shared().get(key)
    if png is None:
        png = shared().put(key, _preview(model, class_id, seed, truncation, layout, players, _gen))
    return png


def _preview(model: str, class_id: int, seed: int, truncation: float | None, layout: str,
             players: tuple[int, ...] | None, _gen=None) -> bytes:
    gen = _gen if _gen is not None else generator(model)
    rgb = pipeline.sample_image(gen, class_id, seed, truncation)
    lay = parse_layout(layout, players, force=True)
    chosen = lay.players
    f = scale_for(rgb.shape[0])
    partial = bool(chosen) and len(chosen) < lay.rows * lay.cols
    big = grid_overlay(upscale(rgb, f), lay.rows, lay.cols, players=chosen, numbers=True, dim_others=partial,
                       highlight=chosen if partial else ())
    return png_bytes(big)
