"""The corrected scores and the beyond-geometry figures: checked by hand on small cases, and
recomputed independently from a saved file's tensors."""
import itertools

import pytest
import torch

from regionprims.method import beyond as B
from regionprims.method import metrics as M
from regionprims.method.interactions import or_interactions
from regionprims.method.null import geometric_null
from regionprims.method.regions import parse_layout, patch_masks, subset_matrix
from regionprims.method.specs import OptimSettings
from regionprims.method.transfer import geometry_control, grid_symmetries, overlap
from regionprims.pipeline import decompose, image_and_feature, make_spec
from regionprims.scoring import compute_metrics, null_decomposition

FAST = OptimSettings(steps=3, warm_steps=4, baseline_codes=4, baseline_tol=0.0)


def test_empty_components_neither_leak_nor_make_a_score_look_defined(tiny_gen):
    """A partition-like null (each feature cell in exactly one component, most of the 511 empty):
    the empty ones are left out of the top, so leakage is that of the non-empty ones, and with at
    most 20 non-empty components the top-20 scores are absent, not perfect."""
    spec = make_spec(tiny_gen, 1, 3, layout="3x3", settings=FAST)
    dec, _ = decompose(tiny_gen, spec)
    null, strength = null_decomposition(tiny_gen, image_and_feature(tiny_gen, spec)[3], dec)
    nonzero = B.nonzero_rows(null.components)
    assert 9 <= int(nonzero.sum()) < 511                      # the grid: most components empty
    got, absent = compute_metrics(tiny_gen, image_and_feature(tiny_gen, spec)[3], null, strength)
    if int(nonzero.sum()) <= 20:
        assert {"additivity_error_top20", "sparsity_top20"} <= set(absent)
        assert "sparsity_top20" not in got
    else:
        assert not absent and "sparsity_top20" in got
    # the old rule (1 - 0/EPS) scored each empty component in the top as leaking everything
    empty_in_top = [r for r in null.ranking[:M.TOP] if not nonzero[r]]
    assert got["leakage_top20"] < 1.0 - len(empty_in_top) / M.TOP + 1e-9 or not empty_in_top
    assert M.absent_scores(20) and not M.absent_scores(21)


def test_absent_is_decided_on_non_empty_components():
    assert set(M.absent_scores(9)) == {"additivity_error_top20", "sparsity_top20"}
    assert "9 non-empty" in M.absent_scores(9)["sparsity_top20"]
    assert M.absent_scores(25) == {}


def test_sparsity_follows_the_rankings_own_measure():
    strength = torch.tensor([0.0, 1.0, 5.0, 2.0, 2.0])          # e.g. image-space effects
    assert M.sparsity(strength, [2, 3, 4, 1], top=2) == pytest.approx(7 / 10)


def test_beyond_strength_and_top_agreement_by_hand():
    norms = torch.tensor([0.0, 4.0, 3.0, 2.0, 1.0])
    null_nonzero = torch.tensor([False, True, True, False, False])
    assert B.beyond_strength(norms, null_nonzero) == pytest.approx(3 / 10)
    assert B.top_agreement([1, 3, 2, 4], [2, 1], k=2) == pytest.approx(1 / 2)
    assert B.top_agreement([1, 2], [2, 1], k=10) == 1.0      # the null has only 2 non-empty sets


def test_joint_need_by_hand():
    """Two players; m_{1} = 0.5, m_{2} = 0.25 on one cell; m_{12} = 0.75 there: the pair adds 0.25
    beyond the max of its sub-masks, out of a total mass 0.5 + 0.25 + 0.75 = 1.5."""
    f0, f = torch.zeros(1, 1, 2), torch.tensor([[[2.0, 4.0]]])
    m = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.25, 0.0], [0.75, 0.0]]).view(4, 1, 1, 2)
    u = f0 + m * (f - f0)
    share, by_order = B.joint_need(u, f, f0)
    assert share == pytest.approx(0.25 / 1.5) and by_order == {"2": pytest.approx(0.25 / 1.5)}
    masks, _ = B.recovered_masks(u, f, f0)
    assert torch.allclose(masks, m)
    union = f0 + torch.maximum(m[1:2], m[2:3]) * (f - f0)     # a union-composed pair adds nothing
    assert B.joint_need(torch.cat([u[:3], union]), f, f0)[0] == pytest.approx(0.0)


def test_the_tight_null_needs_nothing_jointly():
    torch.manual_seed(1)
    f0, f = torch.randn(2, 5, 5), torch.randn(2, 5, 5)
    u = geometric_null(f, f0, patch_masks(2, 2, 10, 10), subset_matrix(4))
    assert B.joint_need(u, f, f0)[0] == pytest.approx(0.0, abs=1e-7)


def test_geometry_control_keeps_shapes_on_other_places():
    lay = parse_layout("3x3")
    assert len(grid_symmetries(lay)) == 7 and len(grid_symmetries(parse_layout("2x3"))) == 3
    a = [frozenset({0}), frozenset({0, 1})]
    b = [frozenset({0}), frozenset({0, 1})]
    # only the symmetries that fix patch 0 (the diagonal reflection) keep {0}; none keeps {0,1}
    assert geometry_control(a, b, lay, 2, 2) == pytest.approx((1 / 2) / 7)
    assert overlap(a, b, 2, 2) == 1.0
    corner = parse_layout("3x3", players=[0, 1, 3, 4], force=True)
    assert all(set(p.values()) == {0, 1, 3, 4} for p in grid_symmetries(corner))


def test_beyond_figures_recomputed_from_the_saved_tensors(tiny_gen, tmp_path):
    """An independent computation (plain loops over subsets, no project scoring code) from the
    file's tensors gives the recorded beyond_strength, beyond_top10, joint_need and build-up."""
    from regionprims.store.fileformat import load_decomposition, save_decomposition
    spec = make_spec(tiny_gen, 2, 5, layout="3x3", settings=FAST)
    dec, _ = decompose(tiny_gen, spec)
    save_decomposition(dec, tmp_path / "d.safetensors")
    d = load_decomposition(tmp_path / "d.safetensors")
    f, f0, u, masks = d.feature, d.baseline, d.minimal, d.player_masks
    n = masks.shape[0]
    cells = torch.nn.functional.adaptive_max_pool2d(masks.unsqueeze(1), f.shape[-2:])[:, 0] > 0
    null = torch.stack([f0 if s == 0 else f0 + (torch.stack([cells[j] for j in range(n) if s >> j & 1]).any(0)
                                                 * (f - f0)) for s in range(2 ** n)])
    comps, ncomps = or_interactions(u), or_interactions(null)
    norms = comps.flatten(1).norm(dim=1)
    nnorms = ncomps.flatten(1).norm(dim=1)
    nonzero = [s for s in range(1, 2 ** n) if nnorms[s] > 1e-6 * nnorms.max()]
    assert d.metrics["beyond_strength"] == pytest.approx(
        float(sum(norms[s] for s in range(1, 2 ** n) if s not in nonzero) / norms[1:].sum()), abs=1e-6)
    top_null = sorted(nonzero, key=lambda s: (-float(nnorms[s]), s))[:10]
    top = sorted(range(1, 2 ** n), key=lambda s: (-float(norms[s]), s))[:10]
    assert d.metrics["beyond_top10"] == pytest.approx(1 - len(set(top) & set(top_null)) / len(top_null))
    diff = f - f0
    ok = diff.abs() > 1e-6 * diff.abs().max()
    m = torch.where(ok, (u - f0) / torch.where(ok, diff, torch.ones_like(diff)), torch.zeros_like(u)).clamp(0, 1) * ok
    extra = sum(float((m[s] - torch.stack([m[s ^ (1 << j)] for j in range(n) if s >> j & 1]).amax(0)).clamp_min(0).sum())
                for s in range(1, 2 ** n) if bin(s).count("1") >= 2)
    assert d.metrics["joint_need"] == pytest.approx(extra / float(m[1:].sum()), rel=1e-4, abs=1e-7)
    ctx = image_and_feature(tiny_gen, spec)[3]

    def psnr_k10(components, ranking):
        img = tiny_gen.tail((f0 + components[ranking[:10]].sum(0)).unsqueeze(0), ctx)[0]
        err = (((img - d.image) * 0.5) ** 2).sum(0)
        mse = float((err * d.players_mask).sum() / (3 * d.players_mask.sum()))
        return M.psnr(mse)
    want = psnr_k10(comps, top) - psnr_k10(ncomps, top_null)
    assert d.metrics["beyond_buildup_db"] == pytest.approx(want, abs=1e-3)
    assert d.metrics["baseline_change"] == d.info["baseline_stability"]
    assert isinstance(B.verdict(d.metrics), str) and "%" in B.verdict(d.metrics)


@pytest.mark.parametrize("metrics, phrase", [
    ({"beyond_strength": 0.01, "beyond_top10": 0.0, "joint_need": 1e-4, "beyond_buildup_db": 0.1},
     "the grid pooled onto the feature map"),
    ({"beyond_strength": 0.31, "beyond_top10": 0.3, "joint_need": 0.02, "beyond_buildup_db": 2.0},
     "31.0 % of the component strength lies beyond the grid"),
    ({"beyond_strength": 0.02, "beyond_top10": 0.0, "joint_need": 1.98e-5, "beyond_buildup_db": -1.0},
     "joint masks add 0.002 % of the mask mass"),
    ({}, "not recorded"),
])
def test_verdict_says_what_the_figures_mean(metrics, phrase):
    assert phrase in B.verdict(metrics)


def test_players_masks_cover_means_the_tight_null_fits_by_construction():
    from regionprims.method.null import by_construction, covers_feature
    masks = patch_masks(3, 3, 12, 12)
    assert covers_feature(masks, (4, 4))
    assert "null_fit_psnr" in by_construction(masks, (4, 4))
    assert not covers_feature(masks[:4], (4, 4)) and "null_fit_psnr" not in by_construction(masks[:4], (4, 4))
    assert list(itertools.islice(by_construction(masks[:4], (4, 4)), 1)) == ["null_joint_need"]
