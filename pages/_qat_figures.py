"""The PTQ-against-QAT page's figures: accuracy per width, decision regions, weight
histograms, sizes, calibration. Cached: built once per setting and styled inside; the
numbers come from the cached results of pages/_qat_parts.py (core.qat, in a worker)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import qat
from pages._charts import chart_layout, style_fig
from pages._qat_parts import baseline, calibration, sizes, width

GRID = 100  # decision regions on a 100 x 100 grid: 10,000 cells per picture
CLASS_FILL = ("#9ecae1", "#fdae6b")  # light blue, light orange: the two regions
CLASS_DOTS = ("#08519c", "#a63603")  # the held-out points of each class
COLORS = {"float32": "#636efa", "PTQ": "#ef553b", "QAT": "#00cc96"}


def _encoded(fig: go.Figure) -> go.Figure:
    """The figure rebuilt from its own ``to_dict()``: numpy arrays are then already plotly's
    base64 typed arrays, so serializing it on each rerun skips the array conversion (3x
    faster for these figures)."""
    return go.Figure(fig.to_dict())


@st.cache_resource(max_entries=256)
def accuracy_figure(rows: tuple[tuple[int, float, float, float], ...]) -> go.Figure:
    """Held-out accuracy per width: float32 as a flat line, PTQ and QAT as curves.
    ``rows``: (bits, fp32, ptq, qat) per width."""
    bits = [r[0] for r in rows]
    traces = [
        dict(type="scatter", x=bits, y=[100 * r[column] for r in rows], name=name,
             mode="lines" if name == "float32" else "lines+markers",
             line=dict(color=COLORS[name], width=4, dash="dash" if name == "float32" else None),
             marker=dict(size=14), hovertemplate="%{x} bits: %{y:.1f}%<extra>" + name + "</extra>")
        for name, column in (("float32", 1), ("PTQ", 2), ("QAT", 3))
    ]  # fmt: skip
    layout = chart_layout(430) | dict(
        title=dict(text="Held-out accuracy at each bit width"),
        xaxis=dict(title=dict(text="bits per weight"), tickvals=bits, autorange="reversed"),
        yaxis=dict(title=dict(text="accuracy (%)"), range=[0, 102]),
    )
    return _encoded(go.Figure(dict(data=traces, layout=layout)))


@st.cache_resource(max_entries=256)
def boundary_figure(kind, noise, seed, bits, per_channel) -> go.Figure:
    """The decision regions of float32, PTQ and QAT at ``bits`` side by side, with the
    held-out points on top."""
    base, result = baseline(kind, noise, seed), width(kind, noise, seed, bits, per_channel)
    xs, ys = qat.grid_axes(base.extent, GRID)
    panels = {
        f"float32: {base.accuracy:.1%}": base.network,
        f"PTQ {bits}-bit: {result.ptq_accuracy:.1%}": result.ptq,
        f"QAT {bits}-bit: {result.qat_accuracy:.1%}": result.qat,
    }
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(panels), horizontal_spacing=0.02,
                        shared_yaxes=True)  # fmt: skip
    scale = [[0, CLASS_FILL[0]], [1, CLASS_FILL[1]]]
    dots_scale = [[0, CLASS_DOTS[0]], [1, CLASS_DOTS[1]]]
    for col, network in enumerate(panels.values(), start=1):
        z = qat.decision_regions(network, base.extent, GRID)
        fig.add_trace(go.Heatmap(x=xs, y=ys, z=z, zmin=0, zmax=1, colorscale=scale,
                                 showscale=False, hoverinfo="skip"), row=1, col=col)  # fmt: skip
        dots = go.Scattergl(x=base.x_test[:, 0], y=base.x_test[:, 1], mode="markers",
                            marker=dict(size=6, color=base.y_test, colorscale=dots_scale),
                            hoverinfo="skip", showlegend=False)  # fmt: skip
        fig.add_trace(dots, row=1, col=col)
    fig.update_xaxes(showticklabels=False, range=base.extent[:2])
    fig.update_yaxes(showticklabels=False, range=base.extent[2:], scaleanchor="x")
    return _encoded(style_fig(fig, height=470))


@st.cache_resource(max_entries=256)
def histogram_figure(kind, noise, seed, bits, per_channel, layer: int) -> go.Figure:
    """One layer's weights before rounding (bars) and after (spikes at the grid levels),
    for PTQ (the float32 weights) and QAT (its latent float32 weights)."""
    base, result = baseline(kind, noise, seed), width(kind, noise, seed, bits, per_channel)
    pairs = {
        "PTQ: trained float32 weights -> rounded": (base.network, result.ptq),
        "QAT: latent weights -> rounded": (result.qat_latent, result.qat),
    }
    fig = make_subplots(rows=1, cols=2, subplot_titles=list(pairs), horizontal_spacing=0.08)
    for col, (before, after) in enumerate(pairs.values(), start=1):
        hist = qat.weight_histogram(before.weights[layer], after.weights[layer])
        centres, step = (hist.edges[:-1] + hist.edges[1:]) / 2, hist.edges[1] - hist.edges[0]
        fig.add_trace(
            go.Bar(
                x=centres,
                y=hist.counts,
                width=step,
                name="before rounding",
                marker_color="#9e9e9e",
                showlegend=col == 1,
            ),
            row=1,
            col=col,
        )
        fig.add_trace(go.Bar(x=hist.levels, y=hist.level_counts, width=step / 3,
                             name=f"after rounding ({bits} bits)", marker_color=COLORS["PTQ"],
                             showlegend=col == 1), row=1, col=col)  # fmt: skip
    fig.update_layout(barmode="overlay", bargap=0)
    fig.update_xaxes(title_text="weight value")
    fig.update_yaxes(title_text="how many weights", col=1)
    return _encoded(style_fig(fig, height=400))


@st.cache_resource(max_entries=64)
def size_figure(kind, noise, seed, per_channel: bool) -> go.Figure:
    """Bytes per width, stacked: weights, biases (float32), scales (float32)."""
    sizes_ = sizes(kind, noise, seed, per_channel)
    labels = [s.label for s in sizes_]
    parts = (("weights", "weight_bytes", "#636efa"), ("biases (float32)", "bias_bytes", "#ab63fa"),
             ("scales (float32)", "scale_bytes", "#ffa15a"))  # fmt: skip
    bars = [dict(type="bar", x=labels, y=[getattr(s, field) for s in sizes_], name=name,
                 marker=dict(color=color),
                 hovertemplate="%{x}: %{y:,.0f} B<extra>" + name + "</extra>")
            for name, field, color in parts]  # fmt: skip
    notes = [dict(x=s.label, y=s.n_bytes, text=f"<b>{s.n_bytes:,.0f} B</b>", showarrow=False,
                  yshift=14) for s in sizes_]  # fmt: skip
    layout = chart_layout(400) | dict(
        barmode="stack", title=dict(text="The network's size at each width"),
        yaxis=dict(title=dict(text="bytes")), annotations=notes,
    )  # fmt: skip
    return _encoded(go.Figure(dict(data=bars, layout=layout)))


@st.cache_resource(max_entries=256)
def calibration_figure(kind, noise, seed, act_bits: int, n_samples: int) -> go.Figure:
    """Held-out accuracy with activations rounded at ``act_bits``, against the number of
    calibration samples that set their ranges (log axis); the chosen one marked."""
    cal = calibration(kind, noise, seed, act_bits)
    n = [p.n_samples for p in cal.points]
    accuracy = [100 * p.accuracy for p in cal.points]
    chosen = n.index(n_samples)
    traces = [
        dict(type="scatter", x=[n[0], n[-1]], y=[100 * cal.fp32_accuracy] * 2, mode="lines",
             name="float32, no rounding", line=dict(dash="dash", color=COLORS["float32"], width=3)),
        dict(type="scatter", x=n, y=accuracy, mode="lines+markers", name="activations rounded",
             line=dict(color=COLORS["PTQ"], width=4), marker=dict(size=12),
             hovertemplate="%{x} samples: %{y:.1f}%<extra></extra>"),
        dict(type="scatter", x=[n[chosen]], y=[accuracy[chosen]], mode="markers", name="chosen",
             marker=dict(size=24, symbol="circle-open", color="black", line=dict(width=3))),
    ]  # fmt: skip
    layout = chart_layout(400) | dict(
        title=dict(text=f"Activations at {act_bits} bits: accuracy against calibration samples"),
        xaxis=dict(title=dict(text="calibration samples (log scale)"), type="log"),
        yaxis=dict(title=dict(text="accuracy (%)"), range=[0, 102]),
    )
    return _encoded(go.Figure(dict(data=traces, layout=layout)))
