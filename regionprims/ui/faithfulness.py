"""The Faithfulness page: every metric of DESIGN §2 for this decomposition, with plots, and the
ground-truth scores of the demo generator."""
from __future__ import annotations

import math

import numpy as np
import streamlit as st

from regionprims.method import metrics as M
from regionprims.method.regions import subset_label
from regionprims.ui import charts, resources, state
from regionprims.ui.state import Current

METRICS = [
    ("residual_ratio", "Residual ratio", "‖f − u(N)‖ / ‖f − f0‖: the part of the feature the players leave "
                                          "unexplained", "low"),
    ("fit_psnr", "Fit PSNR (dB)", "PSNR of tail(u(N)) against x on the players' pixels", "high"),
    ("fit_error_mean", "Fit error (mean)", "mean over S of the masked MSE of tail(u(S)) against x on M_S", "low"),
    ("additivity_error_top20", "Additivity error, top 20", "mean over T of ‖f0 + Σ_{S∈top20, S∩T≠∅} Δf_S − u(T)‖ "
                                                          "/ ‖u(T) − f0‖", "low"),
    ("leakage_top20", "Leakage, top 20", "mean share of leave-one-out pattern energy outside M_S", "low"),
    ("sparsity_top20", "Sparsity, top 20", "Σ_top20 ‖Δf_S‖ / Σ_all ‖Δf_S‖", "high"),
]
GT = {   # key: (meaning, good is); definitions in regionprims/models/demo/groundtruth.py and docs/demo_model_card.md
    "gt_object_purity": ("share of a component's effect inside ONE object (mean over the top components)", "high"),
    "gt_object_coverage": ("share of present objects that have a component of their own", "high"),
    "gt_region_agreement": ("share of the effect on object pixels inside the component's own regions", "high"),
    "gt_background_share": ("share of the effect on background pixels", "low"),
    "gt_region_contains_object": ("how much of its dominant object a component's regions contain", "high"),
    "gt_slot_purity": ("share of a component's effect inside ONE object's place, present or absent", "high"),
    "gt_absent_share": ("share of the effect in the places of absent objects (erasing the baseline's average object)", "—"),
    "gt_interactions_planted": ("planted multi-region interactions in this scene (straddle, pair, conditional)", "—"),
    "gt_interaction_found": ("share of planted interactions with a top component that spans their cells and "
                             "mostly draws them", "high"),
    "gt_interaction_exact_share": ("share of the effect on a planted interaction carried by components over "
                                   "exactly its cells", "high"),
    "gt_interaction_joint_share": ("share of the effect on a planted interaction carried by components spanning "
                                   "all its cells", "high"),
    "gt_interaction_singleton_share": ("share of the effect on a planted interaction carried by single-region "
                                       "components", "low"),
    "gt_single_cell_multi_share": ("control: share of the effect on single-cell objects carried by multi-region "
                                   "components", "low"),
    "gt_objects_present": ("objects present in this scene", "—"),
    "gt_components_scored": ("components scored (the top ones)", "—"),
}


def _fmt(v) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if math.isnan(v):
            return "n/a"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
            return f"{v:.2e}"
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def page(cur: Current) -> None:
    if not state.page_start(cur, "Faithfulness"):
        return
    mx = resources.mixer(cur.key, cur.gen, cur.dec)
    dec = mx.dec
    lay = dec.spec.layout
    m = dec.metrics

    for start in range(0, len(METRICS), 3):
        cols = st.columns(3)
        for col, (key, label, definition, good) in zip(cols, METRICS[start:start + 3]):
            col.metric(label, _fmt(m.get(key, float("nan"))), help=f"{definition}. Good is {good}.", border=True)
    st.caption("Transfer (top-20 of one image among the top-100 of another) needs two decompositions: "
               "`regionprims transfer A.safetensors B.safetensors` reports it (export both files from the Export page).")
    with st.expander("Definitions"):
        st.table({"metric": [k for k, *_ in METRICS], "value": [_fmt(m.get(k, float('nan'))) for k, *_ in METRICS],
                  "definition": [d for _, _, d, _ in METRICS], "good is": [g for *_, g in METRICS]})

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
        table = {"score": list(gt), "value": [_fmt(v) for v in gt.values()]}
        if any("null_" + k in m for k in gt):
            table["geometric null"] = [_fmt(m.get("null_" + k, float("nan"))) for k in gt]
        table.update({"meaning": [GT.get(k, ("", ""))[0] for k in gt], "good is": [GT.get(k, ("", ""))[1] for k in gt]})
        st.table(table)
        _benchmark(dec.spec.model_identity)
    else:
        st.caption("Only the demo generator has a ground truth; this decomposition has no gt_ scores.")
    info = dec.info
    with st.expander("Run details"):
        st.json({"spec": {"model": dec.spec.model, "class": dec.spec.class_id, "seed": dec.spec.seed,
                          "truncation": dec.spec.truncation, "split": dec.spec.split, "layout": lay.name,
                          "players": list(lay.players)},
                 "info": info}, expanded=False)


def _benchmark(identity: str) -> None:
    """The recorded method-vs-null comparison over many scenes (benchmarks/bench_groundtruth.py):
    whether the method finds the planted interactions better than the geometric null does."""
    from regionprims.models.demo.groundtruth import INTERACTION_KEYS, MARGIN, beats_null, load_benchmark
    bench = load_benchmark()
    if bench is None or bench.get("identity") != identity:
        st.caption("No recorded method-vs-null benchmark for these weights (benchmarks/bench_groundtruth.py --json).")
        return
    rows = [(k, bench["gt"][k]) for k in INTERACTION_KEYS if k in bench["gt"]]
    wins = sum(beats_null(r) for _, r in rows)
    verdict = ("beats" if wins == len(rows) else "does not beat") + " the geometric null"
    st.markdown(f"**Planted interactions, over {bench['pairs']} (class, seed) pairs: the method {verdict}** "
                f"by the stated margin ({MARGIN:.2f} on the mean, better in more pairs than worse) on {wins} of "
                f"{len(rows)} interaction scores.")
    st.table({"score": [k for k, _ in rows], "method": [_fmt(r["method"]) for _, r in rows],
              "geometric null": [_fmt(r["null"]) for _, r in rows], "good is": [r["good"] for _, r in rows],
              "method better / worse in pairs": [f"{r['better']} / {r['worse']} of {r['pairs']}" for _, r in rows],
              "clear margin": ["yes" if beats_null(r) else "no" for _, r in rows]})
    st.caption(f"Recorded by `{bench['command']}` on {bench['machine']}; docs/benchmarks.md and "
               "docs/demo_model_card.md explain the scores.")
