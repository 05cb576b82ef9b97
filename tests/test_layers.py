"""The import-layer rules of docs/architecture.md, checked on the source (ast, nothing imported):

* `method` and `models` never import the explorer's mix (`mix`), the orchestration (pipeline, jobs,
  estimate, batch, study), the store, the front ends (cli, export, ui), the pictures, or Streamlit;
* `method` imports from `models` only the protocol (`models.base`);
* `mix` never imports the orchestration, the store, a front end or Streamlit;
* `store` never imports the mix, the orchestration or a front end;
* nothing in regionprims outside `regionprims/ui` imports Streamlit;
* imports are absolute (`from regionprims.method.regions import ...`), so that these rules see them.

Lazy imports inside functions and imports under TYPE_CHECKING count like any other.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "regionprims"

ORCHESTRATION = ("pipeline", "jobs", "estimate", "batch", "study")
FRONT_ENDS = ("cli", "export", "ui", "pictures")

# layer (first part of the module path below regionprims) -> regionprims subpackages it must not import
FORBIDDEN = {
    "method": ORCHESTRATION + FRONT_ENDS + ("store", "mix"),
    "models": ORCHESTRATION + FRONT_ENDS + ("store", "mix"),
    "mix": ORCHESTRATION + FRONT_ENDS + ("store",),
    "store": ORCHESTRATION + FRONT_ENDS + ("mix",),
}
METHOD_MAY_USE_FROM_MODELS = ("regionprims.models.base",)


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import in `source`; `from a import b` gives a.b as well as a (b may be
    a module). A relative import gives '.' + its module so that the rule on absolute imports sees it."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                out.append((node.lineno, "." * node.level + (node.module or "")))
                continue
            out.append((node.lineno, node.module or ""))
            out += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return out


def violations(files: dict[str, str]) -> list[str]:
    """Every broken rule in {path relative to the package root ('method/regions.py'): source}."""
    found = []
    for rel, source in sorted(files.items()):
        parts = Path(rel).with_suffix("").parts
        layer = parts[0]
        for line, module in imported_modules(source):
            where = f"regionprims/{rel}:{line} imports {module}"
            if module.startswith("."):
                found.append(f"{where}: use an absolute import")
                continue
            top = module.split(".")
            if top[0] == "streamlit" and layer != "ui":
                found.append(f"{where}: only regionprims/ui may import Streamlit")
            if top[0] != "regionprims" or len(top) < 2:
                continue
            if layer in FORBIDDEN and top[1] in FORBIDDEN[layer]:
                found.append(f"{where}: {layer} must not import {top[1]}")
            if (layer == "method" and top[1] == "models" and len(top) > 2
                    and ".".join(top[:3]) not in METHOD_MAY_USE_FROM_MODELS):
                found.append(f"{where}: method may use only the protocol (models.base) of models")
    return found


def package_files() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}


def test_the_package_keeps_its_layers():
    files = package_files()
    assert {"method/regions.py", "models/base.py", "mix/mixer.py", "store/cache.py", "pipeline.py"} <= set(files)
    assert violations(files) == []


@pytest.mark.parametrize("rel, source, fragment", [
    ("method/regions.py", "from regionprims.pipeline import decompose\n", "method must not import pipeline"),
    ("method/regions.py", "def f():\n    from regionprims.ui import state\n", "method must not import ui"),
    ("method/regions.py", "from regionprims import jobs\n", "method must not import jobs"),
    ("method/regions.py", "import regionprims.store.cache\n", "method must not import store"),
    ("method/regions.py", "from regionprims.models.registry import load_generator\n", "only the protocol"),
    ("models/demo/train.py", "from regionprims.cli import commands\n", "models must not import cli"),
    ("models/biggan/generator.py", "from regionprims.export.panels import panel_bytes\n", "models must not import export"),
    ("models/registry.py", "from regionprims import study\n", "models must not import study"),
    ("store/cache.py", "from regionprims.jobs import JobRegistry\n", "store must not import jobs"),
    ("store/fileformat.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                            "    from regionprims.pipeline import decompose\n", "store must not import pipeline"),
    ("pipeline.py", "import streamlit as st\n", "only regionprims/ui may import Streamlit"),
    ("export/panels.py", "from streamlit import cache_data\n", "only regionprims/ui may import Streamlit"),
    ("method/weighted.py", "from .regions import grid_edges\n", "use an absolute import"),
    ("method/render.py", "from regionprims.mix.state import ViewState\n", "method must not import mix"),
    ("models/registry.py", "def f():\n    import regionprims.mix.mixer\n", "models must not import mix"),
    ("store/cache.py", "from regionprims.mix import weights\n", "store must not import mix"),
    ("mix/mixer.py", "from regionprims.ui import resources\n", "mix must not import ui"),
    ("mix/weights.py", "from regionprims.cli.commands import main\n", "mix must not import cli"),
    ("mix/mixer.py", "from regionprims.pictures import png_bytes\n", "mix must not import pictures"),
    ("mix/mixer.py", "from regionprims import pipeline\n", "mix must not import pipeline"),
    ("mix/mixer.py", "from regionprims.store.cache import ResultCache\n", "mix must not import store"),
    ("mix/state.py", "import streamlit as st\n", "only regionprims/ui may import Streamlit"),
])
def test_a_violation_is_reported(rel, source, fragment):
    found = violations({rel: source})
    assert len(found) >= 1 and any(fragment in f for f in found), found


@pytest.mark.parametrize("rel, source", [
    ("method/weighted.py", "from regionprims.models.base import SplitGenerator\nfrom regionprims.method import metrics\n"),
    ("mix/mixer.py", "from regionprims.method.render import to_rgb\nfrom regionprims.errors import UserError\n"),
    ("ui/explore.py", "from regionprims.mix.presets import preset\n"),
    ("cli/export.py", "from regionprims.mix.weights import parse_row_weights\n"),
    ("ui/state.py", "import streamlit as st\nfrom regionprims.pipeline import decompose\n"),
    ("models/demo/generator.py", "from regionprims.method.regions import grid_edges\n"),
    ("store/cache.py", "from regionprims.method.specs import stable_hash\n"),
    ("pipeline.py", "from regionprims.store.cache import ResultCache\n"),
])
def test_allowed_imports_pass(rel, source):
    assert violations({rel: source}) == []
