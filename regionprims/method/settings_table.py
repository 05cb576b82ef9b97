"""The one table of the optimisation settings. Each OptimSettings field declares, next to itself
(`setting(...)` in specs.py), its help, valid range, CLI flag, sidebar widget and URL key; the
CLI flags, the batch keys, the explorer's widgets, the URL and OptimSettings.validate are all
made from this table, so a new setting is one declaration."""
from __future__ import annotations

from dataclasses import replace

from regionprims.method import specs
from regionprims.method.settings_meta import (KEY, Row, Setting, Widget, _rows, check,  # noqa: F401 (the table's API)
                                              setting)


def settings_class() -> type:
    """The settings class the front ends build, looked up on each call (specs.OptimSettings, or
    a test's extension of it)."""
    return specs.OptimSettings


def defaults() -> object:
    """The default settings (an instance of settings_class)."""
    return settings_class()()


def table(cls: type | None = None) -> tuple[Row, ...]:
    """Every setting of `cls` (default: settings_class()) in field order."""
    return _rows(cls or settings_class())


def flagged() -> tuple[Row, ...]:
    """The settings with a CLI flag."""
    return tuple(r for r in table() if r.meta.flag)


def shown() -> tuple[Row, ...]:
    """The settings the explorer's sidebar shows."""
    return tuple(r for r in table() if r.meta.widget is not None)


def in_url() -> tuple[Row, ...]:
    """The settings the explorer's URL records."""
    return tuple(r for r in table() if r.meta.url)


def with_url_values(settings: object, values: dict) -> object:
    """`settings` with the values of `values` {URL key: value} (None keeps a setting); TypeError
    for a key that no setting has, as for an unknown keyword."""
    names = {r.meta.url: r.name for r in in_url()}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise TypeError(f"no setting has the URL key(s) {', '.join(unknown)}")
    return replace(settings, **{names[k]: v for k, v in values.items() if v is not None})


