"""Pieces of the matrix-rank page: presets, the controls, LaTeX matrices with highlights.
UI only; the mathematics is in core.rank, the pictures in pages/_rank_figures.py."""

import re
from fractions import Fraction

import streamlit as st

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


def size_controls(preset: str) -> tuple[int, int, int, int]:
    """Rows, columns, rank (or inner size r) and seed for the generated presets."""
    if preset not in ("zero", "random", "product"):
        return 0, 0, 0, 0
    c1, c2, c3, c4 = st.columns(4)
    d_name, k_name = ("d", "k") if preset == "product" else ("m", "n")
    m = c1.number_input(
        f"Rows {d_name}",
        1,
        8,
        4,
        key="rank_rows",
        bind="query-params",
        help="Rows of the matrix (1-8). Watch the number of pivots: never more than this.",
    )
    n = c2.number_input(
        f"Columns {k_name}",
        1,
        8,
        5,
        key="rank_cols",
        bind="query-params",
        help="Columns (1-8). Rank is at most min(rows, columns).",
    )
    if preset == "zero":
        return int(m), int(n), 0, 0
    label = "Inner size r" if preset == "product" else "Rank r"
    low = 1 if preset == "product" else 0  # B (d, 0) would be an empty matrix
    r = c3.number_input(
        label,
        low,
        8,
        2,
        key="rank_target",
        bind="query-params",
        help="The rank to build (random) or the inner size of B (d x r) times A (r x k): "
        "B·A has rank at most r. Count the pivots at the last step.",
    )
    seed = c4.number_input(
        "Random seed",
        0,
        9999,
        0,
        key="rank_seed",
        bind="query-params",
        help="Another seed, other integers with the same rank.",
    )
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
    i = c3.slider(
        "Step",
        0,
        last,
        key="rank_step",
        bind="query-params",
        help="One row operation per step: the pivot is boxed, the changed row coloured. "
        "At the last step the rank is the number of pivots.",
    )
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
            help="One row operation back." if delta < 0 else "The next row operation.",
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


def tex_vector(v, column: bool = False) -> str:
    """A row [4 1 5 6], or a column when ``column``, as a LaTeX matrix."""
    return (
        r"\begin{bmatrix}"
        + (r" \\ " if column else " & ").join(map(tex_number, v))
        + r"\end{bmatrix}"
    )


def layer_controls(key: str, last: int) -> None:
    """Remove / Add a layer buttons for a rank slider ``key`` (0 or 1 .. last)."""
    low = 1 if key == "rank_picture_r" else 0
    now = st.session_state.get(key, low)
    a, b = st.columns(2)
    for column, label, delta, icon in (
        (a, "Remove a layer", -1, "remove"),
        (b, "Add a layer", 1, "add"),
    ):
        column.button(
            label,
            key=f"{key}_{'less' if delta < 0 else 'more'}",
            icon=f":material/{icon}:",
            on_click=_move,
            args=(key, delta, low, last),
            disabled=not low <= now + delta <= last,
            width="stretch",
            help="Take the last rank-1 layer away."
            if delta < 0
            else "Add the next rank-1 layer sigma_i u_i v_i^T: watch the error fall.",
        )


def _move(key: str, delta: int, low: int, last: int) -> None:
    st.session_state[key] = min(max(st.session_state.get(key, low) + delta, low), last)


def notes_matrix(M) -> str:
    """The notes' matrix as rows in brackets: [[1, 2, 3], [0, 2, -1], ...]."""
    return "[" + ", ".join("[" + ", ".join(str(a) for a in row) + "]" for row in M) + "]"
