"""Order components by strength: ||Delta f_S||_2 (default) or by image-space effect."""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

RankBy = Literal["norm", "effect"]


def component_norms(components: Tensor) -> Tensor:
    """||Delta f_S||_2 per row; row 0 (f0) gets 0 so it never ranks."""
    norms = components.flatten(1).norm(dim=1)
    norms[0] = 0.0
    return norms


def rank_rows(strength: Tensor) -> list[int]:
    """Non-empty subset rows, strongest first; ties broken by the lower row (stable)."""
    order = torch.argsort(strength[1:], descending=True, stable=True) + 1
    return [int(r) for r in order]
