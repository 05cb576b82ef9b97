"""The Faithfulness page: every metric of DESIGN §2 for this decomposition, with plots, and the
ground-truth scores of the demo generator."""
from __future__ import annotations

import numpy as np
import streamlit as st

from regionprims.method import metrics as M
from regionprims.method.regions import subset_label
from regionprims.models.demo.groundtruth import GT_MEANING
from regionprims.ui import charts, resources
from regionprims.ui.state import Current


def _fmt(key: str, value: object) -> str:
    return M.format_metric(key, value, unit=False)     # the labels carry the unit


def page(cur: Current) -> None:
    mx = resources.page_mixer(cur, "Faithfulness")
    if mx is None:
        return
    dec = mx.dec
    lay = dec.spec.layout
    m = dec.metrics

    for start in range(0, len(M.METRICS), 3):
        cols = st.columns(3)
        for col, metric in zip(cols, M.METRICS[start:start + 3]):
            col.metric(metric.label, _fmt(metric.key, m.get(metric.key, float("nan"))),
                       help=f"{metric.definition}. Good is {metric.good}.", border=True)
    st.caption("Transfer (top-20 of one image among the top-100 of another) needs two decompositions: "
               "`regionprims transfer A.safetensors B.safetensors` reports it (export both files from the Export page).")
    with st.expander("Definitions"):
        st.table({"metric": [x.key for x in M.METRICS],
                  "value": [_fmt(x.key, m.get(x.key, float("nan"))) for x in M.METRICS],
                  "definition": [x.definition for x in M.METRICS], "good is": [x.good for x in M.METRICS]})

    left, right = st.columns(2, gap="large")
    shares = M.sparsity_curve(mx.norms, dec.ranking)
    left.plotly_chart(charts.sparsity_curve(shares, M.TOP), key="sparsity", config=charts.CONFIG)
    n_comp = len(dec.ranking)
    ks = sorted({k for k in np.unique(np.geomspace(1, n_comp, num=min(24, n_comp)).round().astype(int))})
    right.plotly_chart(charts.additivity_curve(ks, mx.additivity_curve(ks), M.TOP), key="additivity",
                       config=charts.CONFIG)

    left, right = st.columns(2, gap="large")
    top = list(dec.ranking[:M.TOP])
    leak = mx.leakage(top)
    labels = [f"{i + 1}. {subset_label(r, lay.players)}" for i, r in enumerate(top)]
    left.plotly_chart(charts.leakage_bars(labels, leak), key="leakage", config=charts.CONFIG)
    sizes = dec.subsets[1:].sum(1).tolist()
    right.plotly_chart(charts.fit_by_size(sizes, dec.fit_loss[1:].clamp_min(1e-12).tolist()), key="fit",
                       config=charts.CONFIG)

    gt = {k: v for k, v in m.items() if k.startswith("gt_")}
    st.subheader("Ground truth (demo generator)")
    if gt:
        st.caption("The demo generator's scenes are rendered from known objects in known regions; these scores "
                   "compare the components with them.")
        st.table({"score": list(gt), "value": [_fmt(k, v) for k, v in gt.items()],
                  "meaning": [GT_MEANING.get(k, ("", ""))[0] for k in gt],
                  "good is": [GT_MEANING.get(k, ("", ""))[1] for k in gt]})
    else:
        st.caption("Only the demo generator has a ground truth; this decomposition has no gt_ scores.")
    info = dec.info
    with st.expander("Run details"):
        st.json({"spec": {"model": dec.spec.model, "class": dec.spec.class_id, "seed": dec.spec.seed,
                          "truncation": dec.spec.truncation, "split": dec.spec.split, "layout": lay.name,
                          "players": list(lay.players)},
                 "info": info}, expanded=False)
