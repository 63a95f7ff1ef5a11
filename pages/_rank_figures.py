"""The matrix-rank page's pictures: cached builders keyed by their inputs, styled inside
(``pages._charts.lean_layout``). The numbers come from core.rank."""

from __future__ import annotations

import io
from dataclasses import replace
from fractions import Fraction

import numpy as np
import streamlit as st

from core import rank as core
from pages._charts import frozen_figure, lean_layout
from pages._ui import ASSETS

KEPT, DROPPED, ACCENT = "#1c7ed6", "#adb5bd", "#e8590c"
HEAT = dict(colorscale="RdBu_r", zmid=0, showscale=False)


def _figure(traces: list[dict], height: int, **layout):
    return frozen_figure(traces, lean_layout(height, **layout))


def cell_text(M: np.ndarray) -> list[list[str]]:
    """Two decimals, trailing zeros dropped, tiny values as 0: what a heatmap cell prints."""
    return [
        [f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) >= 5e-3 else "0" for v in row] for row in M
    ]


def _heat(M: np.ndarray, top: float, labels: bool = True, **axes) -> dict:
    trace = dict(type="heatmap", z=M, zmin=-top, zmax=top, **HEAT, **axes)
    if labels and M.size <= 64:
        trace |= dict(text=cell_text(M), texttemplate="%{text}", textfont=dict(size=18))
    return trace


def _grid_axes(m: int, n: int, **more) -> tuple[dict, dict]:
    """A heatmap's axes numbered from 1, rows top to bottom."""
    x = dict(tickvals=list(range(n)), ticktext=[str(j + 1) for j in range(n)], **more)
    y = dict(tickvals=list(range(m)), ticktext=[str(i + 1) for i in range(m)], autorange="reversed")
    return x, y


@st.cache_resource(max_entries=256, show_spinner=False)
def singular_value_bars(s: np.ndarray, r: int, title: str, height: int, log: bool = False):
    """Bars of the first 60 singular values, the r kept ones in blue."""
    shown = s[:60]
    kept = (np.arange(shown.size) < r).astype(int)
    colours = dict(colorscale=[[0, DROPPED], [1, KEPT]], cmin=0, cmax=1)
    bars = dict(
        type="bar",
        x=np.arange(1, shown.size + 1),
        y=shown,
        name="sigma_i",
        marker=dict(color=kept, **colours),
    )
    return _figure(
        [bars],
        height,
        title=dict(text=title),
        bargap=0.15,
        xaxis=dict(title=dict(text="i"), dtick=1 if shown.size <= 12 else None),
        yaxis=dict(title=dict(text="singular value σᵢ"), type="log" if log else "linear"),
    )


@st.cache_resource(max_entries=256, show_spinner=False)
def heatmap(M: np.ndarray, title: str, zmin: float, zmax: float, height: int):
    x, y = _grid_axes(*M.shape)
    trace = _heat(M, zmax) | dict(zmin=zmin)
    return _figure([trace], height, title=dict(text=title), xaxis=x, yaxis=y)


@st.cache_resource(max_entries=64, show_spinner=False)
def outer_product(column: tuple[Fraction, ...], row: tuple[Fraction, ...]):
    """A rank-1 matrix as a multiplication table: the column at the left, the row on top,
    and each cell their product, so every row is visibly a multiple of the row."""
    c = np.array([float(v) for v in column])[:, None]  # (m, 1)
    r = np.array([float(v) for v in row])[None, :]  # (1, n)
    M = c @ r  # (m, n)
    top = float(np.abs(M).max()) or 1.0
    traces = [
        _heat(c, top, xaxis="x2", yaxis="y"),
        _heat(r, top, xaxis="x", yaxis="y2"),
        _heat(M, top, xaxis="x", yaxis="y"),
    ]
    return _figure(
        traces,
        360,
        title=dict(text="column × row = M: row i is c_i times the row"),
        xaxis=dict(domain=[0.22, 1], anchor="y", showticklabels=False),
        yaxis=dict(domain=[0, 0.7], anchor="x", autorange="reversed", showticklabels=False),
        xaxis2=dict(domain=[0, 0.14], anchor="y", showticklabels=False),
        yaxis2=dict(domain=[0.78, 1], anchor="x", showticklabels=False),
        margin=dict(l=20, r=20, t=70, b=10),
    )


@st.cache_resource(max_entries=128, show_spinner=False)
def layers(M: np.ndarray, r: int):
    """M = sum of sigma_i u_i v_i^T: each rank-1 layer as a small heatmap (each on its own
    colour scale, so its pattern shows; sigma_i above it says how much it weighs), the
    first r (the ones added so far) bright, the rest faded."""
    f = core.svd(M)
    parts = core.rank_one_layers(f)  # (p, m, n)
    p, tol = len(f.s), core.tolerance(f.s, f.M.shape)  # below tol: rounding noise, so 0
    gap, traces, layout, notes = 0.02, [], {}, []
    width = (1 - gap * (p - 1)) / p
    for i in range(p):
        k = "" if i == 0 else str(i + 1)
        lo = i * (width + gap)
        top = float(np.abs(parts[i]).max()) if f.s[i] > tol else 0.0
        trace = _heat(parts[i], top or 1.0, labels=False, xaxis=f"x{k}", yaxis=f"y{k}")
        traces.append(trace | dict(opacity=1.0 if i < r else 0.2, name=f"layer {i + 1}"))
        layout[f"xaxis{k}"] = dict(domain=[lo, lo + width], anchor=f"y{k}", showticklabels=False)
        layout[f"yaxis{k}"] = dict(anchor=f"x{k}", autorange="reversed", showticklabels=False)
        text = f"σ{i + 1} = {f.s[i]:.3g}" if f.s[i] > tol else f"σ{i + 1} = 0"
        notes.append(
            dict(
                x=lo + width / 2,
                y=1.02,
                xref="paper",
                yref="paper",
                text=text,
                showarrow=False,
                yanchor="bottom",
                font=dict(size=16),
            )
        )
    added = f"the first {r} of {p} layers added" if r else f"no layer added yet (of {p})"
    return _figure(
        traces,
        260,
        title=dict(text=f"M = σ₁u₁v₁ᵀ + σ₂u₂v₂ᵀ + ...: {added}"),
        annotations=notes,
        margin=dict(l=10, r=10, t=80, b=10),
        **layout,
    )


@st.cache_resource(max_entries=256, show_spinner=False)
def error_curve(s: np.ndarray, tol: float, r: int, title: str, height: int):
    """||M - M_r||_F for every r (Eckart-Young: the root of the dropped sigma_i^2), falling
    to 0 as the layers add up; the current r marked. Errors below ``tol`` print as 0."""
    errors = core.approximation_errors(s)  # (p + 1,)
    shown = f"{errors[r]:.3g}" if errors[r] > tol else "0"
    ranks = np.arange(errors.size)
    traces = [
        dict(
            type="scatter",
            x=ranks,
            y=errors,
            mode="lines+markers",
            name="error",
            line=dict(color=KEPT, width=3),
            marker=dict(size=6 if errors.size <= 20 else 0),
        ),
        dict(
            type="scatter",
            x=[r],
            y=[errors[r]],
            mode="markers+text",
            name=f"r = {r}",
            marker=dict(size=16, color=ACCENT),
            text=[shown],
            textposition="top right",
            textfont=dict(size=18, color=ACCENT),
        ),
    ]
    return _figure(
        traces,
        height,
        title=dict(text=title),
        showlegend=False,
        xaxis=dict(title=dict(text="layers added r"), dtick=1 if errors.size <= 12 else None),
        yaxis=dict(title=dict(text="‖M − M_r‖_F"), rangemode="tozero"),
    )


@st.cache_resource(show_spinner="Taking the picture apart with the SVD...")
def picture_svd() -> core.SVD:
    from PIL import Image

    pixels = np.asarray(Image.open(ASSETS / "rank_picture.png").convert("L"), dtype=float)
    return core.svd(pixels)  # (288, 384)


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    png = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(png, format="PNG")
    return png.getvalue()


@st.cache_resource(max_entries=300, show_spinner=False)
def picture_approx(r: int) -> tuple[bytes, core.LowRank]:
    """The rank-r picture as PNG bytes (encoded once per r) and its approximation's numbers
    (the matrix itself is dropped: the PNG holds it)."""
    approx = core.low_rank_from_svd(picture_svd(), r)
    # a zero-strided stand-in of the same shape: 300 cached pictures would hold 265 MB
    light = replace(approx, matrix=np.broadcast_to(np.float64(0), approx.matrix.shape))
    return _png(approx.matrix), light


@st.cache_resource(max_entries=300, show_spinner=False)
def picture_layer(r: int) -> bytes:
    """Layer r alone (1-based), sigma_r u_r v_r^T, as grey around mid-grey 128 = 0, scaled so
    that its largest |value| reaches black or white."""
    layer = core.rank_one_layer(picture_svd(), r - 1)  # (288, 384)
    top = float(np.abs(layer).max()) or 1.0
    return _png(128 + 127 * layer / top)


@st.cache_data(show_spinner=False)
def product_singular_values(d: int, r: int) -> np.ndarray:
    B, A = core.random_factors(d, r, d, seed=0)  # (d, r), (r, d)
    return core.svd((B @ A).astype(float)).s
