"""The state of a mix: a weight per component (subset row; default 1), which components are on
(mute = off), which are soloed, and the residual's weight. The effective weight of row S is w_S
if S is on and (nothing is soloed or S is soloed), else 0. Frozen, so that a view can key a cache."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

import torch

W_MIN, W_MAX = -1.0, 2.0          # component weight slider range
R_MIN, R_MAX = -1.0, 2.0          # residual weight slider range


@dataclass(frozen=True)
class ViewState:
    """The mixer. `weights` holds only rows whose weight is not 1; `off` the muted rows."""

    weights: Mapping[int, float] = field(default_factory=dict)
    off: frozenset = frozenset()
    solo: frozenset = frozenset()
    residual: float = 1.0

    def weight(self, row: int) -> float:
        return float(self.weights.get(row, 1.0))

    def is_on(self, row: int) -> bool:
        return row not in self.off

    def is_default(self) -> bool:
        return not self.weights and not self.off and not self.solo and self.residual == 1.0

    def effective(self, rows: int) -> torch.Tensor:
        """Effective weights [rows] (row 0, the baseline, gets 0: compose_feature ignores it)."""
        w = torch.ones(rows)
        for r, v in self.weights.items():
            if 0 < r < rows:
                w[r] = v
        if self.off:
            idx = [r for r in self.off if 0 < r < rows]
            w[idx] = 0.0
        if self.solo:
            keep = torch.zeros(rows, dtype=torch.bool)
            keep[[r for r in self.solo if 0 < r < rows]] = True
            w[~keep] = 0.0
        w[0] = 0.0
        return w

    def with_weight(self, row: int, value: float) -> "ViewState":
        value = float(min(W_MAX, max(W_MIN, value)))
        weights = dict(self.weights)
        if value == 1.0:
            weights.pop(row, None)
        else:
            weights[row] = value
        return replace(self, weights=weights)

    def with_on(self, row: int, on: bool) -> "ViewState":
        return replace(self, off=self.off - {row} if on else self.off | {row})

    def mute(self, row: int) -> "ViewState":
        return self.with_on(row, False)

    def with_solo(self, row: int, solo: bool) -> "ViewState":
        return replace(self, solo=self.solo | {row} if solo else self.solo - {row})

    def with_residual(self, value: float) -> "ViewState":
        return replace(self, residual=float(min(R_MAX, max(R_MIN, value))))
