"""Pieces of the PTQ-against-QAT page: training in a worker process, cached per setting, and
the figures (accuracy per width, decision regions, weight histograms, sizes, calibration)."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import qat
from pages._charts import chart_layout, style_fig

GRID = 100  # decision regions on a 100 x 100 grid: 10,000 cells per picture
LAYER_NAMES = ("2 → 32 (input layer)", "32 → 32 (hidden layer)", "32 → 2 (output layer)")
CLASS_FILL = ("#9ecae1", "#fdae6b")  # light blue, light orange: the two regions
CLASS_DOTS = ("#08519c", "#a63603")  # the held-out points of each class
COLORS = {"float32": "#636efa", "PTQ": "#ef553b", "QAT": "#00cc96"}


@st.cache_resource
def _trainer():
    """One worker process for training. torch loads there, never in the app's server: its
    first import holds the interpreter for seconds (the browser would report a lost
    connection), and a training loop would hold it for every other student too.

    A spawned child first re-runs ``__main__.__file__``, and Streamlit installs the running
    script as ``__main__``: a bare module stands in while the child starts, so the child
    only imports what the work needs."""
    import multiprocessing
    import sys
    import types
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    script, sys.modules["__main__"] = sys.modules["__main__"], types.ModuleType("__main__")
    try:
        pool.submit(int).result(timeout=120)  # starts the child now
    finally:
        sys.modules["__main__"] = script
    return pool


def _in_worker(function, *args):
    try:
        return _trainer().submit(function, *args).result(timeout=900)
    except BrokenProcessPool:
        _trainer.clear()  # the worker died (e.g. out of memory): a fresh one next time
        raise


@st.cache_data(show_spinner=False, max_entries=64)
def baseline(kind: str, noise: float, seed: int) -> qat.Baseline:
    return _in_worker(qat.train_float, kind, noise, seed)


@st.cache_data(show_spinner=False, max_entries=640)
def width(kind: str, noise: float, seed: int, bits: int, per_channel: bool) -> qat.Width:
    return _in_worker(qat.quantize_width, baseline(kind, noise, seed), bits, per_channel)


@st.cache_data(show_spinner=False, max_entries=256)
def summary(kind: str, noise: float, seed: int, per_channel: bool) -> dict:
    """What the page prints for a setting, small enough to copy on every rerun: ``rows``
    (bits, fp32, ptq, qat) and ``qat_seconds`` (bits, seconds) per width of ``qat.BITS``;
    the float32 training's ``steps``, ``seconds`` and CPU ``threads``."""
    base = baseline(kind, noise, seed)
    widths = [width(kind, noise, seed, bits, per_channel) for bits in qat.BITS]
    return {
        "rows": tuple((w.bits, w.fp32_accuracy, w.ptq_accuracy, w.qat_accuracy) for w in widths),
        "qat_seconds": tuple((w.bits, w.qat_seconds) for w in widths),
        "qat_steps": widths[0].qat_steps,
        "steps": base.steps,
        "seconds": base.seconds,
        "threads": base.threads,
    }


@st.cache_resource
def _computed() -> set:
    return set()  # the settings already trained in this server: no progress bar for those


def results(kind: str, noise: float, seed: int, per_channel: bool) -> dict:
    """``summary`` of a setting. The first time, the float32 training and PTQ + QAT at each
    width run one by one (each a cached call into the worker) under a progress bar."""
    setting = (kind, noise, seed, per_channel)
    if setting not in _computed():
        bar = st.progress(0.0, "Training the float32 network ...")
        baseline(kind, noise, seed)
        for i, bits in enumerate(qat.BITS):
            bar.progress(0.15 + 0.85 * i / len(qat.BITS), f"PTQ and QAT at {bits} bits ...")
            width(kind, noise, seed, bits, per_channel)
        bar.empty()
        _computed().add(setting)
    return summary(kind, noise, seed, per_channel)


# --- figures (cached: built once per setting, styled inside) -------------------------------


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


@st.cache_data(show_spinner=False, max_entries=64)
def sizes(kind, noise, seed, per_channel: bool) -> tuple[qat.ModelSize, ...]:
    """The network's size in float32, then at each width of ``qat.BITS``."""
    network = baseline(kind, noise, seed).network
    return (qat.model_size(network, None),) + tuple(
        qat.model_size(network, b, per_channel) for b in qat.BITS
    )


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


@st.cache_data(show_spinner=False, max_entries=256)
def calibration(kind, noise, seed, act_bits: int) -> qat.Calibration:
    return qat.calibration(baseline(kind, noise, seed), act_bits)


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


def size_table(sizes: tuple[qat.ModelSize, ...]) -> dict:
    return {
        "width": [s.label for s in sizes],
        "weights (B)": [f"{s.weight_bytes:,.0f}" for s in sizes],
        "biases (B)": [f"{s.bias_bytes:,.0f}" for s in sizes],
        "scales": [s.n_scales for s in sizes],
        "total (B)": [f"{s.n_bytes:,.0f}" for s in sizes],
        "smaller than float32": [f"{s.smaller_by:.2f}x" for s in sizes],
    }


def ranges_table(cal: qat.Calibration, n_samples: int) -> dict:
    point = next(p for p in cal.points if p.n_samples == n_samples)
    return {
        "layer input": ["x (the 2-D point)", "h1 (after layer 1)", "h2 (after layer 2)"],
        f"range from {n_samples} samples": [f"{r:.3f}" for r in point.ranges],
        "largest absolute value in the held-out data": [f"{r:.3f}" for r in cal.needed],
    }
