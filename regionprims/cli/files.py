"""`regionprims info` (a decomposition file's metadata and metrics) and `regionprims transfer`
(how the components of two files transfer): the commands that read decomposition files."""
from __future__ import annotations

import json
import sys

from regionprims.cli.terminal import print_metrics
from regionprims.errors import UserError


def register(subparsers) -> None:
    """Add `info` and `transfer`."""
    p = subparsers.add_parser("info", help="print the metadata and metrics of a decomposition file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--verify", action="store_true", help="also read every tensor and check the checksum over "
                   "the tensors and the header (refuses a format-1 file, whose header is unverified)")
    p.set_defaults(func=cmd_info)

    p = subparsers.add_parser("transfer", help="transferability of components between two decomposition files")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--control", default=None, help="a decomposition of ANOTHER class (same model and players): "
                   "reports A's transfer into it beside A's transfer into B (the cross-class control)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_transfer)


def cmd_info(args) -> int:
    from regionprims.store.fileformat import load_decomposition, read_metadata, unverified_header
    from regionprims.validation import printable
    meta = read_metadata(args.file)
    if args.verify:
        load_decomposition(args.file, verify=True)   # every tensor, the checksum over tensors and header
    elif unverified_header(meta):
        print(f"warning: {printable(args.file)} has format version 1: its header is not covered by its checksum "
              "(unverified; --verify refuses it)", file=sys.stderr)
    if args.json:
        print(json.dumps(meta))
        return 0
    layout = meta["layout"]
    print(printable(f"{args.file}: {meta['model']} ({meta['model_identity']}) class {meta['class_id']} "
                    f"({meta.get('class_name')}) seed {meta['seed']} truncation {meta['truncation']}"))
    print(printable(f"split {meta['split']}  layout {layout['name']} ({layout['rows']}x{layout['cols']})  "
                    f"players {meta['players']}"))
    print(printable("settings: " + ", ".join(f"{k}={v}" for k, v in meta["settings"].items())))
    print(printable("versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())))
    info = meta.get("info", {})
    null = info.get("null") if isinstance(info.get("null"), dict) else {}
    print_metrics(meta["metrics"], info.get("absent_metrics", {}), null.get("by_construction"))
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
    kind = "within one class" if out["within_class"] else "across classes"
    print(f"{out['n_components']} components; A and B are {kind}. null = the tight geometric null's transfer "
          "between the same images; geometry = B's region sets moved by each symmetry of the grid (same shapes, "
          "wrong places); cross-class = A into the --control file")
    for name in ("top20_top100", "top20_top20"):
        if f"transfer_{name}" not in out:
            print(f"transfer_{name:20} absent: {out['absent'][f'transfer_{name}']}")
            continue
        line = f"transfer_{name:20} {out[f'transfer_{name}']:.3f}   null {out[f'null_transfer_{name}']:.3f}"
        if f"geometry_control_{name}" in out:
            line += f"   geometry {out[f'geometry_control_{name}']:.3f}"
        if f"control_transfer_{name}" in out:
            line += f"   cross-class {out[f'control_transfer_{name}']:.3f}"
        print(line)
    if "transfer_top20_top100_ba" in out:
        print(f"transfer_top20_top100_ba   {out['transfer_top20_top100_ba']:.3f}   (B's top 20 among A's top 100)")
    chance = [f"{name} {out[f'chance_{name}']:.3f} (p = {out[f'p_{name}']:.2g})" for name in ("top20_top100", "top20_top20")
              if f"chance_{name}" in out]
    if chance:
        print("footnote: uniformly random rankings would give " + ", ".join(chance) + "; no local decomposition "
              "ranks at random, so read the transfer against the null and the geometry control instead. The same "
              "seed gives the same z in every class.")
    return 0
