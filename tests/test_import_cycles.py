"""No import loop within regionprims, checked on the source (ast, nothing imported): module A
imports B (at the top, inside a function or under TYPE_CHECKING, as tests/test_layers.py counts
them) and B, directly or through others, imports A. A loop works only while every module of it
happens to be imported in the right order, so the package has none."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "regionprims"


def module_names(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (a package is its __init__)."""
    names = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def import_graph(modules: dict[str, str]) -> dict[str, set[str]]:
    """{module: the package's modules it imports} from {module: source}. `from a import b` is an
    edge to a.b when that is a module, else to a."""
    graph: dict[str, set[str]] = {}
    for name, source in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in modules:
                        edges.add(full)
                    elif node.module in modules:
                        edges.add(node.module)
        graph[name] = edges - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def test_the_package_has_no_import_loop():
    modules = {name: path.read_text(encoding="utf-8") for name, path in module_names(PACKAGE).items()}
    assert "regionprims.models.biggan.hub" in modules
    assert cycles(import_graph(modules)) == []


def test_a_loop_is_found():
    modules = {
        "p.a": "from p.b import x\n",
        "p.b": "def f():\n    from p import c\n",           # a lazy import counts
        "p.c": "import p.a\n",
        "p.d": "from p.a import y\n",                         # imports the loop, is not part of it
    }
    assert cycles(import_graph(modules)) == [["p.a", "p.b", "p.c"]]
    assert cycles(import_graph({"p.a": "from p.b import x\n", "p.b": "import os\n"})) == []
