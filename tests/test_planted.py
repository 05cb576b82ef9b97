"""Planted interactions of the demo scenes (straddle, pair, conditional) and their gt_ scores."""
import pytest
import torch

from regionprims.models.demo.groundtruth import gt_interaction_scores, planted_regions
from regionprims.models.demo.planted import PlantedInteraction, scene_interactions
from regionprims.models.demo.scenes import (DEMO_CLASSES, IMAGE_SIZE, INTERACTIONS, SLICES, Z_DIM,
                                           SceneObject, render_scene, scene_objects)


def _grid3():
    pm = torch.zeros(9, IMAGE_SIZE, IMAGE_SIZE)
    for r in range(3):
        for c in range(3):
            pm[3 * r + c, 16 * r:16 * r + 16, 16 * c:16 * c + 16] = 1
    return pm


# the cells (3x3 layout) each interaction spans, as the model card documents them
CELLS = {"pedestrian": {(2, 1), (2, 2)}, "birds": {(1, 0), (1, 2)}, "rainbow": {(0, 0), (0, 1), (0, 2)},
         "butterflies": {(1, 0), (1, 2)}, "vases": {(1, 0), (1, 2)}, "bookend": {(2, 0), (2, 1)},
         "smoke": {(0, 1), (0, 2)}, "hedges": {(2, 0), (2, 2)}, "domino": {(1, 0), (1, 1)},
         "dot": {(0, 0), (2, 2)}}


def test_every_interaction_spans_its_documented_cells():
    z = 0.5 * torch.randn(Z_DIM, generator=torch.Generator().manual_seed(4)).clamp(-2, 2)
    z[:] = z.abs()          # every presence number above its threshold: everything drawn
    assert INTERACTIONS["face"] == {}
    seen = set()
    for k, cls in enumerate(DEMO_CLASSES):
        for inter in scene_interactions(z, k):
            assert inter.present, (cls, inter.name)
            P = planted_regions(inter.parts, _grid3())
            assert {(i // 3, i % 3) for i in P} == CELLS[inter.name], (cls, inter.name)
            assert len(inter.parts) == {"straddle": 1, "pair": 2, "conditional": 2}[inter.kind]
            seen.add(inter.name)
    assert seen == set(CELLS)


def test_pairs_appear_together_and_details_need_their_trigger():
    z = 0.5 * torch.randn(Z_DIM, generator=torch.Generator().manual_seed(9)).clamp(-2, 2).abs()
    for k, cls in enumerate(DEMO_CLASSES):
        for name, (kind, trigger) in INTERACTIONS[cls].items():
            z2 = z.clone()
            z2[SLICES[cls][trigger if kind == "conditional" else name][0]] = -2.0
            objs = {o.name: o for o in scene_objects(z2, k)}
            assert not objs[name].present and not objs[name].mask.any(), (cls, name)
            after = {i.name: i for i in scene_interactions(z2, k)}
            assert not after[name].present
            if kind == "conditional":     # the detail's own number alone does not draw it
                z3 = z2.clone()
                z3[SLICES[cls][name][0]] = 2.0
                assert not {o.name: o for o in scene_objects(z3, k)}[name].present
                assert torch.equal(render_scene(z3, k), render_scene(z2, k))


def _pixels(*pix):
    """A 4 x 4 boolean mask with the given (row, col) pixels set."""
    t = torch.zeros(4, 4, dtype=torch.bool)
    t[tuple(zip(*pix))] = True
    return t


def test_interaction_scores_by_hand():
    H = W = 4
    m = _pixels
    players = torch.zeros(2, H, W)
    players[0, :, :2] = 1
    players[1, :, 2:] = 1
    subsets = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.uint8)
    pair = PlantedInteraction("p", "pair", True, [m((0, 0)), m((0, 3))])
    single = SceneObject("c", True, m((3, 0)))
    e_joint = torch.zeros(H, W)
    e_joint[0, 0] = e_joint[0, 3] = 2.0          # {left, right}: 4 on the pair, all of its energy
    e_left = torch.zeros(H, W)
    e_left[0, 0], e_left[3, 0] = 1.0, 3.0        # {left}: 1 on the pair, 3 on the single object
    e_right = torch.zeros(H, W)
    e_right[0, 3] = 1.0                           # {right}: 1 on the pair
    e_both2 = torch.zeros(H, W)
    e_both2[3, 0] = 1.0                           # {left, right}: 1 on the single object
    comps = [(3, e_joint), (1, e_left), (2, e_right), (3, e_both2)]
    s = gt_interaction_scores([pair], [single], comps, subsets, players)
    assert s["gt_interactions_planted"] == 1
    assert s["gt_interaction_found"] == 1.0
    assert s["gt_interaction_exact_share"] == pytest.approx(4 / 6)
    assert s["gt_interaction_joint_share"] == pytest.approx(4 / 6)
    assert s["gt_interaction_singleton_share"] == pytest.approx(2 / 6)
    assert s["gt_single_cell_multi_share"] == pytest.approx(1 / 4)
    # only singletons: nothing found, everything explained by parts
    s2 = gt_interaction_scores([pair], [single], [(1, e_left), (2, e_right)], subsets, players)
    assert s2["gt_interaction_found"] == 0.0 and s2["gt_interaction_joint_share"] == 0.0
    assert s2["gt_interaction_singleton_share"] == 1.0 and s2["gt_single_cell_multi_share"] == 0.0
    # a joint component whose energy is mostly elsewhere does not count as found
    e_spread = torch.zeros(H, W)
    e_spread[0, 0], e_spread[2, 2] = 1.0, 3.0
    assert gt_interaction_scores([pair], [], [(3, e_spread)], subsets, players)["gt_interaction_found"] == 0.0
    # nothing planted in this layout (both parts in one player): the interaction keys are absent
    one_player = PlantedInteraction("q", "pair", True, [m((0, 0)), m((1, 1))])
    s3 = gt_interaction_scores([one_player], [], comps, subsets, players)
    assert s3 == {"gt_interactions_planted": 0.0}


def test_beats_null_needs_the_margin_and_more_pairs():
    from regionprims.models.demo.groundtruth import MARGIN, beats_null
    row = {"good": "high", "method": 0.5, "null": 0.5 - MARGIN, "better": 10, "worse": 5}
    assert beats_null(row)
    assert not beats_null({**row, "null": 0.5 - MARGIN + 0.01})
    assert not beats_null({**row, "better": 5})
    assert beats_null({**row, "good": "low", "method": 0.2, "null": 0.2 + MARGIN})
    assert not beats_null({**row, "good": "low"})            # higher is worse for a "low" score



def test_recorded_benchmark_is_for_the_bundled_weights():
    """benchmarks/bench_groundtruth.py --json writes it; new weights need a new run."""
    from regionprims.models.demo.generator import WEIGHTS_SHA256
    from regionprims.models.demo.groundtruth import INTERACTION_KEYS, load_benchmark
    bench = load_benchmark()
    assert bench is not None and bench["identity"] == "demo:" + WEIGHTS_SHA256[:16]
    assert bench["pairs"] >= 24
    for key in INTERACTION_KEYS:
        row = bench["gt"][key]
        assert 0.0 <= row["method"] <= 1.0 and 0.0 <= row["null"] <= 1.0 and row["pairs"] >= 1
