"""Method vs null and transplants without Streamlit's script runner: the transplant's arithmetic
(mix.transplant), which decompositions may give components, listing the cache by headers
(store.catalog), the URL keys null= and tp= (ui.urlcompare) and the export caption's line."""
from __future__ import annotations

import os

import pytest
import torch

from regionprims import pipeline
from regionprims.export.caption import provenance_caption, transplant_line
from regionprims.keys import decomposition_key
from regionprims.method.interactions import or_interactions
from regionprims.method.null import geometric_null
from regionprims.method.render import render_features
from regionprims.method.specs import OptimSettings
from regionprims.mix.mixer import Mixer, composite
from regionprims.mix.state import ViewState
from regionprims.mix.transplant import (TransplantRef, change_inside_outside, donor_hash, region_mask, render,
                                        same_ground)
from regionprims.store import catalog
from regionprims.store.cache import ResultCache
from regionprims.ui import urlcompare
from regionprims.ui.urlstate import decode_state

SMALL = OptimSettings(steps=3, warm_steps=3, baseline_codes=4, baseline_tol=0.0)


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """Two decompositions of the tiny generator (seeds 5 and 6, same players), cached in one folder."""
    from tiny_generator import TinyGenerator
    gen = TinyGenerator(seed=0)
    cache = ResultCache(tmp_path_factory.mktemp("cache"))
    decs = [pipeline.decompose(gen, pipeline.make_spec(gen, c, s, layout="2x2", settings=SMALL), cache=cache)[0]
            for c, s in ((1, 5), (2, 6))]
    return gen, decs, cache


def test_the_mix_with_a_transplant_is_the_tail_of_the_mix_plus_the_weighted_donor_component(two):
    gen, (dec, donor), _ = two
    ctx = pipeline.image_and_feature(gen, dec.spec)[3]
    mx = Mixer(gen, dec, ctx)
    view = ViewState(residual=0.5).with_weight(dec.ranking[0], 0.3).mute(dec.ranking[1])
    row, w = donor.ranking[0], 0.75
    delta = donor.components[row]
    got = render(mx, view, delta, w, row)
    expected = render_features(gen, ctx, (composite(dec, view) + w * delta).unsqueeze(0))[0]
    assert torch.allclose(got.image, expected, atol=1e-5)
    plain = mx.render(view)
    inside, outside = change_inside_outside(plain.image, expected, region_mask(dec.player_masks, dec.subsets, row))
    assert got.metrics["transplant_inside"] == pytest.approx(inside, abs=1e-5)
    assert got.metrics["transplant_outside"] == pytest.approx(outside, abs=1e-5)
    assert got.metrics["transplant_inside"] > 0
    assert got.metrics["components_on"] == plain.metrics["components_on"]
    assert got.metrics["additivity_error"] == pytest.approx(plain.metrics["additivity_error"])
    none = render(mx, view, delta, 0.0, row)                     # weight 0: the plain mix, no change
    assert torch.allclose(none.image, plain.image, atol=1e-5)
    assert none.metrics["transplant_inside"] == pytest.approx(0.0, abs=1e-6)


def test_change_inside_and_outside_a_mask():
    before = torch.zeros(3, 2, 2)
    after = before.clone()
    after[:, 0, 0] = 1.0                                         # |Δ| * 0.5 = 0.5 on one pixel
    inside = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    assert change_inside_outside(before, after, inside) == (0.25, 0.0)


def test_which_decompositions_may_give_components(two):
    gen, (dec, donor), _ = two
    shape = tuple(dec.feature.shape)
    assert same_ground(dec.spec, shape, donor.spec, shape)
    assert not same_ground(dec.spec, shape, dec.spec, shape)                      # itself
    from dataclasses import replace
    from regionprims.method.regions import parse_layout
    for other in (replace(donor.spec, split="blocks.1"), replace(donor.spec, model_identity="tiny:9"),
                  replace(donor.spec, layout=parse_layout("2x2", (0, 1, 2)))):
        assert not same_ground(dec.spec, shape, other, shape)
    assert not same_ground(dec.spec, shape, donor.spec, (4, 12, 12))


def test_the_catalog_lists_decompositions_by_their_headers(two, tmp_path):
    gen, decs, cache = two
    listed = {x.key: x for x in catalog.decompositions(cache)}
    assert set(listed) == {decomposition_key(d.spec) for d in decs}           # not the baselines
    for d in decs:
        x = listed[decomposition_key(d.spec)]
        assert x.spec.frozen() == d.spec.frozen() and x.feature_shape == tuple(d.feature.shape)
        assert x.class_name == d.info["class_name"]
    (cache.entries / "junk.entry").write_bytes(b"not an entry")
    os.symlink(cache.entry_paths()[0], cache.entries / "link.entry")
    assert len(catalog.decompositions(cache)) == 2
    empty = ResultCache(tmp_path / "empty")
    assert catalog.decompositions(empty) == []


def test_url_keys_round_trip_and_bad_values():
    key = "0123456789abcdef0123456789abcdef"
    for null, ref in ((False, None), (True, None), (False, TransplantRef(key, 5, 1.0)),
                      (True, TransplantRef(key, 3, -0.5)), (False, TransplantRef(key, 15, 2.0))):
        params = urlcompare.encode(null, ref)
        errors: list[str] = []
        assert urlcompare.decode(params, 4, errors) == {"null": null, "transplant": ref}
        assert errors == []
    assert urlcompare.encode(False, None) == {}
    assert urlcompare.encode(True, TransplantRef(key, 5, 0.5)) == {"null": "1", "tp": f"{key}:5:0.5"}
    assert decode_state({"null": "1", "tp": f"{key}:5:0.5", "seed": "2"})[1] == []      # known keys
    for params, fragment in (({"null": "yes"}, "null='yes'"), ({"tp": "cache/x.safetensors:1"}, "is not DONOR"),
                             ({"tp": f"{key}:16"}, "outside 1..15"), ({"tp": f"{key}:0"}, "outside 1..15"),
                             ({"tp": f"{key}:3:abc"}, "not a number"), ({"tp": f"{key}:3:9"}, "using 2")):
        errors = []
        urlcompare.decode(params, 4, errors)
        assert len(errors) == 1 and fragment in errors[0], (params, errors)
    errors = []
    assert urlcompare.decode({"tp": f"{key}:3:9"}, 4, errors)["transplant"] == TransplantRef(key, 3, 2.0)
    assert TransplantRef(key, 3).with_weight(-7).weight == -1.0


def test_the_caption_says_the_transplant_only_when_there_is_one(two):
    _, (dec, donor), _ = two
    row = donor.ranking[0]
    line = transplant_line(donor.spec, donor.info["class_name"], row, 0.5)
    assert line.startswith("Transplant: + 0.5 × Δf_{") and f"seed {donor.spec.seed}" in line
    assert donor_hash(decomposition_key(donor.spec)) in line and "/" not in line.split("key ")[1]
    plain = provenance_caption(dec)
    with_line = provenance_caption(dec, transplant=line)
    assert "Transplant" not in plain and with_line.startswith(plain) and "Transplant: + 0.5" in with_line


def test_the_null_shown_in_the_mixer(two):
    from regionprims.ui.null_view import null_decomposition
    gen, (dec, _), _ = two
    ctx = pipeline.image_and_feature(gen, dec.spec)[3]
    null = null_decomposition(gen, ctx, dec)
    u0 = geometric_null(dec.feature, dec.baseline, dec.player_masks, dec.subsets)
    assert torch.equal(null.minimal, u0) and torch.equal(null.components, or_interactions(u0))
    assert torch.allclose(null.baseline + null.components[1:].sum(0) + null.residual, dec.feature, atol=1e-5)
    assert sorted(null.ranking) == list(range(1, 2 ** dec.n))
    assert null.fit_loss.isnan().all() and "fit_psnr" in null.metrics and "null_fit_psnr" not in null.metrics
    mx = Mixer(gen, null, ctx)
    assert mx.render(ViewState()).metrics["additivity_error"] == pytest.approx(0.0, abs=1e-5)


def test_the_export_panel_carries_the_transplant(two):
    from PIL import Image
    import io
    from regionprims.export import panel_bytes
    gen, (dec, donor), _ = two
    row = donor.ranking[0]
    line = transplant_line(donor.spec, donor.info["class_name"], row, 2.0)
    plain = panel_bytes(gen, dec, "png", top_k=2, dpi=40)
    with_it = panel_bytes(gen, dec, "png", top_k=2, dpi=40, added=2.0 * donor.components[row], note=line)
    assert "Transplant" not in Image.open(io.BytesIO(plain)).info["Description"]
    assert line in Image.open(io.BytesIO(with_it)).info["Description"].replace("\n    ", " ")
    assert plain != with_it
