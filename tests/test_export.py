"""Exports on the tiny generator: every format has the right magic and real content, the caption
carries provenance read from the decomposition, weights change the panel, the GIF has one frame
per k, and `regionprims export` writes each format and refuses a generator of another identity."""
import io
import zipfile

import pytest
import torch

from regionprims import cli
from regionprims import export
from regionprims.method.metrics import format_metric
from regionprims.errors import UserError


@pytest.fixture(scope="module")
def dec(tiny_gen):
    from regionprims.pipeline import decompose, make_spec
    from regionprims.method.specs import OptimSettings
    spec = make_spec(tiny_gen, 1, 7, layout="2x2", settings=OptimSettings(steps=3, baseline_codes=4))
    return decompose(tiny_gen, spec)[0]


@pytest.fixture(scope="module")
def dec_file(dec, tmp_path_factory):
    from regionprims.store.fileformat import save_decomposition
    return save_decomposition(dec, tmp_path_factory.mktemp("dec") / "tiny.safetensors")


def check_magic(fmt: str, data: bytes) -> None:
    assert len(data) > 5_000, (fmt, len(data))
    if fmt == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    elif fmt == "svg":
        assert b"<svg" in data[:2000]
    elif fmt == "pdf":
        assert data.startswith(b"%PDF")
    elif fmt == "pptx":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert "presentation" in z.read("[Content_Types].xml").decode()
            assert any(name.startswith("ppt/media/") for name in z.namelist())
    elif fmt == "gif":
        assert data.startswith(b"GIF89a")
    elif fmt == "safetensors":
        from regionprims.store.fileformat import from_bytes
        assert from_bytes(data).spec.seed == 7
    else:
        raise AssertionError(fmt)


def test_caption_has_provenance(dec):
    text = export.provenance_caption(dec)
    assert "seed 7" in text and "one" in text and "tiny:0" in text and "blocks.0" in text
    assert f"residual_ratio {dec.metrics['residual_ratio']:.3f}" in text
    assert format_metric("residual_ratio", dec.metrics["residual_ratio"]) in text
    flat = " ".join(text.split())                        # the caption wraps
    for key in ("residual_ratio", "fit_psnr", "leakage_top20"):
        value, null = (format_metric(key, dec.metrics[p + key]) for p in ("", "null_"))
        assert f"{key} {value} (null {null})" in flat
    # 2x2: 15 components, the top-20 additivity is undefined: absent, never a perfect 0
    assert "additivity_error_top20 n/a (undefined here)" in flat
    assert f"stability {format_metric('stability', dec.metrics['stability'])}" in flat
    assert "2x2" in text and "baseline codes 4" in text and "regionprims" in text


def test_suggested_filename(dec):
    assert export.suggested_filename(dec, "png") == "tiny_one_s7_2x2.png"
    assert export.suggested_filename(dec, ".safetensors") == "tiny_one_s7_2x2.safetensors"
    from dataclasses import replace
    odd = replace(dec, spec=replace(dec.spec, model="/models/my biggan/"), info={"class_name": "golden retriever/ü"})
    name = export.suggested_filename(odd, "pdf")
    assert name == "my-biggan_golden-retriever_s7_2x2.pdf"


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_panel_formats(tiny_gen, dec, fmt):
    data = export.panel_bytes(tiny_gen, dec, fmt, dpi=60)
    check_magic(fmt, data)
    if fmt == "svg":                       # svg.fonttype none: the caption is real text
        assert b"residual_ratio" in data


def test_panel_is_16_9_and_weights_change_it(tiny_gen, dec):
    from PIL import Image
    ones = export.panel_bytes(tiny_gen, dec, "png", dpi=60)
    assert Image.open(io.BytesIO(ones)).size == (800, 450)
    zeros = export.panel_bytes(tiny_gen, dec, "png", weights=torch.zeros(2 ** dec.n), residual_weight=0.0, dpi=60)
    assert ones != zeros
    default = export.panel_bytes(tiny_gen, dec, "png", weights=[1.0] * 2 ** dec.n, dpi=60)
    assert default == ones                 # explicit all-ones is the default


def test_bad_inputs(tiny_gen, dec):
    with pytest.raises(UserError, match="length"):
        export.panel_bytes(tiny_gen, dec, "png", weights=torch.ones(3))
    with pytest.raises(UserError, match="top-k"):
        export.panel_bytes(tiny_gen, dec, "png", top_k=0)
    with pytest.raises(UserError, match="format"):
        export.panel_bytes(tiny_gen, dec, "jpg")
    from tiny_generator import TinyGenerator
    with pytest.raises(UserError, match="identity"):
        export.panel_bytes(TinyGenerator(seed=1), dec, "png")


def test_pptx(tiny_gen, dec):
    data = export.panel_pptx(tiny_gen, dec)
    check_magic("pptx", data)
    from pptx import Presentation
    prs = Presentation(io.BytesIO(data))
    assert abs(prs.slide_width / prs.slide_height - 16 / 9) < 0.01
    (slide,) = prs.slides
    texts = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
    assert any("seed 7" in t for t in texts) and any("residual_ratio" in t for t in texts)
    for shape in slide.shapes:             # everything lies on the slide
        assert shape.left >= 0 and shape.top >= 0
        assert shape.left + shape.width <= prs.slide_width and shape.top + shape.height <= prs.slide_height


def test_buildup_gif(tiny_gen, dec):
    from PIL import Image
    data = export.buildup_gif(tiny_gen, dec, k_max=5, frame_ms=100, scale=3)
    check_magic("gif", data)
    gif = Image.open(io.BytesIO(data))
    assert gif.n_frames == 6 and gif.info.get("loop") == 0
    assert gif.width > 2 * 12 * 3
    capped = Image.open(io.BytesIO(export.buildup_gif(tiny_gen, dec, k_max=100, scale=1)))
    assert capped.n_frames == len(dec.ranking) + 1


def test_decomposition_bytes(dec):
    check_magic("safetensors", export.decomposition_bytes(dec))


# ----------------------------------------------------------------------------- CLI

@pytest.fixture
def use_gen(monkeypatch, tiny_gen):
    import regionprims.models.registry as registry
    holder = {"gen": tiny_gen}
    monkeypatch.setattr(registry, "load_generator", lambda name="demo", device=None: holder["gen"])
    names = registry.plugins.entry_point_names()          # as if installed: a file may name it
    monkeypatch.setattr(registry.plugins, "entry_point_names", lambda: (*names, tiny_gen.name))
    return holder


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf", "pptx", "gif", "safetensors"])
def test_cli_export_each_format(use_gen, capsys, dec_file, tmp_path, fmt):
    out = tmp_path / f"panel.{fmt}"
    extra = ["--dpi", "50"] if fmt == "png" else ["--k-max", "3"] if fmt == "gif" else []
    code, stdout, err = run(capsys, "export", dec_file, "--format", fmt, "--out", out, "--top-k", "3",
                            "--weights", "*:0,15:1,3:0.5", "--residual", "0.5", *extra)
    assert code == 0, err
    assert stdout.strip() == str(out)
    check_magic(fmt, out.read_bytes())
    assert [p.name for p in tmp_path.iterdir()] == [out.name]        # no temp file left behind


def test_cli_format_from_extension(use_gen, capsys, dec_file, tmp_path, monkeypatch):
    code, _, err = run(capsys, "export", dec_file, "--out", tmp_path / "x.gif", "--k-max", "2")
    assert code == 0, err
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run(capsys, "export", dec_file, "--format", "safetensors")
    assert code == 0 and stdout.strip() == "tiny_one_s7_2x2.safetensors", err


def test_cli_refuses_other_identity(use_gen, capsys, dec_file, tmp_path):
    from tiny_generator import TinyGenerator
    use_gen["gen"] = TinyGenerator(seed=1)
    out = tmp_path / "p.png"
    code, stdout, err = run(capsys, "export", dec_file, "--format", "png", "--out", out)
    assert code == 2 and stdout == ""
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error:") and "identity" in lines[0], err
    assert "tiny:0" in lines[0] and "tiny:1" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("argv, needle", [
    (["--format", "png", "--weights", "3=0"], "--weights"),
    (["--format", "png", "--weights", "16:0"], "row"),
    (["--format", "png", "--top-k", "0"], "top-k"),
    (["--format", "png", "--out", "x.pdf"], ".png"),
    (["--out", "x.jpg"], "format"),
])
def test_cli_bad_input(use_gen, capsys, dec_file, tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run(capsys, "export", dec_file, *argv)
    assert code == 2 and stdout == ""
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err
    assert list(tmp_path.iterdir()) == []


def test_cli_bad_file(use_gen, capsys, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a decomposition")
    code, _, err = run(capsys, "export", bad, "--format", "png", "--out", tmp_path / "p.png")
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1
