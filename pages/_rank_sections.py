"""The matrix-rank page's sections. Each section whose controls change only itself is an
``st.fragment``: its slider or buttons rerun that section, not the page."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import rank as core
from pages import _rank_figures as F
from pages import _rank_parts as parts
from pages._charts import plot_styled
from pages._ui import ASSETS, notes_slip, read_asset, show_code


def rank_one(M) -> None:
    """A rank-1 matrix as column times row, in LaTeX and as a multiplication-table picture."""
    factors = core.rank_one_factors(M)
    if factors is None:
        return
    column, row = factors
    st.latex(
        rf"{parts.tex_vector(column, column=True)}\,{parts.tex_vector(row)} = {parts.tex_matrix(M)}"
    )
    left, right = st.columns([3, 2])
    with left:
        plot_styled(F.outer_product(column, row), key="rank_outer_chart")
    lines = [
        rf"R_{{{i + 1}}} = {parts.tex_number(c)} \cdot {parts.tex_vector(row)}"
        for i, c in enumerate(column)
    ]
    right.latex(r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}")
    stored = core.low_rank_approx(M, 1)
    right.markdown(
        f"Every row is a multiple of one row, so the rank is 1: the {stored.full} numbers "
        f"can be stored as {len(column)} + {len(row)} = **{stored.stored}**."
    )


@st.fragment
def row_reduction(M, preset: str) -> None:
    reduced = st.toggle(
        "Continue to the reduced form (leading 1s, zeros above the pivots)",
        key="rank_reduced",
        bind="query-params",
        help="Off: row echelon form, where the rank can be read off. On: go on to the reduced "
        "row echelon form (sympy's rref), every pivot 1 and alone in its column.",
    )
    steps = core.row_reduce(M, reduced=reduced)
    last = len(steps) - 1
    i = parts.step_controls(last, core.to_text(M))
    step = steps[i]
    pivots = core.pivot_columns(step.matrix) if i == last else ()
    boxed = list(enumerate(pivots)) if i == last else [step.pivot]
    st.markdown(f"**Step {i} of {last}:** {step.explanation}.")
    st.latex(rf"{parts.tex_op(step.op)} \qquad {parts.tex_matrix(step.matrix, boxed, step.rows)}")
    if preset == "curriculum" and not reduced:
        _notes_steps(steps, i)
    if i == last:
        kind = "reduced row-echelon" if reduced else "row-echelon"
        columns = ", ".join(str(j + 1) for j in pivots) or "none"
        st.success(
            f"In {kind} form. Rank = number of pivots = **{len(pivots)}**; pivot "
            f"columns: {columns}. Check: the transpose, reduced the same way, has "
            f"rank {core.rank(core.transpose(M))}."
        )
        st.metric("Rank", len(pivots), border=True)
    else:
        st.caption("Step to the end to read off the rank.")
    st.markdown(read_asset("rank_steps.md"))
    show_code(core.row_reduce, core._reduce, core._subtract)


def _notes_steps(steps: list[core.Step], i: int) -> None:
    """Where the notes' own working of the curriculum example slips, at that step."""
    if i == 0:
        first = steps[0].matrix
        notes_slip(
            f"Not yet in echelon form: row 3 starts with {first[2][0]}, below the pivot "
            f"{first[0][0]} of row 1.",
            'they call this starting matrix an "upper triangle matrix".',
        )
        return
    notes = core.NOTES_CURRICULUM_STEPS[i - 1]
    changed = steps[i].rows[0]
    row = "[" + ", ".join(core.fmt(a) for a in steps[i].matrix[changed]) + "]"
    notes_slip(
        f"{steps[i].op.replace('->', '→')} makes row {changed + 1} {row}.",
        f"{notes.op.replace('->', '→')}, giving {parts.notes_matrix(notes.matrix)}.",
    )


@st.fragment
def low_rank(M) -> None:
    f = core.svd(M)
    p = len(f.s)
    k = st.slider(
        "Layers added: rank r of the approximation",
        0,
        p,
        min(1, p),
        key="rank_r",
        bind="query-params",
        help="How many rank-1 layers sigma_i u_i v_i^T to add up, largest sigma first. Watch the "
        "layers light up, M_r approach M, and the error curve fall to 0 at r = rank.",
    )
    parts.layer_controls("rank_r", p)
    plot_styled(F.layers(f.M, k), key="rank_layers_chart")
    approx = core.low_rank_from_svd(f, k)
    (m, n), top = f.M.shape, float(np.abs(f.M).max()) or 1.0
    left, middle, right = st.columns(3)
    with left:
        plot_styled(F.heatmap(f.M, "M", -top, top, 360), key="rank_heat_m")
    with middle:
        plot_styled(
            F.heatmap(approx.matrix, f"Sum of {k} layers: M_{k}", -top, top, 360), key="rank_heat_r"
        )
    with right:
        curve = F.error_curve(f.s, core.tolerance(f.s, f.M.shape), k, "The error falls", 360)
        plot_styled(curve, key="rank_error_chart")
    tol = core.tolerance(f.s, f.M.shape)
    dropped = " + ".join(f"{s:.3g}^2" if s > tol else "0^2" for s in f.s[k:]) or "0"
    error = approx.error if approx.error > tol else 0
    st.latex(rf"\|M - M_{{{k}}}\|_F = \sqrt{{{dropped}}} = {error:.4g}")
    st.latex(
        rf"r\,(m + n) = {k} \cdot ({m} + {n}) = {approx.stored}"
        rf"\quad\text{{vs.}}\quad m\,n = {m} \cdot {n} = {approx.full}"
    )
    bars = F.singular_value_bars(f.s, k, "Singular values (blue: added)", 300)
    plot_styled(bars, key="rank_bars")
    st.markdown(read_asset("rank_lowrank.md"))
    show_code(core.low_rank_approx, core.low_rank_from_svd, core.rank_one_layers)


@st.fragment
def picture() -> None:
    svd = F.picture_svd()
    height, width = svd.M.shape
    k = st.slider(
        "Layers added: rank r of the picture",
        1,
        min(height, width),
        10,
        key="rank_picture_r",
        bind="query-params",
        help="How many of the picture's rank-1 layers to add up (1-288). Around 30 the "
        "picture is recognisable, at a fifth of the numbers.",
    )
    parts.layer_controls("rank_picture_r", min(height, width))
    image, approx = F.picture_approx(k)
    png = dict(width="stretch", output_format="PNG")
    a, b, c = st.columns(3)
    original = (ASSETS / "rank_picture.png").read_bytes()
    a.image(original, caption=f"Original: {height} × {width} = {approx.full:,} numbers", **png)
    b.image(
        image, caption=f"Rank {k}: {k} · ({height} + {width}) = {approx.stored:,} numbers", **png
    )
    c.image(F.picture_layer(k), caption=f"Layer {k} alone: σ{k} u{k} v{k}ᵀ (grey = 0)", **png)
    st.markdown(
        f"Relative error ‖M − M_r‖ / ‖M‖ = **{approx.relative_error:.1%}**, storage "
        f"**{approx.storage_share:.1%}** of the picture."
    )
    left, right = st.columns(2)
    with left:
        title = "The picture's error as layers add up"
        curve = F.error_curve(svd.s, core.tolerance(svd.s, svd.M.shape), k, title, 300)
        plot_styled(curve, key="rank_picture_error")
    with right:
        title = "Its singular values (first 60, log scale)"
        plot_styled(F.singular_value_bars(svd.s, k, title, 300, log=True), key="rank_picture_bars")


@st.fragment
def lora() -> None:
    c1, c2 = st.columns(2)
    d = c1.selectbox(
        "d = k",
        [8, 64, 512],
        index=1,
        key="rank_lora_d",
        bind="query-params",
        help="The size of a square weight matrix (d x k with d = k). Real models: 4096 and up.",
    )
    r = c2.slider(
        "r",
        1,
        8,
        4,
        key="rank_lora_r",
        bind="query-params",
        help="The inner size of B (d x r) and A (r x k). Watch: only r singular values are "
        "non-zero, and the storage r(d + k) stays small.",
    )
    s = F.product_singular_values(d, r)
    numerical_rank = core.numerical_rank(s, (d, d))
    st.latex(
        rf"B\,({d} \times {r})\;A\,({r} \times {d}):\quad "
        rf"\operatorname{{rank}}(BA) = {numerical_rank} \le r = {r}"
    )
    factors, full = core.factor_storage(d, d, r)
    st.latex(
        rf"r\,(d + k) = {r} \cdot ({d} + {d}) = {factors:,}\quad\text{{numbers instead of}}"
        rf"\quad d\,k = {full:,}"
    )
    title = f"Singular values of a random {d} × {d} product B·A"
    plot_styled(F.singular_value_bars(s, r, title, 300), key="rank_lora_bars")
