"""Tests of regionprims.interactions: hand-computed cases, the literal definitions, identities."""
from __future__ import annotations

import pytest
import torch

from oracles import (
    and_interactions_bruteforce,
    or_interactions_bruteforce,
    reconstruct_from_and_bruteforce,
    reconstruct_from_or_bruteforce,
)

from regionprims.method.interactions import (
    and_interactions,
    num_players,
    or_interactions,
    partial_reconstruction,
    reconstruct_from_and,
    reconstruct_from_or,
)
from regionprims.method.regions import subset_matrix

F64 = dict(rtol=0, atol=1e-10)


def rand_game(n: int, *trailing: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(1000 * n + seed)
    return torch.randn((2 ** n, *trailing), generator=g, dtype=dtype)


# ----------------------------------------------------------------------------- by hand

def test_n2_scalar_by_hand():
    # rows: ∅, {1}, {2}, {1,2}   (player 1 = bit 0, player 2 = bit 1)
    e, a, b, N = 1.0, 3.0, 7.0, 20.0
    u = torch.tensor([e, a, b, N], dtype=torch.float64)
    I = or_interactions(u)
    # paper_spec 2.4: I({1}) = u(N) - u({2}); I({2}) = u(N) - u({1});
    # I({1,2}) = -u(N) + u({1}) + u({2}) - u(∅)
    expected = torch.tensor([1.0, 20 - 7, 20 - 3, -20 + 3 + 7 - 1], dtype=torch.float64)
    assert torch.equal(I, expected)                      # [1, 13, 17, -11]
    assert torch.equal(or_interactions_bruteforce(u), expected)
    # u({1}) = u(∅) + I({1}) + I({1,2})
    assert I[0] + I[1] + I[3] == a
    assert torch.equal(reconstruct_from_or(expected), u)
    # AND by hand: I({1}) = u({1}) - u(∅), I({1,2}) = u(N) - u({1}) - u({2}) + u(∅)
    assert torch.equal(and_interactions(u), torch.tensor([1.0, 2.0, 6.0, 20 - 3 - 7 + 1], dtype=torch.float64))


def test_n2_vector_by_hand():
    u = torch.tensor([[0.0, 1.0],      # u(∅)
                      [2.0, -1.0],     # u({1})
                      [5.0, 4.0],      # u({2})
                      [6.0, 10.0]],    # u(N)
                     dtype=torch.float32)
    expected = torch.tensor([[0.0, 1.0],                 # u(∅)
                             [6 - 5, 10 - 4],            # u(N) - u({2})
                             [6 - 2, 10 + 1],            # u(N) - u({1})
                             [-6 + 2 + 5 - 0, -10 - 1 + 4 - 1]])
    I = or_interactions(u)
    assert I.dtype == torch.float32 and I.shape == (4, 2)
    assert torch.equal(I, expected)
    assert torch.equal(reconstruct_from_or(I), u)


def test_n3_by_hand_order3():
    # u(row k) = 2**k: u(∅)=1, {1}=2, {2}=4, {1,2}=8, {3}=16, {1,3}=32, {2,3}=64, N=128
    u = torch.tensor([1.0, 2, 4, 8, 16, 32, 64, 128], dtype=torch.float64)
    I = or_interactions(u)
    # I(N) = -Σ_{L⊆N} (-1)^{3-|L|} u(N\L) = u(N) - Σ u(pairs) + Σ u(singletons) - u(∅)
    #      = 128 - (8 + 32 + 64) + (2 + 4 + 16) - 1 = 45
    assert I[7] == 45
    # I({1}) = u(N) - u({2,3}) = 64;  I({1,2}) = -(u(N) - u({2,3}) - u({1,3}) + u({3})) = -48
    assert I[1] == 64
    assert I[3] == -48
    assert I[0] == 1
    # u({3}) = I(∅) + every I(S) with 3 ∈ S
    assert I[0] + I[4] + I[5] + I[6] + I[7] == 16
    # AND: I_and(N) = v(N) - Σ v(pairs) + Σ v(singletons) - v(∅) = 45 as well for this v
    assert and_interactions(u)[7] == 45


def test_order_matches_subset_matrix():
    # I({j}) = u(N) - u(N \ {j}); with subset_matrix rows the complement of row k is row 2**n-1-k
    n = 4
    u = rand_game(n, 3)
    rows = subset_matrix(n)
    I = or_interactions(u)
    for j in range(n):
        single = int((rows.sum(1) == 1).logical_and(rows[:, j] == 1).nonzero())
        comp = int(((rows == (1 - rows[single])).all(1)).nonzero())
        torch.testing.assert_close(I[single], u[-1] - u[comp], **F64)


# ----------------------------------------------------------------------------- against the definitions

@pytest.mark.parametrize("n", range(1, 11))
def test_against_bruteforce(n):
    u = rand_game(n, *((2, 3) if n <= 8 else (3,)))
    I = or_interactions(u)
    torch.testing.assert_close(I, or_interactions_bruteforce(u), **F64)
    torch.testing.assert_close(reconstruct_from_or(I), reconstruct_from_or_bruteforce(I), **F64)
    torch.testing.assert_close(reconstruct_from_or_bruteforce(I), u, **F64)
    A = and_interactions(u)
    torch.testing.assert_close(A, and_interactions_bruteforce(u), **F64)
    torch.testing.assert_close(reconstruct_from_and(A), reconstruct_from_and_bruteforce(A), **F64)


# ----------------------------------------------------------------------------- identities

@pytest.mark.parametrize("n", [0, 1, 3, 6, 9])
def test_reconstruction_completeness_and_round_trips(n):
    u = rand_game(n, 4, 2)
    I = or_interactions(u)
    assert I.shape == u.shape and I.dtype == u.dtype
    torch.testing.assert_close(I[0], u[0], rtol=0, atol=0)               # I(∅) = u(∅) exactly
    torch.testing.assert_close(reconstruct_from_or(I), u, **F64)          # every T
    torch.testing.assert_close(I[0] + I[1:].sum(0), u[-1], **F64)         # completeness
    J = rand_game(n, 4, 2, seed=1)
    torch.testing.assert_close(or_interactions(reconstruct_from_or(J)), J, **F64)
    torch.testing.assert_close(reconstruct_from_and(and_interactions(u)), u, **F64)
    torch.testing.assert_close(and_interactions(reconstruct_from_and(J)), J, **F64)


def test_reconstruction_each_T_explicitly():
    n = 5
    u = rand_game(n, 3)
    I = or_interactions(u)
    for t in range(2 ** n):
        hit = [s for s in range(1, 2 ** n) if s & t]
        torch.testing.assert_close(I[0] + I[hit].sum(0), u[t], **F64)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_duality_or_is_and_of_dual_game(n):
    u = rand_game(n, 3, 2)
    w = u[-1] - u.flip(0)                 # w(L) = u(N) - u(N \ L)
    A = and_interactions(w)
    torch.testing.assert_close(A[1:], or_interactions(u)[1:], **F64)
    assert torch.count_nonzero(A[0]) == 0


def test_float32_precision_n12():
    u64 = rand_game(12, 5)
    I32 = or_interactions(u64.float())
    I64 = or_interactions(u64)
    assert I32.dtype == torch.float32
    scale = u64.abs().max().item() * 2 ** 12
    assert (I32.double() - I64).abs().max().item() < 1e-6 * scale
    torch.testing.assert_close(reconstruct_from_or(I32), u64.float(), rtol=0, atol=2e-3)


# ----------------------------------------------------------------------------- partial reconstruction

def test_partial_reconstruction_all_none_and_subset():
    n = 6
    u = rand_game(n, 2, 3)
    I = or_interactions(u)
    all_kept = torch.ones(2 ** n, dtype=torch.bool)
    torch.testing.assert_close(partial_reconstruction(I, all_kept), reconstruct_from_or(I), **F64)
    torch.testing.assert_close(partial_reconstruction(I, all_kept), u, **F64)
    none = torch.zeros(2 ** n, dtype=torch.bool)
    torch.testing.assert_close(partial_reconstruction(I, none), I[0].expand_as(u), rtol=0, atol=0)
    # a random selection: the same as zeroing the others (except ∅) and reconstructing literally
    keep = torch.rand(2 ** n, generator=torch.Generator().manual_seed(3)) < 0.3
    keep[0] = False                                          # I(∅) is included regardless
    J = I.clone()
    J[1:][~keep[1:]] = 0
    got = partial_reconstruction(I, keep)
    torch.testing.assert_close(got, reconstruct_from_or_bruteforce(J), **F64)
    torch.testing.assert_close(partial_reconstruction(I, keep, chunk_elems=4), got, **F64)
    # top-k by norm, the additivity metric's use: T = N gets f0 + the kept components
    top = I[1:].flatten(1).norm(dim=1).topk(5).indices + 1
    keep = torch.zeros(2 ** n, dtype=torch.bool)
    keep[top] = True
    torch.testing.assert_close(partial_reconstruction(I, keep)[-1], I[0] + I[top].sum(0), **F64)
    # a list of bools works too
    torch.testing.assert_close(partial_reconstruction(I, keep.tolist()), partial_reconstruction(I, keep), **F64)


def test_partial_reconstruction_rejects_bad_keep():
    I = rand_game(3, 2)
    with pytest.raises(ValueError, match="shape"):
        partial_reconstruction(I, torch.ones(7, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool"):
        partial_reconstruction(I, torch.ones(8))


# ----------------------------------------------------------------------------- chunked path

FUNCS = [or_interactions, reconstruct_from_or, and_interactions, reconstruct_from_and]


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("chunk", [1, 5, 16, 24, 1000])
def test_chunked_equals_unchunked(fn, chunk):
    u = rand_game(5, 4, 6, dtype=torch.float32)
    torch.testing.assert_close(fn(u, chunk_elems=chunk), fn(u), rtol=0, atol=0)


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
def test_non_contiguous_input(fn):
    base = rand_game(4, 3, 5, 2)
    u = base.permute(0, 3, 2, 1)                      # non-contiguous trailing dims
    assert not u.is_contiguous()
    ref = fn(u.contiguous())
    torch.testing.assert_close(fn(u), ref, rtol=0, atol=0)
    torch.testing.assert_close(fn(u, chunk_elems=7), ref, rtol=0, atol=0)
    v = base[:, :, ::2, :1]                           # a strided slice
    assert not v.is_contiguous()
    torch.testing.assert_close(fn(v, chunk_elems=2), fn(v.contiguous()), rtol=0, atol=0)


def test_inputs_not_modified():
    u = rand_game(6, 3, 4, dtype=torch.float32)
    keep = torch.rand(64, generator=torch.Generator().manual_seed(0)) < 0.5
    u0, keep0 = u.clone(), keep.clone()
    for chunk in (None, 5):
        for fn in FUNCS:
            out = fn(u, chunk_elems=chunk)
            assert out.data_ptr() != u.data_ptr()
        partial_reconstruction(u, keep, chunk_elems=chunk)
    for fn in (or_interactions_bruteforce, reconstruct_from_or_bruteforce, and_interactions_bruteforce,
               reconstruct_from_and_bruteforce):
        fn(u)
    assert torch.equal(u, u0) and torch.equal(keep, keep0)


def test_scalar_set_function_and_autograd():
    u = torch.randn(16, dtype=torch.float64, requires_grad=True)
    I = or_interactions(u)
    assert I.shape == (16,)
    I.sum().backward()                      # Σ_S I(S) = u(N)  =>  gradient is the indicator of N
    expected = torch.zeros(16, dtype=torch.float64)
    expected[-1] = 1
    assert torch.equal(u.grad, expected)


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("rows", [0, 3, 6, 12, 1000])
@pytest.mark.parametrize("fn", FUNCS + [or_interactions_bruteforce], ids=lambda f: f.__name__)
def test_non_power_of_two_rejected(fn, rows):
    with pytest.raises(ValueError, match="power of two"):
        fn(torch.zeros(rows, 2))


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="0-dim"):
        or_interactions(torch.tensor(1.0))
    with pytest.raises(ValueError, match="chunk_elems"):
        or_interactions(torch.zeros(4, 3), chunk_elems=0)
    with pytest.raises(TypeError):
        or_interactions([1.0, 2.0])
    assert num_players(torch.zeros(1, 5)) == 0 and num_players(torch.zeros(4096)) == 12


def test_chunked_path_under_autograd():
    u = rand_game(4, 3, 2).requires_grad_(True)
    out = reconstruct_from_or(or_interactions(u, chunk_elems=2), chunk_elems=4)
    torch.testing.assert_close(out, u, **F64)
    (out * u.detach()).sum().backward()            # out == u, so the gradient is u
    torch.testing.assert_close(u.grad, u.detach(), **F64)
