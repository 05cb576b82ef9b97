"""The `regionprims` command line (docs/design.md §2). Results go to stdout (one JSON object with
--json), progress to stderr. A user mistake exits 2 with one line `error: ...`; no traceback.

Here: the parser of every subcommand, main() and the one line for any failure, and the two
housekeeping commands (models, cache); the other commands live in their own modules."""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Sequence

from regionprims import allocator
from regionprims.cli import files, image
from regionprims.errors import UserError
from regionprims.progress import Cancelled
from regionprims.validation import printable

PATH_ARGS = ("out", "cache_dir", "file", "a", "b", "control", "study_file", "target", "model", "address")


def cmd_models(args) -> int:
    from regionprims.models.registry import folder_layouts, list_models
    models = list_models()
    if args.json:
        print(json.dumps(models))
    else:
        for m in models:
            state = "weights present" if m["weights_present"] else "weights missing"
            print(f"{m['name']:18} {m['kind']:12} {m['image_size']:4d}px {m['classes']:5d} classes  "
                  f"default split {m['default_split']}  ({state})")
        for layout in folder_layouts():             # what --model FOLDER reads
            print(f"--model FOLDER: {layout}")
    return 0


def cmd_cache(args) -> int:
    from regionprims.store.cache import ResultCache
    cache = ResultCache(args.cache_dir)         # an unusable folder: one error line
    if args.action == "clear":
        print(f"removed {cache.clear()} entries from {cache.directory}")
    else:
        print(json.dumps({"directory": str(cache.directory), "entries": len(cache), "bytes": cache.volume()}))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block) for user mistakes."""

    def error(self, message: str):
        if len(message) > 300:                   # e.g. "invalid int value: '<5000 digits>'"
            message = message[:200] + f"... ({len(message)} characters)"
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="regionprims", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the generators and whether their weights are present")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    image.register(sub)                          # decompose, sample
    files.register(sub)                          # info, transfer

    p = sub.add_parser("cache", help="show or clear the result cache")
    p.add_argument("action", choices=["info", "clear"])
    p.add_argument("--cache-dir", default=None)
    p.set_defaults(func=cmd_cache)

    from regionprims.cli import export, study
    from regionprims.models.demo import train
    for register in (train.register, export.register, study.register):
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    allocator.tune()                           # freed tensor memory reused, not re-faulted (allocator.py)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:                  # --help, or a usage error already printed
        return int(exc.code or 0)
    try:
        check_paths(args)
        return int(args.func(args) or 0)
    except BrokenPipeError:                    # e.g. `regionprims ... | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except BaseException as exc:               # noqa: BLE001 - every failure is one line
        code, line = describe_failure(exc)
        print(f"error: {printable(line)}", file=sys.stderr)
        if code == 1 and os.environ.get("REGIONPRIMS_DEBUG"):
            traceback.print_exc()
        return code


def check_paths(args: argparse.Namespace) -> None:
    """An empty path or name ('--out ""') is a mistake, not 'the default' or 'the current folder'."""
    for name in PATH_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, str) and not value.strip():
            flag = name if name in ("file", "a", "b", "study_file", "target") else "--" + name.replace("_", "-")
            raise UserError(f"{flag} is empty; give a path or name (or leave the option out for its default)")


def describe_failure(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line) for any exception that reaches the top: 2 for a user's mistake or a
    problem with a file or folder, 130 for a cancel, 1 with a request for a bug report for the rest."""
    import sqlite3
    if isinstance(exc, UserError):
        return 2, str(exc)
    if isinstance(exc, (Cancelled, KeyboardInterrupt)):
        return 130, "cancelled" if isinstance(exc, Cancelled) else "interrupted"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return 2, f"{exc.strerror or exc}{where}"[:500]
    if isinstance(exc, MemoryError):
        return 2, "out of memory; try smaller settings (fewer players, --memory-mb, --scale)"
    if isinstance(exc, sqlite3.Error):
        return 2, f"database error ({exc}); a damaged file in a cache or work folder?"[:500]
    if isinstance(exc, SystemExit):            # only code we call (a plug-in, a library) raises it here
        return 2, f"code called sys.exit({str(exc.code)[:80]!r}) while regionprims was running; a plug-in " \
                  "must return a generator or raise an error, not exit"
    return 1, (f"internal error ({type(exc).__name__}: {str(exc)[:300]}); this is a bug in regionprims, "
               "please report it with the command you ran (REGIONPRIMS_DEBUG=1 prints the traceback)")


if __name__ == "__main__":
    sys.exit(main())
