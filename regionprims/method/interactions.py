"""OR and AND (Harsanyi) interactions of vector-valued set functions, by fast subset transforms.

Every tensor here is stacked over the 2**n subsets of N = {1..n} in dim 0, in the canonical
order of `regions.subset_matrix`: row k is the subset {j : bit j of k is set}, row 0 is the empty
set, row 2**n - 1 is N. Trailing dims are arbitrary (a whole feature map per subset). Nothing
here modifies its inputs; the functions are plain tensor math (no nn, no I/O) and run on any
device and floating dtype (tested on float32 and float64; autograd flows through them).

Formulas (paper arXiv 2410.04421; docs/design.md, "The math", and docs/method.md §5):

* OR interaction, paper eq. (2)/(3); lab code `get_reward2Ior_mat`::

      I_or(∅) = u(∅)
      I_or(S) = - Σ_{L⊆S} (-1)^{|S|-|L|} u(N \\ L)            for S ≠ ∅

* Reconstruction ("linear additivity"), paper eq. (4); lab code `get_Ior2reward_mat`::

      u(T) = I_or(∅) + Σ_{S: S∩T≠∅} I_or(S)                   for every T ⊆ N

  With T = N this is completeness: u(N) = I_or(∅) + Σ_{S≠∅} I_or(S).

* AND (Harsanyi) interaction and its reconstruction; lab code `get_reward2Iand_mat`,
  `get_Iand2reward_mat`::

      I_and(S) = Σ_{L⊆S} (-1)^{|S|-|L|} v(L),      v(T) = Σ_{S⊆T} I_and(S)

* Duality: with the dual set function w(L) = u(N) - u(N \\ L),
  I_or^u(S) = I_and^w(S) for every S ≠ ∅ (and I_and^w(∅) = w(∅) = 0).

Fast path. Viewing a [2**n, ...] tensor as [2]*n + [...], axis i is one player (bit n-1-i), and
the subset Möbius transform Σ_{L⊆S} (-1)^{|S|-|L|} x(L) is n in-place passes
`x[..1..] -= x[..0..]`, one per axis: O(n·2**n) operations per trailing element instead of the
O(3**n) double sum. u(N \\ L) is row (2**n - 1) XOR L, i.e. the rows in reverse order, so

    I_or(S) = - Möbius(u reversed)(S)                          for S ≠ ∅,

and, with I' = I_or with its ∅ row zeroed and J(A) = I'(N \\ A) (rows reversed),

    u(T) = I_or(∅) + Σ_{S≠∅} I'(S) - Σ_{S⊆N\\T} I'(S) = I_or(∅) + Z(∅) - Z(T),
    Z(T) = Σ_{A⊇T} J(A)                                       (superset sums: n in-place passes).

Memory. The returned tensor is the only full-size allocation: every pass runs in place in it,
so without chunking the peak extra memory beyond input and output is one row of the trailing
size. With `chunk_elems=c`, the flattened trailing dimension is processed c elements at a time
in one reused working block of 2**n * c elements; the peak extra memory beyond input and output
is then 2**n * c * itemsize bytes for the block plus 8 * 2**n bytes for a row index (plus one row
of c elements), whatever the trailing size. The output itself still has the input's size: the
bound is on what comes on top. Time is about the same either way (benchmarks/bench_transform.py).
A non-contiguous input is made contiguous first (one more copy) on the chunked path; under
autograd each chunk allocates its own block, as out= ops are not differentiable.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import torch
from torch import Tensor

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "num_players",
    "or_interactions",
    "reconstruct_from_or",
    "partial_reconstruction",
    "and_interactions",
    "reconstruct_from_and",
    "subset_sums",
]


# ----------------------------------------------------------------------------- helpers

def num_players(x: Tensor) -> int:
    """n such that dim 0 of `x` is 2**n; ValueError otherwise."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a torch.Tensor stacked over subsets, got {type(x).__name__}")
    if x.dim() == 0:
        raise ValueError("expected a tensor stacked over the 2**n subsets in dim 0, got a 0-dim tensor")
    rows = x.shape[0]
    if rows < 1 or rows & (rows - 1):
        raise ValueError(f"dim 0 must hold the 2**n subsets (a power of two), got {rows} rows")
    return rows.bit_length() - 1


def _check_chunk(chunk_elems: int | None) -> None:
    if chunk_elems is not None and (isinstance(chunk_elems, bool) or int(chunk_elems) != chunk_elems
                                    or chunk_elems < 1):
        raise ValueError(f"chunk_elems must be a positive integer or None, got {chunk_elems!r}")


def _cube(buf: Tensor, n: int) -> Tensor:
    """View a contiguous [2**n, *rest] buffer as [2]*n + rest (a view: in-place ops stick)."""
    return buf.view([2] * n + list(buf.shape[1:]))


def _mobius_(buf: Tensor, n: int) -> Tensor:
    """In place: x(S) <- Σ_{L⊆S} (-1)^{|S|-|L|} x(L)."""
    x = _cube(buf, n)
    for a in range(n):
        x.select(a, 1).sub_(x.select(a, 0))
    return buf


def _zeta_(buf, n: int):
    """In place: x(T) <- Σ_{S⊆T} x(S). `buf` is a contiguous tensor or numpy array."""
    x = _cube(buf, n) if isinstance(buf, Tensor) else buf.reshape([2] * n + list(buf.shape[1:]))
    for a in range(n):
        hi = x[(slice(None),) * a + (1,)]          # a view in both libraries: += writes into buf
        hi += x[(slice(None),) * a + (0,)]
    return buf


def subset_sums(x: "np.ndarray") -> "np.ndarray":
    """Z(T) = Σ_{S⊆T} x(S) over axis 0 (2**n rows, canonical order), on a copy of a numpy array.
    numpy on purpose (the explorer's live additivity error, method.weighted): these small ops run
    single-threaded, so a busy machine does not stall them the way OpenMP's thread hand-offs
    do (docs/benchmarks.md, "Slider re-render")."""
    import numpy as np
    z = np.array(x, copy=True, order="C")
    rows = z.shape[0]
    if rows < 1 or rows & (rows - 1):
        raise ValueError(f"axis 0 must hold the 2**n subsets (a power of two), got {rows} rows")
    return _zeta_(z, rows.bit_length() - 1)


def _superset_zeta_(buf: Tensor, n: int) -> Tensor:
    """In place: x(T) <- Σ_{A⊇T} x(A)."""
    x = _cube(buf, n)
    for a in range(n):
        x.select(a, 0).add_(x.select(a, 1))
    return buf


Work = tuple[Tensor, Tensor] | None      # (contiguous working buffer, reversed row index) or None


def _load(block: Tensor, work: Work, reverse: bool) -> Tensor:
    """A contiguous copy of `block` (rows reversed if `reverse`: row L then holds block[N \\ L]),
    written into the working buffer when given (no temporary), else freshly allocated."""
    if work is None:
        return block.flip(0).contiguous() if reverse else block.clone(memory_format=torch.contiguous_format)
    buf, rev = work
    return torch.index_select(block, 0, rev, out=buf) if reverse else buf.copy_(block)


def _or_block(block: Tensor, n: int, work: Work) -> Tensor:
    buf = _mobius_(_load(block, work, True), n)
    buf.neg_()
    buf[0].copy_(block[0])            # I_or(∅) = u(∅)
    return buf


def _or_recon_block(block: Tensor, n: int, work: Work, drop_rev: Tensor | None) -> Tensor:
    buf = _load(block, work, True)     # row A holds I(N \ A); row 2**n-1 holds I(∅)
    buf[-1].zero_()
    if drop_rev is not None:
        buf.index_fill_(0, drop_rev, 0)
    _superset_zeta_(buf, n)            # row T: Z(T) = Σ_{S≠∅, S⊆N\T} I(S)
    total = buf[0] + block[0]          # I(∅) + Σ_{S≠∅} I(S)
    buf.neg_()
    buf.add_(total)
    return buf


def _and_block(block: Tensor, n: int, work: Work) -> Tensor:
    return _mobius_(_load(block, work, False), n)


def _and_recon_block(block: Tensor, n: int, work: Work) -> Tensor:
    return _zeta_(_load(block, work, False), n)


Kernel = Callable[[Tensor, Work], Tensor]


def _apply(x: Tensor, chunk_elems: int | None, kernel: Kernel) -> Tensor:
    """Run `kernel(block, work)` ([2**n, ...] -> [2**n, ...] buffer) over x, whole or in chunks of
    the flattened trailing dim. Chunks share one working buffer of 2**n * chunk_elems elements
    (under autograd each chunk allocates its own, as out= ops are not differentiable)."""
    _check_chunk(chunk_elems)
    if chunk_elems is None or x.dim() == 1 or x[0].numel() <= chunk_elems:
        return kernel(x, None).reshape(x.shape)
    rows, chunk = x.shape[0], int(chunk_elems)
    flat = x.reshape(rows, -1)
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    out_flat = out.view(rows, -1)
    width = flat.shape[1]
    grad = torch.is_grad_enabled() and x.requires_grad
    store = None if grad else torch.empty(rows * chunk, dtype=x.dtype, device=x.device)
    rev = torch.arange(rows - 1, -1, -1, device=x.device)
    for c0 in range(0, width, chunk):
        c1 = min(c0 + chunk, width)
        work = None if store is None else (store[: rows * (c1 - c0)].view(rows, c1 - c0), rev)
        out_flat[:, c0:c1].copy_(kernel(flat[:, c0:c1], work))
    return out


# ----------------------------------------------------------------------------- fast transforms

def or_interactions(u: Tensor, chunk_elems: int | None = None) -> Tensor:
    """OR interactions I_or(S) of the set function u (paper eq. (2); row 0 holds u(∅)).

    O(n·2**n) per trailing element. `chunk_elems` bounds the working memory to about
    2**n * (chunk_elems * itemsize + 8) bytes beyond input and output (see module docstring)."""
    n = num_players(u)
    return _apply(u, chunk_elems, lambda b, w: _or_block(b, n, w))


def reconstruct_from_or(I: Tensor, chunk_elems: int | None = None) -> Tensor:
    """u(T) = I(∅) + Σ_{S∩T≠∅} I(S) for every T (paper eq. (4)); inverse of `or_interactions`.

    O(n·2**n) per trailing element; `chunk_elems` as in `or_interactions`."""
    n = num_players(I)
    return _apply(I, chunk_elems, lambda b, w: _or_recon_block(b, n, w, None))


def partial_reconstruction(I: Tensor, keep: Tensor | Sequence[bool],
                           chunk_elems: int | None = None) -> Tensor:
    """u(T) estimated from the kept components only: I(∅) + Σ_{S kept, S∩T≠∅} I(S), every T.

    `keep` is a bool vector (tensor or sequence) over the 2**n subsets (canonical order); I(∅) is always included,
    whatever keep[0] says. All kept gives `reconstruct_from_or(I)`; none kept gives I(∅) in
    every row. Same cost and memory bound as `reconstruct_from_or`."""
    n = num_players(I)
    keep = torch.as_tensor(keep, device=I.device)
    if keep.dtype != torch.bool:
        raise ValueError(f"keep must be a bool mask over the subsets, got dtype {keep.dtype}")
    if keep.shape != (I.shape[0],):
        raise ValueError(f"keep must have shape ({I.shape[0]},) (one flag per subset), got {tuple(keep.shape)}")
    full = (1 << n) - 1
    drop = torch.nonzero(~keep).flatten()
    drop_rev = (full - drop) if drop.numel() else None     # their rows once reversed
    return _apply(I, chunk_elems, lambda b, w: _or_recon_block(b, n, w, drop_rev))


def and_interactions(v: Tensor, chunk_elems: int | None = None) -> Tensor:
    """AND (Harsanyi) interactions I_and(S) = Σ_{L⊆S} (-1)^{|S|-|L|} v(L); O(n·2**n)."""
    n = num_players(v)
    return _apply(v, chunk_elems, lambda b, w: _and_block(b, n, w))


def reconstruct_from_and(I: Tensor, chunk_elems: int | None = None) -> Tensor:
    """v(T) = Σ_{S⊆T} I(S) for every T; inverse of `and_interactions`; O(n·2**n)."""
    n = num_players(I)
    return _apply(I, chunk_elems, lambda b, w: _and_recon_block(b, n, w))
