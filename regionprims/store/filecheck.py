"""Checks of a decomposition file's contents before anything trusts them (docs/reliability.md): the header
JSON (depth-limited), every metadata field (typed, in range, no unknown keys) and every tensor
(dtype, shape against the metadata, subsets binary and complete in canonical order, ranking a
permutation, player masks those of the layout, values finite). A file that passes its checksum
may still have been crafted: the checksum proves only that the bytes match the metadata.
Each failure is one UserError naming the file and the problem."""
from __future__ import annotations

import json
import math
import re
from dataclasses import fields
from typing import Any

import torch

from regionprims.errors import UserError
from regionprims.method.regions import PAPER_GRID, Layout, parse_layout, player_masks, subset_matrix
from regionprims.method.specs import OptimSettings, settings_before_fields
from regionprims.models.precision import PRECISIONS
from regionprims.validation import short, validate_seed, validate_truncation

MAX_DEPTH = 32                 # nesting of any JSON in a file header
MAX_CLASSES = 100_000          # more classes than any generator has
MAX_TEXT = 1000                # characters in a name-like metadata field
META_KEYS = {"format", "format_version", "model", "model_identity", "split", "class_id", "class_name", "seed",
             "truncation", "layout", "players", "rank_by", "settings", "versions", "metrics", "info", "sha256",
             "stability", "precision"}
LAYOUT_KEYS = {"name", "rows", "cols", "players"}
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")
FLOAT_TENSORS = ("feature", "baseline", "minimal", "components", "residual", "player_masks", "z", "image", "fit_loss")


def parse_json(text: str | bytes, where: str, what: str) -> Any:
    """json.loads with a nesting limit checked first (a 200k-deep header would overflow the stack)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            raise UserError(f"{where}: the {what} is nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise UserError(f"{where}: the {what} is not valid JSON") from None


def _fail(where: str, message: str) -> UserError:
    return UserError(f"{where}: {message}")


def _text(meta: dict, key: str, where: str, optional: bool = False) -> None:
    value = meta.get(key)
    if optional and value is None:
        return
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise _fail(where, f"metadata '{key}' must be a non-empty text of at most {MAX_TEXT} characters")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_metadata(meta: Any, where: str) -> dict:
    """Every field of the `regionprims` metadata typed and in range; unknown keys refused."""
    if not isinstance(meta, dict):
        raise _fail(where, "the 'regionprims' metadata is not a JSON object")
    unknown = sorted(set(meta) - META_KEYS)
    if unknown:
        raise _fail(where, f"unknown metadata key(s) {', '.join(map(repr, unknown[:5]))}")
    for key in ("model", "model_identity", "split"):
        _text(meta, key, where)
    _text(meta, "class_name", where, optional=True)
    class_id = meta.get("class_id")
    if not _int(class_id) or not 0 <= class_id < MAX_CLASSES:
        raise _fail(where, f"metadata 'class_id' must be an integer in 0..{MAX_CLASSES - 1}, got {str(class_id)[:40]}")
    _typed_scalar(validate_seed, meta.get("seed"), _int, where, "seed")
    _typed_scalar(validate_truncation, meta.get("truncation"), _number, where, "truncation")
    meta_layout(meta, where)
    if meta.get("rank_by", "norm") not in ("norm", "effect"):
        raise _fail(where, "metadata 'rank_by' must be 'norm' or 'effect'")
    if meta.get("precision", "fp32") not in PRECISIONS:
        raise _fail(where, f"metadata 'precision' must be one of {', '.join(PRECISIONS)}")
    meta_settings(meta, where)
    for key in ("versions", "metrics", "info"):
        if not isinstance(meta.get(key, {}), dict):
            raise _fail(where, f"metadata '{key}' must be a JSON object")
    for name, value in meta.get("metrics", {}).items():
        if not (value is None or _number(value) and math.isfinite(value)):
            raise _fail(where, f"metric {short(name)} must be a finite number, got {short(value)}")
    check_info(meta.get("info", {}), where)
    for name, value in meta.get("versions", {}).items():
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise _fail(where, f"metadata 'versions' entry {short(name)} must be a text")
    if not isinstance(meta.get("sha256"), str) or not re.fullmatch(r"[0-9a-f]{64}", meta["sha256"]):
        raise _fail(where, "metadata 'sha256' must be 64 hexadecimal digits")
    return meta


# The `info` fields that something reads, with the type each must have; other keys are kept but
# never read. A number is finite; "texts" maps a text to a text; "numbers" a text to a number.
INFO_TYPES = {"class_name": "text", "device": "text", "precision": "text", "stability_definition": "text",
              "baseline_stability": "number", "baseline_codes": "number", "steps_mean": "number", "steps_max": "number",
              "tail_evaluations": "number", "tail_passes": "number", "subsets_stepped": "number",
              "moving_by_order": "numbers", "objective_mean": "number", "minimised_mean": "number",
              "mask_mean": "number", "chunk": "number", "timings": "numbers", "absent_metrics": "texts",
              "versions": "texts", "null": "object", "joint_need_by_order": "numbers"}


def _info_value_ok(kind: str, value: Any) -> bool:
    if kind == "text":
        return isinstance(value, str) and len(value) <= 10 * MAX_TEXT
    if kind == "number":
        return _number(value) and math.isfinite(value)
    if kind == "object":
        return isinstance(value, dict)
    if not isinstance(value, dict):
        return False
    inner = "text" if kind == "texts" else "number"
    return all(isinstance(k, str) and _info_value_ok(inner, v) for k, v in value.items())


def check_info(info: Any, where: str) -> None:
    """Each `info` field that the readers use has its type (a crafted file cannot make them fail)."""
    if not isinstance(info, dict):
        raise _fail(where, "metadata 'info' must be a JSON object")
    for key, kind in INFO_TYPES.items():
        if key in info and info[key] is not None and not _info_value_ok(kind, info[key]):
            raise _fail(where, f"metadata info.{key} has the wrong type or value ({short(info[key])})")
    null = info.get("null")
    if isinstance(null, dict):
        for key, kind in (("definition", "text"), ("budget_definition", "text"), ("mask_mean", "number"),
                          ("nonzero_sets", "number"), ("by_construction", "texts")):
            if key in null and not _info_value_ok(kind, null[key]):
                raise _fail(where, f"metadata info.null.{key} has the wrong type or value ({short(null[key])})")


DTYPES = {**{name: torch.float32 for name in FLOAT_TENSORS}, "subsets": torch.uint8, "ranking": torch.int64}


def check_dtypes(tensors: dict[str, torch.Tensor], where: str) -> None:
    """Every tensor has its dtype (checked before anything reads the bytes: a bf16 tensor has no
    NumPy form)."""
    for name, dtype in DTYPES.items():
        if name in tensors and tensors[name].dtype != dtype:
            raise _fail(where, f"tensor '{name}' must be {str(dtype).replace('torch.', '')}, "
                               f"not {str(tensors[name].dtype).replace('torch.', '')}")


def _typed_scalar(check, value: Any, type_ok, where: str, key: str) -> None:
    if not type_ok(value):
        raise _fail(where, f"metadata '{key}' has the wrong type ({type(value).__name__})")
    try:
        check(value)
    except UserError as exc:
        raise _fail(where, f"metadata {exc}") from None


def meta_layout(meta: dict, where: str) -> Layout:
    """The Layout the metadata describes (its name, grid and players re-checked by parse_layout)."""
    raw = meta.get("layout")
    if not isinstance(raw, dict) or set(raw) != LAYOUT_KEYS:
        raise _fail(where, f"metadata 'layout' must be an object with exactly the keys {sorted(LAYOUT_KEYS)}")
    players = raw["players"]
    if not isinstance(players, list) or not all(_int(p) for p in players) or players != meta.get("players"):
        raise _fail(where, "metadata 'players' must be a list of patch indices, the same as the layout's")
    if not (_int(raw["rows"]) and _int(raw["cols"]) and isinstance(raw["name"], str)):
        raise _fail(where, "metadata 'layout' rows and cols must be integers and its name a text")
    try:
        layout = parse_layout(f"{raw['rows']}x{raw['cols']}", players, force=True)
    except UserError as exc:
        raise _fail(where, f"metadata layout: {exc}") from None
    paper = raw["name"] == "paper" and (layout.rows, layout.cols) == PAPER_GRID
    if list(layout.players) != players or not (paper or raw["name"] == layout.name):
        raise _fail(where, "metadata 'layout' is inconsistent (name, or players not sorted)")
    return Layout(name=raw["name"], rows=layout.rows, cols=layout.cols, players=layout.players)


def meta_settings(meta: dict, where: str) -> OptimSettings:
    """OptimSettings from the metadata: known fields only, each of its default's type, validated; a
    setting the file lacks takes the value it had before the setting existed (specs.settings_before_fields)."""
    raw = meta.get("settings")
    if not isinstance(raw, dict):
        raise _fail(where, "metadata 'settings' must be a JSON object")
    known = {f.name: f for f in fields(OptimSettings)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise _fail(where, f"unknown setting(s) {', '.join(map(repr, unknown[:5]))}")
    defaults = OptimSettings()
    for name, value in raw.items():
        default = getattr(defaults, name)
        ok = (isinstance(value, bool) if isinstance(default, bool) else
              _int(value) if isinstance(default, int) else
              _number(value) and math.isfinite(value) if isinstance(default, float) else isinstance(value, str))
        if not ok:
            raise _fail(where, f"setting '{name}' has the wrong type ({type(value).__name__})")
    settings = OptimSettings(**{**settings_before_fields(raw), **raw})
    try:
        settings.validate()
    except UserError as exc:
        raise _fail(where, f"settings: {exc}") from None
    return settings


def check_tensors(tensors: dict[str, torch.Tensor], layout: Layout, where: str) -> None:
    """dtype and shape of every tensor against the layout, binary complete subsets, a permutation
    ranking, the layout's player masks, finite values."""
    n, k = layout.n, 2 ** layout.n
    for name in FLOAT_TENSORS:
        if tensors[name].dtype != torch.float32:
            raise _fail(where, f"tensor '{name}' must be float32, not {tensors[name].dtype}")
        if not torch.isfinite(tensors[name]).all():
            raise _fail(where, f"tensor '{name}' holds NaN or infinite values")
    feature, image = tensors["feature"], tensors["image"]
    if feature.dim() != 3 or image.dim() != 3 or image.shape[0] != 3 or tensors["z"].dim() != 1:
        raise _fail(where, "tensors 'feature' [C,h,w], 'image' [3,H,W] and 'z' [d] have the wrong shape")
    expect = {"baseline": feature.shape, "residual": feature.shape, "minimal": (k, *feature.shape),
              "components": (k, *feature.shape), "fit_loss": (k,), "ranking": (k - 1,),
              "subsets": (k, n), "player_masks": (n, *image.shape[1:])}
    for name, shape in expect.items():
        if tuple(tensors[name].shape) != tuple(shape):
            raise _fail(where, f"tensor '{name}' has shape {list(tensors[name].shape)}, expected {list(shape)} "
                               f"for {n} players")
    if tensors["subsets"].dtype != torch.uint8 or not torch.equal(tensors["subsets"], subset_matrix(n)):
        raise _fail(where, "tensor 'subsets' is not the binary, complete subset matrix of its players")
    ranking = tensors["ranking"]
    if ranking.dtype != torch.int64 or not torch.equal(ranking.sort().values, torch.arange(1, k)):
        raise _fail(where, f"tensor 'ranking' is not a permutation of the subset rows 1..{k - 1}")
    if not torch.equal(tensors["player_masks"], player_masks(layout, image.shape[1], image.shape[2])):
        raise _fail(where, "tensor 'player_masks' does not match the layout's players")
