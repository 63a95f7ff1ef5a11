"""Pieces of the matrix-rank page: presets, LaTeX matrices with highlights, charts, and the
cached picture. UI only; the mathematics is in core.rank."""

import io
import re
from fractions import Fraction

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import rank as core
from pages._ui import ASSETS, plot_styled, style_fig

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
HIGHLIGHT = "#e8590c"  # the changed row; readable on light and dark backgrounds
KEPT, DROPPED = "#1c7ed6", "#adb5bd"


def size_controls(preset: str) -> tuple[int, int, int, int]:
    """Rows, columns, rank (or inner size r) and seed for the generated presets."""
    if preset not in ("zero", "random", "product"):
        return 0, 0, 0, 0
    c1, c2, c3, c4 = st.columns(4)
    d_name, k_name = ("d", "k") if preset == "product" else ("m", "n")
    m = c1.number_input(f"Rows {d_name}", 1, 8, 4, key="rank_rows", bind="query-params")
    n = c2.number_input(f"Columns {k_name}", 1, 8, 5, key="rank_cols", bind="query-params")
    if preset == "zero":
        return int(m), int(n), 0, 0
    label = "Inner size r" if preset == "product" else "Rank r"
    low = 1 if preset == "product" else 0  # B (d, 0) would be an empty matrix
    r = c3.number_input(label, low, 8, 2, key="rank_target", bind="query-params")
    seed = c4.number_input("Random seed", 0, 9999, 0, key="rank_seed", bind="query-params")
    if preset == "random" and r > min(m, n):
        st.caption(f"A {m} × {n} matrix has rank at most min(m, n) = {min(m, n)}.")
    return int(m), int(n), int(r), int(seed)


def step_controls(last: int, matrix_text: str) -> int:
    """Back / Next buttons and a slider over the steps 0..last; the chosen step.
    A new matrix starts again at step 0 (a link's step is kept on opening it)."""
    if st.session_state.get("_rank_seen", matrix_text) != matrix_text:
        st.session_state.rank_step = 0
    st.session_state._rank_seen = matrix_text
    if not last:
        st.caption("No row operation is needed: the matrix is already in this form.")
        return 0
    c1, c2, c3 = st.columns([2, 2, 7], vertical_alignment="bottom")
    i = c3.slider("Step", 0, last, key="rank_step", bind="query-params")
    for column, label, delta, icon in (
        (c1, "Back", -1, "arrow_back"),
        (c2, "Next", 1, "arrow_forward"),
    ):
        column.button(
            label,
            key=f"rank_{label.lower()}",
            icon=f":material/{icon}:",
            on_click=move_step,
            args=(delta, last),
            disabled=not 0 <= i + delta <= last,
            width="stretch",
        )
    return i


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

    def cell(i: int, j: int, x) -> str:
        tex = rf"\boxed{{{tex_number(x)}}}" if (i, j) in pivots else tex_number(x)
        return rf"\textcolor{{{HIGHLIGHT}}}{{{tex}}}" if i in rows else tex

    lines = [" & ".join(cell(i, j, x) for j, x in enumerate(row)) for i, row in enumerate(M)]
    return r"\begin{bmatrix}" + r" \\ ".join(lines) + r"\end{bmatrix}"


def tex_op(op: str) -> str:
    """``R3 -> R3 - (1/2)*R2`` as LaTeX: R_3 \\to R_3 - \\tfrac{1}{2} R_2."""
    if op == "start":
        return r"\text{start}"
    op = re.sub(r"\(?(-?\d+(?:/\d+)?)\)?\*", lambda m: tex_number(Fraction(m[1])) + r"\,", op)
    op = re.sub(r"R(\d+)", r"R_{\1}", op)
    return op.replace("<->", r"\leftrightarrow").replace("->", r"\to")


@st.cache_resource(max_entries=256)
def singular_value_bars(s: np.ndarray, r: int, title: str, height: int, log: bool = False):
    """Bars of the first 60 singular values, the r kept ones in blue."""
    shown = s[:60]
    colors = [KEPT if i < r else DROPPED for i in range(len(shown))]
    fig = go.Figure(go.Bar(x=np.arange(1, len(shown) + 1), y=shown, marker_color=colors))
    fig.update_layout(title=title, xaxis_title="i", yaxis_title="singular value σᵢ", bargap=0.15)
    fig.update_xaxes(dtick=1 if len(shown) <= 12 else None)
    fig.update_yaxes(type="log" if log else "linear")
    return style_fig(fig, height)


@st.cache_resource(max_entries=256)
def heatmap(M: np.ndarray, title: str, zmin: float, zmax: float, height: int) -> go.Figure:
    m, n = M.shape
    text = [
        [f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) >= 5e-3 else "0" for v in row] for row in M
    ]
    labels = dict(text=text, texttemplate="%{text}") if m * n <= 64 else {}
    heat = go.Heatmap(z=M, zmin=zmin, zmax=zmax, zmid=0, colorscale="RdBu_r", showscale=False)
    fig = go.Figure(heat.update(labels))
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
def picture_approx(r: int) -> tuple[bytes, float]:
    """The rank-r picture as PNG bytes (encoded once per r) and its error ||M - M_r||_F."""
    from PIL import Image

    approx = core.low_rank_from_svd(picture_svd(), r)
    png = io.BytesIO()
    Image.fromarray(np.clip(approx.matrix, 0, 255).astype(np.uint8)).save(png, format="PNG")
    return png.getvalue(), approx.error


@st.cache_data
def product_singular_values(d: int, r: int) -> np.ndarray:
    B, A = core.random_factors(d, r, d, seed=0)  # (d, r), (r, d)
    return np.linalg.svd((B @ A).astype(float), compute_uv=False)


def low_rank_view(f: core.SVD, approx: core.LowRank) -> None:
    """Singular values, M and M_r side by side, the error and the storage, with numbers."""
    k, (m, n) = approx.r, f.M.shape
    plot_styled(singular_value_bars(f.s, k, "Singular values (blue: kept)", 320), key="rank_bars")
    top = float(np.abs(f.M).max()) or 1.0
    left, right = st.columns(2)
    with left:
        plot_styled(heatmap(f.M, "M", -top, top, 360), key="rank_heat_m")
    with right:
        plot_styled(heatmap(approx.matrix, f"Rank-{k} approximation", -top, top, 360), key="rank_heat_r")
    tol = core.tolerance(f.s, f.M.shape)
    dropped = " + ".join(f"{s:.3g}^2" if s > tol else "0^2" for s in f.s[k:]) or "0"
    error = approx.error if approx.error > tol else 0
    st.latex(rf"\|M - M_{{{k}}}\|_F = \sqrt{{{dropped}}} = {error:.4g}")
    st.latex(
        rf"r\,(m + n) = {k} \cdot ({m} + {n}) = {approx.stored}"
        rf"\quad\text{{vs.}}\quad m\,n = {m} \cdot {n} = {approx.full}"
    )


def picture_view(k: int) -> None:
    """The picture and its rank-k approximation side by side, the error and the storage."""
    picture = picture_svd()
    height, width = picture.M.shape
    image, error = picture_approx(k)
    left, right = st.columns(2)
    png = dict(width="stretch", output_format="PNG")
    original = (ASSETS / "rank_picture.png").read_bytes()
    left.image(
        original, caption=f"Original: {height} × {width} = {height * width:,} numbers", **png
    )
    stored = k * (height + width)
    right.image(image, caption=f"Rank {k}: {k} · ({height} + {width}) = {stored:,} numbers", **png)
    relative = error / np.linalg.norm(picture.s)
    st.markdown(
        f"Relative error ‖M − M_r‖ / ‖M‖ = **{relative:.1%}**, storage "
        f"**{stored / (height * width):.1%}** of the picture."
    )
    plot_styled(
        singular_value_bars(
            picture.s, k, "The picture's singular values (first 60, log scale)", 300, log=True
        ),
        key="rank_picture_bars",
    )


def lora_view(d: int, r: int) -> None:
    """A random d x d product B (d, r) A (r, d): its numerical rank and its storage."""
    s = product_singular_values(d, r)
    numerical_rank = int((s > core.tolerance(s, (d, d))).sum())
    st.latex(
        rf"B\,({d} \times {r})\;A\,({r} \times {d}):\quad "
        rf"\operatorname{{rank}}(BA) = {numerical_rank} \le r = {r}"
    )
    st.latex(
        rf"r\,(d + k) = {r} \cdot ({d} + {d}) = {r * 2 * d:,}\quad\text{{numbers instead of}}"
        rf"\quad d\,k = {d * d:,}"
    )
    plot_styled(
        singular_value_bars(s, r, f"Singular values of a random {d} × {d} product B·A", 300),
        key="rank_lora_bars",
    )
