"""Plotly figures of the explorer (data in, figure out; no Streamlit calls)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 3}}
FONT = dict(size=14)
ACCENT = "#d9480f"


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 340) -> go.Figure:
    fig.update_layout(title=dict(text=title, font=dict(size=16)), xaxis_title=x, yaxis_title=y, height=height,
                      margin=dict(l=60, r=20, t=50, b=50), font=FONT, uirevision="keep", showlegend=True,
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    return fig


def _vline(fig: go.Figure, x: float, y0: float, y1: float, label: str = "") -> None:
    """A dotted vertical marker as a trace (shapes misplace on log axes in plotly 7)."""
    fig.add_trace(go.Scatter(x=[x, x], y=[y0, y1], mode="lines+text", text=["", label], textposition="top right",
                             line=dict(color="grey", dash="dot", width=1.5), showlegend=False, hoverinfo="skip"))


def buildup_curve(b, k: int | None = None, full: float | None = None) -> go.Figure:
    """Players' PSNR against the number of components added in rank order; the dashed line is
    u(N), every component (the decomposition's fit PSNR)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=b.ks, y=b.player_psnr, mode="lines+markers" if len(b.ks) <= 60 else "lines",
                             name="f0 + top k", line=dict(color=ACCENT, width=3)))
    lo, hi = min(b.player_psnr), max(b.player_psnr + ([full] if full else []))
    if full is not None and math.isfinite(full):
        fig.add_trace(go.Scatter(x=[b.ks[0], b.ks[-1]], y=[full, full], mode="lines", name="all components u(N)",
                                 line=dict(color="black", dash="dash", width=1.5)))
    if k is not None:
        _vline(fig, k, lo, hi)
    return _layout(fig, "Build-up: PSNR on the players against k", "k (components added, rank order)",
                   "PSNR on players (dB)")


def buildup_versus(ks: Sequence[int], method: Sequence[float], null: Sequence[float], height: int = 440) -> go.Figure:
    """The build-ups of the method and of its tight geometric null on one chart: players' PSNR
    against the number of components added, each in its own rank order."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(ks), y=list(method), mode="lines+markers", name="method",
                             line=dict(color=ACCENT, width=3)))
    fig.add_trace(go.Scatter(x=list(ks), y=list(null), mode="lines+markers", name="geometric null",
                             line=dict(color="#1c7ed6", width=2.5, dash="dash")))
    return _layout(fig, "Build-up: method vs geometric null", "k (components added, each in its rank order)",
                   "PSNR on players (dB)", height=height)


def sparsity_curve(shares: Sequence[float], top: int = 20) -> go.Figure:
    k = np.arange(1, len(shares) + 1)
    fig = go.Figure(go.Scatter(x=k, y=shares, mode="lines", name="cumulative share of ||Δf_S||",
                               line=dict(color=ACCENT, width=3)))
    if len(shares) >= top:
        fig.add_trace(go.Scatter(x=[top], y=[shares[top - 1]], mode="markers+text", name=f"top {top}",
                                 text=[f"top {top}: {shares[top - 1]:.2f}"], textposition="bottom right",
                                 marker=dict(size=10, color="black")))
    fig.update_xaxes(type="log")
    fig.update_yaxes(range=[0, 1.02])
    return _layout(fig, "Sparsity: strength share of the top k", "k (log scale)", "share of Σ‖Δf_S‖")


def additivity_curve(ks: Sequence[int], errors: Sequence[float], top: int = 20) -> go.Figure:
    fig = go.Figure(go.Scatter(x=list(ks), y=list(errors), mode="lines+markers", name="additivity error",
                               line=dict(color=ACCENT, width=3)))
    if ks and top <= max(ks):
        _vline(fig, top, 0, max(errors), f"top {top}")
    fig.update_xaxes(type="log")
    return _layout(fig, "Additivity error keeping the top k", "k (log scale)", "relative error")


def leakage_bars(labels: Sequence[str], leakage: Sequence[float]) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(labels), y=list(leakage), marker_color=ACCENT, name="leakage"))
    fig.update_yaxes(range=[0, max(0.05, 1.15 * max(leakage, default=0))])
    fig.update_xaxes(tickangle=-45)
    return _layout(fig, "Leakage of the top components", "component (rank, region set)",
                   "energy share outside its regions", height=380)


def overlap_heatmap(labels: Sequence[str], patches: Sequence[int], shares: np.ndarray,
                    members: np.ndarray) -> go.Figure:
    """Components (rows) × grid patches (columns): share of the component's leave-one-out
    pattern energy in each patch; ● marks the patches of its own region set."""
    text = np.where(members, "●", "")
    fig = go.Figure(go.Heatmap(z=shares, x=[f"{p}" for p in patches], y=list(labels), colorscale="Blues",
                               zmin=0, zmax=1, text=text, texttemplate="%{text}",
                               textfont=dict(color=ACCENT, size=13), xgap=1, ygap=1,
                               colorbar=dict(title=dict(text="energy share")),
                               hovertemplate="component %{y}<br>patch %{x}<br>share %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    height = 120 + 24 * len(labels)
    fig = _layout(fig, "Where each component acts: energy by patch (● = its regions)",
                  "grid patch", None, height=height)
    fig.update_layout(showlegend=False, margin=dict(l=150, r=20, t=50, b=50), font=dict(size=13),
                      paper_bgcolor="white", plot_bgcolor="white")
    fig.update_yaxes(automargin=True)
    return fig


def fit_by_size(sizes: Sequence[int], losses: Sequence[float]) -> go.Figure:
    fig = go.Figure(go.Box(x=list(sizes), y=list(losses), marker_color=ACCENT, name="fit error"))
    fig.update_yaxes(type="log")
    return _layout(fig, "Fit error of u(S) by subset size", "|S|", "masked MSE on M_S", height=380)
