"""The quantization page's pictures of blocks: NF4's levels against INT4's, a vector cut into
blocks with their absmax, and what double quantization saves. Cached builders, styled inside,
as in pages/_quantization_figures.py (whose drawing helpers they share); every number drawn
comes from core.quantization."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import quantization as Q
from pages._quantization_figures import (
    ACCENT,
    CLAMPED,
    GREY,
    LEVEL,
    figure,
    scatter,
    segments,
    stroke,
)

MAX_STRIP = 1024  # values in the blocks strip
MATRIX = 4096 * 4096  # "a large matrix" for the double-quantization bars
TWO_COLOURS = dict(colorscale=[[0, "#0068c9"], [1, "#83c9ff"]], cmin=0, cmax=1)
SIGNED = "block-wise absmax"  # INT4 here: block-wise absmax at 4 bits
PART_NAMES = ("codes", "block constants", "scale per 256 constants", "offset (their mean)")


def two_panels(top: tuple[float, str], bottom: tuple[float, str], x_title: str,
               legend_y: float) -> dict:
    """Layout of two stacked panels sharing one x axis: ``top`` = (where it starts, y title)
    up to the top edge, ``bottom`` = (where it ends, y title) from the bottom edge."""
    (top_from, top_title), (bottom_to, bottom_title) = top, bottom
    return dict(
        xaxis=dict(domain=[0, 1], anchor="y", showticklabels=False),
        yaxis=dict(domain=[top_from, 1], title=dict(text=top_title)),
        xaxis2=dict(domain=[0, 1], anchor="y2", matches="x", title=dict(text=x_title)),
        yaxis2=dict(domain=[0, bottom_to], title=dict(text=bottom_title)),
        legend=dict(orientation="h", y=legend_y),
    )


@st.cache_resource(max_entries=64, show_spinner=False)
def nf4_vs_int4(x: np.ndarray, blocksize: int) -> go.Figure:
    """The weights divided by their block's absmax, as a histogram, twice: under NF4's 16
    levels (dense near 0, where normal weights are) and INT4's 15 evenly spaced ones."""
    unit = np.clip(Q.nf4_scaled(x, blocksize), -1, 1)
    counts, edges = np.histogram(unit, bins=40, range=(-1, 1))
    centres, top = (edges[:-1] + edges[1:]) / 2, float(counts.max()) * 1.1 or 1.0
    traces = []
    for axis, method, name, colour in (("", "NF4", "NF4", ACCENT), ("2", SIGNED, "INT4", LEVEL)):
        levels = Q.unit_levels(method, 4)
        on = dict(xaxis=f"x{axis}", yaxis=f"y{axis}")
        bars = dict(type="bar", x=centres, y=counts, marker=dict(color="#bbbbbb"), **on)
        traces.append(bars | dict(name="weights / absmax", showlegend=axis == ""))
        lines = segments(levels, 0.0, levels, top)
        label = f"{name}: {levels.size} levels"
        traces.append(scatter(*lines, label, "lines", line=stroke(colour, 3), **on))
    return figure(
        traces,
        520,
        bargap=0.05,
        title=dict(text=f"Weights / their block's absmax (blocks of {blocksize}), and the levels"),
        **two_panels((0.55, "NF4"), (0.45, "INT4"), "x / absmax", legend_y=-0.2),
    )


@st.cache_resource(max_entries=64, show_spinner=False)
def blocks(x: np.ndarray, bits: int, blocksize: int) -> go.Figure:
    """The vector as a strip coloured by block with each block's +-absmax, and below it the
    grid spacing of each block against one scale for all: an outlier coarsens its block."""
    n = min(x.size, MAX_STRIP)
    n_blocks = -(-n // blocksize)
    spacing = np.asarray(Q.quantize_blockwise(x, blocksize, bits).scale)[:n_blocks]
    one_spacing = Q.quantize_absmax(x, bits).scale
    absmax = Q.block_absmax(x, blocksize)[:n_blocks]
    one_absmax = float(Q.block_absmax(x, x.size)[0])
    starts = np.arange(n_blocks) * blocksize - 0.5
    ends = np.minimum(starts + blocksize, n - 0.5)
    band = segments(
        np.r_[starts, starts], np.r_[absmax, -absmax], np.r_[ends, ends], np.r_[absmax, -absmax]
    )
    one = segments(
        [-0.5, -0.5], [one_absmax, -one_absmax], [n - 0.5] * 2, [one_absmax, -one_absmax]
    )
    below = dict(xaxis="x2", yaxis="y2")
    index = np.arange(n)
    traces = [
        scatter(
            index,
            x[:n],
            "x, coloured by block",
            marker=dict(size=5, color=(index // blocksize) % 2, **TWO_COLOURS),
        ),
        scatter(*band, "+-absmax of each block", "lines", line=stroke(ACCENT, 3)),
        scatter(*one, "+-max|x| (one scale)", "lines", line=stroke(GREY, 2, "dash")),
        dict(
            type="bar",
            x=(starts + ends) / 2,
            y=spacing,
            width=(ends - starts) * 0.9,
            name="grid spacing (scale) per block",
            marker=dict(color=np.arange(n_blocks) % 2, **TWO_COLOURS),
            **below,
        ),
        scatter(
            [-0.5, n - 0.5],
            [one_spacing] * 2,
            "grid spacing with one scale",
            "lines",
            line=stroke(GREY, 2, "dash"),
            **below,
        ),
    ]
    shown = f"first {n:,} of {x.size:,} values" if n < x.size else f"{n:,} values"
    return figure(
        traces,
        560,
        title=dict(text=f"Blocks of {blocksize}, absmax INT{bits} ({shown})"),
        **two_panels((0.45, "x"), (0.35, "scale"), "index", legend_y=-0.18),
    )


@st.cache_resource(max_entries=32, show_spinner=False)
def double_quant_bars(n: int, blocksize: int) -> go.Figure:
    """Bits per weight of NF4, split into codes and constants, with FP32 block constants and
    double-quantized ones, for this vector and for a 4096 x 4096 matrix."""
    bars = []
    for size, where in ((n, f"this vector ({n:,})"), (MATRIX, "a 4096 x 4096 matrix")):
        for dq, how in ((False, "FP32 absmax"), (True, "double-quantized")):
            bars.append((f"{where}, {how}", Q.storage("NF4", size, 4, blocksize, dq)))
    traces = []
    for k, colour in enumerate((GREY, ACCENT, LEVEL, CLAMPED)):
        drawn = [(label, s.rows[k]) for label, s in bars if k < len(s.rows)]
        traces.append(
            dict(
                type="bar",
                orientation="h",
                y=[label for label, _ in drawn],
                x=[row[4] for _, row in drawn],  # bits per weight of this part
                name=PART_NAMES[k],
                marker=dict(color=colour),
            )
        )
    most = max(s.bits_per_weight for _, s in bars)
    traces.append(
        scatter(
            [s.bits_per_weight for _, s in bars],
            [label for label, _ in bars],
            "total",
            "text",
            text=[f" {s.bits_per_weight:.3f} bits" for _, s in bars],
            textposition="middle right",
            textfont=dict(size=18),
            showlegend=False,
        )
    )
    return figure(
        traces,
        380,
        barmode="stack",
        title=dict(text="NF4 bits per weight: codes + constants"),
        xaxis=dict(title=dict(text="bits per weight"), range=[0, 1.3 * most]),
        yaxis=dict(autorange="reversed"),
        legend=dict(orientation="h", y=-0.3),
    )


@st.cache_data(max_entries=32, show_spinner=False)
def double_quant_diagram(n: int, blocksize: int) -> str:
    """The two levels as a Graphviz diagram: weights -> 8-bit block constants -> one FP32
    constant per 256 of them (and one offset), with the bits each stores for n weights."""
    codes, constants, second, offset = Q.storage("NF4", n, 4, blocksize, True).rows
    fp32 = Q.storage("NF4", n, 4, blocksize, False).rows[1]

    def box(name: str, row: tuple, colour: str) -> str:
        what, count, _, total, _ = row
        return f'{name} [label="{count:,} x {what}\\n= {total:,.0f} bits", fillcolor="{colour}"];'

    return "\n".join(
        [
            "digraph { rankdir=LR; bgcolor=transparent;",
            'node [shape=box, style="rounded,filled", fontsize=18, fontname="sans-serif"];',
            'edge [fontsize=16, fontname="sans-serif"];',
            box("w", codes, "#e8e8e8"),
            box("c", constants, "#ffd8a8"),
            box("g", second, "#a5d8ff"),
            box("o", offset, "#a5d8ff"),
            box("f", fp32, "#eeeeee"),
            f'w -> c [label="one per {blocksize} weights"];',
            'c -> g [label="one per 256 constants"];',
            'c -> o [label="one for all"];',
            'w -> f [label="without double quantization", style=dashed];',
            "}",
        ]
    )
