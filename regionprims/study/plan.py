"""What a study is: one model, a list of classes, a list of seeds and the settings that
`decompose` takes. Built from command-line flags or a TOML file holding the same keys, validated
before any worker starts (classes are resolved by the workers, who hold the model)."""
from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Sequence

from regionprims.errors import UserError
from regionprims.method.regions import parse_layout
from regionprims.method.specs import OptimSettings, stable_hash
from regionprims.models.classes import resolve_class
from regionprims.study import schema
from regionprims.study.schema import MAX_IMAGES
from regionprims.validation import printable, validate_seed, validate_truncation

_RANGE = re.compile(r"\s*(\d+)\s*-\s*(\d+)\s*")


@dataclass(frozen=True)
class StudyPlan:
    """Every (class, seed) of `classes` x `seeds`, decomposed with the same settings."""

    model: str = "demo"
    classes: tuple[str, ...] = ("0",)       # names, indices, ranges 'A-B', or ('all',)
    seeds: tuple[int, ...] = (0,)
    truncation: float | None = None         # None: the model's default
    split: str | None = None                # None: the model's default
    layout: str = "3x3"
    players: tuple[int, ...] | None = None
    settings: OptimSettings = field(default_factory=OptimSettings)
    rank_by: str = "norm"
    force: bool = False

    def validate(self) -> "StudyPlan":
        """Everything that can be checked without the model; returns self."""
        if not self.model.strip():
            raise UserError("model is empty")
        if not self.classes:
            raise UserError("classes is empty: give names, indices, ranges A-B or 'all'")
        if not self.seeds:
            raise UserError("seeds is empty: give a list (0,3,7) or a range (0-9)")
        if self.truncation is not None:
            validate_truncation(self.truncation)
        if self.rank_by not in ("norm", "effect"):
            raise UserError(f"rank-by must be 'norm' or 'effect', got '{self.rank_by}'")
        self.settings.validate()
        parse_layout(self.layout, self.players, force=self.force)
        return self

    def to_json(self) -> dict:
        d = asdict(self)
        d["classes"], d["seeds"] = list(self.classes), list(self.seeds)
        d["players"] = None if self.players is None else list(self.players)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "StudyPlan":
        """The plan of a record whose shape schema.PLAN has checked."""
        players = d.get("players")
        return cls(model=d["model"], classes=tuple(d["classes"]), seeds=tuple(d["seeds"]),
                   truncation=d.get("truncation"), split=d.get("split"), layout=d.get("layout", "3x3"),
                   players=None if players is None else tuple(players),
                   settings=OptimSettings(**d.get("settings", {})), rank_by=d.get("rank_by", "norm"),
                   force=bool(d.get("force", False)))

    def study_id(self) -> str:
        """Stable id of the plan as written (the key of its record in the cache)."""
        return stable_hash(self.to_json())[:16]


def parse_seeds(text: str | int | Sequence) -> tuple[int, ...]:
    """'0-9', '0,3,7', '0-2,10' or a list of those -> seeds in the given order, without repeats."""
    items = list(text) if isinstance(text, (list, tuple)) else [text]
    out: dict[int, None] = {}
    for item in items:
        parts = str(item).split(",") if not isinstance(item, int) else [str(item)]
        for part in parts:
            if not part.strip():
                raise UserError(f"seeds {text!r} has an empty item")
            m = _RANGE.fullmatch(part)
            lo, hi = (validate_seed(m.group(1), True), validate_seed(m.group(2), True)) if m else (None, None)
            if m and hi < lo:
                raise UserError(f"seed range {part.strip()!r} runs backwards")
            seeds = range(lo, hi + 1) if m else [validate_seed(part, allow_text=True)]
            if len(out) + len(seeds) > MAX_IMAGES:
                raise UserError(f"more than {MAX_IMAGES} seeds")
            out.update(dict.fromkeys(seeds))
    return tuple(out)


def parse_classes(text: str | int | Sequence) -> tuple[str, ...]:
    """'face,house', '0-9', 'all' or a list (for names that hold commas) -> tokens."""
    items = list(text) if isinstance(text, (list, tuple)) else str(text).split(",")
    tokens = tuple(str(t).strip() for t in items)
    if not tokens or any(not t for t in tokens):
        raise UserError(f"classes {text!r} has an empty item")
    return tokens


def resolve_classes(tokens: Sequence[str], class_names: Sequence[str]) -> list[int]:
    """Class indices of the tokens (names, indices, ranges A-B, 'all'), in order, no repeats."""
    n = len(class_names)
    out: dict[int, None] = {}
    for token in tokens:
        m = _RANGE.fullmatch(token)
        if token.lower() == "all":
            out.update(dict.fromkeys(range(n)))
        elif m:
            lo, hi = resolve_class(m.group(1), class_names), resolve_class(m.group(2), class_names)
            if hi < lo:
                raise UserError(f"class range {token!r} runs backwards")
            out.update(dict.fromkeys(range(lo, hi + 1)))
        else:
            out[resolve_class(token, class_names)] = None
    return list(out)


SETTING_KEYS = {f.name for f in fields(OptimSettings)}
PLAN_KEYS = {"model", "classes", "seeds", "truncation", "split", "layout", "players", "rank_by", "force"}


def plan_from_mapping(values: dict, base: StudyPlan | None = None) -> StudyPlan:
    """A plan from flat keys (a TOML file or the command line's flags; None means not given)."""
    plan = base or StudyPlan()
    unknown = sorted(k for k in values if k not in PLAN_KEYS | SETTING_KEYS)
    if unknown:
        raise UserError(f"unknown study key(s): {', '.join(unknown)}; known: "
                        f"{', '.join(sorted(PLAN_KEYS | SETTING_KEYS))}")
    given = {k: v for k, v in values.items() if v is not None}
    settings = {k: v for k, v in given.items() if k in SETTING_KEYS}
    top = {k: v for k, v in given.items() if k in PLAN_KEYS}
    if "classes" in top:
        top["classes"] = parse_classes(top["classes"])
    if "seeds" in top:
        top["seeds"] = parse_seeds(top["seeds"])
    if "players" in top:
        top["players"] = _players(top["players"])
    for key, kind in (("model", str), ("layout", str), ("split", str), ("rank_by", str), ("force", bool)):
        if key in top and not isinstance(top[key], kind):
            raise UserError(f"study key {key!r} must be a {kind.__name__}, got {top[key]!r}")
    try:
        new_settings = replace(plan.settings, **settings)
    except TypeError as exc:
        raise UserError(f"bad study settings: {exc}") from None
    return replace(plan, **top, settings=new_settings).validate()


def _players(value) -> tuple[int, ...]:
    from regionprims.method.regions import parse_players
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return tuple(parse_players(str(value)))


def read_study_file(path: str | Path) -> dict:
    """The flat keys of a study TOML file (one clear error if it cannot be read)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such study file: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise UserError(f"{path} is not a valid TOML study file: {printable(str(exc))[:200]}") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    schema.check(data, schema.TOML, str(path))
    settings = data.pop("settings", {})
    return {**data, **settings}
