"""A transplant: one component of another decomposition (the donor: another seed or class of the
same model, split, players and feature shape) added to the current mix with a weight,

    mix = tail(f_mix + w_t · Δf_T^donor),    f_mix = f0 + Σ w_S Δf_S + w_r r,

and the pixel change it makes inside and outside its region set T (the same players, so T names
the same patches in both images). No Streamlit, no pictures, no store: the explorer lists and
opens donors (ui.transplant); this is the arithmetic and what a transplant is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Sequence

import torch
from torch import Tensor

from regionprims.method.regions import Layout, subset_masks
from regionprims.method.render import render_features
from regionprims.mix.mixer import Mixer, RenderedMix, composite
from regionprims.mix.state import W_MAX, W_MIN, ViewState

DONOR_HASH = re.compile(r"[0-9a-f]{32}")      # the last part of a decomposition's cache key (specs.stable_hash)


@dataclass(frozen=True)
class TransplantRef:
    """What a session and its URL hold: the donor (its decomposition key's hash, never a path), the
    donor's component row (its region set T, binary counting order) and the weight."""

    donor: str
    row: int
    weight: float = 1.0

    def with_weight(self, value: float) -> "TransplantRef":
        return replace(self, weight=float(min(W_MAX, max(W_MIN, value))))


def donor_hash(key: str) -> str:
    """The hash part of a decomposition cache key ('v5/decomposition/<hash>')."""
    return key.rsplit("/", 1)[-1]


def same_ground(spec, shape: Sequence[int], other, other_shape: Sequence[int]) -> bool:
    """Whether a donor (`other`, its feature shape) may give components to `spec`'s mix: the same
    model identity, split, precision, grid and players, and feature shape; and not the same
    decomposition."""
    a, b = spec.layout, other.layout
    return (spec.model_identity == other.model_identity and spec.split == other.split
            and spec.precision == other.precision and (a.rows, a.cols) == (b.rows, b.cols)
            and tuple(a.players) == tuple(b.players) and tuple(shape) == tuple(other_shape)
            and spec.frozen() != other.frozen())


def region_mask(player_masks: Tensor, subsets: Tensor, row: int) -> Tensor:
    """[H, W] 0/1: the pixels of row's region set (the union of its players' patches)."""
    return subset_masks(player_masks, subsets[row:row + 1])[0]


def change_inside_outside(before: Tensor, after: Tensor, inside: Tensor) -> tuple[float, float]:
    """Mean |after − before| per pixel (mean over RGB, [0, 1] scale) inside and outside a 0/1 mask."""
    change = ((after - before).abs() * 0.5).mean(0)
    outside = 1.0 - inside
    return (float((change * inside).sum() / inside.sum().clamp_min(1.0)),
            float((change * outside).sum() / outside.sum().clamp_min(1.0)))


@torch.no_grad()
def render(mx: Mixer, view: ViewState, delta: Tensor, weight: float, row: int) -> RenderedMix:
    """The view's mix with `weight · delta` (the donor's Δf_T) added, through the tail once for
    both (a batch of two: the mix without and with the transplant), its difference from x, the
    live metrics and the transplant's change inside and outside T (`transplant_inside`,
    `transplant_outside`)."""
    w = view.effective(mx.rows)
    feat = composite(mx.dec, view)
    before, after = render_features(mx.gen, mx.ctx, torch.stack([feat, feat + weight * delta.to(feat.dtype)]))
    out = mx.rendered(view, after, w)
    inside, outside = change_inside_outside(before, after, region_mask(mx.dec.player_masks, mx.dec.subsets, row))
    out.metrics.update(transplant_inside=inside, transplant_outside=outside, transplant_weight=float(weight),
                       transplant_row=int(row))
    return out


def fits(layout: Layout, row: int) -> bool:
    """Whether `row` is a non-empty subset row of the layout's players."""
    return 0 < int(row) < 2 ** layout.n
