"""The `regionprims` command line (DESIGN §5). Results go to stdout (one JSON object with
--json), progress to stderr. A user mistake exits 2 with one line `error: ...`; no traceback."""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import traceback
from typing import Sequence

from regionprims import allocator
from regionprims.errors import UserError
from regionprims.progress import Cancelled

DEFAULT_MODEL = "demo"
MODEL_HELP = ("demo, omniart-eyes, biggan-deep-128/256/512, an installed plug-in's name, a plug-in "
              "module.path:callable or path/to/file.py:callable (docs/plugins.md), or a BigGAN-deep folder "
              "with config.json + pytorch_model.bin (default: demo)")
MAX_SCALE = 32                 # sample --scale: 512 px x 32 is a 16k-pixel-wide PNG already


class StderrProgress:
    """One line on stderr, rewritten in place on a terminal, every ~2% otherwise."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.start = time.perf_counter()
        self.last = -1.0

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.quiet:
            return
        frac = done / total if total else 1.0
        if not self.tty and frac - self.last < 0.02 and frac < 1.0:
            return
        self.last = frac
        elapsed = time.perf_counter() - self.start
        line = f"[{elapsed:6.1f}s] {100 * frac:5.1f}% {message}"
        sys.stderr.write(("\r" + line.ljust(100)) if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


def _generator(args):
    from regionprims.models.registry import load_generator
    return load_generator(args.model, getattr(args, "device", None))


def _cache(args):
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


def cmd_models(args) -> int:
    from regionprims.models.registry import list_models
    models = list_models()
    if args.json:
        print(json.dumps(models))
    else:
        for m in models:
            state = "weights present" if m["weights_present"] else "weights missing"
            print(f"{m['name']:18} {m['kind']:12} {m['image_size']:4d}px {m['classes']:5d} classes  "
                  f"default split {m['default_split']}  ({state})")
    return 0


def _settings(args):
    from regionprims.method.specs import OptimSettings
    base = OptimSettings()
    return OptimSettings(steps=args.steps if args.steps is not None else base.steps,
                         lr=args.lr if args.lr is not None else base.lr,
                         lam=args.lam if args.lam is not None else base.lam,
                         mask=args.mask or base.mask,
                         baseline_codes=_given(args.baseline_codes, base.baseline_codes),
                         chunk=_given(args.chunk, base.chunk), memory_mb=_given(args.memory_mb, base.memory_mb))


def _given(value, default):
    """A flag's value when given (0 included: it is checked, not replaced), else the default."""
    return default if value is None else value


def cmd_decompose(args) -> int:
    from regionprims.store.fileformat import save_decomposition
    from regionprims.pipeline import decompose, make_spec, report_json
    from regionprims.method.regions import parse_players
    from regionprims.store.atomic import check_out
    start = time.perf_counter()
    if args.out:
        check_out(args.out, ".safetensors")     # before minutes of work, not after
    players = parse_players(args.players) if args.players else None
    gen = _generator(args)
    spec = make_spec(gen, args.class_, args.seed, truncation=args.truncation, split=args.split,
                     layout=args.layout, players=players, settings=_settings(args), rank_by=args.rank_by,
                     force=args.force)
    cache = _cache(args)
    if not args.quiet:
        _say_estimate(gen, spec, cache)
    bar = StderrProgress(args.quiet)
    try:
        dec, hit = decompose(gen, spec, cache=cache, progress=bar)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    if args.out:
        save_decomposition(dec, args.out)
    report = report_json(dec, hit, seconds)
    if args.json:
        print(json.dumps(report))
    else:
        _print_report(report, args.out)
    return 0


def _say_estimate(gen, spec, cache) -> None:
    """The expected time on this device (from a short measured probe), on stderr, before a
    decomposition that is not in the cache starts."""
    from regionprims.estimate import estimate
    from regionprims.pipeline import decomposition_key
    if cache is not None and decomposition_key(spec) in cache:
        return
    est = estimate(gen, spec, cache)
    sys.stderr.write(f"estimated time: {est.text()} ({2 ** spec.layout.n} subsets; from a measured "
                     f"probe of the tail at {spec.split})\n")
    sys.stderr.flush()


def _print_report(report: dict, out: str | None) -> None:
    print(f"{report['model']}  class {report['class_id']} ({report.get('class_name')})  seed {report['seed']}  "
          f"layout {report['layout']}  players {report['players']}")
    print(f"{report['n_subsets']} subsets in {report['seconds']:.1f} s{' (cached)' if report['cache_hit'] else ''}")
    _print_metrics(report["metrics"], report.get("absent_metrics", {}))
    if out:
        print(f"saved {out}")


def _print_metrics(metrics: dict, absent: dict) -> None:
    """Each score beside the geometric null's (`null_` + key), then the absent ones with why."""
    from regionprims.method.metrics import format_metric
    print(f"  {'metric':26} {'method':>10} {'null':>10}")
    for key, value in metrics.items():
        if not key.startswith("null_"):
            null = metrics.get("null_" + key)
            shown = format_metric(key, null) if null is not None else ""
            print(f"  {key:26} {format_metric(key, value):>10} {shown:>10}")
    for key, why in absent.items():
        print(f"  {key:26} {'absent':>10}  ({why})")


def cmd_sample(args) -> int:
    from PIL import Image

    from regionprims.pipeline import sample_image
    from regionprims.store.atomic import check_out, write_atomic
    if not 1 <= args.scale <= MAX_SCALE:
        raise UserError(f"--scale must be between 1 and {MAX_SCALE}, got {args.scale}")
    out = check_out(args.out, ".png")
    gen = _generator(args)
    rgb = sample_image(gen, args.class_, args.seed, args.truncation)
    img = Image.fromarray(rgb)
    if args.scale > 1:
        img = img.resize((img.width * args.scale, img.height * args.scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    write_atomic(out, buf.getvalue())
    print(str(out))
    return 0


def cmd_info(args) -> int:
    from regionprims.store.fileformat import load_decomposition, read_metadata
    meta = read_metadata(args.file)
    if args.verify:
        load_decomposition(args.file)           # checks every tensor and the checksum
    if args.json:
        print(json.dumps(meta))
        return 0
    layout = meta["layout"]
    print(f"{args.file}: {meta['model']} ({meta['model_identity']}) class {meta['class_id']} "
          f"({meta.get('class_name')}) seed {meta['seed']} truncation {meta['truncation']}")
    print(f"split {meta['split']}  layout {layout['name']} ({layout['rows']}x{layout['cols']})  players {meta['players']}")
    print("settings: " + ", ".join(f"{k}={v}" for k, v in meta["settings"].items()))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    _print_metrics(meta["metrics"], meta.get("info", {}).get("absent_metrics", {}))
    return 0


def cmd_transfer(args) -> int:
    from regionprims.store.fileformat import load_decomposition
    from regionprims.method.transfer import transfer_report
    a, b = load_decomposition(args.a), load_decomposition(args.b)
    control = load_decomposition(args.control) if args.control else None
    for other, what in ((b, "the two files"), (control, "the control and A")):
        if other is not None and a.spec.layout != other.spec.layout:
            raise UserError(f"{what} use different players; transfer compares components by region set")
    if control is not None and (control.spec.class_id == a.spec.class_id or control.spec.model_identity !=
                                a.spec.model_identity):
        raise UserError("--control must be a decomposition of another class by the same model (a cross-class control)")
    out = transfer_report(a, b, control)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{out['n_components']} components; chance = the mean overlap of uniformly random rankings, "
          "null = the geometric null's transfer between the same images")
    for name in ("top20_top100", "top20_top20"):
        if f"transfer_{name}" not in out:
            print(f"transfer_{name:20} absent: {out['absent'][f'transfer_{name}']}")
            continue
        line = (f"transfer_{name:20} {out[f'transfer_{name}']:.3f}   chance {out[f'chance_{name}']:.3f} "
                f"(p = {out[f'p_{name}']:.2g})   null {out[f'null_transfer_{name}']:.3f}")
        if f"control_transfer_{name}" in out:
            line += f"   cross-class control {out[f'control_transfer_{name}']:.3f}"
        print(line)
    if "transfer_top20_top100_ba" in out:
        print(f"transfer_top20_top100_ba   {out['transfer_top20_top100_ba']:.3f}   (B's top 20 among A's top 100)")
    return 0


def cmd_cache(args) -> int:
    from regionprims.store.cache import ResultCache
    cache = ResultCache(args.cache_dir)         # an unusable folder: one error line
    if args.action == "clear":
        print(f"removed {cache.clear()} entries from {cache.directory}")
    else:
        print(json.dumps({"directory": str(cache.directory), "entries": len(cache), "bytes": cache.volume()}))
    return 0


def _common(p: argparse.ArgumentParser, image: bool = True) -> None:
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
    d = (lambda v: v) if defaults else (lambda v: None)
    p.add_argument("--layout", default=d("3x3"), help="3x3 (default), paper (6x6, 9 foreground players), or RxC")
    p.add_argument("--players", default=None, help="comma-separated patch indices (row-major)")
    p.add_argument("--split", default=None, help="split point (module path); default: the model's")
    p.add_argument("--steps", type=int, default=None, help="most optimisation steps per subset")
    p.add_argument("--lr", type=float, default=None, help="learning rate of the mask logits")
    p.add_argument("--lam", type=float, default=None, help="weight of the mask-size penalty (lambda)")
    p.add_argument("--mask", choices=["spatial", "channel"], default=None)
    p.add_argument("--baseline-codes", type=int, default=None, help="codes averaged for the baseline f0")
    p.add_argument("--chunk", type=int, default=None, help="subsets per optimisation batch (default: as many "
                   "as fit in --memory-mb)")
    p.add_argument("--memory-mb", type=int, default=None, help="bound on the optimisation's activation memory "
                   "(default 4096)")
    p.add_argument("--rank-by", default=d("norm"), choices=["norm", "effect"])
    p.add_argument("--force", action="store_true", default=d(False), help="allow more than 12 players")


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

    p = sub.add_parser("decompose", help="decompose one image into OR components")
    _common(p)
    add_settings(p)
    p.add_argument("--out", default=None, help="write the decomposition file (.safetensors)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--cache-dir", default=None, help="cache folder (default: $REGIONPRIMS_CACHE or cache/)")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_decompose)

    p = sub.add_parser("sample", help="write the generated image as PNG")
    _common(p)
    p.add_argument("--out", required=True, help="output .png")
    p.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscaling factor")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("info", help="print the metadata and metrics of a decomposition file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--verify", action="store_true", help="also read every tensor and check the checksum")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("transfer", help="transferability of components between two decomposition files")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--control", default=None, help="a decomposition of ANOTHER class (same model and players): "
                   "reports A's transfer into it beside A's transfer into B (the cross-class control)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_transfer)

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
        return int(args.func(args) or 0)
    except BrokenPipeError:                    # e.g. `regionprims ... | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except BaseException as exc:               # noqa: BLE001 - every failure is one line
        code, line = describe_failure(exc)
        print(f"error: {line}", file=sys.stderr)
        if code == 1 and os.environ.get("REGIONPRIMS_DEBUG"):
            traceback.print_exc()
        return code


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
    if isinstance(exc, SystemExit):
        return int(exc.code) if isinstance(exc.code, int) else 1, str(exc.code or "exit")
    return 1, (f"internal error ({type(exc).__name__}: {str(exc)[:300]}); this is a bug in regionprims, "
               "please report it with the command you ran (REGIONPRIMS_DEBUG=1 prints the traceback)")


if __name__ == "__main__":
    sys.exit(main())
