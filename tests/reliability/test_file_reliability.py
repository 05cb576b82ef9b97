"""Reliability of the decomposition file (issue 10): a crafted file — even one whose checksum was
recomputed to match — is refused with one `error:` line by info --verify, transfer and export in
every format, never accepted, re-emitted or shown as a traceback."""
import json
import struct

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from reliability_helpers import one_line_error, run
from regionprims.errors import UserError
from regionprims.store.fileformat import _digest, load_decomposition


def craft(src, dst, tensors=None, meta=None, raw_meta=None, header=None):
    """Rewrite a valid file: edit tensors and/or metadata, then recompute the checksum as an
    attacker would (so that only the content checks can refuse it)."""
    data = src.read_bytes()
    ts = st_load(data)
    n = int.from_bytes(data[:8], "little")
    m = json.loads(json.loads(data[8:8 + n])["__metadata__"]["regionprims"])
    if tensors:
        tensors(ts)
    if meta:
        meta(m)
    if isinstance(m, dict) and "sha256" in m:
        try:
            m["sha256"] = _digest(ts, m)
        except TypeError:                                   # a dtype without a NumPy form (bf16)
            pass
    text = raw_meta if raw_meta is not None else json.dumps(m)
    out = st_save({k: v.contiguous() for k, v in ts.items()}, metadata={"regionprims": text})
    if header is not None:                                  # replace the whole header JSON
        h = header.encode()
        out = struct.pack("<Q", len(h)) + h + out[8 + int.from_bytes(out[:8], "little"):]
    dst.write_bytes(out)
    return dst


def _set(key, value):
    return lambda m: m.__setitem__(key, value)


def _tset(name, fn):
    return lambda ts: ts.__setitem__(name, fn(ts[name]))


def _deep(n):
    return "[" * n + "]" * n


CASES = {
    "nan_components": dict(tensors=_tset("components", lambda t: t.clone().fill_(float("nan")))),
    "inf_feature": dict(tensors=_tset("feature", lambda t: t.clone().fill_(float("inf")))),
    "ranking_not_permutation": dict(tensors=_tset("ranking", lambda t: torch.tensor([99, -5, 1000000, 0]))),
    "ranking_out_of_range_same_length": dict(tensors=_tset("ranking", lambda t: t + 1000)),
    "subsets_times_3": dict(tensors=_tset("subsets", lambda t: t * 3)),
    "subsets_float": dict(tensors=_tset("subsets", lambda t: t.float())),
    "subsets_1d": dict(tensors=_tset("subsets", lambda t: t.flatten())),
    "components_wrong_shape": dict(tensors=_tset("components", lambda t: t[:, :, :-1])),
    "components_float16": dict(tensors=_tset("components", lambda t: t.half())),
    "empty_player_masks": dict(tensors=_tset("player_masks", torch.zeros_like)),
    "extra_tensor": dict(tensors=lambda ts: ts.__setitem__("payload", torch.zeros(3))),
    "settings_steps_mask": dict(meta=lambda m: m["settings"].update(steps=-7, mask="evil")),
    "settings_extra_key": dict(meta=lambda m: m["settings"].update(evil=1)),
    "layout_extra_key": dict(meta=lambda m: m["layout"].update(evil=1)),
    "layout_string": dict(meta=_set("layout", "3x3")),
    "seed_text": dict(meta=_set("seed", "not-a-seed")),
    "class_huge": dict(meta=_set("class_id", 10 ** 6)),
    "class_4000_digits": dict(meta=_set("class_id", 10 ** 4000)),
    "no_model": dict(meta=lambda m: m.pop("model")),
    "metadata_list": dict(raw_meta="[1, 2, 3]"),
    "metadata_deep": dict(raw_meta=_deep(200_000)),
    "header_list": dict(header="[1, 2, 3]"),
    "header_deep": dict(header=_deep(200_000)),
    "unknown_metadata_key": dict(meta=_set("exec", "os.system('x')")),
}


@pytest.fixture(scope="module")
def crafted(small_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("crafted")
    return {name: craft(small_file, folder / f"{name}.safetensors", **kw) for name, kw in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_crafted_file_refused_by_every_reader(use_tiny, crafted, small_file, capsys, tmp_path, name):
    bad = crafted[name]
    with pytest.raises(UserError):
        load_decomposition(bad)
    code, _, err = run(capsys, "info", bad, "--verify")
    one_line_error(code, err, str(bad))
    for argv in (["transfer", bad, small_file], ["transfer", small_file, bad]):
        code, _, err = run(capsys, *argv)
        one_line_error(code, err, str(bad))
    for fmt in ("safetensors", "png"):
        out = tmp_path / f"x.{fmt}"
        code, _, err = run(capsys, "export", bad, "--out", out)
        one_line_error(code, err, str(bad))
        assert not out.exists()


def test_metadata_of_the_library_itself_round_trips(small_file, tmp_path):
    """Additional metric keys (null_* scores and the like) that the library writes are accepted."""
    ok = craft(small_file, tmp_path / "ok.safetensors",
               meta=lambda m: m["metrics"].update(null_fit_psnr=12.5, null_residual_ratio=None))
    assert load_decomposition(ok).metrics["null_fit_psnr"] == 12.5


def test_valid_file_still_read_by_every_reader(use_tiny, small_file, capsys, tmp_path):
    assert run(capsys, "info", small_file, "--verify")[0] == 0
    assert run(capsys, "transfer", small_file, small_file, "--json")[0] == 0
    code, _, err = run(capsys, "export", small_file, "--out", tmp_path / "y.safetensors")
    assert code == 0, err
    assert load_decomposition(tmp_path / "y.safetensors").ranking == load_decomposition(small_file).ranking
