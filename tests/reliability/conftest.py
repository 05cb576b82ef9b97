"""Shared pieces of the reliability cases (issue 10): the tiny generator behind the CLI, a
small decomposition and its file, and a runner that checks the one-line error contract."""
import pytest

from regionprims.method.specs import OptimSettings


@pytest.fixture
def use_tiny(monkeypatch, tiny_gen):
    import regionprims.models.registry as registry
    monkeypatch.setattr(registry, "load_generator", lambda name="demo", device=None: tiny_gen)
    # as if installed as an entry point, so that a file naming it may load it (registry.resolve_stored)
    names = registry.plugins.entry_point_names()
    monkeypatch.setattr(registry.plugins, "entry_point_names", lambda: (*names, tiny_gen.name))
    return tiny_gen


@pytest.fixture(scope="session")
def small_spec(tiny_gen):
    from regionprims.pipeline import make_spec
    return make_spec(tiny_gen, 1, 1, layout="2x2", settings=OptimSettings(steps=3, baseline_codes=4))


@pytest.fixture(scope="session")
def small_file(tiny_gen, small_spec, tmp_path_factory):
    from regionprims.pipeline import decompose
    from regionprims.store.fileformat import save_decomposition
    dec = decompose(tiny_gen, small_spec)[0]
    return save_decomposition(dec, tmp_path_factory.mktemp("file") / "d.safetensors")
