"""Plug-in generators (wrap_module, module:callable and file.py:callable specs, entry points,
REGIONPRIMS_MODELS) on three shapes of generator written in tests/plugin_generators.py."""
import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import torch

from regionprims import cli
from regionprims.errors import UserError
from regionprims.method.specs import OptimSettings
from regionprims.models import plugins, registry
from regionprims.pipeline import decompose, make_spec, report_json
from regionprims.store.fileformat import save_decomposition

import plugin_generators as pg

HERE = Path(__file__).resolve().parent
SHARED_CHECKER = HERE.parents[1] / "shared" / "checks" / "check_contract.py"
CHECKER = SHARED_CHECKER if SHARED_CHECKER.exists() else HERE / "contract" / "check_contract.py"
FACTORIES = {"dcgan": pg.make_dcgan, "stylegan": pg.make_stylegan, "unet": pg.make_unet}


@pytest.fixture(autouse=True)
def _fresh_registry():
    registry.clear_loaded()
    yield
    registry.clear_loaded()


@pytest.mark.parametrize("kind", list(FACTORIES))
def test_split_equals_full_forward(kind):
    gen = FACTORIES[kind]()
    for split in gen.split_points:
        z = gen.sample_z(5, 0.8)
        full = gen.forward(z, 0, 0.8)
        feature, ctx = gen.head(z, 0, 0.8, split)
        assert tuple(feature.shape[1:]) == gen.feature_shape(split)
        batch = gen.tail(feature.expand(3, -1, -1, -1), ctx)
        assert torch.allclose(batch, full.expand(3, -1, -1, -1), atol=1e-5), (kind, split)
        assert (gen.tail(feature + 1.0, ctx) - full).abs().max() > 1e-3   # the tail uses the feature
    assert full.min() >= -1 and full.max() <= 1


def test_chain_tail_does_not_recompute_the_head():
    gen = pg.make_dcgan()
    calls = []
    gen.module[0].register_forward_pre_hook(lambda m, i: calls.append(1))
    feature, ctx = gen.head(gen.sample_z(1, 1.0), 0, 1.0, "4")
    gen.feature_shape("4")                  # shapes are measured once, by a head run
    calls.clear()
    gen.tail(feature, ctx)
    assert calls == []


def test_held_noise_and_styles_need_the_explained_image():
    gen = pg.make_stylegan()
    za, zb = gen.sample_z(1, 1.0), gen.sample_z(2, 1.0)
    fa, ctx_a = gen.head(za, 1, 1.0, "synthesis.1")
    _, ctx_b = gen.head(zb, 1, 1.0, "synthesis.1")
    assert torch.allclose(gen.tail(fa, ctx_a), gen.forward(za, 1, 1.0), atol=1e-5)
    assert not torch.allclose(gen.tail(fa, ctx_b), gen.forward(za, 1, 1.0), atol=1e-3)


@pytest.mark.parametrize("kind", list(FACTORIES))
def test_decomposition_passes_contract_check(kind, tmp_path):
    gen = FACTORIES[kind]()
    spec = make_spec(gen, None if len(gen.class_names) == 1 else "dog", 4, layout="3x3",   # > 20 non-empty components: top-20 scores defined
                     settings=OptimSettings(steps=2, warm_steps=3, baseline_codes=4))
    dec, _ = decompose(gen, spec)
    path = save_decomposition(dec, tmp_path / "d.safetensors")
    report = tmp_path / "r.json"
    report.write_text(json.dumps(report_json(dec, False, 1.0)))
    out = subprocess.run([sys.executable, str(CHECKER), str(report), str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and "contract: ok" in out.stdout, out.stdout + out.stderr


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_file_spec_never_seen_decompose_export_info_transfer(capsys, tmp_path):
    src = tmp_path / "my_gen.py"            # a file the project has never seen
    shutil.copy(HERE / "plugin_generators.py", src)
    src.write_text(src.read_text() + "\n\ndef make():\n    return make_unet()\n")
    spec = f"{src}:make"
    files = []
    for seed in ("1", "2"):
        f = tmp_path / f"u{seed}.safetensors"
        code, out, err = run(capsys, "decompose", "--model", spec, "--seed", seed, "--layout", "2x2", "--steps", "2",
                             "--baseline-codes", "4", "--json", "--out", str(f), "--quiet")
        assert code == 0, err
        assert json.loads(out)["model"] == "test-unet"
        files.append(f)
    code, out, err = run(capsys, "export", str(files[0]), "--format", "png", "--out", str(tmp_path / "p.png"))
    assert code == 2 and "give --model" in err          # the file names a model the registry cannot load
    code, out, err = run(capsys, "export", str(files[0]), "--model", spec, "--out", str(tmp_path / "p.png"))
    assert code == 0, err
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    code, out, err = run(capsys, "info", str(files[0]), "--verify", "--json")
    assert code == 0 and json.loads(out)["model"] == "test-unet"
    code, out, err = run(capsys, "transfer", str(files[0]), str(files[1]), "--json")
    assert code == 0, err
    assert isinstance(json.loads(out), dict)


def test_module_spec_and_bad_specs(capsys, tmp_path):
    gen = registry.load_generator("plugin_generators:make_stylegan")
    assert gen.name == "test-stylegan" and gen.class_names == ("cat", "dog", "owl")
    code, _, err = run(capsys, "sample", "--model", "plugin_generators:make_stylegan", "--seed", "1",
                       "--out", str(tmp_path / "s.png"))
    assert code == 2 and "give --class" in err
    bad = tmp_path / "bad.py"
    bad.write_text("def make():\n    return 42\n\ndef boom():\n    raise RuntimeError('no weights here')\n")
    for model, words in ((f"{tmp_path}/nope.py:make", "does not exist"), (f"{bad}:missing", "no attribute"),
                         (f"{bad}:make", "not a SplitGenerator"), (f"{bad}:boom", "no weights here"),
                         ("no_such_module_xyz:make", "cannot import")):
        code, out, err = run(capsys, "sample", "--model", model, "--seed", "1", "--out", str(tmp_path / "x.png"))
        assert code == 2 and words in err and "Traceback" not in err, (model, err)
        assert err.count("\n") == 1


def test_entry_points_and_environment_specs(monkeypatch, capsys):
    ep = metadata.EntryPoint(name="eyes-test", value="plugin_generators:make_dcgan", group=plugins.GROUP)
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group=None: [ep] if group == plugins.GROUP else [])
    monkeypatch.setenv("REGIONPRIMS_MODELS", "plugin_generators:make_unet")
    registry.clear_loaded()
    assert registry.model_names()[-2:] == ("eyes-test", "plugin_generators:make_unet")
    assert registry.load_generator("eyes-test").name == "test-dcgan"
    code, out, _ = run(capsys, "models", "--json")
    rows = {m["name"]: m for m in json.loads(out)}
    assert rows["eyes-test"]["split_points"] == ["4", "6"] and rows["eyes-test"]["weights_present"] is True
    assert rows["plugin_generators:make_unet"]["classes"] == 1



def test_environment_plugins_are_named_by_their_own_names(monkeypatch, tmp_path):
    """plugin_names: a REGIONPRIMS_MODELS spec's own name when no other model has it; two specs
    giving the same name, a name that is a built-in's, or a spec that fails keep their spec."""
    twin = tmp_path / "twin.py"
    twin.write_text("from plugin_generators import make_unet\n\n\ndef make():\n    return make_unet()\n")
    demo = tmp_path / "demo_named.py"
    demo.write_text("from plugin_generators import dcgan_module, wrap_module\n\n\n"
                    "def make():\n    return wrap_module(dcgan_module(), name='Demo', z_dim=16, split_points=['4'])\n")
    specs = ["plugin_generators:make_stylegan", "plugin_generators:make_unet", f"{twin}:make", f"{demo}:make",
             "plugin_generators:nope"]
    monkeypatch.setenv("REGIONPRIMS_MODELS", ",".join(specs))
    registry.clear_loaded()
    try:
        assert registry.plugin_names() == {"plugin_generators:make_stylegan": "test-stylegan"}
        assert registry.shown_name("plugin_generators:make_stylegan") == "test-stylegan"
        assert registry.shown_name("plugin_generators:make_unet") == "plugin_generators:make_unet"
        assert registry.shown_name("demo") == "demo"
        assert registry.named_plugin("test-stylegan") == "plugin_generators:make_stylegan"
        assert registry.named_plugin("test-unet") is None and registry.named_plugin("Demo") is None
    finally:
        registry.clear_loaded()

def test_wrap_module_refuses_unknown_split():
    with pytest.raises(UserError, match="not module names"):
        pg.wrap_module(pg.dcgan_module(), name="x", z_dim=16, split_points=["nope"])
