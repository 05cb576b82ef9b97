"""Slide-ready exports of a decomposition, as bytes: the overview panel (PNG, SVG, PDF) and the
decomposition file; the inputs every export shares (generator check, context, weights). The
words come from export.caption, the slide from export.slide, the build-up GIF from export.gif.

Pure builders (no Streamlit, no files): the explorer's download buttons and `regionprims export`
call the same functions. Every number printed on an export is read from the decomposition
(spec, info, metrics) or computed from it here; nothing is typed in. matplotlib and python-pptx
(the `export` extra) are imported only when a panel or slide is built.
"""
from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from regionprims import __version__
from regionprims.method.decomposition import Decomposition
from regionprims.errors import UserError
from regionprims.export.caption import provenance_caption, title_line
from regionprims.method.metrics import masked_mse_one, psnr
from regionprims.models.base import SplitContext, SplitGenerator
from regionprims.method.ranking import component_norms
from regionprims.method.regions import grid_edges, subset_label, subset_members
from regionprims.method.render import compose_feature, regional_patterns, render_features, to_rgb
from regionprims.pictures import luminance

if TYPE_CHECKING:                               # matplotlib is optional (the `export` extra)
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PanelFormat = Literal["png", "svg", "pdf"]
PANEL_FORMATS = ("png", "svg", "pdf")
MAX_TOP_K = 12
SLIDE_INCHES = (40 / 3, 7.5)                    # PowerPoint's 16:9 slide (13.33 x 7.5 in): the panel's width

GRID_COLOR = "0.6"                              # mid grey: visible on light and dark images
PLAYER_COLOR = "#ffd21f"                        # player patches on images
REGION_COLOR = "black"                          # a component's region set S on its pattern tile


# ----------------------------------------------------------------------------- inputs

def check_generator(gen: SplitGenerator, dec: Decomposition) -> None:
    """Refuse a generator other than the one the decomposition was made with."""
    if gen.identity != dec.spec.model_identity:
        raise UserError(f"this decomposition was made with model identity '{dec.spec.model_identity}', "
                        f"but the generator given is '{gen.identity}'; load the same model and weights")


def context(gen: SplitGenerator, dec: Decomposition) -> SplitContext:
    """The split context of the decomposition's image, after checking that the file's tensors have
    the shapes this generator gives (a crafted file could claim the identity with other shapes)."""
    from regionprims.pipeline import image_and_feature, shape_mismatch
    check_generator(gen, dec)
    spec = dec.spec
    if spec.split not in gen.split_points or not 0 <= spec.class_id < len(gen.class_names):
        raise UserError(f"this decomposition names split {spec.split!r} and class {spec.class_id}, which "
                        f"{gen.name} does not have")
    problem = shape_mismatch(gen, dec)
    if problem:
        raise UserError(f"this decomposition does not belong to this generator: {problem}")
    return image_and_feature(gen, spec)[3]


def weight_vector(dec: Decomposition, weights: Tensor | Sequence[float] | None) -> Tensor:
    """None -> all ones; else a finite 1-D vector of length 2**n (entry 0, the baseline, ignored)."""
    k = 2 ** dec.n
    if weights is None:
        return torch.ones(k)
    w = torch.as_tensor(weights if isinstance(weights, Tensor) else list(weights), dtype=torch.float32)
    w = w.detach().cpu().flatten() if w.dim() == 1 else w
    if w.dim() != 1 or w.shape[0] != k:
        raise UserError(f"weights must be a 1-D vector of length 2^{dec.n} = {k} (one per subset row), "
                        f"got shape {tuple(w.shape)}")
    if not torch.isfinite(w).all():
        raise UserError("weights must be finite numbers")
    return w.clone()


def _check_top_k(top_k: int) -> int:
    if not 1 <= int(top_k) <= MAX_TOP_K:
        raise UserError(f"top-k must be between 1 and {MAX_TOP_K}, got {top_k}")
    return int(top_k)


# ----------------------------------------------------------------------------- panel

def _mpl():
    try:
        import matplotlib
    except ImportError:
        raise UserError("panel export needs matplotlib: pip install 'regionprims[export]'") from None
    return matplotlib


def _grid(ax: "Axes", dec: Decomposition, height: int, width: int, *, players: bool = True,
          numbers: bool = False, color: str = GRID_COLOR) -> None:
    """Thin lines of the layout's grid; player patches outlined (and numbered)."""
    from matplotlib.patches import Rectangle
    from matplotlib.patheffects import withStroke
    halo = [withStroke(linewidth=2.2, foreground="black", alpha=0.55)]
    lay = dec.spec.layout
    ys, xs = grid_edges(height, lay.rows), grid_edges(width, lay.cols)
    for x in xs[1:-1]:
        ax.axvline(x - 0.5, color=color, lw=0.5, alpha=0.8)
    for y in ys[1:-1]:
        ax.axhline(y - 0.5, color=color, lw=0.5, alpha=0.8)
    for p in lay.players:
        r, c = divmod(p, lay.cols)
        if players:
            ax.add_patch(Rectangle((xs[c] - 0.5, ys[r] - 0.5), xs[c + 1] - xs[c], ys[r + 1] - ys[r], fill=False,
                                   ec=PLAYER_COLOR, lw=1.0, path_effects=halo))
        if numbers:
            ax.text(xs[c] + 0.2, ys[r] + 0.2, str(p), color="black", fontsize=6.5, ha="left", va="top",
                    bbox=dict(boxstyle="square,pad=0.12", fc=PLAYER_COLOR, ec="none", alpha=0.85))


def _outline_region(ax: "Axes", dec: Decomposition, row: int, height: int, width: int) -> None:
    """Outline of the union of the player patches in subset `row` (only its outer boundary)."""
    lay = dec.spec.layout
    ys, xs = grid_edges(height, lay.rows), grid_edges(width, lay.cols)
    cells = set(subset_members(row, lay.players))
    inside = lambda r, c: 0 <= r < lay.rows and 0 <= c < lay.cols and r * lay.cols + c in cells  # noqa: E731
    segments = []
    for cell in cells:
        r, c = divmod(cell, lay.cols)
        x0, x1, y0, y1 = xs[c] - 0.5, xs[c + 1] - 0.5, ys[r] - 0.5, ys[r + 1] - 0.5
        if not inside(r - 1, c):
            segments.append(((x0, y0), (x1, y0)))
        if not inside(r + 1, c):
            segments.append(((x0, y1), (x1, y1)))
        if not inside(r, c - 1):
            segments.append(((x0, y0), (x0, y1)))
        if not inside(r, c + 1):
            segments.append(((x1, y0), (x1, y1)))
    from matplotlib.collections import LineCollection
    ax.add_collection(LineCollection(segments, colors=REGION_COLOR, linewidths=1.8, capstyle="projecting"))


def _image_axis(ax: "Axes", title: str, fontsize: float = 10) -> None:
    ax.set_title(title, fontsize=fontsize, pad=4)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.5)


def _weights_phrase(w: Tensor, residual_weight: float, n_comp: int) -> str:
    on = w[1:]
    if bool((on == 1).all()) and residual_weight == 1.0:
        return "all components + residual"
    if bool((on == 0).all()):
        body = "baseline only"
    elif bool(((on == 0) | (on == 1)).all()):
        body = f"{int((on == 1).sum())} of {n_comp} components"
    else:
        body = f"{int((on != 0).sum())} of {n_comp} components, scaled"
    return f"{body}, residual ×{residual_weight:g}"


class _Sheet:
    """Axes placed in inches from the figure's top-left corner (a fixed, predictable layout)."""

    def __init__(self, fig: "Figure"):
        self.fig = fig
        self.w, self.h = fig.get_size_inches()

    def axes(self, left: float, top: float, width: float, height: float) -> "Axes":
        return self.fig.add_axes((left / self.w, 1 - (top + height) / self.h, width / self.w, height / self.h))

    def text(self, left: float, top: float, text: str, **kw) -> None:
        self.fig.text(left / self.w, 1 - top / self.h, text, **kw)


def _label_size(texts: Sequence[str], width_in: float, base: float) -> float:
    """A font size (pt) at which the longest line of `texts` fits in width_in (about 0.55 em a character)."""
    longest = max((len(line) for t in texts for line in t.splitlines()), default=1)
    return float(max(5.5, min(base, width_in * 72 / (0.55 * longest))))


def overview_figure(gen: SplitGenerator, dec: Decomposition, weights: Tensor | Sequence[float] | None = None,
                    residual_weight: float = 1.0, top_k: int = 6, *, title: bool = True,
                    caption: bool = True, added: Tensor | None = None, note: str | None = None) -> "Figure":
    """The slide-ready 16:9 panel: original x, baseline tail(f0), the composite for `weights`,
    |composite - x|; below, the top_k components' isolated regional patterns with their region
    sets outlined, rank, subset label and share of the total strength; a provenance caption.
    `title`/`caption` False leave those out (the PowerPoint slide carries them as text boxes;
    the figure is then shorter). `added` is a feature added to the composite beyond its
    components (a transplant: w_t · Δf_T of a donor) and `note` its caption line (caption.transplant_line).
    Returns a matplotlib Figure that is not registered with pyplot
    (nothing global to close; safe to build from several threads)."""
    _mpl()
    from matplotlib.figure import Figure

    top_k = _check_top_k(top_k)
    w = weight_vector(dec, weights)
    residual_weight = float(residual_weight)
    if not math.isfinite(residual_weight):
        raise UserError("the residual weight must be a finite number")
    ctx = context(gen, dec)

    x = dec.image.cpu()
    height, width = x.shape[-2:]
    composite_f = compose_feature(dec.baseline, dec.components, dec.residual, w, residual_weight)
    if added is not None:
        composite_f = composite_f + added.to(composite_f.dtype)
    rows = dec.ranking[:min(top_k, len(dec.ranking))]
    rendered = render_features(gen, ctx, torch.stack([dec.baseline, composite_f]))
    base_img, comp_img = rendered[0], rendered[1]
    patterns = regional_patterns(gen, ctx, dec.feature, dec.baseline, dec.components, rows, "isolated")
    norms = component_norms(dec.components)
    total = float(norms.sum()) or 1.0
    comp_psnr = psnr(masked_mse_one(comp_img, x, dec.players_mask))
    diff = ((comp_img - x).abs() * 0.5).mean(0).numpy()           # [0, 1] pixel scale
    luma = luminance(patterns * 0.5).numpy() if rows else np.zeros((0, height, width))
    aspect = height / width

    # --- layout, in inches
    W, margin = SLIDE_INCHES[0], 0.3
    title_h = 0.55 if title else 0.0
    cap_h = (0.86 + (0.17 if note else 0.0)) if caption else 0.0
    cbar = 0.08 + 0.12 + 0.62                                    # gap, bar, tick labels + label
    gap1 = 0.35
    s1 = min((W - 2 * margin - 3 * gap1 - cbar) / 4, 2.75 / aspect)  # width of a top image
    gap2 = 0.25 if top_k <= 8 else 0.16
    s2 = min((W - 2 * margin - (top_k - 1) * gap2 - cbar) / top_k, 1.8 / aspect)
    head1, head2, row_head = 0.44, 0.42, 0.32
    needed = title_h + head1 + s1 * aspect + 0.22 + row_head + head2 + s2 * aspect + 0.18 + cap_h
    H = max(needed, SLIDE_INCHES[1]) if (title and caption) else needed    # exactly 16:9 when it fits
    slack = (H - needed) / 4            # spread over: above the title, below it, between the rows, above the caption
    title_h += 2 * slack
    fig = Figure(figsize=(W, H), facecolor="white")
    sheet = _Sheet(fig)
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    if title:
        sheet.text(W / 2, 0.12 + slack, title_line(dec), fontsize=15, fontweight="bold", ha="center", va="top")

    # --- row 1: x, tail(f0), composite, |composite - x|
    y1 = title_h + head1
    left1 = (W - (4 * s1 + 3 * gap1 + cbar)) / 2
    ax = [sheet.axes(left1 + i * (s1 + gap1), y1, s1, s1 * aspect) for i in range(4)]
    f0_codes = dec.spec.settings.baseline_codes
    titles = ["original x = tail(f)\nplayers numbered",
              f"baseline tail(f0)\nf0 = mean feature of {f0_codes} codes",
              f"current composite\n{_weights_phrase(w, residual_weight, len(dec.ranking))}"
              + (" + transplant" if added is not None else ""),
              "|composite − x|\n" + ("identical on the players" if comp_psnr >= 100.0
                                       else f"PSNR on players {comp_psnr:.1f} dB")]
    fs1 = _label_size(titles, s1 + gap1 * 0.8, 10.5)
    for i, img in enumerate((x, base_img, comp_img)):
        ax[i].imshow(to_rgb(img), interpolation="nearest", extent=extent)
    vmax = max(float(diff.max()), 0.02)
    im = ax[3].imshow(diff, cmap="magma", vmin=0.0, vmax=vmax, interpolation="nearest", extent=extent)
    for i in range(4):
        _grid(ax[i], dec, height, width, numbers=(i == 0))
        _image_axis(ax[i], titles[i], fontsize=fs1)
    cax = sheet.axes(left1 + 4 * s1 + 3 * gap1 + 0.08, y1, 0.12, s1 * aspect)
    cb = fig.colorbar(im, cax=cax)
    cb.ax.tick_params(labelsize=7)
    cb.set_label("mean |Δ| per pixel (0–1 scale)", fontsize=7.5)

    # --- row 2: the strongest components' isolated patterns, one shared symmetric scale
    y_head = y1 + s1 * aspect + 0.22 + slack
    by = "‖Δf_S‖" if dec.spec.rank_by == "norm" else "image effect"
    sheet.text(W / 2, y_head + 0.04, f"Top {len(rows)} of {len(dec.ranking)} components by {by} — isolated "
               "pattern tail(f0 + Δf_S) − tail(f0) as signed luminance change (shared scale); "
               "region set S outlined", fontsize=10, ha="center", va="top")
    y2 = y_head + row_head + head2
    left2 = (W - (top_k * s2 + (top_k - 1) * gap2 + cbar)) / 2
    labels = []
    for i, row in enumerate(rows):
        share = 100.0 * float(norms[row]) / total
        extra = "" if float(w[row]) == 1.0 else f" · w {float(w[row]):g}"
        labels.append(f"#{i + 1}  {subset_label(row, dec.spec.layout.players)}\n{share:.1f}% of Σ‖Δf‖{extra}")
    fs2 = _label_size(labels, s2 + gap2 * 0.5, 9.5)
    lim = max(float(np.abs(luma).max()) if rows else 0.0, 1e-3)
    im2 = None
    for i, row in enumerate(rows):
        tile = sheet.axes(left2 + i * (s2 + gap2), y2, s2, s2 * aspect)
        im2 = tile.imshow(luma[i], cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest", extent=extent)
        _grid(tile, dec, height, width, players=False, color="0.45")
        _outline_region(tile, dec, row, height, width)
        _image_axis(tile, labels[i], fontsize=fs2)
    if im2 is not None:
        cax2 = sheet.axes(left2 + top_k * s2 + (top_k - 1) * gap2 + 0.08, y2, 0.12, s2 * aspect)
        cb2 = fig.colorbar(im2, cax=cax2)
        cb2.ax.tick_params(labelsize=7)
        cb2.set_label("Δ luminance (0–1 scale)", fontsize=7.5)

    if caption:
        sheet.text(margin, H - cap_h + 0.1, provenance_caption(dec, transplant=note), fontsize=7.8, va="top", ha="left",
                   color="0.15", linespacing=1.5)
    return fig


def panel_bytes(gen: SplitGenerator, dec: Decomposition, fmt: PanelFormat,
                weights: Tensor | Sequence[float] | None = None, residual_weight: float = 1.0, top_k: int = 6,
                dpi: int = 150, added: Tensor | None = None, note: str | None = None) -> bytes:
    """The overview panel as PNG, SVG or PDF bytes (text stays editable in SVG and PDF); `added` and
    `note`: a transplant in the mix and its caption line (overview_figure)."""
    fmt = str(fmt).lower()
    if fmt not in PANEL_FORMATS:
        raise UserError(f"panel format must be one of {', '.join(PANEL_FORMATS)}, got '{fmt}'")
    fig = overview_figure(gen, dec, weights, residual_weight, top_k, added=added, note=note)
    return figure_bytes(fig, fmt, dpi, dec, note)


def figure_bytes(fig: "Figure", fmt: str, dpi: int, dec: Decomposition, note: str | None = None) -> bytes:
    """A figure as PNG/SVG/PDF bytes carrying the title line and the provenance caption (with the
    transplant's line `note`, when given) as metadata."""
    import matplotlib
    buf = io.BytesIO()
    cap = provenance_caption(dec, transplant=note)
    meta = {"png": {"Title": title_line(dec), "Software": f"regionprims {__version__}", "Description": cap},
            "svg": {"Title": title_line(dec), "Description": cap},
            "pdf": {"Title": title_line(dec), "Subject": cap,
                    "Creator": f"regionprims {__version__}"}}[fmt]
    try:
        with matplotlib.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
                                    "svg.hashsalt": "regionprims"}):
            fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white", metadata=meta)
    finally:
        fig.clf()
    return buf.getvalue()


# ----------------------------------------------------------------------------- file

def decomposition_bytes(dec: Decomposition) -> bytes:
    """The decomposition file (safetensors; docs/design.md §5) as bytes."""
    from regionprims.store.fileformat import to_bytes
    return to_bytes(dec)
