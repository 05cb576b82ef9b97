"""The engine on the tiny generator: identities to float precision, determinism, metrics,
validation. The tiny generator's 12x12 image with a 2x2 layout gives 4 players, 16 subsets."""
import threading

import pytest
import torch

from regionprims.method import metrics as M
from regionprims.errors import UserError
from regionprims.method.interactions import reconstruct_from_or
from regionprims.pipeline import decompose, image_and_feature, make_spec
from regionprims.method.render import compose_feature
from regionprims.method.specs import OptimSettings

FAST = OptimSettings(steps=25, baseline_codes=8)


@pytest.fixture(scope="module")
def dec(tiny_gen):
    spec = make_spec(tiny_gen, 1, 7, layout="2x2", settings=FAST)
    return decompose(tiny_gen, spec)[0]


def test_split_equals_full_forward(tiny_gen):
    z = tiny_gen.sample_z(3, 1.0, 2)
    for split in tiny_gen.split_points:
        feat, ctx = tiny_gen.head(z, 2, 1.0, split)
        assert torch.allclose(tiny_gen.tail(feat, ctx), tiny_gen.forward(z, 2, 1.0), atol=1e-6)


def test_empty_subset_is_baseline_exactly(dec):
    assert torch.equal(dec.minimal[0], dec.baseline)
    assert torch.equal(dec.components[0], dec.baseline)


def test_reconstruction_of_every_u_T(dec):
    # u(T) = f0 + sum_{S ∩ T != empty} Df_S for all 16 T, written out by hand for a few.
    rebuilt = reconstruct_from_or(dec.components)
    assert torch.allclose(rebuilt, dec.minimal, atol=1e-5)
    comps, f0 = dec.components, dec.baseline
    # T = {player 0} (row 1): every S with bit 0 set, i.e. odd rows.
    manual = f0 + sum(comps[r] for r in range(1, 16) if r & 1)
    assert torch.allclose(manual, dec.minimal[1], atol=1e-5)
    # T = {player 1, player 3} (row 0b1010 = 10).
    manual = f0 + sum(comps[r] for r in range(1, 16) if r & 10)
    assert torch.allclose(manual, dec.minimal[10], atol=1e-5)


def test_completeness_with_residual(dec):
    total = dec.baseline + dec.components[1:].sum(0) + dec.residual
    assert torch.allclose(total, dec.feature, atol=1e-5)
    ones = torch.ones(dec.components.shape[0])
    assert torch.allclose(compose_feature(dec.baseline, dec.components, dec.residual, ones), dec.feature, atol=1e-5)
    zeros = torch.zeros_like(ones)
    assert torch.allclose(compose_feature(dec.baseline, dec.components, dec.residual, zeros, 0.0), dec.baseline)


def test_shapes_and_order(dec):
    assert dec.subsets.shape == (16, 4) and dec.subsets.dtype == torch.uint8
    assert dec.subsets[5].tolist() == [1, 0, 1, 0]          # binary counting: row 5 = {0, 2}
    assert dec.minimal.shape == (16, 4, 6, 6)
    assert dec.player_masks.shape == (4, 12, 12)
    assert sorted(dec.ranking) == list(range(1, 16))
    norms = dec.components[dec.ranking].flatten(1).norm(dim=1)
    assert (norms[:-1] >= norms[1:]).all()


def test_masks_stay_between_baseline_and_feature(dec):
    lo = torch.minimum(dec.baseline, dec.feature) - 1e-6
    hi = torch.maximum(dec.baseline, dec.feature) + 1e-6
    assert ((dec.minimal >= lo) & (dec.minimal <= hi)).all()


def test_optimisation_improves_on_the_warm_start(tiny_gen, dec):
    from regionprims.method.minimal import initial_logits, masked_mse
    from regionprims.method.regions import subset_masks
    _, feature, image, ctx = image_and_feature(tiny_gen, dec.spec)
    region = subset_masks(dec.player_masks, dec.subsets)
    logits = initial_logits(region, (6, 6), 4, dec.spec.settings)
    start = dec.baseline + torch.sigmoid(logits) * (feature - dec.baseline)
    with torch.no_grad():
        loss0 = masked_mse(tiny_gen.tail(start, ctx), image, region) + 0.01 * torch.sigmoid(logits).flatten(1).mean(1)
        loss1 = dec.fit_loss + 0.01 * ((dec.minimal - dec.baseline).abs().flatten(1).sum(1) * 0)  # recon only
    assert float(dec.fit_loss[1:].mean()) < float(loss0[1:].mean())
    assert torch.isfinite(loss1).all()


def test_deterministic(tiny_gen, dec):
    again = decompose(tiny_gen, dec.spec)[0]
    assert torch.equal(again.minimal, dec.minimal)
    assert again.ranking == dec.ranking
    assert again.metrics == dec.metrics


def test_metric_keys_and_ranges(dec):
    m = dec.metrics
    for key in ["residual_ratio", "fit_psnr", "fit_error_mean", "leakage_top20"]:
        assert key in m and isinstance(m[key], float)
    assert 0 <= m["leakage_top20"] <= 1
    expected = float((dec.feature - dec.minimal[-1]).norm() / (dec.feature - dec.baseline).norm())
    assert m["residual_ratio"] == pytest.approx(expected)


def test_scores_trivial_for_the_layout_are_absent_not_perfect(dec):
    # 15 components <= 20: the top 20 keep all of them, so additivity would be 0 and sparsity 1
    # by construction (the old code reported exactly that as a perfect score)
    for key in ("additivity_error_top20", "sparsity_top20"):
        assert key not in dec.metrics and "null_" + key not in dec.metrics
        assert "hold all 15 non-empty components" in dec.info["absent_metrics"][key]
    assert M.absent_scores(511) == {}
    assert set(M.absent_scores(20)) == {"additivity_error_top20", "sparsity_top20"}


def test_null_scores_beside_every_score(dec):
    """Both nulls report every score the method does, except the method's own figures (stability,
    the beyond-geometry figures, the baseline's change); absent ones are absent for them too."""
    from regionprims.method.beyond import HEADLINE
    absent = dec.info["absent_metrics"]
    own = [k for k in dec.metrics if not k.startswith(("null_", "budget_null_")) and k != "stability"
           and k not in HEADLINE]
    for prefix in ("null_", "budget_null_"):
        assert own and all(isinstance(dec.metrics[prefix + k], float) or prefix + k in absent for k in own)
    assert "no dilation" in dec.info["null"]["definition"] and "u(N)" in dec.info["null"]["budget_definition"]


def test_metric_functions_by_hand():
    norms = torch.tensor([0.0, 3.0, 1.0, 0.0, 4.0])
    assert M.sparsity(norms, [4, 1, 2, 3], top=2) == pytest.approx(7 / 8)
    assert M.psnr(0.01) == pytest.approx(20.0)
    energy = torch.zeros(1, 2, 2)
    energy[0, 0, 0], energy[0, 1, 1] = 3.0, 1.0
    masks = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]])
    subsets = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.uint8)
    assert float(M.leakage(energy, [1], subsets, masks)[0]) == pytest.approx(0.25)
    assert float(M.leakage(energy, [3], subsets, masks)[0]) == pytest.approx(0.0)
    assert M.transfer([1, 2, 3], [3, 9, 1, 7], top_a=2, top_b=3) == pytest.approx(0.5)


def test_additivity_error_drops_when_all_components_are_kept(dec):
    few = M.additivity_error(dec.components, dec.minimal, dec.ranking[:2])[0]
    allk = M.additivity_error(dec.components, dec.minimal, dec.ranking)[0]
    assert allk < 1e-5 < few


@pytest.mark.parametrize("kwargs, message", [
    (dict(seed=-1), "seed"), (dict(seed=2 ** 32), "seed"), (dict(seed="abc"), "seed"),
    (dict(truncation=0), "truncation"), (dict(truncation=1.5), "truncation"),
    (dict(split="nope"), "split"), (dict(layout="4x4"), "players"), (dict(layout="hexagon"), "layout"),
    (dict(class_=3), "class"), (dict(class_="zebra"), "zebra"),
])
def test_bad_input_one_clear_message(tiny_gen, kwargs, message):
    args = dict(class_=1, seed=0)
    args.update(kwargs)
    class_, seed = args.pop("class_"), args.pop("seed")
    with pytest.raises(UserError, match=message):
        make_spec(tiny_gen, class_, seed, **args)


def test_paper_layout_picks_foreground_players(tiny_gen):
    spec = make_spec(tiny_gen, 0, 1, layout="paper", settings=FAST)
    assert len(spec.layout.players) == 9 and spec.layout.rows == 6
    assert list(spec.layout.players) == sorted(set(spec.layout.players))
    explicit = make_spec(tiny_gen, 0, 1, layout="paper", players=[0, 7, 35], settings=FAST)
    assert explicit.layout.players == (0, 7, 35)


def test_cache_hit_and_single_computation(tiny_gen, tmp_path):
    from regionprims.store.cache import ResultCache
    cache = ResultCache(tmp_path / "c")
    spec = make_spec(tiny_gen, 2, 3, layout="2x2", settings=OptimSettings(steps=5, baseline_codes=4))
    calls = []
    results = []

    def run():
        results.append(decompose(tiny_gen, spec, cache=cache, progress=lambda d, t, m: calls.append(m)))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hits = sorted(hit for _, hit in results)
    assert hits == [False, True, True]                       # computed once
    assert all(torch.equal(r[0].components, results[0][0].components) for r in results)


def test_unreadable_cache_entry_is_recomputed(tiny_gen, tmp_path):
    from regionprims.store.cache import ResultCache
    from regionprims.pipeline import decomposition_key
    cache = ResultCache(tmp_path / "c")
    spec = make_spec(tiny_gen, 0, 4, layout="2x2", settings=OptimSettings(steps=3, baseline_codes=4))
    cache.set_bytes(decomposition_key(spec), b"garbage")
    dec, hit = decompose(tiny_gen, spec, cache=cache)
    assert not hit and dec.subsets.shape == (16, 4)
    assert decompose(tiny_gen, spec, cache=cache)[1]


def test_cancel_leaves_nothing_cached(tiny_gen, tmp_path):
    from regionprims.store.cache import ResultCache
    from regionprims.pipeline import decomposition_key
    from regionprims.progress import Cancelled
    cache = ResultCache(tmp_path / "c")
    spec = make_spec(tiny_gen, 0, 5, layout="2x2", settings=OptimSettings(steps=50, baseline_codes=4))
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        decompose(tiny_gen, spec, cache=cache, cancel=stop)
    assert cache.get_bytes(decomposition_key(spec)) is None


def test_buildup_frames_and_errors(tiny_gen, dec):
    from regionprims.method.buildup import buildup
    ctx = image_and_feature(tiny_gen, dec.spec)[3]
    b = buildup(tiny_gen, ctx, dec, k_max=15, with_residual=True)
    assert b.ks == list(range(16)) and b.images.shape[0] == 16
    # all 15 components + residual = f exactly, so the last frame is the image itself
    assert torch.allclose(b.images[-1], dec.image, atol=1e-4)
    assert b.player_mse[-1] < 1e-9 and b.player_mse[0] > b.player_mse[-1]


def test_progress_only_grows_and_ends_complete(tiny_gen):
    seen = []
    spec = make_spec(tiny_gen, 0, 11, layout="2x2", settings=OptimSettings(steps=4, warm_steps=3, baseline_codes=4))
    decompose(tiny_gen, spec, progress=lambda d, t, m: seen.append((d / t, m)))
    fracs = [f for f, _ in seen]
    assert fracs == sorted(fracs) and fracs[-1] == 1.0
    assert any("baseline" in m for _, m in seen) and any("minimal" in m for _, m in seen)


def test_auto_chunk_respects_the_memory_bound(tiny_gen, dec):
    from regionprims.method.minimal import activation_bytes_per_sample, auto_chunk
    ctx = image_and_feature(tiny_gen, dec.spec)[3]
    per = activation_bytes_per_sample(tiny_gen, ctx, dec.feature)
    assert per > dec.feature.numel() * 4                  # at least the feature's own buffers
    small = auto_chunk(tiny_gen, ctx, dec.feature, memory_mb=64, most=10 ** 9)
    assert small == 64 * 2 ** 20 // per
    assert auto_chunk(tiny_gen, ctx, dec.feature, memory_mb=64, most=3) == 3
    # chunking changes nothing in the result: 2 subsets per batch equals the automatic chunk
    from dataclasses import replace
    chunked = decompose(tiny_gen, replace(dec.spec, settings=replace(dec.spec.settings, chunk=2)))[0]
    assert torch.allclose(chunked.minimal, dec.minimal, atol=1e-5)


@pytest.mark.parametrize("codes", [16, 10, 64])
def test_baseline_stability_splits_at_half_the_codes(tiny_gen, codes):
    # f0(M/2) is the mean of exactly the first M/2 codes, also when M fits in one batch
    from regionprims.method.baseline import BASELINE_SEED, compute_baseline
    split = tiny_gen.default_split
    got = compute_baseline(tiny_gen, 1, 1.0, split, codes)
    f0, stability = got.f0, got.change
    assert got.codes == codes
    feats, _ = tiny_gen.head(tiny_gen.sample_z(BASELINE_SEED, 1.0, codes), 1, 1.0, split)
    half = feats[:codes // 2].mean(0)
    assert torch.allclose(f0, feats.mean(0), atol=1e-5)
    assert stability > 0
    assert stability == pytest.approx(float((f0 - half).norm() / f0.norm()), rel=1e-4)


def test_baseline_grows_by_doubling_until_it_has_converged(tiny_gen):
    """Each doubling adds as many codes from the next seed; f0 is their plain mean, the change is
    against the previous count's mean, and it stops at the first count within the tolerance."""
    from regionprims.method.baseline import BASELINE_SEED, compute_baseline
    split = tiny_gen.default_split
    z = torch.cat([tiny_gen.sample_z(BASELINE_SEED, 1.0, 4)] +
                  [tiny_gen.sample_z(BASELINE_SEED + k, 1.0, 4 * 2 ** (k - 1)) for k in range(1, 5)])
    feats, _ = tiny_gen.head(z, 1, 1.0, split)
    means = {m: feats[:m].mean(0) for m in (4, 8, 16, 32, 64)}
    changes = {m: float((means[m] - means[m // 2]).norm() / means[m].norm()) for m in (8, 16, 32, 64)}
    tol = sorted(changes.values())[1]                 # reached somewhere along the way, not at once
    want = next(m for m in (8, 16, 32, 64) if changes[m] <= tol)
    got = compute_baseline(tiny_gen, 1, 1.0, split, 4, tol, 64)
    assert got.codes == want and got.change == pytest.approx(changes[want], rel=1e-4)
    assert torch.allclose(got.f0, means[want], atol=1e-5)
    capped = compute_baseline(tiny_gen, 1, 1.0, split, 4, 1e-9, 16)          # never converges: stops at the cap
    assert capped.codes == 16 and not capped.converged(1e-9)
    assert torch.allclose(capped.f0, means[16], atol=1e-5)


@pytest.mark.parametrize("class_id", [0, 3])
def test_the_default_baseline_converges_on_the_demo(class_id):
    """At the default settings the demo's baseline stops by convergence, not at the cap (omniart-eyes
    needs ~16384 codes: docs/method.md §2)."""
    from regionprims.method.baseline import compute_baseline
    from regionprims.method.specs import OptimSettings
    from regionprims.models.registry import load_generator
    gen, s = load_generator("demo"), OptimSettings()
    got = compute_baseline(gen, class_id, gen.default_truncation, gen.default_split, s.baseline_codes,
                           s.baseline_tol, s.baseline_max_codes)
    assert got.change <= s.baseline_tol == 0.02 and got.codes < s.baseline_max_codes


def test_recorded_metrics_are_the_table(dec):
    """metrics.METRICS is the one list of recorded metrics: every row is recorded, finite, and
    printed by the one formatter (PSNR in dB)."""
    absent = dec.info["absent_metrics"]               # 2x2: the top-20 scores are undefined
    keys = [m.key for m in M.METRICS if m.key not in absent]
    from regionprims.method.beyond import HEADLINE
    own = [k for k in dec.metrics if not k.startswith(("gt_", "null_", "budget_null_")) and k not in HEADLINE]
    assert own == keys
    assert all(isinstance(dec.metrics[k], float) and dec.metrics[k] == dec.metrics[k] for k in keys)
    assert M.CAPTION_METRICS == ("residual_ratio", "fit_psnr", "additivity_error_top20", "leakage_top20")
    assert M.format_metric("fit_psnr", 23.456) == "23.46 dB" and M.format_metric("fit_psnr", 23.456, unit=False) == "23.46"
    assert M.format_metric("leakage_top20", 0.001234) == "1.23e-03" and M.format_metric("x", float("nan")) == "n/a"


def test_step_direction_by_hand():
    """ngd moves the steepest cell of a row by the learning rate and the others in proportion (a
    cell the loss hardly depends on hardly moves); Adam moves every cell by about the same amount."""
    from regionprims.method.minimal import BETA1, BETA2, direction
    from regionprims.method.specs import OptimSettings
    g = torch.tensor([[2.0, 0.2, -1.0, 1e-6], [0.0, 0.5, 0.0, 0.0]])
    m1, m2, t = (1 - BETA1) * g, (1 - BETA2) * g.square(), torch.ones(2, 1)
    ngd = direction(OptimSettings(optimizer="ngd"), m1, m2, t)
    assert torch.allclose(ngd, torch.tensor([[1.0, 0.1, -0.5, 5e-7], [0.0, 1.0, 0.0, 0.0]]))
    adam = direction(OptimSettings(optimizer="adam"), m1, m2, t)
    assert torch.allclose(adam[0, :3], torch.tensor([1.0, 1.0, -1.0]), atol=1e-6)
    assert adam[0, 3] > 0.009            # a flat cell still moves by ~1 % of lr (1e-6 / (1e-6 + eps))


def test_bad_optimizer_refused(tiny_gen):
    with pytest.raises(UserError, match="optimizer must be one of ngd, adam"):
        make_spec(tiny_gen, 1, 2, settings=OptimSettings(optimizer="sgd"))


def test_additivity_leaves_out_subsets_whose_minimal_feature_is_the_baseline():
    """u({0}) = f0 exactly (its region needs nothing of f): no relative error for T = {0}; the
    mean is over the other subsets (it used to divide by 1e-12 and report ~1e9)."""
    from regionprims.method.interactions import or_interactions
    f0 = torch.zeros(1, 2, 2)
    u = torch.stack([f0, f0, f0 + 1.0, f0 + 2.0])          # rows: {}, {0}, {1}, {0,1}
    comps = or_interactions(u)
    mean_all, per_t = M.additivity_error(comps, u, [1, 2, 3])
    assert mean_all == pytest.approx(0.0, abs=1e-6) and torch.isnan(per_t[0]) and not torch.isnan(per_t[1:]).any()
    mean, per_t = M.additivity_error(comps, u, [2])           # keep only I({1})
    by_hand = [(comps[2] - u[2]).norm() / u[2].norm(), (comps[2] - u[3]).norm() / u[3].norm()]
    assert mean == pytest.approx(float(sum(by_hand) / 2), rel=1e-6) and mean < 10


def test_auto_chunk_outside_the_main_thread_bounds_the_largest_tensor(tiny_gen, dec, monkeypatch):
    """A background thread may be served by a glibc arena of 64 MiB heaps: there no tensor of a
    batch may exceed THREAD_BLOCK_BYTES (chunking.auto_chunk); the main thread keeps the memory bound."""
    import threading
    from regionprims.method import chunking as minimal
    ctx = image_and_feature(tiny_gen, dec.spec)[3]
    block = minimal.largest_block_per_sample(tiny_gen, ctx, dec.feature)
    assert 0 < block < minimal.activation_bytes_per_sample(tiny_gen, ctx, dec.feature)
    monkeypatch.setattr(minimal, "THREAD_BLOCK_BYTES", 5 * block + block // 2)    # room for 5 samples
    main = minimal.auto_chunk(tiny_gen, ctx, dec.feature, memory_mb=4096, most=10 ** 9)
    seen = []
    worker = threading.Thread(target=lambda: seen.append(
        minimal.auto_chunk(tiny_gen, ctx, dec.feature, memory_mb=4096, most=10 ** 9)))
    worker.start()
    worker.join()
    assert main > 5 and seen == [5]
