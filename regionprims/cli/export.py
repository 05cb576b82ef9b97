"""`regionprims export FILE --format png|svg|pdf|pptx|gif|safetensors --out OUT`: the explorer's
exports from the command line. Loads the decomposition file, loads the generator it was made
with (or --model) and refuses a generator whose identity differs, builds the bytes with
`regionprims.export`, and writes OUT atomically (a temp file renamed into place)."""
from __future__ import annotations

import argparse
from pathlib import Path

from regionprims.errors import UserError
from regionprims.store.atomic import check_out, write_atomic
from regionprims.validation import short

WEIGHT_LIMIT = 100.0            # |component weight| and |residual weight|: far past any useful mix, and
                                # small enough that a weighted sum of features stays finite
FORMATS = {"png": ".png", "svg": ".svg", "pdf": ".pdf", "pptx": ".pptx", "gif": ".gif",
           "safetensors": ".safetensors"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write a slide-ready panel, a PowerPoint slide, a build-up GIF or the file itself",
        description="Export a decomposition file as a panel (PNG/SVG/PDF), a 16:9 PowerPoint slide, a GIF "
                    "of the component-by-component build-up, or the decomposition file (safetensors).")
    p.add_argument("file", help="a decomposition file (.safetensors) written by `regionprims decompose --out`")
    p.add_argument("--format", choices=sorted(FORMATS), default=None,
                   help="output format (default: from the extension of --out)")
    p.add_argument("--out", default=None, help="output file (default: a name made from model, class, seed "
                   "and layout, in the current folder)")
    p.add_argument("--top-k", type=int, default=6, help="components shown in the panel (1..12, default 6)")
    p.add_argument("--model", default=None, help="generator name, plug-in spec (module:callable, file.py:callable) "
                   "or checkpoint folder (default: the model named in the file when it is a built-in or an installed entry "
                   "point; a plug-in or folder is never loaded because a file names it); its identity must match the file's")
    p.add_argument("--device", default=None, help="cpu, cuda or auto")
    p.add_argument("--weights", default=None, help="component weights as 'ROW:W,ROW:W' (subset rows as in "
                   "the file; '*:W' sets every row not listed; default 1), e.g. '*:0,511:1,7:0.5'")
    p.add_argument("--residual", type=float, default=1.0, help="weight of the residual r (default 1)")
    p.add_argument("--k-max", type=int, default=20, help="GIF: frames k = 0..K (default 20)")
    p.add_argument("--frame-ms", type=int, default=500, help="GIF: milliseconds per frame (default 500)")
    p.add_argument("--scale", type=int, default=4, help="GIF: nearest-neighbour upscaling (default 4)")
    p.add_argument("--dpi", type=int, default=150, help="PNG: dots per inch (default 150)")
    p.set_defaults(func=cmd_export)


def parse_weights(text: str | None, n: int):
    """'ROW:W,ROW:W' -> a weight vector of length 2**n (rows not listed get the '*' value, else 1);
    the grammar is mix.weights.parse_row_weights, shared with the explorer's URL."""
    import torch

    from regionprims.mix.weights import parse_row_weights
    if text is None or not text.strip():
        return None
    k = 2 ** n
    items = parse_row_weights(text, n, star=True)
    for item in items:
        if item.problem == "syntax":
            raise UserError(f"--weights must be 'ROW:W,ROW:W' (e.g. '3:0,5:0.5'), got {short(item.text.strip())}")
        if item.problem == "row":
            raise UserError(f"--weights: row must be '*' or a subset row between 1 and {k - 1} "
                            f"(this file has {n} players), got {short(item.row)}")
        if item.problem == "value" or not -WEIGHT_LIMIT <= item.value <= WEIGHT_LIMIT:
            raise UserError(f"--weights: weight of row {item.row or '*'} must be a number in "
                            f"[-{WEIGHT_LIMIT:g}, {WEIGHT_LIMIT:g}], got {short(item.value_text)}")
    w = torch.ones(k)
    for item in items:
        if item.row is None:
            w.fill_(item.value)
    for item in items:
        if item.row is not None:
            w[item.row] = item.value
    return w


def _format(args) -> str:
    if args.format:
        fmt = args.format
    elif args.out:
        ext = Path(args.out).suffix.lower()
        matches = [f for f, e in FORMATS.items() if e == ext]
        if not matches:
            raise UserError(f"cannot tell the format from '{args.out}'; give --format "
                            f"({', '.join(sorted(FORMATS))})")
        fmt = matches[0]
    else:
        raise UserError("give --format or an --out file with a known extension")
    if args.out and Path(args.out).suffix.lower() != FORMATS[fmt]:
        raise UserError(f"--out '{args.out}' does not end in {FORMATS[fmt]} (the {fmt} format)")
    return fmt


def _generator(args, dec):
    from regionprims.models import registry
    # The model a file names is data: only a built-in, an entry point or a REGIONPRIMS_MODELS spec is
    # loaded from it; a plug-in or folder is loaded only when the user gives it with --model.
    name = args.model or registry.resolve_stored(dec.spec.model, str(args.file))
    try:
        gen = registry.load_generator(name, args.device)
    except UserError as exc:
        if args.model:
            raise
        raise UserError(f"the file was made with model {short(dec.spec.model)}, which cannot be loaded here "
                        f"({exc}); give --model NAME_OR_FOLDER") from None
    if gen.identity != dec.spec.model_identity:
        raise UserError(f"{args.file} was made with model identity {short(dec.spec.model_identity)}, but "
                        f"{short(name)} loads '{gen.identity}'; exporting with other weights would show wrong "
                        "images (give --model with the same weights)")
    return gen


def cmd_export(args: argparse.Namespace) -> int:
    from regionprims import export
    from regionprims.store.fileformat import load_decomposition
    fmt = _format(args)
    if not -WEIGHT_LIMIT <= args.residual <= WEIGHT_LIMIT:
        raise UserError(f"--residual must be in [-{WEIGHT_LIMIT:g}, {WEIGHT_LIMIT:g}], got {args.residual:g}")
    if args.out:
        check_out(args.out)
    dec = load_decomposition(args.file)
    out = Path(args.out) if args.out else check_out(export.suggested_filename(dec, FORMATS[fmt]))
    if fmt == "safetensors":
        data = export.decomposition_bytes(dec)
    else:
        weights = parse_weights(args.weights, dec.n)
        gen = _generator(args, dec)
        if fmt in export.PANEL_FORMATS:
            data = export.panel_bytes(gen, dec, fmt, weights, args.residual, args.top_k, dpi=_dpi(args.dpi))
        elif fmt == "pptx":
            data = export.panel_pptx(gen, dec, weights, args.residual, args.top_k)
        else:
            data = export.buildup_gif(gen, dec, args.k_max, args.frame_ms, args.scale)
    write_atomic(out, data)
    print(str(out))
    return 0


def _dpi(dpi: int) -> int:
    if not 30 <= dpi <= 1200:
        raise UserError(f"--dpi must be between 30 and 1200, got {dpi}")
    return dpi
