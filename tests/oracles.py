"""The paper's OR/AND definitions read literally (O(3**n) loops): the oracles the fast transforms
of regionprims.method.interactions are tested against (tests/test_interactions.py) and the
baselines benchmarks/bench_transform.py times them against. Test code, not the library."""
from __future__ import annotations

import torch
from torch import Tensor

from regionprims.method.interactions import num_players


def submasks(s: int) -> list[int]:
    """Every L ⊆ S (as bit masks), S included."""
    out, sub = [], s
    while True:
        out.append(sub)
        if sub == 0:
            return out
        sub = (sub - 1) & s


def or_interactions_bruteforce(u: Tensor) -> Tensor:
    """Paper eq. (2) read literally: a loop over S and over every L ⊆ S; O(3**n) terms."""
    n = num_players(u)
    full = (1 << n) - 1
    flat = u.reshape(u.shape[0], -1)
    out = torch.empty_like(flat)
    out[0] = flat[0]
    for s in range(1, full + 1):
        ls = submasks(s)
        rows = torch.tensor([full ^ l for l in ls], device=u.device)
        signs = torch.tensor([-1.0 if (s ^ l).bit_count() % 2 == 0 else 1.0 for l in ls],
                             dtype=u.dtype, device=u.device)        # -(-1)^{|S|-|L|}
        out[s] = signs @ flat[rows]
    return out.reshape(u.shape)


def reconstruct_from_or_bruteforce(I: Tensor) -> Tensor:
    """Paper eq. (4) read literally: for every T, I(∅) plus every I(S) with S ∩ T ≠ ∅."""
    num_players(I)
    flat = I.reshape(I.shape[0], -1)
    k = torch.arange(I.shape[0], device=I.device)
    out = torch.empty_like(flat)
    for t in range(I.shape[0]):
        out[t] = flat[0] + flat[(k & t) != 0].sum(0)
    return out.reshape(I.shape)


def and_interactions_bruteforce(v: Tensor) -> Tensor:
    """Harsanyi definition read literally: Σ over every L ⊆ S of (-1)^{|S|-|L|} v(L)."""
    num_players(v)
    flat = v.reshape(v.shape[0], -1)
    out = torch.empty_like(flat)
    for s in range(v.shape[0]):
        ls = submasks(s)
        rows = torch.tensor(ls, device=v.device)
        signs = torch.tensor([1.0 if (s ^ l).bit_count() % 2 == 0 else -1.0 for l in ls],
                             dtype=v.dtype, device=v.device)
        out[s] = signs @ flat[rows]
    return out.reshape(v.shape)


def reconstruct_from_and_bruteforce(I: Tensor) -> Tensor:
    """v(T) = Σ_{S⊆T} I(S), read literally."""
    num_players(I)
    flat = I.reshape(I.shape[0], -1)
    k = torch.arange(I.shape[0], device=I.device)
    out = torch.empty_like(flat)
    for t in range(I.shape[0]):
        out[t] = flat[(k & t) == k].sum(0)
    return out.reshape(I.shape)
