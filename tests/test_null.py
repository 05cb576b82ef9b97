"""The geometric null (method/null.py) and the chance levels (metrics.transfer_chance): exact
properties checked by hand or by brute force."""
import itertools
import math

import pytest
import torch

from regionprims.method import metrics as M
from regionprims.method.interactions import or_interactions
from regionprims.method.null import geometric_null, pooled_masks
from regionprims.method.regions import patch_masks, subset_matrix


@pytest.mark.parametrize("size", [12, 10])
def test_null_is_or_structured_by_the_pooled_masks(size):
    # 2x2 players on a 12x12 (aligned) or 10x10 (boundary cells shared) image, a 6x6 feature
    # grid: every feature cell goes to exactly one component, the set of players whose pooled
    # mask holds it (no dilation)
    torch.manual_seed(0)
    f0, f = torch.randn(3, 6, 6), torch.randn(3, 6, 6)
    masks = patch_masks(2, 2, size, size)
    subsets = subset_matrix(4)
    u = geometric_null(f, f0, masks, subsets)
    assert torch.equal(u[0], f0)
    comps = or_interactions(u)
    fields = pooled_masks(masks, (6, 6))[:, 0]             # [4, 6, 6] per player
    for cell in itertools.product(range(6), range(6)):
        owner = sum(1 << j for j in range(4) if fields[j][cell] > 0)
        for row in range(1, 16):
            expect = (f - f0)[:, cell[0], cell[1]] if row == owner else torch.zeros(3)
            assert torch.allclose(comps[row][:, cell[0], cell[1]], expect, atol=1e-6)


def test_transfer_chance_is_the_mean_overlap_of_random_rankings():
    n, ka, kb = 7, 3, 4
    items = range(1, n + 1)
    # brute force: every pair of top sets is equally likely under uniformly random orders
    overlaps = [len(set(a) & set(b)) / ka for a in itertools.combinations(items, ka)
                for b in itertools.combinations(items, kb)]
    assert M.transfer_chance(n, ka, kb) == pytest.approx(sum(overlaps) / len(overlaps))
    assert M.transfer_chance(511, 20, 100) == pytest.approx(100 / 511)
    assert M.transfer_chance(15, 20, 100) == 1.0            # every component is in the top 100
    tail = sum(1 for a in itertools.combinations(items, ka) for b in itertools.combinations(items, kb)
               if len(set(a) & set(b)) >= 3) / (math.comb(n, ka) * math.comb(n, kb))
    assert M.transfer_p_value(3, n, ka, kb) == pytest.approx(tail)
    assert M.transfer_p_value(0, n, ka, kb) == pytest.approx(1.0)


def test_component_change_is_relative_over_the_non_empty_rows():
    a = torch.zeros(4, 2)
    a[1:, 0] = torch.tensor([3.0, 0.0, 4.0])
    b = a.clone()
    b[0] = 100.0                                            # row 0 (f0) does not count
    b[2, 1] = 1.0
    assert M.component_change(a, b) == pytest.approx(1 / 5)
