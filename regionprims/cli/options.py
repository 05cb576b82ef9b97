"""The flags several subcommands share and how they are read: the model and its device, which
image (class, seed, truncation), a decomposition's settings, and the result cache."""
from __future__ import annotations

import argparse
import sys

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
    """The settings of one decomposition (decompose and batch take the same). With
    defaults=False every flag defaults to None, so that a study file's values stay unless given."""
    from regionprims.method.specs import OptimSettings
    base = OptimSettings()
    d = (lambda v: v) if defaults else (lambda v: None)
    p.add_argument("--layout", default=d("3x3"), help="3x3 (default), paper (6x6, 9 foreground players), or RxC")
    p.add_argument("--players", default=None, help="comma-separated patch indices (row-major)")
    p.add_argument("--split", default=None, help="split point (module path); default: the model's")
    p.add_argument("--steps", type=int, default=None,
                   help=f"optimisation steps per subset after the warm start, the same for every subset "
                        f"(default {base.steps})")
    p.add_argument("--lr", type=float, default=None,
                   help=f"learning rate of the masks (default {base.lr}, cosine-decayed; docs/method.md §4)")
    p.add_argument("--lam", type=float, default=None, help="weight of the mask-size penalty (lambda)")
    p.add_argument("--mask", choices=["spatial", "channel"], default=None)
    p.add_argument("--baseline-codes", type=int, default=None, help="codes averaged for the baseline f0")
    p.add_argument("--chunk", type=int, default=None, help="subsets per optimisation batch (default: as many "
                   "as fit in --memory-mb)")
    p.add_argument("--memory-mb", type=int, default=None, help="bound on the optimisation's activation memory "
                   f"(default {base.memory_mb})")
    p.add_argument("--refine", choices=["skip", "all"], default=None,
                   help="skip (default): a subset of 2+ players whose mask increment cannot move from 0 (one "
                        "gradient decides) takes no steps, with the same result; all: every subset is stepped")
    p.add_argument("--max-order", type=int, default=None,
                   help="subsets of more than this many players are not optimised: their mask is the max of "
                        "their sub-masks (approximate; docs/method.md); 0 = no cap (default: the model's)")
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


def optim_settings(args):
    """The OptimSettings of the flags given; each flag not given keeps its default."""
    from regionprims.method.specs import OptimSettings
    base = OptimSettings()
    return OptimSettings(steps=_given(args.steps, base.steps), lr=_given(args.lr, base.lr),
                         lam=_given(args.lam, base.lam), mask=_given(args.mask, base.mask),
                         baseline_codes=_given(args.baseline_codes, base.baseline_codes),
                         chunk=_given(args.chunk, base.chunk), memory_mb=_given(args.memory_mb, base.memory_mb),
                         refine=_given(getattr(args, "refine", None), base.refine),
                         max_order=_given(getattr(args, "max_order", None), base.max_order))


def _given(value, default):
    """A flag's value when given (0 included: it is checked, not replaced), else the default."""
    return default if value is None else value
