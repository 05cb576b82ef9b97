"""Files from others are data, never code: a file cannot make any reader import code, every byte
of a file is covered by its checksum, and each crafted or unlucky file gets one `error:` line
(exit 2) from info, export in every format and transfer, with its text shown without control
characters."""
import json
import os

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from reliability_helpers import SMALL, one_line_error, run
from regionprims.errors import UserError
from regionprims.method.regions import player_masks
from regionprims.models import registry
from regionprims.store.fileformat import _digest, _digest_v1, load_decomposition
from regionprims.store.filecheck import meta_layout

EXPORT_FORMATS = ("png", "svg", "pdf", "pptx", "gif")


def _parts(path):
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(json.loads(data[8:8 + n])["__metadata__"]["regionprims"])
    return st_load(data), meta


def rewrite(src, dst, meta=None, tensors=None, resign=True, raw=None, version=None):
    """A copy of a valid file with its metadata and/or tensors edited. With `resign` the checksum is
    recomputed as an attacker would (so only the content checks can refuse it); `version=1` writes
    a format-1 file (checksum over the tensor bytes only)."""
    ts, m = _parts(src)
    if tensors:
        tensors(ts)
    if meta:
        meta(m)
    if version == 1:
        m["format_version"] = 1
        m["sha256"] = _digest_v1(ts)
    elif resign:
        m["sha256"] = _digest(ts, m)
    text = json.dumps(m) if raw is None else raw(json.dumps(m))
    dst.write_bytes(st_save({k: v.contiguous() for k, v in ts.items()}, metadata={"regionprims": text}))
    return dst


def _plugin(tmp_path, body):
    path = tmp_path / "evil.py"
    marker = tmp_path / "ran.txt"
    path.write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n{body}\n"
                    "def make():\n    Path(" + repr(str(marker)) + ").write_text('factory ran')\n")
    return path, marker


# --------------------------------------------------------------------------- names, not code

@pytest.mark.parametrize("kind", ["file", "stdlib-this", "stdlib-pdb", "folder"])
def test_export_never_loads_the_model_a_file_names(small_file, capsys, tmp_path, kind):
    """Without --model, a plug-in spec or folder that the file names is refused before any import."""
    evil, marker = _plugin(tmp_path, "")
    named = {"file": f"{evil}:make", "stdlib-this": "this:s", "stdlib-pdb": "pdb:set_trace",
             "folder": str(tmp_path)}[kind]
    bad = rewrite(small_file, tmp_path / "bad.safetensors", meta=lambda m: m.__setitem__("model", named))
    for fmt in EXPORT_FORMATS:
        out = tmp_path / f"p.{fmt}"
        code, stdout, err = run(capsys, "export", bad, "--out", out)
        one_line_error(code, err, "--model")
        assert not out.exists() and not marker.exists()
        assert "Beautiful is better" not in stdout            # `import this` prints the Zen of Python


def test_export_loads_a_plugin_only_when_the_user_types_it(small_file, capsys, tmp_path):
    evil, marker = _plugin(tmp_path, "")
    bad = rewrite(small_file, tmp_path / "bad.safetensors", meta=lambda m: m.__setitem__("model", f"{evil}:make"))
    code, _, err = run(capsys, "export", bad, "--out", tmp_path / "p.png", "--model", f"{evil}:make")
    assert marker.read_text() == "factory ran"                 # the user asked for it
    one_line_error(code, err, "SplitGenerator")                # ... and it returned nothing usable


def test_resolve_stored_is_the_only_way_in(monkeypatch, tmp_path):
    spec = f"{tmp_path / 'gen.py'}:make"
    with pytest.raises(UserError, match="--model"):
        registry.resolve_stored(spec, "the file")
    assert registry.resolve_stored(spec, "the file", typed=[spec]) == spec
    monkeypatch.setenv("REGIONPRIMS_MODELS", spec)
    registry.explorer_specs.cache_clear()
    try:
        assert registry.resolve_stored(spec, "the file") == spec
    finally:
        monkeypatch.delenv("REGIONPRIMS_MODELS")
        registry.explorer_specs.cache_clear()
    assert registry.resolve_stored(" Demo ", "the file") == "demo"
    for junk in (None, 5, ["demo"], "", "demo\x1b[2J"):
        with pytest.raises(UserError):
            registry.resolve_stored(junk, "the file")


# --------------------------------------------------------------------------- every byte covered

@pytest.mark.parametrize("edit", ["seed", "metric", "class_name", "settings", "info"])
def test_an_edited_header_fails_the_checksum(use_tiny, small_file, capsys, tmp_path, edit):
    change = {"seed": lambda m: m.__setitem__("seed", m["seed"] + 2),
              "metric": lambda m: m["metrics"].__setitem__(next(iter(m["metrics"])), 0.5),
              "class_name": lambda m: m.__setitem__("class_name", "house"),
              "settings": lambda m: m["settings"].__setitem__("steps", m["settings"]["steps"] + 1),
              "info": lambda m: m["info"].__setitem__("device", "cuda")}[edit]
    bad = rewrite(small_file, tmp_path / "bad.safetensors", meta=change, resign=False)
    with pytest.raises(UserError, match="checksum"):
        load_decomposition(bad)
    code, _, err = run(capsys, "info", bad, "--verify")
    one_line_error(code, err, "checksum")
    for fmt in ("safetensors", "png"):
        code, _, err = run(capsys, "export", bad, "--out", tmp_path / f"x.{fmt}")
        one_line_error(code, err, "checksum")
    code, _, err = run(capsys, "transfer", small_file, bad)
    one_line_error(code, err, "checksum")


def test_a_format_1_file_is_read_with_a_warning_and_refused_under_verify(use_tiny, small_file, capsys, tmp_path):
    old = rewrite(small_file, tmp_path / "old.safetensors", version=1)
    code, _, err = run(capsys, "info", old, "--verify")
    one_line_error(code, err, "unverified")
    code, out, err = run(capsys, "info", old)
    assert code == 0 and "seed" in out
    assert [line for line in err.splitlines() if line.startswith("warning:")] and "unverified" in err
    code, _, err = run(capsys, "export", old, "--out", tmp_path / "p.png")
    assert code == 0 and "unverified" in err, err
    assert load_decomposition(old).spec == load_decomposition(small_file).spec
    with pytest.raises(UserError, match="unverified"):
        load_decomposition(old, verify=True)


def test_a_format_1_file_with_edited_tensors_is_still_refused(small_file, tmp_path):
    old = rewrite(small_file, tmp_path / "old.safetensors", version=1)
    ts, m = _parts(old)
    ts["components"] = ts["components"] * 2
    (tmp_path / "bad.safetensors").write_bytes(st_save(ts, metadata={"regionprims": json.dumps(m)}))
    with pytest.raises(UserError, match="checksum"):
        load_decomposition(tmp_path / "bad.safetensors")


# --------------------------------------------------------------------------- one line, exit 2

def _all_readers(capsys, tmp_path, bad, good, needle=""):
    code, _, err = run(capsys, "info", bad, "--verify")
    one_line_error(code, err, needle)
    for argv in (["transfer", bad, good], ["transfer", good, bad]):
        code, _, err = run(capsys, *argv)
        one_line_error(code, err, needle)
    for fmt in ("safetensors",) + EXPORT_FORMATS:
        out = tmp_path / f"x.{fmt}"
        code, _, err = run(capsys, "export", bad, "--out", out)
        one_line_error(code, err, needle)
        assert not out.exists()


def _bf16(ts):
    ts["components"] = ts["components"].to(torch.bfloat16)


@pytest.mark.parametrize("case", ["bf16_tensor", "bf16_ranking", "absent_list", "absent_numbers", "timings_text",
                                  "null_definition_number", "metric_1e400", "metric_nan", "metric_text",
                                  "versions_list"])
def test_bad_file_contents_give_one_line(use_tiny, small_file, capsys, tmp_path, case):
    kw = {
        "bf16_tensor": dict(tensors=_bf16),
        "bf16_ranking": dict(tensors=lambda ts: ts.__setitem__("ranking", ts["ranking"].to(torch.bfloat16))),
        "absent_list": dict(meta=lambda m: m["info"].__setitem__("absent_metrics", ["x"])),
        "absent_numbers": dict(meta=lambda m: m["info"].__setitem__("absent_metrics", {"leakage_top20": 3})),
        "timings_text": dict(meta=lambda m: m["info"].__setitem__("timings", {"metrics": "slow"})),
        "null_definition_number": dict(meta=lambda m: m["info"].__setitem__("null", {"definition": 7})),
        "metric_1e400": dict(raw=lambda text: text.replace('"metrics": {', '"metrics": {"huge": 1e400, ', 1)),
        "metric_nan": dict(meta=lambda m: m["metrics"].__setitem__("fit_psnr", float("nan"))),
        "metric_text": dict(meta=lambda m: m["metrics"].__setitem__("fit_psnr", "high")),
        "versions_list": dict(meta=lambda m: m.__setitem__("versions", {"torch": [1, 2]})),
    }[case]
    if case.startswith("bf16"):
        kw["resign"] = False                                   # no NumPy form: any digest will do
    bad = rewrite(small_file, tmp_path / "bad.safetensors", **kw)
    with pytest.raises(UserError):
        load_decomposition(bad)
    _all_readers(capsys, tmp_path, bad, small_file, str(bad))
    if not case.startswith("bf16"):                            # the header alone is refused too
        code, _, err = run(capsys, "info", bad)
        one_line_error(code, err, str(bad))


def test_an_image_smaller_than_the_generators_gives_one_line(use_tiny, small_file, capsys, tmp_path):
    """A self-consistent file (checksum recomputed) whose image and masks are smaller than what
    its generator draws: every render export refuses it in one line."""
    def shrink(ts):
        h, w = ts["image"].shape[1] // 2, ts["image"].shape[2] // 2
        ts["image"] = ts["image"][:, :h, :w].contiguous()
        _, m = _parts(small_file)
        ts["player_masks"] = player_masks(meta_layout(m, "x"), h, w).contiguous()
    bad = rewrite(small_file, tmp_path / "small.safetensors", tensors=shrink)
    load_decomposition(bad)                                    # consistent in itself
    for fmt in EXPORT_FORMATS:
        out = tmp_path / f"x.{fmt}"
        code, _, err = run(capsys, "export", bad, "--out", out)
        one_line_error(code, err, "image")
        assert not out.exists()


def test_a_feature_of_another_shape_gives_one_line(use_tiny, small_file, capsys, tmp_path):
    def narrow(ts):
        for name in ("feature", "baseline", "residual"):
            ts[name] = ts[name][:1].contiguous()
        for name in ("minimal", "components"):
            ts[name] = ts[name][:, :1].contiguous()
    bad = rewrite(small_file, tmp_path / "narrow.safetensors", tensors=narrow)
    for fmt in ("png", "gif"):
        code, _, err = run(capsys, "export", bad, "--out", tmp_path / f"x.{fmt}")
        one_line_error(code, err, "feature")


# --------------------------------------------------------------------------- exit status and output

@pytest.mark.parametrize("where", ["import", "factory"])
@pytest.mark.parametrize("status", [0, 3, None, "bye"])
def test_sys_exit_in_a_plugin_is_an_error(capsys, tmp_path, where, status):
    path = tmp_path / f"exits_{where}.py"
    call = f"import sys\nsys.exit({status!r})"
    path.write_text((call + "\n" if where == "import" else "") +
                    "def make():\n" + ("    " + call.replace("\n", "\n    ") if where == "factory" else "    return None")
                    + "\n")
    registry.clear_loaded()
    code, out, err = run(capsys, "decompose", "--model", f"{path}:make", *SMALL, "--json")
    one_line_error(code, err, "sys.exit")
    assert out == ""


def test_info_prints_no_control_characters(use_tiny, small_file, capsys, tmp_path):
    nasty = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\r\u202eevil\x9b"
    def edit(m):
        m["class_name"] = "face" + nasty
        m["metrics"]["k" + nasty] = 1.0
        m["info"]["absent_metrics"] = {"leakage_top20": "why" + nasty}
        m["versions"]["torch"] = "2" + nasty
    bad = rewrite(small_file, tmp_path / "ansi.safetensors", meta=edit)
    for argv in (["info", bad], ["info", bad, "--verify"]):
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        for ch in "\x1b\x07\r\u202e\x9b":
            assert ch not in out and ch not in err
        assert "\\x1b" in out                                  # shown escaped, not dropped silently
    code, out, _ = run(capsys, "info", bad, "--json")
    assert code == 0 and "\x1b" not in out                     # JSON escapes it (\u001b)


@pytest.mark.parametrize("argv", [["cache", "info", "--cache-dir", ""], ["cache", "clear", "--cache-dir", " "],
                                  ["decompose", "--model", "demo", *SMALL, "--cache-dir", ""],
                                  ["decompose", "--model", "demo", *SMALL, "--out", ""],
                                  ["sample", "--model", "demo", "--seed", "1", "--out", ""],
                                  ["export", "FILE", "--out", ""], ["info", ""], ["decompose", "--model", "", *SMALL]])
def test_empty_paths_are_refused(small_file, capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    argv = [str(small_file) if a == "FILE" else a for a in argv]
    code, out, err = run(capsys, *argv)
    one_line_error(code, err, "empty")
    assert out == "" and os.listdir(tmp_path) == []
