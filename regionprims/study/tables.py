"""The study report as Markdown tables (`report.md`, and what `regionprims study` prints)."""
from __future__ import annotations

from regionprims.method.metrics import TOP
from regionprims.validation import printable

KINDS = (("asym", "top-{top} in top-{pool}"), ("sym", "top-{top} / top-{top}"))


def ms(s: dict | None, digits: int = 3) -> str:
    """'mean ± std' of a stats dict, or '—' when undefined."""
    return "—" if not s else f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def num(x: float) -> str:
    """A metric value: four decimals, or three significant digits below 1e-3 (joint_need is ~1e-5,
    which four decimals would show as 0)."""
    return f"{x:.2e}" if x and abs(x) < 1e-3 else f"{x:.4f}"


def ms_metric(s: dict | None) -> str:
    """'mean ± std' of a metric's stats dict (num), or '—' when undefined."""
    return "—" if not s else f"{num(s['mean'])} ± {num(s['std'])}"


def _row(cells) -> str:
    """One table row; names come from study records and files, so they are shown escaped."""
    return "| " + " | ".join(printable(c) for c in cells) + " |"


TRANSFER_COLUMNS = (("within", "within class"), ("across", "across classes"), ("null_within", "null, within"),
                    ("null_across", "null, across"), ("geometry", "geometry control"))


def transfer_table(report: dict) -> list[str]:
    """Transfer within and across classes beside the tight null's and the geometry-keeping
    control, then the uniform chance level as a footnote line."""
    top, pool = report["top"], report["pool"]
    head = ["class", "images"]
    for kind, title in KINDS:
        t = title.format(top=top, pool=pool)
        head += [f"{t}: {label}" for _, label in TRANSFER_COLUMNS]
    lines = [_row(head), _row(["---"] * len(head))]
    entries = [(c["class_name"], c["images"], c["transfer"]) for c in report["classes"]]
    entries.append(("**all**", report["images"], report["all"]["transfer"]))
    for name, n, tr in entries:
        cells = [name, n]
        for kind, _ in KINDS:
            ok = report["transfer_defined"][kind]
            cells += [ms(tr[kind].get(key)) if ok else "—" for key, _ in TRANSFER_COLUMNS]
        lines.append(_row(cells))
    chance = [f"{title.format(top=top, pool=pool)} {report['chance'][kind]['mean']:.3f} ± "
              f"{report['chance'][kind]['std']:.3f}" for kind, title in KINDS if report["transfer_defined"][kind]]
    if chance:
        lines += ["", "Footnote, chance: uniformly random rankings would give " + "; ".join(chance) + ". No local "
                  "decomposition ranks at random: read the transfer against the null and the geometry control."]
    return lines


def consistency_table(report: dict) -> list[str]:
    top = report["top"]
    lines = [_row(["class", "seeds", f"top-{top} region sets (Jaccard)", "footprint (cosine)",
                   "channel profile (cosine)", "most recurring region sets (share of seeds)"]),
             _row(["---"] * 6)]
    for c in report["classes"]:
        k = c["consistency"]
        rec = ", ".join(f"{{{','.join(map(str, r['patches']))}}} {r['share']:.0%}" for r in k["recurring"][:5])
        lines.append(_row([c["class_name"], k["seeds"], ms(k["region_sets"]), ms(k["footprint"]), ms(k["profile"]),
                           rec]))
    ctrl = report["all"]["consistency_across_classes"]
    lines.append(_row(["**across classes (control)**", "", "", ms(ctrl["footprint"]), ms(ctrl["profile"]), ""]))
    return lines


def metrics_table(report: dict) -> list[str]:
    overall = report["metrics"]["overall"]
    lines = [_row(["metric", "images", "mean ± std", "median", "min", "max", "null (mean ± std)",
                   "null at budget (mean ± std)"]), _row(["---"] * 8)]
    for key, s in overall.items():
        if key.startswith(("null_", "budget_null_")):
            continue
        null, budget = overall.get("null_" + key), overall.get("budget_null_" + key)
        lines.append(_row([key, s["n"], ms_metric(s), num(s["median"]), num(s["min"]), num(s["max"]),
                           ms_metric(null), ms_metric(budget)]))
    return lines


def markdown(report: dict) -> str:
    """report.md: the three tables with one line on how to read each."""
    top, pool = report.get("top", TOP), report["pool"]
    out = [f"# Study {report.get('study_id', '')}: {report.get('model', '')}, layout {report.get('layout', '')}",
           "", f"{report['images']} images, {report['n_components']} components each; "
               f"{len(report.get('failed', []))} failed, {len(report.get('missing', []))} missing.", "",
           "## Transfer", "",
           f"Share of image a's top-{top} components (by region set) found in image b's top-{pool} "
           f"(the paper's test) and in b's top-{top}, over ordered pairs (a, b): b of the same class "
           "(within) or of another class (across); the same for the two images' tight geometric nulls "
           "(the players' masks pooled onto the feature grid, no optimisation); and the geometry control "
           "(same-class pairs, b's region sets moved by each symmetry of the grid: the same shapes on the "
           "wrong places). Transfer that the null and the control match is geometry, not content. The same "
           "seed gives the same z in every class. Mean ± std over pairs.", ""]
    out += transfer_table(report)
    out += ["", "## Consistency across seeds", "",
            f"For the seeds of one class: overlap (Jaccard) of their top-{top} region sets; for a region "
            f"set in the top-{top} of two seeds, the cosine similarity of where its component acts in the "
            "feature (energy per position) and through which channels (energy per channel). The control "
            "compares the same region set across classes.", ""]
    out += consistency_table(report)
    out += ["", "## Faithfulness metrics over the study", "",
            "Each metric's distribution over the images, beside its geometric null where the "
            "decompositions carry one (null_ keys).", ""]
    out += metrics_table(report)
    if report.get("failed"):
        out += ["", "## Failed images", ""]
        out += [f"- class {f['class_id']} ({f.get('class_name')}) seed {f['seed']}: {f.get('error')}"
                for f in report["failed"]]
    return printable("\n".join(out) + "\n", keep_newlines=True)
