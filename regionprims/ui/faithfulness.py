"""The Faithfulness page: every metric of docs/method.md §7 for this decomposition, with plots, and the
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


STABILITY = ("stability", "Stability (change)", "relative L2 change of all non-empty components under a stated "
             "perturbation of the optimisation (definition below)", "low (target ≤ 0.10)")
NULL_HELP = "u0(S) = f0 + m0_S ⊙ (f − f0), receptive-field masks, no optimisation"


def _pair(m: dict, absent: dict, key: str) -> tuple[str, str | None]:
    """(the method's value, 'null <value>') as shown; 'n/a' with the reason for an absent score."""
    if key in absent:
        return "n/a", "undefined for this layout"
    null = m.get("null_" + key)
    return _fmt(key, m.get(key, float("nan"))), (f"null {_fmt(key, null)}" if null is not None else None)


def page(cur: Current) -> None:
    mx = resources.page_mixer(cur, "Faithfulness")
    if mx is None:
        return
    _score_cards(mx.dec)
    _plots(mx)
    _ground_truth(mx.dec)
    with st.expander("Run details"):
        spec, lay = mx.dec.spec, mx.dec.spec.layout
        st.json({"spec": {"model": spec.model, "class": spec.class_id, "seed": spec.seed,
                          "truncation": spec.truncation, "split": spec.split, "layout": lay.name,
                          "players": list(lay.players)},
                 "info": mx.dec.info}, expanded=False)


def _score_cards(dec) -> None:
    """One card per metric (method beside the geometric null), the caption, the definitions."""
    m = dec.metrics
    absent = dec.info.get("absent_metrics", {})
    cards = [(x.key, x.label, x.definition, x.good) for x in M.METRICS] + [STABILITY]
    for start in range(0, len(cards), 4):
        cols = st.columns(4)
        for col, (key, label, definition, good) in zip(cols, cards[start:start + 4]):
            value, null = _pair(m, absent, key)
            col.metric(label, value, delta=null, delta_color="off", border=True,
                       help=f"{definition}. Good is {good}." + (f" {absent[key]}." if key in absent else "")
                       + ("" if key == STABILITY[0] else f" Below: the geometric null ({NULL_HELP})."))
    st.caption("Below each score: the same score of the **geometric null** — u0(S) = f0 + m0_S ⊙ (f − f0) with m0_S "
               "the receptive-field masks of the players, no optimisation. A score the null matches is a property of "
               "spatial masks, not evidence for the method. **n/a**: the score is undefined for this layout (the top "
               "20 hold every component), never shown as perfect. Transfer (top-20 of one image among the top-100 "
               "of another) needs two decompositions: `regionprims transfer A B [--control C]` reports it with its "
               "chance level, the null's transfer and a cross-class control (export both files from the Export page).")
    with st.expander("Definitions"):
        st.table({"metric": [k for k, *_ in cards],
                  "method": [_pair(m, absent, k)[0] for k, *_ in cards],
                  "geometric null": [(_pair(m, absent, k)[1] or "—").removeprefix("null ") for k, *_ in cards],
                  "definition": [d for _, _, d, _ in cards], "good is": [g for *_, g in cards]})
        st.caption(f"Stability: {dec.info.get('stability_definition', 'not recorded in this decomposition')}.")


def _plots(mx) -> None:
    """Sparsity and additivity curves; leakage of the top components and the fit by subset size."""
    dec, lay = mx.dec, mx.dec.spec.layout
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


def _ground_truth(dec) -> None:
    """The demo generator's gt_ scores beside the null's, and the recorded benchmark."""
    m = dec.metrics
    gt = {k: v for k, v in m.items() if k.startswith("gt_")}     # the null's are null_gt_*
    st.subheader("Ground truth (demo generator)")
    if gt:
        st.caption("The demo generator's scenes are rendered from known objects in known regions; these scores "
                   "compare the components with them, and the geometric null's components beside them.")
        st.table({"score": list(gt), "method": [_fmt(k, v) for k, v in gt.items()],
                  "geometric null": [_fmt(k, m.get("null_" + k, float("nan"))) for k in gt],
                  "meaning": [GT_MEANING.get(k, ("", ""))[0] for k in gt],
                  "good is": [GT_MEANING.get(k, ("", ""))[1] for k in gt]})
        _benchmark(dec.spec.model_identity)
    else:
        st.caption("Only the demo generator has a ground truth; this decomposition has no gt_ scores.")


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
    st.table({"score": [k for k, _ in rows], "method": [_fmt(k, r["method"]) for k, r in rows],
              "geometric null": [_fmt(k, r["null"]) for k, r in rows], "good is": [r["good"] for _, r in rows],
              "method better / worse in pairs": [f"{r['better']} / {r['worse']} of {r['pairs']}" for _, r in rows],
              "clear margin": ["yes" if beats_null(r) else "no" for _, r in rows]})
    st.caption(f"Recorded by `{bench['command']}` on {bench['machine']}; docs/benchmarks.md and "
               "docs/demo_model_card.md explain the scores.")
