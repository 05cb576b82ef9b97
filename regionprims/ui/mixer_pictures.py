"""The pictures of a prepared mixer that the explorer keeps, as PNG bytes: a component's card and
the original and baseline stills (a rendered mix's two PNGs are pictures.mix_pngs).

Cards and stills depend only on the decomposition, so they are kept once per decomposition in
the shared store (resources.shared): one byte-bounded store of pictures per decomposition key
(memory.mixer_memo_bytes), counted in the shared budget, so that a rerun or another session
looking at the same decomposition does not encode them again. A rendered mix depends on one
session's view; the Explore page keeps it in the session's store.
"""
from __future__ import annotations

from typing import Callable

from regionprims.mix.mixer import Mixer
from regionprims.method.regions import subset_members
from regionprims.pictures import grid_overlay, png_bytes, region_card, scale_for, upscale
from regionprims.ui import memory, resources


def _kept(key: str, what: tuple, make: Callable[[], bytes]) -> bytes:
    """The picture `what` of the decomposition `key`, made by `make()` when not kept."""
    pictures = resources.shared().get_or_make(("pictures", key),
                                              lambda: memory.ByteLRU(memory.mixer_memo_bytes()))
    return pictures.get_or_make(what, make)


def card_png(mx: Mixer, key: str, row: int, factor: int | None = None) -> bytes:
    """PNG of one component's card (region set on the grid | regional pattern)."""
    lay = mx.dec.spec.layout
    f = factor or scale_for(mx.dec.image.shape[-1], 144)
    return _kept(key, ("card", row, f), lambda: png_bytes(region_card(
        mx.x_rgb, mx.patterns([row])[0], subset_members(row, lay.players), lay.rows, lay.cols, f)))


def still_png(mx: Mixer, key: str, name: str) -> bytes:
    """PNG of the original (grid, numbered patches, players outlined) or the baseline image."""
    lay = mx.dec.spec.layout
    f = scale_for(mx.dec.image.shape[-1])

    def make() -> bytes:
        if name == "original":
            rgb = grid_overlay(upscale(mx.x_rgb, f), lay.rows, lay.cols, players=lay.players,
                               numbers=True, dim_others=len(lay.players) < lay.rows * lay.cols)
        else:
            rgb = grid_overlay(upscale(mx.baseline_rgb, f), lay.rows, lay.cols)
        return png_bytes(rgb)
    return _kept(key, ("still", name), make)

