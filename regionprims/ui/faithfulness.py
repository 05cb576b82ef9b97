"""The Faithfulness page: the beyond-geometry verdict first, then every metric of docs/method.md §7
beside the two geometric nulls, with plots, and the ground-truth scores of the demo generator."""
from __future__ import annotations

import numpy as np
import streamlit as st

from regionprims.method import metrics as M
from regionprims.method.beyond import HEADLINE, verdict
from regionprims.method.null import BUDGET_PREFIX, NULL_PREFIX
from regionprims.method.regions import subset_label
from regionprims.models.demo.groundtruth import GT_MEANING
from regionprims.ui import charts, resources
from regionprims.ui.state import Current


def _fmt(key: str, value: object) -> str:
    return M.format_metric(key, value, unit=False)     # the labels carry the unit


NULL_HELP = "tight geometric null: u0(S) = f0 + m0_S ⊙ (f − f0), the players' masks pooled onto the feature grid"
BUDGET_HELP = "budget-matched null: the same masks towards the method's u(N), so u0(N) = u(N)"


def _shown(m: dict, absent: dict, made: dict, key: str, short: bool = False) -> str:
    """One score as shown: its value, 'n/a' when absent; one that holds by construction is
    marked so (`short`: only the mark, its value says nothing about the method)."""
    if key in absent:
        return "n/a"
    if key not in m:
        return "—"
    if key in made:
        return "by construction" if short else f"{_fmt(key, m[key])} (by construction)"
    return _fmt(key, m[key])


def page(cur: Current) -> None:
    mx = resources.page_mixer(cur, "Faithfulness")
    if mx is None:
        return
    headline(mx.dec)
    _score_cards(mx.dec)
    _plots(mx)
    _ground_truth(mx.dec)
    with st.expander("Run details"):
        spec, lay = mx.dec.spec, mx.dec.spec.layout
        st.json({"spec": {"model": spec.model, "class": spec.class_id, "seed": spec.seed,
                          "truncation": spec.truncation, "split": spec.split, "layout": lay.name,
                          "players": list(lay.players)},
                 "info": mx.dec.info}, expanded=False)


def headline(dec, per_row: int = 3) -> None:
    """The verdict sentence and the beyond-geometry figures (`per_row` cards a row): what the
    method found that the grid alone does not give. The Explore page shows it too."""
    m = dec.metrics
    st.markdown(f"#### Beyond geometry\n{verdict(m)}")
    shown = [(k, v) for k, v in HEADLINE.items() if k in m]
    width = max(1, per_row)
    for start in range(0, len(shown), width):
        for col, (key, (label, definition)) in zip(st.columns(width), shown[start:start + width]):
            col.metric(label, _fmt(key, m[key]), border=True, help=definition + ".")
    tol, codes = dec.spec.settings.baseline_tol, dec.info.get("baseline_codes")
    if "baseline_change" in m and tol > 0 and m["baseline_change"] > tol:
        st.warning(f"The baseline did not converge: it still moved {m['baseline_change']:.3f} between "
                   f"{codes // 2 if codes else '?'} and {codes} codes (tolerance {tol:g}). Raise the code cap.")


def _score_cards(dec) -> None:
    """One card per metric, with the tight and the budget-matched null below; a null's score that
    holds by construction is labelled so, never shown as a win."""
    m, absent = dec.metrics, dec.info.get("absent_metrics", {})
    made = (dec.info.get("null") or {}).get("by_construction", {})
    cards = [x for x in M.METRICS if x.key in m or x.key in absent]
    for start in range(0, len(cards), 3):
        cols = st.columns(3)
        for col, x in zip(cols, cards[start:start + 3]):
            nulls = [_shown(m, absent, made, p + x.key, short=True) for p in (NULL_PREFIX, BUDGET_PREFIX)]
            delta = (None if nulls == ["—", "—"] else "null and budget: by construction"
                     if nulls == ["by construction"] * 2 else f"null {nulls[0]} · budget {nulls[1]}")
            col.metric(x.label, _shown(m, absent, made, x.key), delta=delta, delta_color="off", border=True,
                       help=f"{x.definition}. Good is {x.good}." + (f" {absent[x.key]}." if x.key in absent else "")
                       + f" Below: the {NULL_HELP}; then the {BUDGET_HELP}.")
    st.caption("Below each score: the same score of the **tight geometric null** (the players' pixel masks "
               "max-pooled onto the feature grid, composed by union, no optimisation) and of the **budget-matched "
               "null** (those masks towards the method's own u(N)). A score the null matches is a property of the "
               "grid, not evidence for the method; *by construction* marks a null's score that its definition fixes. "
               "**n/a**: undefined here (the top 20 hold every non-empty component), never shown as perfect. "
               "Transfer needs two decompositions: `regionprims transfer A B [--control C]`.")
    with st.expander("Definitions"):
        st.table({"metric": [x.key for x in cards], "method": [_shown(m, absent, made, x.key) for x in cards],
                  "tight null": [_shown(m, absent, made, NULL_PREFIX + x.key) for x in cards],
                  "budget null": [_shown(m, absent, made, BUDGET_PREFIX + x.key) for x in cards],
                  "definition": [x.definition for x in cards], "good is": [x.good for x in cards]})
        for key, why in made.items():
            st.caption(f"{key}: {why}.")
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
                   "compare the components with them, and the two geometric nulls' components beside them.")
        st.table({"score": list(gt), "method": [_fmt(k, v) for k, v in gt.items()],
                  "tight null": [_fmt(k, m.get(NULL_PREFIX + k, float("nan"))) for k in gt],
                  "budget null": [_fmt(k, m.get(BUDGET_PREFIX + k, float("nan"))) for k in gt],
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
