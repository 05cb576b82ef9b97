"""The shapes of study.json and of a study TOML file, as JSON Schemas: a file of the wrong shape
is refused with one line naming the first offending field, before any of it is used. Ranges
that need code (layouts, settings' bounds, seeds) are checked afterwards by StudyPlan.validate."""
from __future__ import annotations

from dataclasses import fields
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from regionprims.errors import UserError
from regionprims.method.specs import OptimSettings
from regionprims.validation import MAX_SEED, printable, short

MAX_IMAGES = 100_000
MAX_TEXT = 4096

# JSON has no integer type of its own: 1.0 and true are not integers here (jsonschema counts 1.0).
_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool))
Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_TYPES)

_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string"}


# Bounds of the settings that OptimSettings.validate leaves open (a stored or typed file may
# still hold any number there; only what a run can use is accepted).
_BOUNDS = {"tol": {"minimum": 0, "maximum": 1}, "patience": {"minimum": 0, "maximum": 1_000_000},
           "opt_seed": {"minimum": 0, "maximum": MAX_SEED}, "chunk": {"minimum": 0, "maximum": 1 << 30},
           "memory_mb": {"minimum": 64, "maximum": 1 << 30}}


def _settings(closed: bool) -> dict:
    """Every optimisation setting with the JSON type of its default (closed: no other key); a
    setting whose default has no JSON type is left to OptimSettings.validate."""
    props = {}
    for f in fields(OptimSettings):
        kind = _JSON_TYPE.get(type(f.default))
        props[f.name] = {} if kind is None else {"type": kind, **({"maxLength": 100} if kind == "string" else {})}
    for name, bounds in _BOUNDS.items():
        if name in props:
            props[name] = {**props[name], **bounds}
    return {"type": "object", "properties": props, "additionalProperties": not closed}


TEXT = {"type": "string", "maxLength": MAX_TEXT}
SEED = {"type": "integer", "minimum": 0, "maximum": MAX_SEED}
CLASS_ID = {"type": "integer", "minimum": 0, "maximum": 10 ** 9}

PLAN = {
    "type": "object",
    "required": ["model", "classes", "seeds"],
    "additionalProperties": False,
    "properties": {
        "model": {**TEXT, "minLength": 1},
        "classes": {"type": "array", "minItems": 1, "maxItems": MAX_IMAGES, "items": {**TEXT, "minLength": 1}},
        "seeds": {"type": "array", "minItems": 1, "maxItems": MAX_IMAGES, "items": SEED},
        "truncation": {"type": ["number", "null"]},
        "split": {"type": ["string", "null"], "maxLength": 100},
        "layout": {"type": "string", "maxLength": 100},
        "players": {"type": ["array", "null"], "maxItems": 1024, "items": {"type": "integer", "minimum": 0}},
        "settings": _settings(closed=True),
        "rank_by": {"enum": ["norm", "effect"]},
        "force": {"type": "boolean"},
    },
}

IMAGE = {
    "type": "object",
    "required": ["class_id", "seed", "status"],
    "properties": {
        "class_id": CLASS_ID,
        "class_name": TEXT,
        "seed": SEED,
        "status": {"enum": ["done", "failed"]},
        "key": {"type": "string", "maxLength": 200},
        "file": {"type": "string", "minLength": 1, "maxLength": 1000},
        "cache_hit": {"type": "boolean"},
        "seconds": {"type": "number"},
        "report": {"type": "object"},
        "error": TEXT,
    },
    "if": {"properties": {"status": {"const": "done"}}},
    "then": {"required": ["key"]},
}

RECORD = {
    "type": "object",
    "required": ["study_id", "plan", "model_identity", "images"],
    "properties": {
        "study_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "plan": PLAN,
        "model_identity": {**TEXT, "minLength": 1},
        "created": {"type": "number"},
        "finished": {"type": ["number", "null"]},
        "images": {"type": "array", "maxItems": MAX_IMAGES, "items": IMAGE},
        "counts": {"type": "object"},
    },
}

_TOKENS = {"anyOf": [TEXT, {"type": "integer"},
                     {"type": "array", "maxItems": MAX_IMAGES, "items": {"anyOf": [TEXT, {"type": "integer"}]}}]}

# A TOML study: the plan's keys, the settings at the top or under [settings]. Unknown keys are
# named by plan_from_mapping (with the list of known ones).
_TOML_PLAN = {
    "model": {**TEXT, "minLength": 1},
    "classes": _TOKENS,
    "seeds": _TOKENS,
    "truncation": {"type": "number"},
    "split": {"type": "string", "maxLength": 100},
    "layout": {"type": "string", "maxLength": 100},
    "players": {"anyOf": [{"type": "string", "maxLength": 10_000}, {"type": "integer"},
                          {"type": "array", "maxItems": 1024, "items": {"type": "integer"}}]},
    "rank_by": {"type": "string", "maxLength": 100},
    "force": {"type": "boolean"},
}
TOML = {
    "type": "object",
    "properties": {**_TOML_PLAN, **_settings(closed=False)["properties"], "settings": _settings(closed=False)},
}


def _where(error: ValidationError) -> str:
    """'images[3].class_id' for the path of an error (or 'the top level')."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return printable(out) or "the top level"


def _problem(error: ValidationError) -> str:
    """What is wrong, without echoing a large value."""
    got = printable(short(error.instance))
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"must be {' or '.join(kinds)}, got {got}"
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        return f"must be one of {', '.join(map(str, allowed))}, got {got}"
    if error.validator in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern"):
        return f"is out of range or of the wrong form ({error.validator} {error.validator_value}), got {got}"
    if error.validator == "anyOf":
        return f"has the wrong type ({got})"
    return printable(error.message)[:200]


def check(data: Any, schema: dict, where: str) -> None:
    """Raise one UserError naming the first field of `data` that does not fit `schema`."""
    try:
        error = best_match(Validator(schema).iter_errors(data))
    except RecursionError:
        raise UserError(f"{where} is nested too deeply") from None
    if error is not None:
        raise UserError(f"{where}: {_where(error)} {_problem(error)}"[:400])
