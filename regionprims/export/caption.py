"""The words on every export, read from the decomposition (nothing typed in): the title line,
the four-line provenance caption (model and identity, image, players, settings and version, the
metrics of `metrics.CAPTION_METRICS`; a fifth line only when a transplant is in the mix), and a
safe file name."""
from __future__ import annotations

import re
import textwrap
from pathlib import PurePath

from regionprims import __version__
from regionprims.method.decomposition import Decomposition
from regionprims.keys import decomposition_key
from regionprims.method.beyond import HEADLINE
from regionprims.method.metrics import CAPTION_METRICS, format_metric
from regionprims.method.regions import subset_label
from regionprims.method.specs import DecompositionSpec
from regionprims.mix.transplant import donor_hash


def _class_name(dec: Decomposition) -> str:
    return str(dec.info.get("class_name") or f"class {dec.spec.class_id}")


def _producer_version(dec: Decomposition) -> str:
    versions = dec.info.get("versions")
    if isinstance(versions, dict) and versions.get("regionprims"):
        return str(versions["regionprims"])
    return __version__


def title_line(dec: Decomposition) -> str:
    spec = dec.spec
    return (f"{spec.model} · class {spec.class_id} “{_class_name(dec)}” · seed {spec.seed} · "
            f"{spec.layout.name} layout, {dec.n} players, {2 ** dec.n} subsets")


def _steps_text(s) -> str:
    warm = f"{s.warm_steps} single-player steps + " if s.init == "singletons" else f"{s.init} start, "
    return warm + (f"≤ {s.steps} steps (early stop, tol {s.tol:g})" if s.early_stop else f"{s.steps} steps")


def caption_metrics(dec: Decomposition) -> list[str]:
    """'key value (null value)' for each caption metric, the geometric null's score beside the
    method's; 'key n/a (undefined here)' for an absent one; then the stability."""
    m, absent = dec.metrics, dec.info.get("absent_metrics", {})
    out = [f"{k} {format_metric(k, m[k])}" for k in HEADLINE if k in m]
    for k in CAPTION_METRICS:
        if k in absent:
            out.append(f"{k} n/a (undefined here)")
        elif k in m:
            null = m.get("null_" + k)
            out.append(f"{k} {format_metric(k, m[k])}" + (f" (null {format_metric(k, null)})" if null is not None
                                                          else ""))
    if "stability" in m:
        out.append(f"stability {format_metric('stability', m['stability'])} (component change, low is stable)")
    return out


def transplant_line(donor: DecompositionSpec, class_name: str | None, row: int, weight: float) -> str:
    """The caption line of a transplant: which component of which decomposition was added to the
    mix, with what weight (read from the donor's spec; its decomposition key, never a path)."""
    name = class_name or f"class {donor.class_id}"
    return (f"Transplant: + {weight:g} × Δf_{subset_label(row, donor.layout.players)} of the {donor.model} "
            f"decomposition of class {donor.class_id} “{name}”, seed {donor.seed}, truncation {donor.truncation:g} "
            f"(key {donor_hash(decomposition_key(donor))}) added to the current mix")


def provenance_caption(dec: Decomposition, width: int = 190, transplant: str | None = None) -> str:
    """Four lines (wrapped at `width` characters) saying exactly what the export shows: model and
    identity, the image, the players, the settings that change the result and the regionprims
    version, and the metrics that matter; a fifth, `transplant` (transplant_line), only when one is
    in the mix. All read from the decomposition (and the donor's), nothing typed in."""
    spec, s, lay = dec.spec, dec.spec.settings, dec.spec.layout
    metrics = caption_metrics(dec)
    lines = [
        f"Model {spec.model} (identity {spec.model_identity}) · class {spec.class_id} “{_class_name(dec)}” · "
        f"seed {spec.seed} · truncation {spec.truncation:g} · split {spec.split}",
        f"Players: layout {lay.name} ({lay.rows}×{lay.cols} grid), {lay.n} player patches {list(lay.players)} · "
        f"{2 ** lay.n} subsets · components ranked by {spec.rank_by}",
        f"Settings: {s.mask} mask, {_steps_text(s)}, lr {s.lr:g}, λ {s.lam:g}, {s.loss_norm}-normalised loss, "
        f"baseline codes {s.baseline_codes}, opt seed {s.opt_seed} · regionprims {_producer_version(dec)}",
        "Metrics (beyond = against the tight geometric null: the players' masks pooled onto the feature grid, "
        "no optimisation; null = that null's score): "
        + (" · ".join(metrics) if metrics else "none recorded in this decomposition"),
    ] + ([transplant] if transplant else [])
    return "\n".join(textwrap.fill(line, width, subsequent_indent="    ") for line in lines)


def suggested_filename(dec: Decomposition, ext: str) -> str:
    """`{model}_{class}_s{seed}_{layout}.{ext}`, e.g. demo_face_s3_3x3.png; only [A-Za-z0-9._-]."""
    spec = dec.spec
    model = PurePath(str(spec.model).replace("\\", "/")).name or "model"
    parts = [model, _class_name(dec), f"s{spec.seed}", spec.layout.name]
    stem = "_".join(_safe(p) for p in parts)
    ext = _safe(str(ext).lstrip(".")).lower() or "bin"
    return f"{stem}.{ext}"


def _safe(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9.-]+", "-", str(text)).strip("-.")
    return re.sub(r"-{2,}", "-", out) or "x"
