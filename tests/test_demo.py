"""The bundled demo generator: renderer, weights, split, quality, training, ground truth."""
from __future__ import annotations

import argparse
import json
import shutil

import pytest
import torch
import torch.nn.functional as F

from regionprims.errors import UserError
from regionprims.models.demo.groundtruth import gt_scores
from regionprims.method.render import pattern_energy
from regionprims.models.base import SplitGenerator
from regionprims.models.demo.generator import (DEMO_INFO, SPLIT_POINTS, WEIGHTS_PATH, WEIGHTS_SHA256,
                                     load_demo, weights_present)
from regionprims.models.demo.scenes import (DEMO_CLASSES, IMAGE_SIZE, INTERACTIONS, SLICES, Z_DIM,
                                           SceneObject, render_batch, render_scene, scene_objects)


@pytest.fixture(scope="module")
def demo():
    return load_demo()


def _codes(n, seed=123, t=1.0):
    g = torch.Generator().manual_seed(seed)
    return t * torch.randn(n, Z_DIM, generator=g).clamp(-2, 2)


# -- renderer ----------------------------------------------------------------------------------

def test_renderer_deterministic_in_range_and_batched():
    z = _codes(len(DEMO_CLASSES))
    ids = torch.arange(len(DEMO_CLASSES))
    batch = render_batch(z, ids)
    assert batch.shape == (len(DEMO_CLASSES), 3, IMAGE_SIZE, IMAGE_SIZE)
    assert batch.min() >= -1 and batch.max() <= 1
    for k in range(len(DEMO_CLASSES)):
        single = render_scene(z[k], k)
        assert torch.equal(single, render_scene(z[k].clone(), k))
        assert torch.allclose(single, batch[k], atol=1e-6)
    with pytest.raises(UserError):
        render_scene(z[0], len(DEMO_CLASSES))


def test_slices_are_disjoint_and_inside_z():
    assert len(DEMO_CLASSES) >= 6 and "face" in DEMO_CLASSES
    for cls, objs in SLICES.items():
        used = set()
        for a, b in objs.values():
            assert 0 <= a < b <= Z_DIM
            assert used.isdisjoint(range(a, b))
            used |= set(range(a, b))
    assert set(SLICES["face"]) == {"head", "left_eye", "right_eye", "nose", "mouth"}


def test_scene_objects_match_rendered_pixels():
    """Removing an object (its presence number to -2) changes pixels only on its own mask
    (dilated by the anti-aliasing edge); changing another object's slice leaves it alone."""
    z = _codes(len(DEMO_CLASSES), seed=5, t=0.5)   # truncation 0.5: every object present
    for k, cls in enumerate(DEMO_CLASSES):
        objs = scene_objects(z[k], k)
        assert [o.name for o in objs] == list(SLICES[cls])
        masks = torch.stack([o.mask for o in objs])
        assert masks.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE) and masks.dtype == torch.bool
        assert int(masks.sum(0).max()) <= 1, "visible masks are disjoint"
        img = render_scene(z[k], k)
        for o in objs:
            if not o.present:
                continue
            assert o.mask.any(), (cls, o.name)
            a, b = SLICES[cls][o.name]
            if cls in ("face", "traffic", "house") and o.name in ("head", "housing", "body", "roof"):
                continue   # always present: no presence number
            z2 = z[k].clone()
            z2[a] = -2.0
            energy = pattern_energy((img - render_scene(z2, k))[None])[0]
            # a conditional interaction's detail goes with its trigger (by design: scenes.INTERACTIONS)
            own = o.mask | _dependents_mask(cls, o.name, objs)
            near = F.max_pool2d(own.float()[None, None], 5, 1, 2)[0, 0] > 0
            assert float(energy[near].sum()) / float(energy.sum()) > 0.97, (cls, o.name)


def _dependents_mask(cls, name, objs):
    out = torch.zeros(IMAGE_SIZE, IMAGE_SIZE, dtype=torch.bool)
    for o in objs:
        if INTERACTIONS[cls].get(o.name, ("", None))[1] == name:
            out |= o.mask
    return out


# -- weights and the protocol ------------------------------------------------------------------

def test_info_and_protocol(demo):
    assert weights_present()
    assert set(DEMO_INFO) == {"name", "kind", "image_size", "classes", "split_points", "default_split"}
    assert DEMO_INFO["classes"] == len(DEMO_CLASSES) and DEMO_INFO["image_size"] == 48
    assert isinstance(demo, SplitGenerator)
    assert demo.identity == "demo:" + WEIGHTS_SHA256[:16]
    assert demo.default_split in demo.split_points
    for s in demo.split_points:
        c, h, w = demo.feature_shape(s)
        assert h >= 8 and w >= 8
    assert not any(p.requires_grad for p in demo.net.parameters()) and not demo.net.training


def test_generates_deterministically(demo):
    z = demo.sample_z(3, 0.7, 2)
    assert torch.equal(z, demo.sample_z(3, 0.7, 2))
    assert float(z.abs().max()) <= 0.7 * 2 + 1e-6
    x1 = demo.forward(z, 0, 0.7)
    x2 = load_demo().forward(z, 0, 0.7)
    assert x1.shape == (2, 3, 48, 48) and torch.equal(x1, x2)
    assert x1.min() >= -1 and x1.max() <= 1


def test_tampered_weights_refused(tmp_path):
    bad = tmp_path / "demo.safetensors"
    shutil.copy(WEIGHTS_PATH, bad)
    data = bytearray(bad.read_bytes())
    data[-10] ^= 0x55
    bad.write_bytes(bytes(data))
    with pytest.raises(UserError, match="checksum"):
        load_demo(path=bad, expected_sha256=WEIGHTS_SHA256)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(UserError):
        load_demo(path=junk)


def test_split_roundtrip_every_split(demo):
    z = demo.sample_z(11, 1.0, 3)
    for k in (0, DEMO_CLASSES.index("checker")):
        full = demo.forward(z, k, 1.0)
        for s in SPLIT_POINTS:
            f, ctx = demo.head(z, k, 1.0, s)
            assert tuple(f.shape[1:]) == demo.feature_shape(s)
            assert ctx.cond.shape[0] == 1
            assert torch.allclose(demo.tail(f, ctx), full, atol=1e-5), s


def test_tail_batch_equals_singles_and_is_differentiable(demo):
    z = demo.sample_z(1, 1.0, 1)
    f, ctx = demo.head(z, 0, 1.0, demo.default_split)
    feats = f + 0.3 * torch.randn(4, *f.shape[1:], generator=torch.Generator().manual_seed(0))
    batch = demo.tail(feats, ctx)
    singles = torch.cat([demo.tail(feats[i:i + 1], ctx) for i in range(4)])
    assert torch.allclose(batch, singles, atol=1e-5)
    feats.requires_grad_(True)
    demo.tail(feats, ctx).square().mean().backward()
    assert feats.grad is not None and float(feats.grad.abs().sum()) > 0


def test_bad_inputs_refused(demo):
    z = demo.sample_z(0, 1.0)
    with pytest.raises(UserError):
        demo.head(z, 99, 1.0, demo.default_split)
    for t in (0.0, -0.5, 1.5):
        with pytest.raises(UserError):
            demo.head(z, 0, t, demo.default_split)
        with pytest.raises(UserError):
            demo.sample_z(0, t)
    with pytest.raises(UserError, match="blocks.0"):
        demo.head(z, 0, 1.0, "nope")
    f, ctx = demo.head(z, 0, 1.0, demo.default_split)
    with pytest.raises(UserError, match="non-finite"):
        demo.tail(torch.full_like(f, float("nan")), ctx)
    with pytest.raises(UserError):
        demo.sample_z(-1, 1.0)


def test_quality_threshold_on_heldout_codes(demo):
    from regionprims.models.demo.train import heldout_set, psnr_per_class
    z, ids = heldout_set(8)
    ps = psnr_per_class(lambda a, b: demo.net(a, b), z, ids)
    assert set(ps) == set(DEMO_CLASSES)
    assert sum(ps.values()) / len(ps) >= 25.0, ps


# -- training ----------------------------------------------------------------------------------

def test_train_demo_tiny_via_subcommand(tmp_path):
    from regionprims.models.demo import train as train_demo
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd")
    train_demo.register(sub)
    out = tmp_path / "tiny.safetensors"
    args = parser.parse_args(["train-demo", "--out", str(out), "--steps", "3", "--batch", "8",
                              "--seed", "1", "--tiny"])
    assert args.func(args) == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert set(summary["heldout_psnr_db"]) == set(DEMO_CLASSES)
    assert summary["steps"] == 3 and summary["seed"] == 1
    g = load_demo(path=out)
    x = g.forward(g.sample_z(0, 1.0), 0, 1.0)
    assert x.shape == (1, 3, 48, 48)
    assert out.stat().st_size < 10 * 2 ** 20


# -- ground truth --------------------------------------------------------------------------------

def test_gt_scores_hand_made_case():
    H = W = 4
    def m(*pix):
        t = torch.zeros(H, W, dtype=torch.bool)
        for r, c in pix:
            t[r, c] = True
        return t
    A = SceneObject("A", True, m((0, 0), (0, 1), (1, 0), (1, 1)))
    B = SceneObject("B", True, m((0, 2), (0, 3)))
    C = SceneObject("C", True, m((3, 3)))
    D = SceneObject("D", False, m())
    # two players: left half (cols 0-1) and right half (cols 2-3)
    players = torch.zeros(2, H, W)
    players[0, :, :2] = 1
    players[1, :, 2:] = 1
    subsets = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.uint8)
    e1 = torch.zeros(H, W)
    e1[0, 0] = e1[1, 1] = 2.0           # all in A; component row 1 = {left}
    e2 = torch.zeros(H, W)
    e2[0, 3] = 3.0                      # in B
    e2[2, 0] = 1.0                      # background; component row 2 = {right}
    e3 = torch.zeros(H, W)              # draws nothing
    s = gt_scores([A, B, C, D], [(1, e1), (2, e2), (3, e3)], subsets, players)
    # purity: (1 + 0.75 + 0) / 3
    assert s["gt_object_purity"] == pytest.approx(1.75 / 3)
    # coverage: A and B have a component of their own, C does not; D is absent
    assert s["gt_object_coverage"] == pytest.approx(2 / 3)
    # agreement: e1: 4/4 in (left & objects); e2: 3/4 in (right & objects); e3: 0
    assert s["gt_region_agreement"] == pytest.approx(1.75 / 3)
    # background: 0, 1/4, 0
    assert s["gt_background_share"] == pytest.approx(0.25 / 3)
    # containment: A fully inside left; B fully inside right; 0
    assert s["gt_region_contains_object"] == pytest.approx(2 / 3)
    assert s["gt_objects_present"] == 3 and s["gt_components_scored"] == 3
    # a component named after the wrong region: e1 attributed to {right}
    s2 = gt_scores([A, B], [(2, e1)], subsets, players)
    assert s2["gt_object_purity"] == 1.0 and s2["gt_region_agreement"] == 0.0
    assert s2["gt_region_contains_object"] == 0.0
