"""The flags several subcommands share and how they are read: the model and its device, which
image (class, seed, truncation), a decomposition's settings, and the result cache."""
from __future__ import annotations

import argparse
import sys

from regionprims.method import settings_table

DEFAULT_MODEL = "demo"
MODEL_HELP = ("a model name (`regionprims models` lists the built-ins and installed plug-ins), a plug-in "
              "module.path:callable or path/to/file.py:callable (docs/plugins.md), or a checkpoint folder "
              "(`regionprims models` says which layouts are read) (default: demo)")


def add_model_flags(p: argparse.ArgumentParser, image: bool = True) -> None:
    """--model and --device; with `image`, also which image: --class, --seed, --truncation."""
    p.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default: cuda if available)")
    if image:
        p.add_argument("--class", dest="class_", default=None, help="class index or name (not needed for an "
                       "unconditional generator)")
        p.add_argument("--seed", required=True, help="latent code seed, 0..4294967295")
        p.add_argument("--truncation", default=None, help="in (0, 1]; default: the model's (`regionprims models`)")


def add_settings(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """The settings of one decomposition (decompose and batch take the same): the spec's flags,
    then one flag per setting that declares one (method/settings_table.py). With defaults=False
    every flag defaults to None, so that a study file's values stay unless given."""
    d = (lambda v: v) if defaults else (lambda v: None)
    p.add_argument("--layout", default=d("3x3"), help="3x3 (default), paper (6x6, 9 foreground players), or RxC")
    p.add_argument("--players", default=None, help="comma-separated patch indices (row-major)")
    p.add_argument("--split", default=None, help="split point (module path); default: the model's")
    for row in settings_table.flagged():
        p.add_argument(row.meta.flag, dest=row.name, default=None, **_flag_kind(row),
                       help=f"{row.meta.help} (default: {_shown_default(row)})".replace("%", "%%"))
    p.add_argument("--rank-by", default=d("norm"), choices=["norm", "effect"])
    p.add_argument("--force", action="store_true", default=d(False), help="allow more than 12 players")


def open_generator(args):
    """The generator of --model on --device (loaded once per process)."""
    from regionprims.models.registry import load_generator
    return load_generator(args.model, getattr(args, "device", None))


def open_cache(args):
    """The result cache, or None (--no-cache, or a cache folder that cannot be used: then the
    run goes on uncached with one warning)."""
    if getattr(args, "no_cache", False):
        return None
    from regionprims.store.cache import CacheUnavailable, ResultCache
    try:
        return ResultCache(args.cache_dir)
    except CacheUnavailable as exc:
        print(f"warning: {exc}; running without a cache", file=sys.stderr)
        return None


def optim_settings(args) -> object:
    """The OptimSettings of the flags given; each flag not given keeps its default (0 included:
    a given value is checked by validate, not replaced)."""
    given = {r.name: getattr(args, r.name) for r in settings_table.flagged() if getattr(args, r.name, None) is not None}
    return settings_table.settings_class()(**given)


def _flag_kind(row: settings_table.Row) -> dict:
    """argparse's type, choices or action for a setting of `row.kind`."""
    if row.choices:
        return {"choices": list(row.choices)}
    if row.kind is bool:
        return {"action": argparse.BooleanOptionalAction}
    return {"type": row.kind}


def _shown_default(row: settings_table.Row) -> str:
    return str(row.default).lower() if row.kind is bool else str(row.default)
