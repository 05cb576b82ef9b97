"""The explorer's whole state in a shareable URL, without Streamlit: `AppState` (model, image,
players, settings and the mixer's ViewState), `encode_state` (only non-default values are
written) and `decode_state` (every malformed value is reported, one message each, and replaced
by its default; never raises). ui.state syncs it with the browser's query parameters.
"""
from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field, fields, replace
from typing import Iterable, Mapping

from regionprims.errors import UserError
from regionprims.mix.state import R_MAX, R_MIN, W_MAX, W_MIN, ViewState
from regionprims.mix.weights import parse_row_weights
from regionprims.method import settings_table
from regionprims.method.regions import PAPER_PLAYERS, parse_layout, parse_players
from regionprims.method.specs import OptimSettings
from regionprims.models.classes import resolve_class
from regionprims.models.registry import class_names, model_defaults, model_names, named_plugin, shown_name
from regionprims.ui.urlcompare import PARAMS as COMPARE_PARAMS
from regionprims.ui.urlcompare import one as _one
from regionprims.validation import MAX_DIGITS, MAX_SEED, short

# the sidebar widgets' ranges: a URL value outside them is clamped into them (with a message); the
# settings' ranges are their widgets' (settings_table.Row.ui_range)
TRUNC_RANGE = (0.02, 1.0)
MAX_MESSAGES = 6               # more problems than this are summed up in one line

@dataclass(frozen=True, init=False)
class AppState:
    """Everything a shared URL holds. None means 'the model's default'. `settings` are the
    explorer's: those the URL records (settings_table.in_url) as given, the others at their defaults."""

    model: str = "demo"
    class_id: int = 0
    seed: int = 0
    truncation: float | None = None
    split: str | None = None
    layout: str = "3x3"
    players: tuple[int, ...] | None = None
    settings: OptimSettings = field(default_factory=settings_table.defaults)
    view: ViewState = field(default_factory=ViewState)

    def __init__(self, model: str = "demo", class_id: int = 0, seed: int = 0, truncation: float | None = None,
                 split: str | None = None, layout: str = "3x3", players: tuple[int, ...] | None = None,
                 settings: OptimSettings | None = None, view: ViewState | None = None, **by_url_key: object) -> None:
        """The fields, and besides them settings by their URL key (steps=3, codes=16; None keeps
        the setting), as a link names them."""
        settings = settings_table.with_url_values(settings or settings_table.defaults(), by_url_key)
        values = {"model": model, "class_id": class_id, "seed": seed, "truncation": truncation, "split": split,
                  "layout": layout, "players": players, "settings": settings,
                  "view": view if view is not None else ViewState()}
        for f in fields(self):
            object.__setattr__(self, f.name, values[f.name])

    def n_players(self) -> int:
        if self.players is not None:
            return len(self.players)
        try:
            lay = parse_layout(self.layout, None, force=True)
        except UserError:
            return 0
        return lay.n if lay.players else PAPER_PLAYERS


PARAMS = ("model", "cls", "seed", "trunc", "split", "layout", "players", "w", "off", "solo", "r") + COMPARE_PARAMS
_IGNORED = ("embed", "embed_options")


def url_keys() -> tuple[str, ...]:
    """The URL keys of the settings the URL records."""
    return tuple(r.meta.url for r in settings_table.in_url())


def _fmt_num(v: float) -> str:
    return f"{v:.4g}"


def _encode_rows(rows: Iterable[int], n: int) -> str:
    """Shortest of: '3,7,9' (the rows), 'x3,7' (every row but these), 'b<base64url bitmask>'."""
    rows = sorted(set(rows))
    everything = set(range(1, 2 ** n))
    listed = ",".join(map(str, rows))
    others = "x" + ",".join(map(str, sorted(everything - set(rows))))
    bits = bytearray((2 ** n + 7) // 8)
    for r in rows:
        bits[r // 8] |= 1 << (r % 8)
    mask = "b" + base64.urlsafe_b64encode(bytes(bits)).decode().rstrip("=")
    return min((listed, others, mask), key=len)


def _decode_rows(text: str, n: int, name: str, errors: list[str]) -> frozenset:
    rows_all = set(range(1, 2 ** n))
    text = text.strip()
    try:
        if text.startswith("b"):
            raw = text[1:]
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            if len(data) != (2 ** n + 7) // 8:
                raise ValueError("wrong length")
            rows = {i for i in range(2 ** n) if data[i // 8] >> (i % 8) & 1}
        else:
            neg = text.startswith("x")
            body = text[1:] if neg else text
            parts = [t for t in body.split(",") if t.strip() != ""]
            if len(parts) > 2 ** n or any(len(t.strip()) > MAX_DIGITS for t in parts):
                raise ValueError("too many or too long")
            rows = {int(t) for t in parts}
    except (ValueError, binascii.Error):
        errors.append(f"{name}={short(text, 24)} is not a list of component rows; ignored")
        return frozenset()
    bad = sorted(rows - rows_all)
    if bad:
        errors.append(f"{name}: component row {bad[0]} is outside 1..{2 ** n - 1} for {n} players; ignored")
        return frozenset()
    if not text.startswith("b") and text.startswith("x"):
        rows = rows_all - rows
    return frozenset(rows)


def encode_state(state: AppState) -> dict[str, str]:
    """Query parameters of a state: only what differs from the defaults."""
    out: dict[str, str] = {}
    d = AppState()
    if state.model != d.model:
        out["model"] = shown_name(state.model)          # a plug-in by its own name, not its spec
    names = class_names(state.model)
    if state.class_id != 0:
        simple = len(names) <= 50 and re.fullmatch(r"[a-z0-9_-]+", names[state.class_id] or "")
        out["cls"] = names[state.class_id] if simple else str(state.class_id)
    if state.seed != d.seed:
        out["seed"] = str(state.seed)
    t_def, s_def, _ = model_defaults(state.model)
    if state.truncation is not None and abs(state.truncation - t_def) > 1e-9:     # a slider's float
        out["trunc"] = _fmt_num(state.truncation)
    if state.split is not None and state.split != s_def:
        out["split"] = state.split
    if state.layout != d.layout:
        out["layout"] = state.layout
    if state.players is not None:
        out["players"] = ",".join(map(str, state.players))
    for row in settings_table.in_url():
        value = getattr(state.settings, row.name)
        if value != row.default:
            out[row.meta.url] = row.url_text(value)
    v, n = state.view, state.n_players()
    if v.weights:
        out["w"] = ",".join(f"{r}:{_fmt_num(w)}" for r, w in sorted(v.weights.items()))
    if v.off and n:
        out["off"] = _encode_rows(v.off, n)
    if v.solo and n:
        out["solo"] = _encode_rows(v.solo, n)
    if v.residual != 1.0:
        out["r"] = _fmt_num(v.residual)
    return out


def _shown(text: str) -> str:
    """A number as typed, cut short when it is long (a 4300-digit seed)."""
    t = text.strip()
    return t if len(t) <= 24 else f"{t[:12]}...({len(t)} digits)"


def _clamped(v: float, name: str, text: str, lo: float, hi: float, errors: list[str]) -> float:
    if lo <= v <= hi:
        return v
    c = lo if v < lo else hi
    errors.append(f"{name}={_shown(text)} is outside [{_fmt_num(lo)}, {_fmt_num(hi)}]; using {_fmt_num(c)}")
    return c


def _number(text: str, name: str, lo: float, hi: float, errors: list[str]) -> float | None:
    """A finite number clamped into [lo, hi]; None (the default) when it is not a number."""
    try:
        v = float(text)
    except (ValueError, OverflowError):
        errors.append(f"{name}={short(text, 24)} is not a number; using the default")
        return None
    if not math.isfinite(v):
        errors.append(f"{name}={_shown(text)} is outside [{_fmt_num(lo)}, {_fmt_num(hi)}]; using the default")
        return None
    return _clamped(v, name, text, lo, hi, errors)


def _integer(text: str, name: str, lo: int, hi: int, errors: list[str]) -> int | None:
    """A whole number clamped into lo..hi (a 4300-digit one too); None when it is not one."""
    if not re.fullmatch(r"\s*\d+\s*", text):
        errors.append(f"{name}={short(text, 24)} is not a whole number; using the default")
        return None
    digits = text.strip().lstrip("0") or "0"
    v = hi + 1 if len(digits) > MAX_DIGITS else int(digits)
    return int(_clamped(v, name, text, lo, hi, errors))


def decode_state(params: Mapping) -> tuple[AppState, list[str]]:
    """AppState from query parameters (str or list of str values). Never raises: each malformed
    value gives one message and its default."""
    errors: list[str] = []
    known = PARAMS + url_keys() + _IGNORED
    unknown = [key for key in params if key not in known]
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        errors.append(f"unknown parameter {short(str(unknown[0]), 24)} ignored{more}")
    kw: dict = {}
    _decode_model(params, kw, errors)
    mdl = kw.get("model", "demo")
    t_def, s_def, _splits = model_defaults(mdl)
    _decode_image(params, mdl, kw, errors)
    _decode_layout(params, kw, errors)
    kw["settings"] = replace(settings_table.defaults(), **_decode_settings(params, errors))
    view = _decode_view(params, AppState(**kw).n_players(), errors)
    if "truncation" in kw and kw["truncation"] == t_def:
        kw.pop("truncation")
    if "split" in kw and kw["split"] == s_def:
        kw.pop("split")
    if len(errors) > MAX_MESSAGES:
        errors = errors[:MAX_MESSAGES - 1] + [f"... and {len(errors) - MAX_MESSAGES + 1} more problems"]
    return AppState(**kw, view=view), errors


def _decode_settings(params: Mapping, errors: list[str]) -> dict:
    """{setting name: value} of the settings the URL records, numbers clamped into their widget's range."""
    values = {}
    for row in settings_table.in_url():
        key, text = row.meta.url, _one(params, row.meta.url)
        if text is None:
            continue
        allowed = row.url_choices()
        if allowed:
            v = allowed.get(text.strip())
            if v is None:
                errors.append(f"{key}={short(text, 24)} is not one of {', '.join(allowed)}; using the default")
        else:
            v = (_integer if row.kind is int else _number)(text, key, *row.ui_range(), errors)
        if v is not None:
            values[row.name] = v
    return values


def _decode_model(params: Mapping, kw: dict, errors: list[str]) -> None:
    """model=: only listed models, a REGIONPRIMS_MODELS plug-in also by its own name (back to
    its spec); a URL never names code to import."""
    model = _one(params, "model")
    if model is None:
        return
    text = model.strip()
    key = text if text in model_names() else text.lower()
    if key not in model_names():
        key = named_plugin(text) or key
    if key in model_names():
        kw["model"] = key
    else:
        known = ", ".join(map(shown_name, model_names()))
        errors.append(f"model={short(model, 24)} is unknown (known: {known}); using demo")


def _decode_image(params: Mapping, mdl: str, kw: dict, errors: list[str]) -> None:
    """cls=, seed=, trunc=, split=: which image of the model, and where it is split."""
    names = class_names(mdl)
    _t_def, s_def, splits = model_defaults(mdl)
    cls = _one(params, "cls")
    if cls is not None:
        try:
            kw["class_id"] = resolve_class(cls, names)
        except UserError as exc:
            errors.append(f"cls: {exc}; using {names[0]}")
    seed = _one(params, "seed")
    v = None if seed is None else _integer(seed, "seed", 0, MAX_SEED, errors)
    if v is not None:
        kw["seed"] = v
    trunc = _one(params, "trunc")
    v = None if trunc is None else _number(trunc, "trunc", *TRUNC_RANGE, errors)
    if v is not None:
        kw["truncation"] = v
    split = _one(params, "split")
    if split is not None:
        if split in splits:
            kw["split"] = split
        else:
            errors.append(f"split={short(split, 24)} is not a split point of {mdl}; using {s_def}")


def _decode_layout(params: Mapping, kw: dict, errors: list[str]) -> None:
    """layout= and players=, checked together (a layout may need its players)."""
    layout = _one(params, "layout")
    if layout is not None:
        try:
            kw["layout"] = parse_layout(layout, None, force=True).name
        except UserError as exc:
            errors.append(f"layout: {exc}; using 3x3")
    players = _one(params, "players")
    if players is not None:
        try:
            chosen = parse_players(players)
            lay = parse_layout(kw.get("layout", "3x3"), chosen)
            kw["players"] = lay.players
        except UserError as exc:
            errors.append(f"players: {exc}; using the layout's default players")
    if "players" not in kw and kw.get("layout", "3x3") != "paper":
        try:
            parse_layout(kw.get("layout", "3x3"))
        except UserError as exc:
            errors.append(f"layout: {exc}; using 3x3")
            kw.pop("layout", None)


def _decode_view(params: Mapping, n: int, errors: list[str]) -> ViewState:
    """w=, off=, solo=, r=: the mixer's weights for n players."""
    view = ViewState()
    w = _one(params, "w")
    if w is not None:
        view = replace(view, weights=_decode_weights(w, n, errors))
    for name in ("off", "solo"):
        text = _one(params, name)
        if text is not None and text.strip():
            view = replace(view, **{name: _decode_rows(text, n, name, errors)})
    r = _one(params, "r")
    v = None if r is None else _number(r, "r", R_MIN, R_MAX, errors)
    if v is not None:
        view = replace(view, residual=v)
    return view


def _decode_weights(text: str, n: int, errors: list[str]) -> dict[int, float]:
    """'row:weight,...' (mixer.parse_row_weights) -> {row: weight}, weights clamped to the
    slider's range; bad items are dropped and summed up in one message."""
    weights: dict[int, float] = {}
    bad: list[str] = []
    for item in parse_row_weights(text, n):
        if item.problem == "syntax":
            bad.append(f"w: {short(item.text, 24)} is not row:weight")
        elif item.problem == "row":
            bad.append(f"w: component row {short(item.row, 24)} is outside 1..{2 ** n - 1} for {n} players")
        else:
            val = _number(item.value_text, f"w[{item.row}]", W_MIN, W_MAX, errors)
            if val is not None and val != 1.0:
                weights[item.row] = val
    if bad:
        more = f" (and {len(bad) - 1} more bad items)" if len(bad) > 1 else ""
        errors.append(f"{bad[0]}; ignored{more}")
    return weights
