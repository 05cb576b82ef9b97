"""Players: image regions on a grid, their pixel masks, and the one canonical subset order.

Canonical order (used by every tensor stacked over subsets, and by the file format): binary
counting. Row k of `subset_matrix(n)` holds subset {j : bit j of k is set}; row 0 is the empty
set and row 2**n - 1 is N. This is the order of the reference AND/OR code of the paper's lab.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from regionprims.errors import UserError
from regionprims.validation import int_text, short

MAX_PLAYERS = 12          # 2**12 subsets; more is refused unless forced
PAPER_GRID = (6, 6)       # the paper's 36 patches
PAPER_PLAYERS = 9


@dataclass(frozen=True)
class Layout:
    """A grid of rows x cols patches (row-major indices) of which `players` are the players."""

    name: str
    rows: int
    cols: int
    players: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.players)


def parse_layout(spec: str, players: Sequence[int] | None = None, *, force: bool = False) -> Layout:
    """Parse a layout name: `3x3` (every cell a player), `paper` (6x6 grid; players given or
    chosen later by `foreground_players`), or `RxC` (any grid; players default to all cells).
    Raises UserError with one line that names the problem."""
    text = str(spec).strip().lower()
    if text == "paper":
        rows, cols = PAPER_GRID
    else:
        m = re.fullmatch(r"(\d{1,2})x(\d{1,2})", text)
        if not m:
            raise UserError(f"unknown layout {short(str(spec))}: use 3x3, paper, or RxC such as 4x4")
        rows, cols = int(m.group(1)), int(m.group(2))
        if not (1 <= rows <= 16 and 1 <= cols <= 16):
            raise UserError(f"layout {short(str(spec))}: rows and columns must be between 1 and 16")
    if players is None:
        chosen: tuple[int, ...] = () if text == "paper" else tuple(range(rows * cols))
    else:
        chosen = tuple(int(p) for p in players)
        bad = [p for p in chosen if not 0 <= p < rows * cols]
        if bad:
            raise UserError(f"player patch {bad[0]} is outside the {rows}x{cols} grid (0..{rows * cols - 1})")
        if len(set(chosen)) != len(chosen):
            raise UserError("players must be distinct patches")
        if not chosen:
            raise UserError("give at least one player")
        chosen = tuple(sorted(chosen))
    check_player_count(len(chosen), force=force)
    return Layout(name=text, rows=rows, cols=cols, players=chosen)


def check_player_count(n: int, *, force: bool = False) -> None:
    if n > MAX_PLAYERS and not force:
        raise UserError(f"{n} players means 2^{n} = {2 ** n} subsets; at most {MAX_PLAYERS} "
                        "are allowed unless forced (--force)")


def parse_players(text: str) -> tuple[int, ...]:
    """'0,5,7' -> (0, 5, 7); raises UserError on anything else."""
    try:
        return tuple(int_text(t) for t in text.replace(" ", "").split(",") if t != "")
    except ValueError:
        raise UserError(f"--players must be comma-separated patch indices, got {short(text)}") from None


def grid_edges(size: int, parts: int) -> list[int]:
    """Integer patch boundaries for any image size (rounded, so 128 px splits into 6 parts)."""
    return [round(i * size / parts) for i in range(parts + 1)]


def patch_masks(rows: int, cols: int, height: int, width: int) -> Tensor:
    """Float masks [rows*cols, H, W], one per patch, row-major; they tile the image exactly."""
    ys, xs = grid_edges(height, rows), grid_edges(width, cols)
    masks = torch.zeros(rows * cols, height, width)
    for r in range(rows):
        for c in range(cols):
            masks[r * cols + c, ys[r]:ys[r + 1], xs[c]:xs[c + 1]] = 1.0
    return masks


def player_masks(layout: Layout, height: int, width: int) -> Tensor:
    """Float masks [n, H, W] of the players, in the order of `layout.players`."""
    return patch_masks(layout.rows, layout.cols, height, width)[list(layout.players)]


def subset_matrix(n: int) -> Tensor:
    """uint8 [2**n, n]: row k marks the players of subset k (binary counting order)."""
    k = torch.arange(2 ** n).unsqueeze(1)
    return ((k >> torch.arange(n)) & 1).to(torch.uint8)


def subset_masks(masks: Tensor, subsets: Tensor) -> Tensor:
    """Pixel masks of the unions: [2**n, H, W] from player masks [n, H, W]."""
    weights = subsets.to(masks.dtype)
    return (torch.einsum("kn,nhw->khw", weights, masks) > 0).to(masks.dtype)


def subset_members(row: int, players: Sequence[int]) -> list[int]:
    """Grid patch indices of the players in subset row `row` (binary counting order)."""
    return [players[j] for j in range(len(players)) if (row >> j) & 1]


def subset_label(row: int, players: Sequence[int]) -> str:
    """Human label of subset row `row`: the patch indices it holds, e.g. '{0,4,8}'."""
    return "{" + ",".join(str(p) for p in subset_members(row, players)) + "}"


def foreground_players(saliency: Tensor, rows: int, cols: int, n: int = PAPER_PLAYERS) -> tuple[int, ...]:
    """The stated foreground rule: the n patches with the largest mean saliency (the mean
    absolute difference between the image and the baseline image, see pipeline), ties broken by
    the lower patch index; returned sorted. Deterministic, unlike the paper's random choice."""
    height, width = saliency.shape[-2:]
    masks = patch_masks(rows, cols, height, width)
    score = (masks * saliency).sum((1, 2)) / masks.sum((1, 2))
    order = sorted(range(rows * cols), key=lambda i: (-float(score[i]), i))
    return tuple(sorted(order[:n]))
