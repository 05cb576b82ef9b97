"""BigGAN-deep split, loader, registry and class names, on a tiny randomly initialised BigGAN-deep
(channel width 8, 64 px) written to a temporary folder and read back through the real loader."""
from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time

import pytest
import torch

from regionprims.models.classes import imagenet_class_names, imagenet_synonyms, imagenet_wnids, resolve_class
from regionprims.errors import UserError
from regionprims.models import biggan, registry
from regionprims.models.base import SplitGenerator
from regionprims.models.registry import MODEL_NAMES, list_models, load_generator, pick_device

TINY_LAYERS = [(False, 16, 16), (True, 16, 8), (True, 8, 4), (True, 4, 2), (True, 2, 1)]


def _tiny_biggan(seed: int = 0, warmup: int = 20):
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig
    torch.manual_seed(seed)
    cfg = BigGANConfig(channel_width=8, output_dim=64, attention_layer_position=3, layers=TINY_LAYERS)
    m = BigGAN(cfg)
    with torch.no_grad():
        m.generator.bn.weight.fill_(1.0)
        m.generator.bn.bias.zero_()
        z = torch.zeros(1, 128)
        y = torch.zeros(1, 1000)
        y[0, 0] = 1
        m.train()
        for _ in range(warmup):          # converge the spectral-norm power iteration
            m(z, y, 1.0)
        # a non-zero attention gain, so that the SelfAttn module is really exercised
        for layer in m.generator.layers:
            if hasattr(layer, "gamma"):
                layer.gamma.fill_(0.5)
    return m.eval(), cfg


def _write(folder, cfg, state_dict, fname="pytorch_model.bin", legacy=False):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(cfg.to_json_string(), encoding="utf-8")
    if fname.endswith(".safetensors"):
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in state_dict.items()}, str(folder / fname))
    else:
        torch.save(state_dict, folder / fname, _use_new_zipfile_serialization=not legacy)
    return folder


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The tiny model gains nothing from threads, and on a busy shared machine spinning
    intra-op threads make it many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, _one_thread):
    m, cfg = _tiny_biggan()
    folder = _write(tmp_path_factory.mktemp("tiny-biggan"), cfg, m.state_dict(), legacy=True)
    return folder, cfg, m.state_dict()


@pytest.fixture(scope="module")
def gen(tiny):
    return load_generator(str(tiny[0]), "cpu")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "biggan-cache"
    cache.mkdir()
    monkeypatch.setenv("PYTORCH_PRETRAINED_BIGGAN_CACHE", str(cache))
    return cache


# ---------------------------------------------------------------------------------------------
# the generator


def test_loaded_through_registry_and_frozen(gen, tiny):
    assert isinstance(gen, SplitGenerator)
    assert gen.kind == "biggan-deep" and gen.image_size == 64 and gen.z_dim == 128
    assert len(gen.class_names) == 1000 and gen.class_names[207] == "golden retriever"
    assert not gen.model.training
    assert not any(p.requires_grad for p in gen.model.parameters())
    digest = hashlib.sha256((tiny[0] / "pytorch_model.bin").read_bytes()).hexdigest()[:16]
    assert gen.identity.endswith(digest) and gen.name in gen.identity
    # modules: 0 GB 4x4, 1 GB 8x8, 2 GB 16x16, 3 SelfAttn 16x16, 4 GB 32x32, 5 GB 64x64
    assert gen.split_points == tuple(f"generator.layers.{i}" for i in range(1, 6))
    assert gen.default_split == "generator.layers.2"
    assert gen.feature_shape("generator.layers.3") == (32, 16, 16)
    assert load_generator(str(tiny[0]), "cpu") is gen          # shared, loaded once


def test_split_equals_forward_at_every_split(gen):
    z = gen.sample_z(7, 0.6, 2)
    with torch.no_grad():
        ref = gen.forward(z, 12, 0.6)
        assert ref.shape == (2, 3, 64, 64) and torch.isfinite(ref).all()
        for split in gen.split_points:
            feature, ctx = gen.head(z, 12, 0.6, split)
            assert tuple(feature.shape[1:]) == gen.feature_shape(split)
            assert ctx.split == split and ctx.truncation == 0.6
            torch.testing.assert_close(gen.tail(feature, ctx), ref, rtol=1e-5, atol=1e-5)


def test_forward_is_the_package_forward(gen, tiny):
    _m, _cfg, _sd = tiny
    z = gen.sample_z(1, 0.4)
    y = torch.zeros(1, 1000)
    y[0, 3] = 1
    with torch.no_grad():
        torch.testing.assert_close(gen.forward(z, 3, 0.4), gen.model(z, y, 0.4))


def test_tail_batch_equals_single_calls(gen):
    split = gen.default_split
    with torch.no_grad():
        f, ctx = gen.head(gen.sample_z(3, 0.8), 5, 0.8, split)
        feats = torch.cat([f, f * 0.5, f + 0.3])
        batch = gen.tail(feats, ctx)                     # ctx.cond has batch 1
        singles = torch.cat([gen.tail(feats[i:i + 1], ctx) for i in range(3)])
    assert batch.shape == (3, 3, 64, 64)
    torch.testing.assert_close(batch, singles, rtol=1e-5, atol=1e-5)


def test_tail_is_differentiable_in_the_feature(gen):
    with torch.no_grad():
        f, ctx = gen.head(gen.sample_z(4, 1.0), 0, 1.0, gen.split_points[0])
    f = f.clone().requires_grad_(True)
    gen.tail(f, ctx).square().mean().backward()
    assert f.grad is not None and torch.isfinite(f.grad).all() and f.grad.abs().sum() > 0
    assert all(p.grad is None for p in gen.model.parameters())


def test_sample_z_deterministic(gen):
    a = gen.sample_z(123, 0.5, 3)
    assert a.shape == (3, 128) and a.dtype == torch.float32
    assert torch.equal(a, gen.sample_z(123, 0.5, 3))
    assert torch.equal(a[:1], gen.sample_z(123, 0.5, 1))            # rows don't depend on batch
    assert not torch.equal(a, gen.sample_z(124, 0.5, 3))
    assert a.abs().max() <= 2 * 0.5 + 1e-6
    torch.testing.assert_close(gen.sample_z(9, 1.0) * 0.25, gen.sample_z(9, 0.25))
    gen.sample_z(2**32 - 1, 1.0)
    for bad in (-1, 2**32, 1.5, "3"):
        with pytest.raises(UserError, match="seed"):
            gen.sample_z(bad, 0.5)


@pytest.mark.parametrize("t", [0, -0.1, 1.01, float("nan"), "x"])
def test_truncation_validated(gen, t):
    with pytest.raises(UserError, match="truncation"):
        gen.head(torch.zeros(1, 128), 0, t, gen.default_split)
    with pytest.raises(UserError, match="truncation"):
        gen.sample_z(0, t)


def test_class_and_split_validated(gen):
    z = torch.zeros(1, 128)
    for bad in (-1, 1000, True):
        with pytest.raises(UserError, match="class"):
            gen.forward(z, bad, 0.5)
    with pytest.raises(UserError, match="0..999"):
        gen.head(z, 1000, 0.5, gen.default_split)
    for bad in ("generator.layers.0", "generator.layers.99", "nope"):      # layers.0 is 4x4
        with pytest.raises(UserError, match="split point"):
            gen.head(z, 0, 0.5, bad)


# ---------------------------------------------------------------------------------------------
# loading


def test_safetensors_folder(tmp_path, tiny):
    _folder, cfg, sd = tiny
    g = load_generator(str(_write(tmp_path / "st", cfg, sd, "model.safetensors")), "cpu")
    ref = load_generator(str(tiny[0]), "cpu")
    z = ref.sample_z(0, 0.5)
    with torch.no_grad():
        torch.testing.assert_close(g.forward(z, 1, 0.5), ref.forward(z, 1, 0.5))


def test_strict_loading_missing_key(tmp_path, tiny):
    _folder, cfg, sd = tiny
    sd = dict(sd)
    sd.pop("generator.conv_to_rgb.bias")
    with pytest.raises(UserError, match="missing keys: generator.conv_to_rgb.bias"):
        load_generator(str(_write(tmp_path / "m", cfg, sd)), "cpu")


def test_strict_loading_unexpected_key(tmp_path, tiny):
    _folder, cfg, sd = tiny
    sd = dict(sd, **{"generator.extra.weight": torch.zeros(3)})
    with pytest.raises(UserError, match="unexpected keys: generator.extra.weight"):
        load_generator(str(_write(tmp_path / "u", cfg, sd)), "cpu")


def test_shape_mismatch(tmp_path, tiny):
    _folder, cfg, sd = tiny
    sd = dict(sd, **{"embeddings.weight": torch.zeros(128, 10)})
    with pytest.raises(UserError, match="embeddings.weight has shape"):
        load_generator(str(_write(tmp_path / "s", cfg, sd)), "cpu")


def test_html_file_is_not_a_checkpoint(tmp_path, tiny):
    folder = _write(tmp_path / "h", tiny[1], tiny[2])
    (folder / "pytorch_model.bin").write_text("<!DOCTYPE html><html><body>Access denied</body></html>")
    with pytest.raises(UserError, match="not a PyTorch checkpoint"):
        load_generator(str(folder), "cpu")


def test_garbage_and_non_tensor_pickles_refused(tmp_path, tiny):
    import datetime
    folder = _write(tmp_path / "g", tiny[1], tiny[2])
    (folder / "pytorch_model.bin").write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(UserError, match="not a PyTorch checkpoint"):
        load_generator(str(folder), "cpu")
    torch.save({"a": datetime.date(2020, 1, 1)}, folder / "pytorch_model.bin")
    with pytest.raises(UserError, match="other than tensors"):
        load_generator(str(folder), "cpu")
    torch.save([1, 2, 3], folder / "pytorch_model.bin")
    with pytest.raises(UserError, match="state dict"):
        load_generator(str(folder), "cpu")


def test_bad_config_and_incomplete_folder(tmp_path, tiny):
    folder = _write(tmp_path / "c", tiny[1], tiny[2])
    (folder / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="config"):
        load_generator(str(folder), "cpu")
    (folder / "config.json").unlink()
    with pytest.raises(UserError, match="config.json and pytorch_model.bin"):
        load_generator(str(folder), "cpu")


def test_nan_weights_refused(tmp_path, tiny):
    sd = {k: v.clone() for k, v in tiny[2].items()}
    sd["generator.conv_to_rgb.weight_orig"][0, 0, 0, 0] = float("nan")
    with pytest.raises(UserError, match="non-finite"):
        load_generator(str(_write(tmp_path / "n", tiny[1], sd)), "cpu")


def test_check_finite_refuses_nan_output(tiny):
    g = biggan.load_folder(tiny[0], "cpu")            # a private copy, not the shared one
    biggan.check_finite(g)
    with torch.no_grad():
        g.model.generator.bn.running_vars.fill_(-1.0)   # sqrt of a negative variance -> NaN
    with pytest.raises(UserError, match="non-finite"):
        biggan.check_finite(g)


def test_package_cache_layout_found(empty_cache, tiny):
    """Files cached by the package itself (sha256(url).sha256(etag)) are found and loaded."""
    for kind, src in (("config", tiny[0] / "config.json"), ("weights", tiny[0] / "pytorch_model.bin")):
        url = biggan.PACKAGE_URLS["biggan-deep-256"][kind]
        stem = hashlib.sha256(url.encode()).hexdigest() + "." + hashlib.sha256(b'"etag"').hexdigest()
        shutil.copy(src, empty_cache / stem)
        (empty_cache / (stem + ".json")).write_text(json.dumps({"url": url, "etag": '"etag"'}))
    assert biggan.find_local_weights("biggan-deep-256") is not None
    g = biggan.load_biggan("biggan-deep-256", "cpu")     # not through the registry: no shared entry
    assert g.name == "biggan-deep-256" and g.image_size == 64


def test_offline_without_weights_fails_fast(empty_cache, monkeypatch):
    monkeypatch.setenv("REGIONPRIMS_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(UserError) as err:
        load_generator("biggan-deep-128", "cpu")
    assert time.monotonic() - start < 10
    msg = str(err.value)
    assert "\n" not in msg
    assert "To get the weights" in msg and "--model FOLDER" in msg
    assert "osanseviero/BigGAN-deep-128" in msg and str(empty_cache) in msg
    assert "PYTORCH_PRETRAINED_BIGGAN_CACHE" in msg


def test_unreachable_network_fails_fast(empty_cache, monkeypatch):
    monkeypatch.delenv("REGIONPRIMS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(biggan.weights, "_host_reachable", lambda host, *a, **k: f"{host} unreachable (test)")
    start = time.monotonic()
    with pytest.raises(UserError, match="s3.amazonaws.com unreachable.*To get the weights"):
        load_generator("biggan-deep-512", "cpu")
    assert time.monotonic() - start < 10


# ---------------------------------------------------------------------------------------------
# registry


def test_list_models_without_weights(empty_cache):
    models = list_models()
    assert [m["name"] for m in models] == list(MODEL_NAMES)
    for m in models:
        assert set(m) == {"name", "kind", "image_size", "classes", "split_points", "default_split",
                          "weights_present"}
        assert isinstance(m["image_size"], int) and isinstance(m["classes"], int)
        assert isinstance(m["split_points"], list) and all(isinstance(s, str) for s in m["split_points"])
        assert isinstance(m["default_split"], str) and isinstance(m["weights_present"], bool)
        json.dumps(m)
    by = {m["name"]: m for m in models}
    for size in (128, 256, 512):
        m = by[f"biggan-deep-{size}"]
        assert m["image_size"] == size and m["classes"] == 1000 and m["kind"] == "biggan-deep"
        assert m["default_split"] == "generator.layers.3" and m["weights_present"] is False
    assert by["biggan-deep-128"]["split_points"] == [f"generator.layers.{i}" for i in range(1, 11)]
    # a plain folder named after the model in the cache counts as present (nothing is loaded)
    (empty_cache / "biggan-deep-128").mkdir()
    for f in ("config.json", "pytorch_model.bin"):
        (empty_cache / "biggan-deep-128" / f).write_bytes(b"")
    assert {m["name"]: m for m in list_models()}["biggan-deep-128"]["weights_present"] is True


def test_architectures_match_the_package():
    from pytorch_pretrained_biggan import BigGANConfig
    from pytorch_pretrained_biggan import convert_tf_to_pytorch as conv
    from pytorch_pretrained_biggan.model import PRETRAINED_CONFIG_ARCHIVE_MAP, PRETRAINED_MODEL_ARCHIVE_MAP
    for name, cfg in (("biggan-deep-128", conv.BigGAN128), ("biggan-deep-256", conv.BigGAN256),
                      ("biggan-deep-512", conv.BigGAN512)):
        assert json.loads(json.dumps(cfg.to_dict())) == json.loads(json.dumps(biggan.ARCHITECTURES[name]))
        assert biggan.PACKAGE_URLS[name] == {"config": PRETRAINED_CONFIG_ARCHIVE_MAP[name],
                                             "weights": PRETRAINED_MODEL_ARCHIVE_MAP[name]}
    default = json.loads(json.dumps(BigGANConfig().to_dict()))
    assert default == json.loads(json.dumps(biggan.ARCHITECTURES["biggan-deep-128"]))
    plan = biggan.module_plan(conv.BigGAN128.layers, 8, 128)
    assert plan[3] == ("block", 1024, 16) and plan[8][0] == "attn" and plan[-1] == ("block", 128, 128)


def test_registry_errors_and_devices():
    with pytest.raises(UserError, match="known: demo, biggan-deep-128"):
        load_generator("stylegan", "cpu")
    with pytest.raises(UserError, match="does not exist"):
        load_generator("./no/such/folder", "cpu")
    with pytest.raises(UserError, match="unknown device"):
        pick_device("tpu")
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("auto") == pick_device(None)
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            pick_device("cuda")
    assert "huggingface.co/osanseviero/BigGAN-deep-128" in registry.how_to_get_weights("biggan-deep-128")
    with pytest.raises(UserError):
        registry.how_to_get_weights("nope")


def test_concurrent_loads_share_one_instance(tmp_path, tiny):
    folder = _write(tmp_path / "threads", tiny[1], tiny[2])
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(load_generator(str(folder), "cpu"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got)


# ---------------------------------------------------------------------------------------------
# class names


def test_imagenet_table():
    names = imagenet_class_names()
    assert names is imagenet_class_names() and len(names) == 1000 and len(set(names)) == 1000
    assert names[0] == "tench" and names[1] == "goldfish" and names[207] == "golden retriever"
    assert names[281] == "tabby" and "tabby cat" in imagenet_synonyms()[281]
    assert names[999] == "toilet tissue"
    from pytorch_pretrained_biggan.utils import IMAGENET          # {wordnet offset: index}
    assert all(imagenet_wnids()[i] == f"n{off:08d}" for off, i in IMAGENET.items())


def test_resolve_class():
    names = imagenet_class_names()
    assert resolve_class("3", names) == 3 and resolve_class(" 207 ", names) == 207
    assert resolve_class(281, names) == 281
    assert resolve_class("goldfish", names) == 1
    assert resolve_class("Golden Retriever", names) == 207
    assert resolve_class("tabby cat", names) == 281                # a synonym
    assert resolve_class("toilet paper", names) == 999
    assert resolve_class("golden", names) == 207                   # the one name containing it
    for bad in ("1000", "-1", 1000):
        with pytest.raises(UserError, match="out of range 0..999"):
            resolve_class(bad, names)
    with pytest.raises(UserError, match="ambiguous.*golden retriever \\(207\\)"):
        resolve_class("retriever", names)
    with pytest.raises(UserError, match="ambiguous.*and \\d+ more"):
        resolve_class("cat", names)
    with pytest.raises(UserError, match="unknown class 'goldfsh'.*goldfish \\(1\\)"):
        resolve_class("goldfsh", names)
    with pytest.raises(UserError, match="unknown class"):
        resolve_class("qqqzzz", names)
    with pytest.raises(UserError):
        resolve_class("", names)
    small = ("circle", "square", "big circle")
    assert resolve_class("Square", small) == 1 and resolve_class("circle", small) == 0
    with pytest.raises(UserError, match="out of range 0..2"):
        resolve_class(3, small)
    with pytest.raises(UserError, match="ambiguous"):
        resolve_class("ci", small)
