"""The mix without Streamlit (regionprims.mix): the state and its presets, the weight grammar,
the live composite and metrics; the pictures of a rendered mix and a mixer's kept cards and stills."""
from __future__ import annotations

import random

import pytest
import torch

from regionprims import pipeline
from regionprims.errors import UserError
from regionprims.method import metrics as M
from regionprims.method.specs import OptimSettings
from regionprims.mix.mixer import Mixer, composite
from regionprims.mix.presets import preset
from regionprims.mix.state import ViewState
from regionprims.pictures import mix_pngs

SMALL = OptimSettings(steps=3, baseline_codes=4)


@pytest.fixture(scope="module")
def tiny_dec():
    from tiny_generator import TinyGenerator
    gen = TinyGenerator(seed=0)
    spec = pipeline.make_spec(gen, 1, 5, layout="2x2", settings=SMALL)
    dec, _ = pipeline.decompose(gen, spec)
    ctx = pipeline.image_and_feature(gen, spec)[3]
    return gen, dec, ctx


# ------------------------------------------------------------------------------ state + presets

def test_effective_weights_mute_and_solo():
    v = ViewState().with_weight(3, 0.5).mute(5)
    w = v.effective(8)
    assert w.tolist() == [0, 1, 1, 0.5, 1, 0, 1, 1]
    s = v.with_solo(3, True).with_solo(5, True)
    assert s.effective(8).tolist() == [0, 0, 0, 0.5, 0, 0, 0, 0]     # muted beats solo
    assert s.with_solo(3, False).with_solo(5, False).effective(8).tolist() == w.tolist()
    assert ViewState().with_weight(2, 7).weight(2) == 2.0              # clamped to the slider range
    assert ViewState().with_weight(2, 1.0).is_default()


def test_presets(tiny_dec):
    _, dec, _ = tiny_dec
    n, rows = dec.n, dec.components.shape[0]
    base = ViewState(residual=0.3).with_weight(1, 2.0)
    assert preset(base, "all", n).effective(rows)[1:].eq(1).all()
    assert preset(base, "all", n).residual == 0.3
    assert preset(base, "none", n).effective(rows).eq(0).all()
    top = preset(base, "top-k", n, dec.ranking, k=3).effective(rows)
    assert sorted(torch.nonzero(top).squeeze(1).tolist()) == sorted(dec.ranking[:3])
    only = preset(base, "only-region", n, region=2).effective(rows)
    but = preset(base, "but-region", n, region=2).effective(rows)
    assert all(bool(only[r]) == bool(r >> 2 & 1) for r in range(1, rows))
    assert torch.equal(only + but, torch.ones(rows).index_fill(0, torch.tensor([0]), 0))
    with pytest.raises(UserError):
        preset(base, "only-region", n, region=n)
    with pytest.raises(UserError):
        preset(base, "sideways", n)


def test_composite_identities(tiny_dec):
    _, dec, _ = tiny_dec
    assert torch.allclose(composite(dec, ViewState()), dec.feature, atol=1e-5)          # completeness
    none = preset(ViewState(residual=0.0), "none", dec.n)
    assert torch.allclose(composite(dec, none), dec.baseline, atol=1e-6)
    for i in range(dec.n):   # only region i rebuilds u({i}) exactly
        only = preset(ViewState(residual=0.0), "only-region", dec.n, region=i)
        assert torch.allclose(composite(dec, only), dec.minimal[1 << i], atol=1e-5)


# ------------------------------------------------------------------------------ live metrics

def test_live_additivity_matches_metric(tiny_dec):
    gen, dec, ctx = tiny_dec
    mx = Mixer(gen, dec, ctx)
    rows = dec.components.shape[0]
    rng = random.Random(0)
    for _ in range(10):
        keep = [r for r in range(1, rows) if rng.random() < 0.5]
        w = torch.zeros(rows)
        w[keep] = 1.0
        assert mx.additivity(w) == pytest.approx(M.additivity_error(dec.components, dec.minimal, keep)[0],
                                                 rel=1e-4, abs=1e-6)
    # arbitrary weights against the definition, computed directly
    w = torch.tensor([0.0] + [rng.uniform(-1, 2) for _ in range(rows - 1)])
    errs = []
    for t in range(1, rows):
        est = dec.baseline + sum(w[s] * dec.components[s] for s in range(1, rows) if s & t)
        errs.append(float((est - dec.minimal[t]).norm() / (dec.minimal[t] - dec.baseline).norm()))
    assert mx.additivity(w) == pytest.approx(sum(errs) / len(errs), rel=1e-4)
    top = torch.zeros(rows)
    top[dec.ranking[:M.TOP]] = 1
    expected = M.additivity_error(dec.components, dec.minimal, dec.ranking[:M.TOP])[0]
    assert mx.additivity(top) == pytest.approx(expected, abs=1e-5)


def test_rendered_mix_and_its_metrics(tiny_dec):
    gen, dec, ctx = tiny_dec
    mx = Mixer(gen, dec, ctx)
    full = mx.render(ViewState())
    assert full.metrics["player_psnr"] > 60 and full.metrics["strength_on"] == pytest.approx(1.0)
    assert full.metrics["additivity_error"] == pytest.approx(0.0, abs=1e-6)
    assert full.metrics["components_on"] == dec.components.shape[0] - 1
    none = mx.render(preset(ViewState(residual=0.0), "none", dec.n))
    assert none.metrics["components_on"] == 0 and none.metrics["strength_on"] == 0
    assert torch.allclose(none.image, mx.baseline_image, atol=1e-6)
    assert none.rgb.shape == (12, 12, 3) and none.diff.shape == (12, 12)
    mix, diff = mix_pngs(none.rgb, none.diff, dec.spec.layout.rows, dec.spec.layout.cols)
    assert mix[:8] == b"\x89PNG\r\n\x1a\n" and diff[:8] == b"\x89PNG\r\n\x1a\n"
    curve = mx.additivity_curve([1, 2, len(dec.ranking)])
    assert curve[-1] == pytest.approx(0.0, abs=1e-6)
    leak = mx.leakage(dec.ranking[:3])
    assert ((leak >= -1e-6) & (leak <= 1 + 1e-6)).all()
    shares = mx.patch_energy(dec.ranking[:3])
    assert shares.shape == (3, 4) and abs(shares.sum(1) - 1).max() < 1e-5
    b = mx.buildup(5)
    assert b.ks == list(range(6))


def test_one_weight_grammar():
    """mix.weights.parse_row_weights is the grammar of both `export --weights` and the URL's w=."""
    from regionprims.mix.weights import parse_row_weights
    items = parse_row_weights(" 3:0.5, *:0,15:-1e0,,", 4, star=True)
    assert [(i.row, i.value, i.problem) for i in items] == [(3, 0.5, ""), (None, 0.0, ""), (15, -1.0, "")]
    assert [i.problem for i in parse_row_weights("*:0", 4)] == ["syntax"]          # '*' only where allowed
    assert [(i.text, i.problem) for i in parse_row_weights("3=0,16:1,2:1e999,x:1", 4, star=True)] == [
        ("3=0", "syntax"), ("16:1", "row"), ("2:1e999", "value"), ("x:1", "syntax")]


def test_a_mixers_cards_and_stills_are_kept_per_decomposition(tiny_dec):
    """ui.mixer_pictures makes a card or still once and keeps it under the decomposition's key."""
    from regionprims.ui import mixer_pictures, resources
    gen, dec, ctx = tiny_dec
    mx = Mixer(gen, dec, ctx)
    resources.reset_shared()
    try:
        card = mixer_pictures.card_png(mx, "k", dec.ranking[0])
        assert card[:4] == b"\x89PNG" and mixer_pictures.still_png(mx, "k", "original")[:4] == b"\x89PNG"
        assert mixer_pictures.card_png(mx, "k", dec.ranking[0]) is card
        assert len(resources.shared().get(("pictures", "k"))) == 2
    finally:
        resources.reset_shared()
