"""The minimal features' own rules (docs/method.md §4): monotone masks, and the uniqueness weight
of the warm start (warm_mu) kept apart from that of the later levels (mu)."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from regionprims.method.baseline import compute_baseline
from regionprims.method.minimal import optimize_minimal_features
from regionprims.method.regions import player_masks, subset_matrix
from regionprims.method.specs import OptimSettings
from regionprims.pipeline import image_and_feature, make_spec

SMALL = OptimSettings(steps=4, warm_steps=6, baseline_codes=4)


@pytest.fixture(scope="module")
def problem(tiny_gen):
    spec = make_spec(tiny_gen, 0, 5, layout="2x2", settings=SMALL)
    _, f, x, ctx = image_and_feature(tiny_gen, spec)
    f0 = compute_baseline(tiny_gen, spec.class_id, spec.truncation, spec.split, SMALL.baseline_codes).f0
    masks = player_masks(spec.layout, tiny_gen.image_size, tiny_gen.image_size)
    return tiny_gen, ctx, f, f0, x, masks, subset_matrix(spec.layout.n)


def run(problem, settings: OptimSettings):
    gen, ctx, f, f0, x, masks, subsets = problem
    return optimize_minimal_features(gen, ctx, f, f0, x, masks, subsets, settings)


def spatial_masks(minimal, f, f0):
    """m_S per feature cell from u(S) = f0 + m_S * (f - f0): least squares over the channels."""
    delta = (f - f0).unsqueeze(0)
    return ((minimal - f0) * delta).sum(1) / delta.square().sum(1).clamp_min(1e-20)


def test_masks_are_monotone_in_the_player_set(problem):
    _, _, f, f0, _, _, subsets = problem
    minimal, _, _ = run(problem, SMALL)
    m = spatial_masks(minimal, f, f0)
    assert m.min() >= -1e-5 and m.max() <= 1 + 1e-5
    checked = 0
    for s in range(1, 2 ** subsets.shape[1]):
        for i in range(subsets.shape[1]):
            if s >> i & 1:
                assert (m[s] - m[s ^ (1 << i)]).min() >= -1e-5, (s, i)
                checked += 1
    assert checked == 32                      # every (S, i in S) pair of 4 players


def test_the_warm_start_uses_warm_mu_not_mu(problem):
    singles = subset_matrix(4).sum(1) == 1
    a, _, _ = run(problem, replace(SMALL, mu=0.003, warm_mu=0.0))
    b, _, _ = run(problem, replace(SMALL, mu=0.5, warm_mu=0.0))
    c, _, _ = run(problem, replace(SMALL, mu=0.003, warm_mu=0.5))
    assert torch.equal(a[singles], b[singles])                # mu does not reach the single-player masks
    assert not torch.equal(a[~singles], b[~singles])          # ... but does reach the later levels
    assert (c[singles] - a[singles]).abs().max() > 1e-4       # warm_mu does reach them


def test_minimised_mean_weighs_each_row_with_the_weight_it_was_optimised_with(problem):
    _, _, f, f0, _, _, subsets = problem
    settings = replace(SMALL, mu=0.2, warm_mu=0.05)
    minimal, _, info = run(problem, settings)
    m = spatial_masks(minimal, f, f0)[1:]
    weight = torch.where(subsets[1:].sum(1) == 1, 0.05, 0.2)
    ridge = (weight * m.square().flatten(1).mean(1)).mean()
    assert info["minimised_mean"] - info["objective_mean"] == pytest.approx(float(ridge), rel=1e-4)


@pytest.mark.parametrize("value", [-0.1, float("nan"), 2e3])
def test_warm_mu_out_of_range_is_refused(value):
    from regionprims.errors import UserError
    with pytest.raises(UserError, match="warm_mu"):
        replace(SMALL, warm_mu=value).validate()


# ----------------------------------------------------------------------------- refinement schedule

def _problem(tiny_gen, layout):
    if layout == "3x3":                       # the demo generator: its tail reaches a few cells, so some subsets
        from regionprims.models.registry import load_generator     # ... cannot move and are skipped
        tiny_gen = load_generator("demo", "cpu")
    spec = make_spec(tiny_gen, 1, 7, layout=layout, settings=SMALL)
    _, f, x, ctx = image_and_feature(tiny_gen, spec)
    f0 = compute_baseline(tiny_gen, spec.class_id, spec.truncation, spec.split, SMALL.baseline_codes).f0
    masks = player_masks(spec.layout, tiny_gen.image_size, tiny_gen.image_size)
    return tiny_gen, ctx, f, f0, x, masks, subset_matrix(spec.layout.n)


@pytest.mark.parametrize("layout", ["2x2", "3x3"])
@pytest.mark.parametrize("variant", [{}, {"optimizer": "adam"}, {"mask": "channel"}, {"lam": 0.0}])
def test_the_exact_skip_gives_the_full_schedules_minimal_features(tiny_gen, layout, variant):
    problem = _problem(tiny_gen, layout)
    base = replace(SMALL, **variant)
    full, fit_full, info_full = run(problem, replace(base, refine="all"))
    skip, fit_skip, info_skip = run(problem, replace(base, refine="skip"))
    scale = (full - problem[3]).norm()
    assert float((skip - full).norm() / scale) <= 1e-5
    assert torch.allclose(fit_skip, fit_full, rtol=1e-4, atol=1e-7)
    n = problem[6].shape[1]
    tail = 2 ** n - 1 - n                                   # the subsets of 2+ players
    assert info_full["tail_passes"] == info_full["tail_evaluations"] == n * base.warm_steps + tail * base.steps
    assert info_full["subsets_stepped"] == tail
    # skip: the warm start, one probe per subset of 2+ players, the other steps for the movable ones
    # only (a movable row's first step is its probe)
    assert info_skip["tail_passes"] == n * base.warm_steps + tail + info_skip["subsets_stepped"] * (base.steps - 1)


def test_the_skip_skips_on_a_real_problem(tiny_gen):
    """The exact-skip test above is not vacuous: some subsets are skipped and some are stepped."""
    _, _, info = run(_problem(tiny_gen, "3x3"), replace(SMALL, refine="skip"))
    assert 0 < info["subsets_stepped"] < 2 ** 9 - 1 - 9


@pytest.mark.parametrize("cap", [1, 2])
def test_the_order_cap_leaves_larger_subsets_at_the_max_of_their_sub_masks(tiny_gen, cap):
    from regionprims.method.monotone import union_below
    problem = _problem(tiny_gen, "2x2")
    _, _, f, f0, _, _, subsets = problem
    minimal, _, info = run(problem, replace(SMALL, max_order=cap, refine="all"))
    m = spatial_masks(minimal, f, f0).unsqueeze(1)
    order = subsets.sum(1)
    rows = torch.nonzero(order > cap).squeeze(1)
    below = union_below(m, rows, subsets.shape[1])
    assert torch.allclose(m[rows], below, atol=1e-5)
    stepped = int(((order >= 2) & (order <= cap)).sum())
    assert info["subsets_stepped"] == stepped
    assert info["tail_passes"] == 4 * SMALL.warm_steps + stepped * SMALL.steps       # refine "all": no probes
    assert set(info["moving_by_order"]) == {str(k) for k in range(2, cap + 1)}   # orders above the cap: not probed
    uncapped, _, _ = run(problem, replace(SMALL, refine="all"))
    assert torch.equal(minimal[order <= cap], uncapped[order <= cap])   # the levels below the cap are untouched


@pytest.mark.parametrize("bad", [{"refine": "some"}, {"max_order": -1}, {"max_order": 2.5}, {"max_order": True}])
def test_bad_refinement_settings_are_refused(bad):
    from regionprims.errors import UserError
    with pytest.raises(UserError):
        replace(SMALL, **bad).validate()


@pytest.mark.parametrize("bad", [{"tol": float("nan")}, {"tol": -1.0}, {"patience": 0}, {"opt_seed": -1},
                                 {"chunk": 1 << 30}, {"memory_mb": 1 << 40}])
def test_settings_out_of_range_are_refused(bad):
    from regionprims.errors import UserError
    with pytest.raises(UserError):
        replace(SMALL, **bad).validate()
