"""The declarations of the settings table (method/settings_table.py): `setting(...)` next to each
OptimSettings field, what it allows, and the check of a settings object against it. Kept apart
from the table's front-end view so that specs.py can use it without importing itself back."""
from __future__ import annotations

import functools
import numbers
import typing
from dataclasses import Field, dataclass, field, fields

from regionprims.errors import UserError

KEY = "setting"             # the key of a field's metadata that holds its Setting


@dataclass(frozen=True)
class Widget:
    """How the explorer's sidebar shows a setting: its label, its range (narrower than the valid
    one where only fast values belong in a sidebar; a link's value is clamped into it too), its
    step and its kind: number, slider, select (choices) or checkbox (bool); "" picks by type."""

    label: str
    lo: float | None = None         # None: the setting's valid range
    hi: float | None = None
    step: float = 1
    help: str = ""                  # "": the setting's help
    kind: str = ""


@dataclass(frozen=True)
class Setting:
    """What one setting is called and allows, and which front ends carry it."""

    help: str                                   # what it does: the CLI's help and the field's documentation
    label: str = ""                             # its name in messages ("learning rate"); "": the field's name
    between: tuple | None = None                # valid range [lo, hi]; lo may name another setting (at least its value)
    open_low: bool = False                      # lo itself is refused: (lo, hi]
    zero: str = ""                              # what 0 means, said in the range ("automatic")
    unit: str = ""                              # said after each bound (" MB")
    flag: str | None = None                     # the CLI flag of decompose and batch; None: none
    url: str | None = None                      # the explorer's URL key; None: the URL does not record it
    widget: Widget | None = None                # the sidebar's widget; None: not in the sidebar


def setting(default: object, help: str, **meta: object) -> Field:
    """A dataclass field with its Setting (the declaration next to the field)."""
    return field(default=default, metadata={KEY: Setting(help, **meta)})


@dataclass(frozen=True)
class Row:
    """One setting of the table: its field's name, default, type and declared Setting."""

    name: str
    default: object
    kind: type                      # bool, int, float or str
    choices: tuple                  # a Literal's values; (): any value of `kind`
    meta: Setting

    @property
    def label(self) -> str:
        """Its name in messages."""
        return self.meta.label or self.name.replace("_", " ")

    @property
    def key(self) -> str:
        """Its session-state key in the explorer: the URL key when the URL records it."""
        return self.meta.url or self.name

    def ui_range(self) -> tuple:
        """The sidebar's and the URL's range: the widget's, else the valid one."""
        w = self.meta.widget
        lo, hi = self.meta.between or (None, None)
        if w is not None:
            lo, hi = (w.lo if w.lo is not None else lo), (w.hi if w.hi is not None else hi)
        return lo, hi

    def url_choices(self) -> dict:
        """{URL text: value} of a setting with choices or a bool ({} for a number)."""
        if self.choices:
            return {c: c for c in self.choices}
        return {"1": True, "0": False} if self.kind is bool else {}

    def url_text(self, value: object) -> str:
        """A value in the URL: a choice as it is, a bool 1/0, a float exactly (repr), a whole number."""
        texts = {v: t for t, v in self.url_choices().items()}
        return texts[value] if texts else repr(float(value)) if self.kind is float else str(value)

    def widget_kind(self) -> str:
        """The sidebar's widget: the declared kind, else checkbox (bool), select (choices) or number."""
        w = self.meta.widget
        if w is not None and w.kind:
            return w.kind
        return "checkbox" if self.kind is bool else "select" if self.choices else "number"

    def problem(self, value: object, settings: object) -> str | None:
        """The one-line message when `value` is not allowed (None when it is)."""
        if self.choices:
            if value not in self.choices:
                return f"{self.label} must be one of {', '.join(self.choices)}, got {value!r}"
            return None
        if self.kind in (bool, str):
            what = "true or false" if self.kind is bool else "text"
            return None if isinstance(value, self.kind) else f"{self.label} must be {what}, got {value!r}"
        whole = self.kind is int
        fits = isinstance(value, numbers.Integral if whole else numbers.Real) and not isinstance(value, bool)
        if self.meta.between is None:
            return None if fits else f"{self.label} must be a {'whole ' if whole else ''}number, got {value!r}"
        lo, hi = self.meta.between
        low = getattr(settings, lo) if isinstance(lo, str) else lo
        inside = fits and (low < value if self.meta.open_low else low <= value) and value <= hi
        if inside:
            return None
        kind = "" if fits else "a whole number " if whole else "a number "
        return f"{self.label} must be {kind}{self._range_text(lo, low)}, got {value!r}"

    def _range_text(self, lo: object, low: object) -> str:
        unit, zero = self.meta.unit, f" ({self.meta.zero})" if self.meta.zero else ""
        hi = self.meta.between[1]
        if isinstance(lo, str):
            lo_text = f"{lo.replace('_', ' ')} ({low}){unit}"
        else:
            lo_text = f"{_num(lo)}{zero if lo == 0 else ''}{unit}"
        if self.kind is int:
            return f"between {lo_text} and {_num(hi)}{unit}"
        return f"in {'(' if self.meta.open_low else '['}{lo_text}, {_num(hi)}{unit}]"


def _num(v: object) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


@functools.lru_cache(maxsize=8)
def _rows(cls: type) -> tuple[Row, ...]:
    hints = typing.get_type_hints(cls)
    rows = []
    for f in fields(cls):
        meta = f.metadata.get(KEY)
        if meta is None:
            raise TypeError(f"{cls.__name__}.{f.name} has no setting(...) declaration")
        hint = hints[f.name]
        choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else ()
        rows.append(Row(f.name, f.default, type(f.default), tuple(choices), meta))
    return tuple(rows)


def check(settings: object) -> None:
    """Raise one UserError for the first setting outside its declared range or choices."""
    for row in _rows(type(settings)):
        message = row.problem(getattr(settings, row.name), settings)
        if message is not None:
            raise UserError(message)
