"""Pieces of the matrix-rank page: presets, LaTeX matrices with highlights, charts, and the
cached picture. UI only; the mathematics is in core.rank."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import rank as core
from pages._ui import ASSETS, style_fig

# preset id -> label; the label is what the selectbox shows and puts in the URL
PRESETS = {
    "curriculum": "Curriculum example",
    "outer": "Outer product",
    "zero": "Zero matrix",
    "random": "Random, chosen rank",
    "product": "Product B·A",
    "custom": "Your own matrix",
}
PRESET_OF = {label: preset for preset, label in PRESETS.items()}
CURRICULUM = [[1, 2, 3], [0, 4, 2], [2, 6, 5]]
HIGHLIGHT = "#e8590c"  # the changed row; readable on light and dark backgrounds
KEPT, DROPPED = "#1c7ed6", "#adb5bd"


def build(preset: str, m: int, n: int, r: int, seed: int, text: str):
    """The preset's matrix as exact Fractions, and (B, A) for the product preset."""
    if preset == "curriculum":
        return core.to_fractions(CURRICULUM), None
    if preset == "outer":
        return core.to_fractions(np.outer([1, 2, 3], [4, 1, 5, 6])), None
    if preset == "zero":
        return core.to_fractions(np.zeros((m, n), dtype=int)), None
    if preset == "random":
        return core.to_fractions(core.random_matrix(m, n, min(r, m, n), seed)), None
    if preset == "product":
        B, A = core.random_factors(m, r, n, seed)
        return core.to_fractions(B @ A), (B, A)
    return core.parse_matrix(text), None


def edit_copy(text: str) -> None:
    """Button callback: continue with the shown matrix in the editor."""
    st.session_state.rank_matrix = text
    st.session_state.rank_preset = PRESETS["custom"]


def move_step(delta: int, last: int) -> None:
    st.session_state.rank_step = min(max(st.session_state.get("rank_step", 0) + delta, 0), last)


def tex_number(x) -> str:
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    sign = "-" if x < 0 else ""
    return rf"{sign}\tfrac{{{abs(x.numerator)}}}{{{x.denominator}}}"


def tex_matrix(M, pivots=(), rows=()) -> str:
    """A bracketed matrix; pivots boxed, changed rows coloured."""
    lines = []
    for i, row in enumerate(M):
        cells = []
        for j, x in enumerate(row):
            cell = tex_number(x)
            if (i, j) in pivots:
                cell = rf"\boxed{{{cell}}}"
            if i in rows:
                cell = rf"\textcolor{{{HIGHLIGHT}}}{{{cell}}}"
            cells.append(cell)
        lines.append(" & ".join(cells))
    return r"\begin{bmatrix}" + r" \\ ".join(lines) + r"\end{bmatrix}"


def tex_op(op: str) -> str:
    """``R3 -> R3 - (1/2)*R2`` as LaTeX: R_3 \\to R_3 - \\tfrac{1}{2} R_2."""
    if op == "start":
        return r"\text{start}"
    op = re.sub(r"\(?(-?\d+(?:/\d+)?)\)?\*", lambda m: tex_number(Fraction(m[1])) + r"\,", op)
    op = re.sub(r"R(\d+)", r"R_{\1}", op)
    return op.replace("<->", r"\leftrightarrow").replace("->", r"\to")


def show(fig: go.Figure, key: str) -> None:
    """``pages._ui.plot`` for a figure that a cached builder below has already styled
    (plotly's layout updates are the slow part of a rerun)."""
    st.plotly_chart(fig, theme="streamlit", key=key)


@st.cache_resource(max_entries=256)
def singular_value_bars(s: np.ndarray, r: int, title: str, height: int, limit: int = 60):
    shown = s[:limit]
    colors = [KEPT if i < r else DROPPED for i in range(len(shown))]
    fig = go.Figure(go.Bar(x=np.arange(1, len(shown) + 1), y=shown, marker_color=colors))
    fig.update_layout(title=title, xaxis_title="i", yaxis_title="singular value σᵢ", bargap=0.15)
    return style_fig(fig, height)


@st.cache_resource(max_entries=256)
def heatmap(M: np.ndarray, title: str, zmin: float, zmax: float, height: int) -> go.Figure:
    m, n = M.shape
    text = [
        [
            f"{v:.2f}".rstrip("0").rstrip(".").replace("-0", "0") if abs(v) >= 5e-3 else "0"
            for v in row
        ]
        for row in M
    ]
    fig = go.Figure(
        go.Heatmap(
            z=M,
            zmin=zmin,
            zmax=zmax,
            colorscale="RdBu_r",
            zmid=0,
            text=text if m * n <= 64 else None,
            texttemplate="%{text}",
            showscale=False,
        )
    )
    fig.update_layout(
        title=title,
        yaxis_autorange="reversed",
        xaxis=dict(tickvals=list(range(n)), ticktext=[str(j + 1) for j in range(n)]),
        yaxis=dict(tickvals=list(range(m)), ticktext=[str(i + 1) for i in range(m)]),
    )
    return style_fig(fig, height)


@st.cache_resource(show_spinner="Taking the picture apart with the SVD...")
def picture_svd() -> core.SVD:
    from PIL import Image

    pixels = np.asarray(Image.open(ASSETS / "rank_picture.png").convert("L"), dtype=float)
    return core.svd(pixels)  # (288, 384)


@st.cache_resource
def picture_approx(r: int) -> tuple[np.ndarray, float]:
    approx = core.low_rank_from_svd(picture_svd(), r)
    return np.clip(approx.matrix, 0, 255).astype(np.uint8), approx.error


@st.cache_data
def product_singular_values(d: int, r: int) -> np.ndarray:
    B, A = core.random_factors(d, r, d, seed=0)  # (d, r), (r, d)
    return np.linalg.svd((B @ A).astype(float), compute_uv=False)
