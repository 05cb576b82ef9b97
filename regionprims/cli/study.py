"""`regionprims batch` (every (class, seed) of a study on Ray) and `regionprims study` (the
cross-image report of a finished study). Parsing and printing only: the work is in
regionprims.study."""
from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

from regionprims.errors import UserError
from regionprims.validation import printable

PLAN_FLAGS = ("truncation", "split", "layout", "players", "rank_by", "force")   # besides the settings' flags


def register(subparsers) -> None:
    from regionprims.cli.options import add_settings
    p = subparsers.add_parser(
        "batch", help="decompose every (class, seed) of a study on Ray (local, or a cluster with --address)",
        description="Decompose every (class, seed) of a study on Ray: results into the shared cache (the keys "
                    "`decompose` uses) and, with --out, one file per image, study.json and the report. "
                    "Resumable (a rerun computes nothing that is cached); an image that fails is recorded and "
                    "the study goes on; exit status 1 when any image failed.")
    p.add_argument("study_file", nargs="?", default=None, help="a TOML study file with the same keys as the "
                   "flags (flags given on the command line win); without it and without --classes/--seeds, "
                   "the study recorded in --out is run again")
    p.add_argument("--model", default=None, help="generator name (default: demo); a plug-in named by a study "
                   "file or folder is used only when given here too")
    p.add_argument("--classes", default=None, help="names, indices or ranges A-B, comma-separated, or 'all'")
    p.add_argument("--seeds", default=None, help="seeds: a list (0,3,7), a range (0-9), or both")
    p.add_argument("--truncation", default=None, type=float, help="in (0, 1]; default: the model's")
    add_settings(p, defaults=False)
    p.add_argument("--address", default=None, help="Ray cluster address (default: start Ray on this machine)")
    p.add_argument("--out", default=None, help="folder for one file per image, study.json and the report")
    p.add_argument("--cache-dir", default=None, help="cache folder (default: $REGIONPRIMS_CACHE or cache/); on "
                   "a cluster, a path every node sees")
    p.add_argument("--cpus-per-task", type=float, default=1.0, help="CPUs per worker (its torch threads)")
    p.add_argument("--gpus-per-task", type=float, default=None, help="GPUs per worker (default: 1 where the "
                   "cluster has GPUs, else 0)")
    p.add_argument("--workers", type=int, default=None, help="at most this many workers (default: as many as "
                   "the resources hold)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_batch)

    p = subparsers.add_parser("study", help="the cross-image report of a study: transfer, consistency, metrics",
                              description="Transfer within class, across classes and at chance; consistency "
                                          "across seeds; metric distributions. Writes report.md, report.json "
                                          "and PNG plots into the study folder (or --out).")
    p.add_argument("target", help="a study folder (with study.json), a TOML study file, or a study id")
    p.add_argument("--top", type=int, default=20, help="components of image a compared (default 20)")
    p.add_argument("--pool", type=int, default=100, help="components of image b searched (default 100)")
    p.add_argument("--out", default=None, help="write the report files here (default: the study folder)")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--model", default=None, help="the study's model, when it is a plug-in spec or folder (a "
                   "model named only by a study is never imported)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.set_defaults(func=cmd_study)


def plan_from_args(args):
    """The plan of the flags over a TOML file's keys, or over the plan recorded in --out (a
    resume). A model named by the file or the folder is a stored name (registry.resolve_stored)
    unless --model names the model."""
    from dataclasses import replace

    from regionprims.models.registry import resolve_stored
    from regionprims.study.plan import StudyPlan, plan_from_mapping, read_study_file
    from regionprims.study.records import STUDY_JSON, load_folder
    base = None
    if args.study_file:
        base, where = plan_from_mapping(read_study_file(args.study_file)), args.study_file
    elif args.classes is None and args.seeds is None and args.out and (Path(args.out) / STUDY_JSON).is_file():
        base, where = load_folder(args.out).plan, str(Path(args.out) / STUDY_JSON)
    if base is None and (args.classes is None or args.seeds is None):
        raise UserError("give --classes and --seeds (or a study file, or an --out folder holding a study)")
    if base is not None and args.model is None:
        base = replace(base, model=resolve_stored(base.model, where))
    from regionprims.method import settings_table
    flags = {k: getattr(args, k) for k in PLAN_FLAGS + tuple(r.name for r in settings_table.flagged())}
    flags.update(model=args.model, classes=args.classes, seeds=args.seeds)
    return plan_from_mapping(flags, base or StudyPlan(model="demo"))


def _options(args):
    """The batch's options, checked before Ray starts."""
    from regionprims.study import runner
    return runner.BatchOptions(out=Path(args.out) if args.out else None,
                               cache_dir=Path(args.cache_dir) if args.cache_dir else None,
                               cpus_per_task=args.cpus_per_task, gpus_per_task=args.gpus_per_task,
                               workers=args.workers, task=runner.decompose_image).validate()


def cmd_batch(args) -> int:
    from regionprims.cli.terminal import StderrProgress
    try:
        from regionprims.study import runner
    except ImportError as exc:
        raise UserError(f"batch needs Ray ({exc}): pip install 'regionprims[batch]'") from None
    from regionprims.study.records import claim_folder
    plan = plan_from_args(args)
    opts = _options(args)
    if opts.out is not None:
        with claim_folder(opts.out, plan):  # refused before Ray starts; run_batch holds it for the run
            pass
    bar = StderrProgress(args.quiet)
    start = time.perf_counter()
    bar(0, 1, "starting Ray and the workers")
    with contextlib.redirect_stdout(sys.stderr):    # Ray prints worker errors on stdout: keep it for --json
        started = runner.connect(args.address)
        try:
            record = runner.run_batch(plan, opts, lambda s: bar(s.finished, s.total, f"{_bar(s)} {s.message()}"))
        finally:
            bar.close()
            if started:
                runner.ray.shutdown()
    summary = batch_summary(record, time.perf_counter() - start)
    if record.folder is not None:
        write_report(record, record.folder, args.cache_dir)
    print(json.dumps(summary) if args.json else _summary_text(summary))
    return 1 if summary["failed"] else 0


def _bar(s, width: int = 24) -> str:
    """|=====+++...   | : done, failed (+), running (>) and waiting images, to scale."""
    def cells(n: int) -> int:
        return round(width * n / max(1, s.total))
    done, failed, running = cells(s.done), cells(s.failed), cells(s.running)
    return "|" + ("=" * done + "+" * failed + ">" * running).ljust(width)[:width] + "|"


def batch_summary(record, seconds: float) -> dict:
    """The `batch --json` object."""
    done = record.done()
    return {"study_id": record.study_id, "model": record.plan.model, "model_identity": record.model_identity,
            "images": len(record.images), "done": len(done), "cached": sum(bool(im.get("cache_hit")) for im in done),
            "failed": len(record.failed()), "seconds": round(seconds, 3),
            "out": str(record.folder) if record.folder is not None else None,
            "failures": [{k: im.get(k) for k in ("class_id", "class_name", "seed", "error")} for im in record.failed()]}


def _summary_text(s: dict) -> str:
    lines = [f"study {s['study_id']}: {s['done']}/{s['images']} done ({s['cached']} cached), {s['failed']} failed, "
             f"{s['seconds']:.1f} s" + (f"; files, study.json and report in {s['out']}" if s["out"] else "")]
    lines += [f"  failed: class {f['class_id']} ({printable(f['class_name'])}) seed {f['seed']}: "
              f"{printable(f['error'])}" for f in s["failures"]]
    return "\n".join(lines)


def write_report(record, folder: Path, cache_dir: str | None, top: int = 20, pool: int = 100) -> dict:
    """report.json, report.md and the PNG plots into `folder`; returns the report."""
    from regionprims.export.study_plots import PLOTS
    from regionprims.store.cache import ResultCache
    from regionprims.store.fileformat import write_atomic
    from regionprims.study.report import study_report
    from regionprims.study.tables import markdown
    report = study_report(record, ResultCache(cache_dir), top, pool)
    write_atomic(folder / "report.json", json.dumps(report, indent=1).encode())
    write_atomic(folder / "report.md", markdown(report).encode())
    if report["images"]:
        for name, draw in PLOTS.items():
            write_atomic(folder / name, draw(report))
    return report


def cmd_study(args) -> int:
    from regionprims.store.cache import ResultCache
    from regionprims.study.records import open_study
    from regionprims.study.report import study_report
    from regionprims.study.tables import markdown
    if not 1 <= args.top <= args.pool:
        raise UserError(f"need 1 <= --top <= --pool, got --top {args.top} --pool {args.pool}")
    record = open_study(args.target, args.cache_dir, args.model)
    if not record.done():
        raise UserError(f"study {record.study_id} has no finished image")
    folder = Path(args.out) if args.out else record.folder
    if folder is not None:
        report = write_report(record, folder, args.cache_dir, args.top, args.pool)
    else:
        report = study_report(record, ResultCache(args.cache_dir), args.top, args.pool)
    print(json.dumps(report) if args.json else markdown(report))
    if folder is not None and not args.json:
        print(f"report.md, report.json and plots written to {folder}", file=sys.stderr)
    return 0
