"""omniart-eyes: weights found without importing the package, pinned checksum, strict load into
our EyeNet; the folded, channels-last split equals the reference network; the spatial-mask route
equals the tail; listed with weights; a small decomposition through the CLI."""
import json
import sys

import pytest
import torch
import torch.nn.functional as F

from regionprims import cli
from regionprims.errors import UserError
from regionprims.models import omniart, registry
from regionprims.models.base import mask_renderer


@pytest.fixture(scope="module")
def eyes():
    return omniart.load_omniart("cpu")


def test_weights_located_without_importing_the_package():
    sys.modules.pop(omniart.PACKAGE, None)
    path = omniart.weights_path()
    assert path is not None and path.name == "generator_model_state.pth"
    assert omniart.PACKAGE not in sys.modules


def test_checksum_is_checked(tmp_path):
    bad = tmp_path / "generator_model_state.pth"
    bad.write_bytes(b"not the weights")
    with pytest.raises(UserError, match="checksum"):
        omniart.load_net(bad)


def test_split_equals_reference_network(eyes):
    net = omniart.load_net()
    z = eyes.sample_z(3, 1.0, 2)
    with torch.no_grad():
        ref = net(z, F.one_hot(torch.tensor([5, 5]), 8).float())
        assert torch.allclose(eyes.forward(z, 5, 1.0), ref, atol=1e-5)
        for split in eyes.split_points:
            f, ctx = eyes.head(z, 5, 1.0, split)
            assert tuple(f.shape[1:]) == eyes.feature_shape(split)
            assert torch.allclose(eyes.tail(f, ctx), ref, atol=1e-5), split


@pytest.mark.parametrize("split", ["main.9", "main.12", "main.15"])
def test_spatial_mask_route_equals_tail(eyes, split):
    z = eyes.sample_z(1, 1.0, 4)
    f, ctx = eyes.head(z[:1], 2, 1.0, split)
    f0 = eyes.head(z, 2, 1.0, split)[0].mean(0)
    delta = f - f0
    mask = torch.rand(3, 1, *f.shape[2:]).requires_grad_(True)
    fast = mask_renderer(eyes, ctx, f0, delta)(mask)
    plain = eyes.tail(f0 + mask * delta, ctx)
    assert torch.allclose(fast, plain, atol=1e-5)
    g_fast, = torch.autograd.grad(fast.square().sum(), mask)
    g_plain, = torch.autograd.grad(plain.square().sum(), mask)
    assert torch.allclose(g_fast, g_plain, rtol=1e-3, atol=1e-4)


def test_listed_with_weights(capsys):
    assert cli.main(["models", "--json"]) == 0
    rows = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    eyes = rows["omniart-eyes"]
    assert eyes["weights_present"] is True and eyes["classes"] == 8 and eyes["image_size"] == 128
    assert eyes["default_split"] == "main.12" and "main.9" in eyes["split_points"]
    assert registry.model_info("omniart-eyes")["class_names"][1] == "blue"


def test_small_decomposition_cli(capsys, tmp_path):
    out = tmp_path / "e.safetensors"
    code = cli.main(["decompose", "--model", "omniart-eyes", "--class", "hazel", "--seed", "3", "--layout", "2x2",
                     "--steps", "2", "--baseline-codes", "4", "--split", "main.15", "--json", "--out", str(out),
                     "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["class_name"] == "hazel" and report["n_subsets"] == 16 and report["split"] == "main.15"
    assert cli.main(["export", str(out), "--out", str(tmp_path / "e.png")]) == 0
