"""Size limits of docs/architecture.md, measured on the source with ast: no module in regionprims/
over MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES, except the allow-list below
(each entry with its reason)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "regionprims"
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60
ALLOWED = {
    "export/panels.py:overview_figure": "plotting layout: one figure's panels placed in order",
}


def oversized(package: Path) -> list[str]:
    """'path: N lines' for every module and 'path:function: N lines' for every function over the limits."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = str(path.relative_to(package))
        source = path.read_text(encoding="utf-8")
        if len(source.splitlines()) > MAX_MODULE_LINES and rel not in ALLOWED:
            found.append(f"{rel}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES and f"{rel}:{node.name}" not in ALLOWED:
                    found.append(f"{rel}:{node.name}: {lines} lines")
    return found


def test_modules_and_functions_stay_small():
    assert oversized(PACKAGE) == []


def test_an_oversized_module_or_function_is_reported(tmp_path):
    (tmp_path / "big.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    body = "".join(f"    y{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "long.py").write_text(f"def long():\n{body}")
    assert oversized(tmp_path) == [f"big.py: {MAX_MODULE_LINES + 1} lines",
                                   f"long.py:long: {MAX_FUNCTION_LINES + 1} lines"]
