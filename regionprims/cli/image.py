"""`regionprims decompose` (one image into OR components; the report, --json, --out) and
`regionprims sample` (the generated image as a PNG): the commands on one image of a model."""
from __future__ import annotations

import io
import json
import sys
import time

from regionprims.cli.options import add_model_flags, add_settings, open_cache, open_generator, optim_settings
from regionprims.cli.terminal import StderrProgress, print_metrics
from regionprims.errors import UserError

MAX_SCALE = 32                 # sample --scale: 512 px x 32 is a 16k-pixel-wide PNG already


def register(subparsers) -> None:
    """Add `decompose` and `sample`."""
    p = subparsers.add_parser("decompose", help="decompose one image into OR components")
    add_model_flags(p)
    add_settings(p)
    p.add_argument("--out", default=None, help="write the decomposition file (.safetensors)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--cache-dir", default=None, help="cache folder (default: $REGIONPRIMS_CACHE or cache/)")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_decompose)

    p = subparsers.add_parser("sample", help="write the generated image as PNG")
    add_model_flags(p)
    p.add_argument("--out", required=True, help="output .png")
    p.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscaling factor")
    p.set_defaults(func=cmd_sample)


def cmd_decompose(args) -> int:
    from regionprims.store.fileformat import save_decomposition
    from regionprims.pipeline import decompose, make_spec, report_json
    from regionprims.method.regions import parse_players
    from regionprims.store.atomic import check_out
    start = time.perf_counter()
    if args.out:
        check_out(args.out, ".safetensors")     # before minutes of work, not after
    players = parse_players(args.players) if args.players else None
    gen = open_generator(args)
    spec = make_spec(gen, args.class_, args.seed, truncation=args.truncation, split=args.split,
                     layout=args.layout, players=players, settings=optim_settings(args), rank_by=args.rank_by,
                     force=args.force)
    cache = open_cache(args)
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
    print_metrics(report["metrics"], report.get("absent_metrics", {}), report.get("by_construction"))
    if out:
        print(f"saved {out}")


def cmd_sample(args) -> int:
    from PIL import Image

    from regionprims.pipeline import sample_image
    from regionprims.store.atomic import check_out, write_atomic
    if not 1 <= args.scale <= MAX_SCALE:
        raise UserError(f"--scale must be between 1 and {MAX_SCALE}, got {args.scale}")
    out = check_out(args.out, ".png")
    gen = open_generator(args)
    rgb = sample_image(gen, args.class_, args.seed, args.truncation)
    img = Image.fromarray(rgb)
    if args.scale > 1:
        img = img.resize((img.width * args.scale, img.height * args.scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    write_atomic(out, buf.getvalue())
    print(str(out))
    return 0
