"""Scoring one decomposition: its metrics (method/metrics.py), the same metrics of the two
geometric nulls beside them (method/null.py), and the beyond-geometry figures that say what the
method found that the grid alone does not give (method/beyond.py)."""
from __future__ import annotations

import math
from dataclasses import replace

import torch

from regionprims.method import beyond as B
from regionprims.method import metrics as M
from regionprims.method.decomposition import Decomposition
from regionprims.method.interactions import or_interactions
from regionprims.method.minimal import fit_losses
from regionprims.method.null import (BUDGET_DEFINITION, BUDGET_PREFIX, DEFINITION, NULL_PREFIX, by_construction,
                                     geometric_null, pooled_masks, prefixed)
from regionprims.method.ranking import component_norms, rank_rows
from regionprims.method.regions import subset_masks
from regionprims.method.render import pattern_energy, regional_patterns, render_features
from regionprims.models.base import SplitContext, SplitGenerator

Ranked = tuple[list[int], torch.Tensor]          # (ranking, the strength it ranks by)


def render_count(rows: int, rank_by: str) -> int:
    """How many tail forwards `score` (and an effect ranking) make for 2**n − 1 = `rows`
    non-empty subsets, at most: per decomposition (the method and each of the two nulls) the
    tail of u(N) and the top's leave-one-out patterns; per null the fit of every subset; three
    top-10 build-ups; with an effect ranking every component's isolated pattern, three times.
    The estimate reads this instead of counting on its own."""
    per_decomposition = 1 + min(M.TOP, rows)
    return 3 * per_decomposition + 2 * (rows + 1) + 3 + (3 * rows if rank_by == "effect" else 0)


def rank_components(gen: SplitGenerator, ctx: SplitContext, f0: torch.Tensor, components: torch.Tensor,
                    rank_by: str) -> Ranked:
    """The ranking and its measure: ‖Δf_S‖, or with 'effect' ‖tail(f0 + Δf_S) − tail(f0)‖."""
    if rank_by == "effect":
        patterns = regional_patterns(gen, ctx, f0, f0, components, range(1, components.shape[0]), "isolated")
        strength = torch.cat([torch.zeros(1), patterns.flatten(1).norm(dim=1)])
    else:
        strength = component_norms(components)
    return rank_rows(strength), strength


def compute_metrics(gen: SplitGenerator, ctx: SplitContext, dec: Decomposition, strength: torch.Tensor,
                    halfway: torch.Tensor | None = None) -> tuple[dict[str, float], dict[str, str]]:
    """(metrics, absent): every metric of docs/method.md §7 that the decomposition defines (+ gt_
    scores where the generator knows the truth), and the scores it makes trivial with why. Empty
    components are left out of the top (they cannot leak) and of the count that decides "absent"."""
    nonzero = B.nonzero_rows(dec.components)
    top = [r for r in dec.ranking[:M.TOP] if nonzero[r]]
    u_full_image = render_features(gen, ctx, dec.minimal[-1:])[0]
    energy = (pattern_energy(regional_patterns(gen, ctx, dec.feature, dec.baseline, dec.components, top, "loo"))
              if top else torch.zeros(0, *dec.image.shape[-2:]))
    out = M.compute_all(M.MetricInputs(dec, top, u_full_image, energy, strength, halfway))
    truth = getattr(gen, "ground_truth_scores", None)      # generators that know the truth (the demo)
    if truth is not None:
        out.update(truth(dec.z, dec.spec.class_id, list(zip(top, energy)), dec.subsets, dec.player_masks))
    absent = M.absent_scores(int(nonzero.sum()))
    if not top:
        absent["leakage_top20"] = "undefined here: no component is non-empty"
    for key in absent:
        out.pop(key, None)
    return out, absent


def null_decomposition(gen: SplitGenerator, ctx: SplitContext, dec: Decomposition,
                       target: torch.Tensor | None = None) -> tuple[Decomposition, torch.Tensor]:
    """A geometric null of `dec` (tight, or budget-matched with `target` = the method's u(N)): same
    image, baseline and players, its u0(S), OR components, fit and ranking; metrics and info empty."""
    minimal = geometric_null(dec.feature, dec.baseline, dec.player_masks, dec.subsets, target)
    region = subset_masks(dec.player_masks, dec.subsets).to(gen.device)
    fit, _ = fit_losses(gen, ctx, minimal.to(gen.device), dec.image.to(gen.device), region, 64, None)
    components = or_interactions(minimal)
    ranking, strength = rank_components(gen, ctx, dec.baseline, components, dec.spec.rank_by)
    null = replace(dec, minimal=minimal, components=components, residual=dec.feature - minimal[-1],
                   fit_loss=fit.cpu(), ranking=ranking, metrics={}, info={})
    return null, strength


def players_psnr(gen: SplitGenerator, ctx: SplitContext, dec: Decomposition, k: int) -> float:
    """PSNR on the players' pixels of tail(f0 + the k strongest non-empty components)."""
    nonzero = B.nonzero_rows(dec.components)
    rows = [r for r in dec.ranking if nonzero[r]][:k]
    feat = dec.baseline + dec.components[rows].sum(0) if rows else dec.baseline
    image = render_features(gen, ctx, feat.unsqueeze(0))[0]
    return M.psnr(M.masked_mse_one(image, dec.image, dec.players_mask))


def beyond_geometry(gen: SplitGenerator, ctx: SplitContext, dec: Decomposition, null: Decomposition,
                    budget: Decomposition) -> dict:
    """The four headline figures of `dec` against its tight null (and the build-up against the
    budget-matched null, which spends the method's own u(N)), and the joint need by order."""
    null_nonzero = B.nonzero_rows(null.components)
    null_ranking = [r for r in null.ranking if null_nonzero[r]]
    need, by_order = B.joint_need(dec.minimal, dec.feature, dec.baseline)
    own = players_psnr(gen, ctx, dec, B.TOP_K)
    return {"beyond_strength": B.beyond_strength(component_norms(dec.components), null_nonzero),
            "beyond_top10": 1.0 - B.top_agreement(dec.ranking, null_ranking, B.TOP_K),
            "joint_need": need,
            "beyond_buildup_db": own - players_psnr(gen, ctx, null, B.TOP_K),
            "beyond_buildup_budget_db": own - players_psnr(gen, ctx, budget, B.TOP_K),
            "by_order": by_order}


def score(gen: SplitGenerator, ctx: SplitContext, dec: Decomposition, strength: torch.Tensor,
          halfway: torch.Tensor | None) -> tuple[dict[str, float], dict]:
    """(metrics, info): the method's metrics, the beyond-geometry figures, and each metric of the
    tight (`null_`) and budget-matched (`budget_null_`) nulls; info says what each null is, which
    of its scores it gets by construction, and which scores are absent."""
    metrics, absent = compute_metrics(gen, ctx, dec, strength, halfway)
    tight, tight_strength = null_decomposition(gen, ctx, dec)
    budget, budget_strength = null_decomposition(gen, ctx, dec, target=dec.minimal[-1])
    figures = beyond_geometry(gen, ctx, dec, tight, budget)
    for key, value in figures.items():
        if key == "by_order":
            continue
        if math.isfinite(value):
            metrics[key] = value
        else:                       # e.g. no non-empty component, or no mask mass: nothing to compare
            absent[key] = "undefined here: the method or its null has no non-empty component or no mask mass"
    for prefix, null, null_strength in ((NULL_PREFIX, tight, tight_strength), (BUDGET_PREFIX, budget, budget_strength)):
        got, null_absent = compute_metrics(gen, ctx, null, null_strength)
        need = B.joint_need(null.minimal, null.feature, null.baseline)[0]
        if math.isfinite(need):
            got["joint_need"] = need
        metrics.update(prefixed(got, prefix))
        absent.update(prefixed(null_absent, prefix))
    feat_hw = tuple(dec.feature.shape[-2:])
    region = subset_masks(dec.player_masks, dec.subsets[1:])
    info = {"null": {"definition": DEFINITION, "budget_definition": BUDGET_DEFINITION,
                     "mask_mean": float(pooled_masks(region, feat_hw).mean()),
                     "nonzero_sets": int(B.nonzero_rows(tight.components).sum()),
                     "by_construction": by_construction(dec.player_masks, feat_hw)},
            "joint_need_by_order": {k: v for k, v in figures["by_order"].items() if math.isfinite(v)},
            "absent_metrics": absent}
    return metrics, info
