"""A new generator family is one module (a subclass of models.base.Generator) plus one row of
registry.FAMILIES: here a toy family, registered by adding its row, is listed, decomposes
through the CLI, and opens and decomposes in the explorer. Also the contract's shared checks,
defaults and the adoption of a protocol-only plug-in."""
from __future__ import annotations

import json

import pytest
import streamlit as st
import torch
import torch.nn.functional as F
from torch import Tensor

from regionprims import cli, jobs
from regionprims.errors import UserError
from regionprims.models import registry
from regionprims.models.base import Adopted, Generator, SplitContext, adopt, default_truncation, mask_renderer
from test_app import new_app, wait_for_result

NAME = "toy-family"


class ToyGenerator(Generator):
    """z (8) + class embedding -> 4x4 -> block.0 8x8 -> block.1 16x16 -> RGB; random, seeded weights."""

    name = NAME
    kind = "toy"
    description = "a toy family of the tests: two up-sampling blocks, random weights"
    image_size = 16
    z_dim = 8
    class_names = ("square", "circle")
    split_points = ("block.0", "block.1")
    default_split = "block.0"
    default_truncation = 0.8
    source = "bundled"

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        g = torch.Generator().manual_seed(0)
        self.embed = torch.randn(2, 8, generator=g)
        self.stem = torch.randn(8, 6 * 16, generator=g) * 0.4
        self.convs = [torch.randn(6, 6, 3, 3, generator=g) * 0.2 for _ in self.split_points]
        self.to_rgb = torch.randn(3, 6, 3, 3, generator=g) * 0.2
        self.identity = f"{NAME}:seeded0"

    @classmethod
    def load(cls, model: str, device: torch.device) -> ToyGenerator:
        return cls(device)

    def _blocks(self, h: Tensor, start: int, stop: int) -> Tensor:
        for conv in self.convs[start:stop]:
            h = F.leaky_relu(F.conv2d(F.interpolate(h, scale_factor=2.0), conv, padding=1), 0.2)
        return h

    def head(self, z, class_id, truncation, split):
        cond = self.embed[self.check_class(class_id)][None]
        h = ((self.as_z(z) + cond) @ self.stem).view(-1, 6, 4, 4)
        feature = self._blocks(h, 0, self.check_split(split) + 1)
        return feature, SplitContext(split, cond, truncation)

    def tail(self, feature, ctx):
        h = self._blocks(self.check_feature(feature, ctx.split), self.check_split(ctx.split) + 1, len(self.convs))
        return torch.tanh(F.conv2d(h, self.to_rgb, padding=1))

    def forward(self, z, class_id, truncation):
        feature, ctx = self.head(z, class_id, truncation, self.split_points[-1])
        return self.tail(feature, ctx)

    def feature_shape(self, split):
        side = 8 * 2 ** self.check_split(split)
        return (6, side, side)


@pytest.fixture
def toy_row(monkeypatch):
    """The toy family's one registry row."""
    registry.clear_loaded()
    monkeypatch.setattr(registry, "FAMILIES", (*registry.FAMILIES, lambda: ToyGenerator))
    yield
    registry.clear_loaded()


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


DECOMPOSE = ("decompose", "--model", NAME, "--class", "circle", "--seed", "3", "--layout", "2x2", "--steps", "2",
             "--baseline-codes", "4", "--json", "--no-cache", "--quiet")


def test_without_its_row_the_family_is_unknown(capsys):
    registry.clear_loaded()
    code, _, err = run(capsys, *DECOMPOSE)
    assert code == 2 and f"unknown model '{NAME}'" in err


def test_one_row_lists_and_decomposes_it_through_the_cli(toy_row, capsys):
    code, out, err = run(capsys, "models", "--json")
    assert code == 0, err
    row = {m["name"]: m for m in json.loads(out)}[NAME]
    assert row == {"name": NAME, "kind": "toy", "image_size": 16, "classes": 2, "split_points": ["block.0", "block.1"],
                   "default_split": "block.0", "weights_present": True}
    info = registry.model_info(NAME)
    assert info["default_truncation"] == 0.8 and info["description"].startswith("a toy family")
    code, out, err = run(capsys, *DECOMPOSE)
    assert code == 0, err
    report = json.loads(out)
    assert report["model"] == NAME and report["class_name"] == "circle" and report["n_subsets"] == 16
    assert report["truncation"] == 0.8 and report["split"] == "block.0"       # the class's defaults


def test_one_row_opens_and_decomposes_it_in_the_explorer(toy_row):
    st.cache_data.clear()
    st.cache_resource.clear()
    jobs.reset_registry()
    try:
        at = new_app({"model": NAME, "layout": "2x2", "steps": "2", "codes": "4"}).run()
        assert not at.exception, at.exception
        assert any(o.startswith(NAME) for o in at.selectbox(key="model").options)
        assert at.selectbox(key="model").value == NAME
        assert any(c.value.startswith("a toy family") for c in at.sidebar.caption)   # its description
        dec = wait_for_result(at).session_state["current"].dec
        assert dec.spec.model == NAME and dec.spec.truncation == 0.8
    finally:
        jobs.reset_registry()
        st.cache_resource.clear()


def test_the_shared_checks_have_one_message_each():
    gen = ToyGenerator()
    z = gen.sample_z(1, 0.5)
    assert z.shape == (1, 8) and torch.equal(z, gen.sample_z(1, 0.5))
    with pytest.raises(UserError, match="unknown split point 'nope' for toy-family; choose one of: block.0, block.1"):
        gen.head(z, 0, 0.5, "nope")
    with pytest.raises(UserError, match="out of range 0..1"):
        gen.head(z, 2, 0.5, "block.0")
    with pytest.raises(UserError, match=r"must have shape \[B, 6, 16, 16\]"):
        gen.tail(torch.zeros(1, 6, 8, 8), SplitContext("block.1", z, 0.5))
    with pytest.raises(UserError, match=r"z must have shape \[B, 8\]"):
        gen.forward(torch.zeros(1, 5), 0, 0.5)
    gen.split_points = ()
    with pytest.raises(UserError, match="needs split points"):
        gen.check_facts("toy")


def test_optional_members_are_declared_with_defaults():
    gen = ToyGenerator()
    assert gen.precision == "fp32" and gen.ground_truth_scores(None, 0, [], None, None) == {}
    assert gen.spatial_mask_tail(None, None, None) is None
    gen.to_device("cpu")                                      # a generator that cannot move stays
    assert Generator.default_truncation == 1.0 and default_truncation(gen) == 0.8


def test_a_protocol_only_plugin_is_adopted(tiny_gen):
    seen = adopt(tiny_gen)
    assert isinstance(seen, Adopted) and adopt(seen) is seen and adopt(ToyGenerator()).__class__ is ToyGenerator
    assert seen.name == tiny_gen.name and seen.split_points == tiny_gen.split_points
    assert seen.precision == "fp32" and default_truncation(tiny_gen) == 1.0
    feature, ctx = seen.head(tiny_gen.sample_z(0, 1.0), 1, 1.0, "blocks.0")
    torch.testing.assert_close(seen.tail(feature, ctx), tiny_gen.tail(feature, ctx))
    delta = torch.ones_like(feature)
    render = mask_renderer(tiny_gen, ctx, feature, delta)    # no fast route: the plain tail
    torch.testing.assert_close(render(torch.zeros(1, 1, 6, 6)), tiny_gen.tail(feature, ctx))
