"""The additivity error of a weighted mix of components, for any weights (not only keep/drop),
fast enough to recompute at every change of a weight: exact through the Gram matrix of the
components and subset-sum transforms while 2^n stays small, the definition itself
(metrics.additivity_error) for 0/1 weights beyond that."""
from __future__ import annotations

import numpy as np
import torch

from regionprims.method import metrics as M
from regionprims.method.interactions import subset_sums

GRAM_MAX_PLAYERS = 10             # exact weighted additivity through a 2^n x 2^n Gram matrix up to here


class WeightedAdditivity:
    r"""Mean over T ≠ ∅ of ||f0 + sum_{S∩T≠∅} w_S Df_S - u(T)|| / ||u(T) - f0|| for weights w
    [2^n] over the component rows (row 0, the baseline, ignored). With 0/1 weights this is
    metrics.additivity_error of the kept set.

    The OR reconstruction is an identity, so the error of T is the norm of
    sum_{S∩T≠∅} (1 - w_S) Df_S, a quadratic form in the Gram matrix G of the components; with
    H = diag(v) G diag(v), v = 1 - w, the sums over S∩T≠∅ are (all S) minus (S ⊆ N\T), i.e.
    subset-sum transforms: O(n 4^n) instead of a 2^n x 2^n x 2^n product. The Gram matrix is
    computed on first use; past GRAM_MAX_PLAYERS players only 0/1 weights have an error (NaN
    otherwise), each kept set computed once."""

    def __init__(self, components: torch.Tensor, minimal: torch.Tensor):
        self.components, self.minimal = components, minimal
        self.n = int(components.shape[0]).bit_length() - 1
        self._gram: np.ndarray | None = None
        self._den: np.ndarray | None = None
        self._by_kept: dict[tuple[int, ...], float] = {}

    @property
    def nbytes(self) -> int:
        """Bytes of what it computed (the components and minimal features are the caller's)."""
        arrays = sum(a.nbytes for a in (self._gram, self._den) if a is not None)
        return arrays + 8 * len(self._by_kept)

    def _prepare(self) -> None:
        c = self.components.flatten(1).to(torch.float64)
        c[0] = 0.0
        self._gram = (c @ c.T).numpy()
        u = self.minimal.flatten(1).to(torch.float64)
        self._den = (u[1:] - u[0]).norm(dim=1).clamp_min(M.EPS).numpy()

    def error(self, w: torch.Tensor) -> float:
        """The additivity error of weights `w` (numpy inside: see interactions.subset_sums for why)."""
        w = w.to(torch.float64)
        if self.n > GRAM_MAX_PLAYERS:
            if not bool(((w == 0) | (w == 1))[1:].all()):
                return float("nan")
            keep = tuple(int(r) for r in torch.nonzero(w[1:] == 1).squeeze(1) + 1)
            if keep not in self._by_kept:
                self._by_kept[keep] = M.additivity_error(self.components, self.minimal, keep)[0]
            return self._by_kept[keep]
        if self._gram is None:
            self._prepare()
        v = 1.0 - w.numpy()
        v[0] = 0.0
        h = v[:, None] * self._gram * v[None, :]                # [2^n (S), 2^n (S')]
        ah = h.sum(0, keepdims=True) - subset_sums(h)[::-1]     # row T: sum over S∩T≠∅
        # err^2(T) = sum_{S'∩T≠∅} ah[T, S'] = total_T - sum_{S' ⊆ N\T} ah[T, S']
        inner = subset_sums(ah.T)[::-1]                         # [U, T]: sum over S' ⊆ N\U
        sq = ah.sum(1) - np.diagonal(inner)
        return float((np.sqrt(np.clip(sq[1:], 0.0, None)) / self._den).mean())
