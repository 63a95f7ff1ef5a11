"""The quantization page's pictures of values (the number line and where values land; the
block-wise, NF4 and double-quantization pictures are in pages/_quantization_blocks.py), each a cached builder keyed by its inputs and styled
inside (``pages._charts.lean_layout``), so a rerun that changes nothing they show costs
nothing. Every number drawn comes from core.quantization. Data go in as NumPy arrays,
which reach the browser as one base64 block each (a list is converted value by value)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import quantization as Q
from pages._charts import frozen_figure, lean_layout

WHOLE, CHOSEN, BULK = "Whole range", "Zoom on the chosen value", "The bulk (1st-99th percentile)"
VIEWS = (WHOLE, CHOSEN, BULK)
MAX_INPUTS = 300  # input values drawn on the number line
MAX_POINTS = 2000  # points in the x -> x_hat scatter
FLOAT_Y, GRID_Y = 1.0, 0.0
ACCENT, CLAMPED, LEVEL, INPUT, GREY = "#ff8700", "#ff2b2b", "#0068c9", "#29b09d", "#999999"


def figure(traces: list[dict], height: int = 420, **layout) -> go.Figure:
    return frozen_figure(traces, lean_layout(height, **layout))


def scatter(x, y, name: str, mode: str = "markers", **style) -> dict:
    return dict(type="scatter", x=x, y=y, name=name, mode=mode, **style)


def stroke(color: str, width: float = 2, dash: str = "solid") -> dict:
    return dict(color=color, width=width, dash=dash)


def segments(x0, y0, x1, y1) -> tuple[np.ndarray, np.ndarray]:
    """Line segments (x0, y0) -> (x1, y1) as one trace's points, NaN (a gap) between them."""
    gap = np.full(len(x0), np.nan)
    x = np.column_stack([x0, x1, gap]).astype(float).ravel()
    y = np.column_stack([np.broadcast_to(y0, gap.shape), np.broadcast_to(y1, gap.shape), gap])
    return x, y.astype(float).ravel()


def _sample(n: int, keep, limit: int) -> np.ndarray:
    """At most ``limit`` evenly spread indices of range(n), always including ``keep``."""
    spread = np.unique(np.linspace(0, n - 1, min(n, limit)).astype(int))
    return np.union1d(spread, np.asarray(keep, dtype=int))


def _view(view: str, x: np.ndarray, levels: np.ndarray, trace: Q.ValueTrace):
    """The value-axis range (lo, hi) each view shows; ``levels`` ascending."""
    if view == CHOSEN:
        k = int(np.searchsorted(levels, trace.x_hat))
        near = levels[max(k - 1, 0) : k + 2]
        gap = float(np.diff(near).max()) if near.size > 1 else 0.0
        half = max(3 * gap, 1.5 * abs(trace.error), 1e-6 * max(abs(trace.x), 1.0))
        return trace.x - half, trace.x + half
    if view == BULK and x.size > 2:
        lo, hi = (float(v) for v in np.percentile(x, [1, 99]))
    else:
        lo, hi = min(float(levels[0]), float(x.min())), max(float(levels[-1]), float(x.max()))
    pad = 0.05 * (hi - lo) or 1.0
    return lo - pad, hi + pad


def _side(at: float, lo: float, hi: float) -> str:
    """Where a label below a point fits: to the right near the left edge, and so on."""
    where = (at - lo) / (hi - lo)
    return "bottom right" if where < 0.2 else ("bottom left" if where > 0.8 else "bottom center")


def _labelled(codes: np.ndarray, always: set[int]) -> np.ndarray:
    """Positions of about nine evenly spread codes to print, plus ``always`` when visible."""
    if codes.size == 0:
        return np.array([], dtype=int)
    must = {int(k) for k in np.flatnonzero(np.isin(codes, list(always)))}
    room = codes.size / 12  # labels closer than this to a must-have one would overlap it
    spread = np.linspace(0, codes.size - 1, min(codes.size, 9)).astype(int)
    spread = {int(k) for k in spread if all(abs(k - m) >= room for m in must)}
    return np.array(sorted(spread | must))


@st.cache_resource(max_entries=256, show_spinner=False)
def number_line(
    x: np.ndarray,
    method: str,
    bits: int,
    blocksize: int,
    clip: float,
    i: int,
    stage: int,
    view: str,
) -> go.Figure:
    """The notes' drawing: x on the float line above, the integer grid below on the same
    value axis, an arrow from each value to its level (red where clamped), where 0.0
    lands (the zero point), the grid's ends, and the chosen value's current step."""
    # 1) the numbers, all from core
    result = Q.quantize(method, x, bits, blocksize, clip)
    trace = Q.trace_value(method, x, i, bits, blocksize, clip)
    grid = Q.grid_levels(method, result, trace.block or 0)
    x_hat = result.dequantize()
    used, total = Q.levels_used(method, result)
    # 2) which values: a block has its own grid, so only that block's values are drawn
    if trace.block is None:
        members = np.arange(x.size)
    else:
        members = np.arange(trace.block * blocksize, min((trace.block + 1) * blocksize, x.size))
    outside = (x[members] < grid.values[0]) | (x[members] > grid.values[-1])
    keep = np.searchsorted(members, [i, *members[outside][:100]])
    idx = members[_sample(members.size, keep, MAX_INPUTS)]
    clamped = (x[idx] < grid.values[0]) | (x[idx] > grid.values[-1])
    lo, hi = _view(view, x[members], grid.values, trace)
    visible = (grid.values >= lo) & (grid.values <= hi)
    codes, values = grid.codes[visible], grid.values[visible]
    labelled = _labelled(codes, {grid.zero_code, trace.code})
    # 3) the traces: grid ticks, code labels, arrows, the chosen value and its step
    ticks = segments(values, GRID_Y - 0.1, values, GRID_Y + 0.1)
    traces = [
        scatter(*ticks, "levels of the grid", "lines", line=stroke(LEVEL), hoverinfo="skip"),
        scatter(
            values,
            np.full(values.size, GRID_Y),
            "codes",
            marker=dict(size=4, color=LEVEL),
            customdata=codes,
            showlegend=False,
            hovertemplate="code %{customdata}: %{x:.6g}<extra></extra>",
        ),
        scatter(
            values[labelled],
            np.full(labelled.size, GRID_Y - 0.3),
            "code labels",
            "text",
            text=[str(c) for c in codes[labelled]],
            textfont=dict(size=16),
            showlegend=False,
            hoverinfo="skip",
        ),
    ]
    for mask, name, colour in (
        (~clamped, "x -> its nearest level", INPUT),
        (clamped, "clamped to the end of the grid", CLAMPED),
    ):
        if mask.any():
            arrows = segments(x[idx[mask]], FLOAT_Y, x_hat[idx[mask]], GRID_Y)
            style = dict(line=stroke(colour, 1), marker=dict(size=7, color=colour))
            traces.append(scatter(*arrows, name, "lines+markers", hoverinfo="x", **style))
    path = f"x[{i}] = {trace.x:.6g} -> code {trace.code}"
    traces.append(
        scatter([trace.x, trace.x_hat], [FLOAT_Y, GRID_Y], path, "lines", line=stroke(ACCENT, 4))
    )
    step = trace.steps[min(stage, len(trace.steps) - 1)]
    traces.append(
        scatter(
            [step.position],
            [GRID_Y if step.on_grid else FLOAT_Y],
            f"step: {step.name}",
            "markers+text",
            marker=dict(size=22, color=ACCENT, symbol="circle-open", line=dict(width=4)),
            text=[f"{step.name} = {step.value:.6g}"],
            textposition="top center",
            textfont=dict(size=18, color=ACCENT),
        )
    )
    if lo <= 0 <= hi:
        label = f"0.0 = code {grid.zero_code}" + (" (zero point)" if method == "min-max" else "")
        traces.append(
            scatter(
                [0.0],
                [GRID_Y - 0.55],
                "where 0.0 lands",
                "markers+text",
                marker=dict(symbol="triangle-up", size=14, color=LEVEL),
                text=[label],
                textposition=_side(0.0, lo, hi),
                textfont=dict(size=16),
                customdata=[grid.zero_code],
            )
        )
    # 4) the two lines, and dotted red marks where the grid ends (beyond: clamped)
    shapes = [
        dict(type="line", x0=lo, x1=hi, y0=y, y1=y, line=stroke(GREY, 1)) for y in (FLOAT_Y, GRID_Y)
    ]
    for end in (grid.values[0], grid.values[-1]):
        if lo <= end <= hi:
            ends = dict(x0=end, x1=end, y0=GRID_Y - 0.15, y1=FLOAT_Y + 0.15)
            shapes.append(dict(type="line", line=stroke(CLAMPED, 2, "dot"), **ends))
    spacing = f"scale = {grid.step:.6g} between levels" if grid.step else "uneven NF4 spacing"
    where = f", block {trace.block}" if trace.block is not None else ""
    return figure(
        traces,
        460,
        title=dict(text=f"{total} codes ({used} used){where}; {spacing}"),
        xaxis=dict(title=dict(text="value"), range=[lo, hi], zeroline=False),
        yaxis=dict(
            range=[-1.0, 1.45],
            tickvals=[GRID_Y, FLOAT_Y],
            ticktext=["codes q", "float x"],
            zeroline=False,
            showgrid=False,
            fixedrange=True,
        ),
        shapes=shapes,
        legend=dict(orientation="h", y=-0.25),
    )


@st.cache_resource(max_entries=128, show_spinner=False)
def landing(
    x: np.ndarray, method: str, bits: int, blocksize: int, clip: float, i: int, view: str
) -> go.Figure:
    """x against x_hat: on the dotted diagonal there is no error; the zoom keeps the small
    values visible when an outlier stretches the axes."""
    result = Q.quantize(method, x, bits, blocksize, clip)
    x_hat = result.dequantize()
    trace = Q.trace_value(method, x, i, bits, blocksize, clip)
    pick = _sample(x.size, [i], MAX_POINTS)
    lo, hi = _view(view, x, np.sort(x_hat), trace)
    traces = [
        scatter([lo, hi], [lo, hi], "no error", "lines", line=stroke(GREY, 2, "dot")),
        scatter(x[pick], x_hat[pick], "x -> x_hat", marker=dict(color=INPUT)),
        scatter([trace.x], [trace.x_hat], f"x[{i}]", marker=dict(size=14, color=ACCENT)),
    ]
    return figure(
        traces,
        420,
        title=dict(text="Where x lands: x_hat"),
        xaxis=dict(title=dict(text="x"), range=[lo, hi]),
        yaxis=dict(title=dict(text="x_hat (dequantized)"), range=[lo, hi]),
    )
