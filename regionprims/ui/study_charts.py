"""Plotly figures of the Study page (data in: the study report dict; figure out)."""
from __future__ import annotations

import plotly.graph_objects as go

from regionprims.ui.charts import CONFIG, FONT  # noqa: F401 (CONFIG re-exported for the page)

COLOURS = {"within": "#2b6cb0", "across": "#dd6b20", "chance": "#a0aec0", "null": "#a0aec0",
           "null_within": "#a0aec0", "geometry": "#718096"}
PARTS = (("within", "within class"), ("across", "across classes"), ("null_within", "tight null, within class"),
         ("geometry", "geometry control"))


def _layout(fig: go.Figure, title: str, y: str, height: int = 360) -> go.Figure:
    fig.update_layout(title=dict(text=title, font=dict(size=16)), yaxis_title=y, height=height, font=FONT,
                      margin=dict(l=60, r=20, t=60, b=60), barmode="group",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    return fig


def transfer(report: dict, kind: str) -> go.Figure:
    """Per class (and all): within class, across classes, the tight null's and the geometry
    control, mean with ± std bars; the uniform chance level as a dotted line (a footnote)."""
    top, pool = report["top"], report["pool"]
    title = f"Transfer: top-{top} in top-{pool}" if kind == "asym" else f"Transfer: top-{top} / top-{top}"
    names = [c["class_name"] for c in report["classes"]] + ["all"]
    blocks = [c["transfer"][kind] for c in report["classes"]] + [report["all"]["transfer"][kind]]
    fig = go.Figure()
    for part, label in PARTS:
        vals = [b.get(part) for b in blocks]
        fig.add_trace(go.Bar(x=names, y=[v["mean"] if v else None for v in vals], name=label,
                             marker_color=COLOURS[part],
                             error_y=dict(type="data", array=[v["std"] if v else 0 for v in vals])))
    fig.add_hline(y=report["chance"][kind]["mean"], line_dash="dot", line_color=COLOURS["chance"],
                  annotation_text="uniform chance (footnote)", annotation_position="bottom right")
    fig.update_yaxes(range=[0, 1.05])
    return _layout(fig, title, "share of a's top components found in b")


def consistency(report: dict) -> go.Figure:
    """Per class: region-set overlap and pattern similarity across seeds; the dotted lines are
    the same pattern similarities across classes (control)."""
    names = [c["class_name"] for c in report["classes"]]
    fig = go.Figure()
    parts = (("region_sets", "region sets (Jaccard)"), ("footprint", "footprint (cosine)"),
             ("profile", "channel profile (cosine)"))
    for key, label in parts:
        vals = [c["consistency"][key] for c in report["classes"]]
        fig.add_trace(go.Bar(x=names, y=[v["mean"] if v else None for v in vals], name=label,
                             error_y=dict(type="data", array=[v["std"] if v else 0 for v in vals])))
    ctrl = report["all"]["consistency_across_classes"]
    for key, label in parts[1:]:
        if ctrl.get(key):
            fig.add_trace(go.Scatter(x=names, y=[ctrl[key]["mean"]] * len(names), mode="lines",
                                     line=dict(dash="dot"), name=f"{label.split(' (')[0]} across classes"))
    fig.update_yaxes(range=[0, 1.05])
    return _layout(fig, f"Consistency of the top-{report['top']} components across seeds", "similarity")


def metric_strip(report: dict, key: str) -> go.Figure:
    """One point per image (click one to open it), the null beside it where the files carry one."""
    rows = report.get("per_image", [])
    fig = go.Figure()
    for name, k, colour in (("method", key, "#d9480f"), ("null", "null_" + key, COLOURS["null"])):
        pts = [r for r in rows if isinstance(r["metrics"].get(k), (int, float))]
        if not pts:
            continue
        fig.add_trace(go.Box(x=[f"{r['class_name']}" for r in pts], y=[r["metrics"][k] for r in pts], name=name,
                             boxpoints="all", jitter=0.4, pointpos=0, marker_color=colour,
                             customdata=[[r["class_id"], r["seed"]] for r in pts],
                             hovertemplate="class %{x}, seed %{customdata[1]}: %{y:.4g}<extra>" + name + "</extra>"))
    fig.update_layout(boxmode="group")
    return _layout(fig, f"{key} over the study (one point per image)", key, height=380)
