#!/usr/bin/env python3
# A copy of ../shared/checks/check_contract.py (the project's contract checker), used when this checkout
# does not sit beside ../shared (tests/test_fileformat.py prefers the shared one).
"""Checks a `regionprims decompose --json` report and its decomposition file against the
contracts of DESIGN.md §2 and §5 (keys, tensor names, shapes, metadata). It does not judge the
numbers; the project's own tests do that.

usage: python check_contract.py REPORT.json FILE.safetensors
"""
import json
import math
import sys

from safetensors import safe_open

REPORT_KEYS = ["model", "class_id", "seed", "layout", "players", "n_subsets", "seconds",
               "cache_hit", "metrics"]
METRIC_KEYS = ["residual_ratio", "fit_psnr", "fit_error_mean", "additivity_error_top20",
               "leakage_top20", "sparsity_top20"]
TENSORS = ["feature", "baseline", "subsets", "minimal", "components", "residual", "player_masks"]


def main(report_path: str, file_path: str) -> list[str]:
    problems = []
    report = json.load(open(report_path))
    problems += [f"report lacks '{k}'" for k in REPORT_KEYS if k not in report]
    metrics = report.get("metrics", {})
    for k in METRIC_KEYS:
        v = metrics.get(k)
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            problems.append(f"metric '{k}' is {v!r}")
    with safe_open(file_path, "pt") as fh:
        meta = (fh.metadata() or {}).get("regionprims")
        names = set(fh.keys())
        problems += [f"file lacks tensor '{k}'" for k in TENSORS if k not in names]
        if problems:
            return problems
        shape = {k: tuple(fh.get_slice(k).get_shape()) for k in TENSORS}
    if meta is None:
        problems.append("file has no 'regionprims' metadata")
    else:
        json.loads(meta)
    k, n = shape["subsets"]
    if k != 2 ** n:
        problems.append(f"subsets has {k} rows for {n} players")
    feat = shape["feature"]
    for name in ["baseline", "residual"]:
        if shape[name] != feat:
            problems.append(f"{name} shape {shape[name]} != feature shape {feat}")
    for name in ["minimal", "components"]:
        if shape[name] != (k, *feat):
            problems.append(f"{name} shape {shape[name]} != {(k, *feat)}")
    if shape["player_masks"][0] != n:
        problems.append(f"player_masks has {shape['player_masks'][0]} masks for {n} players")
    if report.get("n_subsets") not in (None, k):
        problems.append(f"report n_subsets {report.get('n_subsets')} != {k}")
    return problems


if __name__ == "__main__":
    found = main(sys.argv[1], sys.argv[2])
    for p in found:
        print(p)
    print("contract: ok" if not found else f"contract: {len(found)} problem(s)")
    sys.exit(1 if found else 0)
