"""PNG plots of a study report (written beside report.md by `regionprims study` / `batch`):
transfer per class against the cross-class control and chance, consistency across seeds, and
the metric distributions (beside their nulls). Everything drawn comes from the report dict."""
from __future__ import annotations

import io

from regionprims.export.panels import _mpl

COLOURS = {"within": "#2b6cb0", "across": "#dd6b20", "chance": "#a0aec0", "null_within": "#a0aec0",
           "geometry": "#718096"}
PARTS = (("within", "within class"), ("across", "across classes"), ("null_within", "tight null, within"),
         ("geometry", "geometry control"))


def _figure(width: float, height: float):
    _mpl()
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), facecolor="white", layout="constrained")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return buf.getvalue()


def transfer_png(report: dict) -> bytes:
    """Grouped bars per class: within, across, the tight null's and the geometry control (mean ±
    std, one panel per kind); the uniform chance level as a dotted line."""
    import numpy as np
    top, pool = report["top"], report["pool"]
    names = [c["class_name"] for c in report["classes"]] + ["all"]
    blocks = [c["transfer"] for c in report["classes"]] + [report["all"]["transfer"]]
    fig = _figure(max(6.0, 1.2 * len(names) + 3), 3.4)
    axes = fig.subplots(1, 2, sharey=True)
    x = np.arange(len(names))
    for ax, (kind, title) in zip(axes, (("asym", f"top-{top} in top-{pool}"), ("sym", f"top-{top} / top-{top}"))):
        ax.set_title(title + ("" if report["transfer_defined"][kind] else " (undefined for this layout)"))
        if not report["transfer_defined"][kind]:
            continue
        for i, (part, label) in enumerate(PARTS):
            vals = [b[kind].get(part) for b in blocks]
            ax.bar(x + (i - 1.5) * 0.2, [v["mean"] if v else 0 for v in vals], 0.2,
                   yerr=[v["std"] if v else 0 for v in vals], color=COLOURS[part], capsize=2, label=label)
        ax.axhline(report["chance"][kind]["mean"], color=COLOURS["chance"], linestyle=":", label="uniform chance")
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel("transfer")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower left")
            break
    return _png(fig)


def consistency_png(report: dict) -> bytes:
    """Per class: region-set overlap, footprint and channel-profile similarity across seeds,
    with the across-class control as dashed lines."""
    import numpy as np
    names = [c["class_name"] for c in report["classes"]]
    fig = _figure(max(6.0, 1.0 * len(names) + 3), 3.2)
    ax = fig.subplots()
    x = np.arange(len(names))
    parts = (("region_sets", "region sets (Jaccard)"), ("footprint", "footprint (cosine)"),
             ("profile", "channel profile (cosine)"))
    ctrl = report["all"]["consistency_across_classes"]
    for i, (key, label) in enumerate(parts):
        vals = [c["consistency"][key] for c in report["classes"]]
        bars = ax.bar(x + (i - 1) * 0.27, [v["mean"] if v else 0 for v in vals], 0.27,
                      yerr=[v["std"] if v else 0 for v in vals], capsize=2, label=label)
        if key in ctrl and ctrl[key]:
            ax.axhline(ctrl[key]["mean"], ls="--", lw=1, color=bars.patches[0].get_facecolor(),
                       label=f"{label.split(' (')[0]} across classes")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"consistency of the top-{report['top']} components across seeds")
    ax.legend(fontsize=7, ncols=2)
    return _png(fig)


def metrics_png(report: dict) -> bytes:
    """One box plot per metric over the images, its null beside it where present."""
    rows = report.get("per_image", [])
    keys = [k for k in report["metrics"]["overall"] if not k.startswith("null_")]
    cols = 4
    n_rows = max(1, -(-len(keys) // cols))
    fig = _figure(3.0 * cols, 2.4 * n_rows)
    axes = fig.subplots(n_rows, cols, squeeze=False).flatten()
    for ax, key in zip(axes, keys):
        data = [[r["metrics"][key] for r in rows if isinstance(r["metrics"].get(key), (int, float))]]
        labels = ["method"]
        null = [r["metrics"]["null_" + key] for r in rows if isinstance(r["metrics"].get("null_" + key), (int, float))]
        if null:
            data.append(null)
            labels.append("null")
        ax.boxplot(data, tick_labels=labels)
        ax.set_title(key, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    return _png(fig)


PLOTS = {"transfer.png": transfer_png, "consistency.png": consistency_png, "metrics.png": metrics_png}
