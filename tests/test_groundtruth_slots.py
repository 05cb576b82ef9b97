"""Slot-based ground-truth scores (objects' places, present or absent), on a hand-made case."""
import pytest
import torch

from regionprims.models.demo.groundtruth import gt_scores
from regionprims.models.demo.scenes import SceneObject, scene_objects


def _mask(cells):
    m = torch.zeros(4, 4, dtype=torch.bool)
    for r, c in cells:
        m[r, c] = True
    return m


def test_slot_scores_by_hand():
    a = _mask([(0, 0), (0, 1), (1, 0), (1, 1)])          # present, top-left
    b = _mask([(2, 2), (2, 3), (3, 2), (3, 3)])          # absent, bottom-right
    objects = [SceneObject("a", True, a, slot=a), SceneObject("b", False, torch.zeros_like(b), slot=b)]
    player_masks = torch.stack([_mask([(r, c) for r in range(4) for c in range(2)]).float(),
                                _mask([(r, c) for r in range(4) for c in range(2, 4)]).float()])
    subsets = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.uint8)
    e1 = torch.zeros(4, 4)
    e1[0, 0], e1[3, 3], e1[0, 3] = 2.0, 1.0, 1.0           # 2 in a, 1 in b's slot, 1 elsewhere
    e2 = torch.zeros(4, 4)
    e2[2, 2] = 4.0                                        # all in b's slot
    s = gt_scores(objects, [(1, e1), (2, e2)], subsets, player_masks)
    assert s["gt_slot_purity"] == pytest.approx((0.5 + 1.0) / 2)
    assert s["gt_absent_share"] == pytest.approx((0.25 + 1.0) / 2)
    assert s["gt_background_share"] == pytest.approx((0.5 + 1.0) / 2)   # b's slot is background
    assert s["gt_object_purity"] == pytest.approx((0.5 + 0.0) / 2)


def test_scene_slots_cover_absent_objects():
    seen_absent = False
    for seed in range(6):
        z = torch.Generator().manual_seed(seed)
        code = torch.randn(32, generator=z).clamp(-2, 2)
        for obj in scene_objects(code, 3):                   # shelf: every object can be absent
            assert obj.slot is not None and obj.slot.any()
            assert not (obj.mask & ~obj.slot).any()          # visible pixels lie inside the slot
            seen_absent |= not obj.present
    assert seen_absent
