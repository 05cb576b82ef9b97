"""The tail's precision switch (models/precision.py) on the CPU: fp32 by default, bf16 on request
(float32 images out, close to fp32), the environment override checked, and global flags restored."""
from __future__ import annotations

import pytest
import torch

from regionprims.errors import UserError
from regionprims.models.precision import default_precision, tail_precision


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    from test_biggan import _tiny_biggan, _write
    from regionprims.models.biggan import load_folder
    model, cfg = _tiny_biggan()
    return load_folder(_write(tmp_path_factory.mktemp("tiny"), cfg, model.state_dict()), "cpu")


def test_defaults_and_override(monkeypatch):
    monkeypatch.delenv("REGIONPRIMS_PRECISION", raising=False)
    assert default_precision("cpu") == "fp32" and default_precision("cuda") == "tf32"
    monkeypatch.setenv("REGIONPRIMS_PRECISION", "bf16")
    assert default_precision("cpu") == "bf16"
    monkeypatch.setenv("REGIONPRIMS_PRECISION", "half")
    with pytest.raises(UserError, match="REGIONPRIMS_PRECISION"):
        default_precision("cpu")


def test_bf16_tail_is_float32_and_close(gen):
    z = gen.sample_z(1, 0.5, 2)
    feature, ctx = gen.head(z, 3, 0.5, gen.default_split)
    assert gen.precision == "fp32"
    with torch.no_grad():
        ref = gen.tail(feature, ctx)
        gen.precision = "bf16"
        try:
            low = gen.tail(feature, ctx)
        finally:
            gen.precision = "fp32"
    assert low.dtype == torch.float32 and low.shape == ref.shape
    err = float((low - ref).abs().max())
    assert 0 < err < 0.1                      # really computed in bf16, and still the same image


def test_cuda_fp32_and_tf32_set_the_flags_for_the_call_only():
    """(The flags are plain settings: this runs without a GPU.)"""
    flags = lambda: (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)  # noqa: E731
    before = flags()
    with tail_precision("cuda", "fp32"):
        assert flags() == (False, False)
    assert flags() == before
    with tail_precision("cuda", "tf32"):
        assert flags() == (True, True)
    assert flags() == before


def test_channels_last_tail_is_the_same_function(gen):
    """The CUDA layout (channels-last model and input), exercised on the CPU: same images, and
    gradients reach the feature (the attention block's views work on that layout)."""
    z = gen.sample_z(2, 0.5, 2)
    feature, ctx = gen.head(z, 1, 0.5, gen.split_points[0])
    with torch.no_grad():
        ref = gen.tail(feature, ctx)
    model = gen.model
    try:
        gen.model, gen._channels_last = model.to(memory_format=torch.channels_last), True
        x = feature.clone().requires_grad_(True)
        out = gen.tail(x, ctx)
        out.square().mean().backward()
    finally:
        gen.model, gen._channels_last = model.to(memory_format=torch.contiguous_format), False
    assert torch.allclose(out, ref, atol=1e-5) and out.is_contiguous()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_precision_is_part_of_the_cache_key_and_the_file(tiny_gen, tmp_path):
    """A tf32 result (a GPU's default) is never served to an fp32 request, and fp32 keys are the
    keys from before the field existed (existing caches stay valid)."""
    from dataclasses import asdict, replace

    from regionprims.method.specs import OptimSettings, stable_hash
    from regionprims.pipeline import decompose, decomposition_key, make_spec
    from regionprims.store.cache import cache_key
    from regionprims.store.fileformat import load_decomposition, read_metadata, save_decomposition
    spec = make_spec(tiny_gen, 1, 2, layout="2x2", settings=OptimSettings(steps=2, warm_steps=2, baseline_codes=4))
    assert spec.precision == "fp32"
    old = asdict(spec)
    old.pop("model"), old.pop("precision")
    assert decomposition_key(spec) == cache_key("decomposition", stable_hash(old))
    tf32 = replace(spec, precision="tf32")
    assert decomposition_key(tf32) != decomposition_key(spec)
    dec = replace(decompose(tiny_gen, spec)[0], spec=tf32)
    path = save_decomposition(dec, tmp_path / "d.safetensors")
    assert read_metadata(path)["precision"] == "tf32"
    assert load_decomposition(path).spec == tf32


def test_a_file_with_an_unknown_precision_is_refused(tiny_gen, tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from regionprims.method.specs import OptimSettings
    from regionprims.pipeline import decompose, make_spec
    from regionprims.store.fileformat import load_decomposition, save_decomposition
    spec = make_spec(tiny_gen, 1, 2, layout="2x2", settings=OptimSettings(steps=2, warm_steps=2, baseline_codes=4))
    path = save_decomposition(decompose(tiny_gen, spec)[0], tmp_path / "d.safetensors")
    with safe_open(str(path), "pt") as fh:
        header, tensors = fh.metadata(), {k: fh.get_tensor(k) for k in fh.keys()}
    meta = json.loads(header["regionprims"])
    meta["precision"] = "fp8"
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata={**header, "regionprims": json.dumps(meta)})
    with pytest.raises(UserError, match="'precision' must be one of fp32, tf32, bf16"):
        load_decomposition(tmp_path / "bad.safetensors")
