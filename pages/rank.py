"""Matrix rank: row reduction step by step in exact fractions, then low-rank approximation
with the SVD, on small matrices and on a picture; the bridge to LoRA."""

import numpy as np
import streamlit as st

from core import rank as core
from pages import _rank_parts as parts
from pages._ui import read_asset, shareable_state, show_code

st.title("Matrix rank")
st.markdown(
    "The **rank** of a matrix is the number of linearly independent rows, which is always "
    "the number of independent columns too. Row reduction reveals it exactly; the singular "
    "value decomposition shows how well a matrix is approximated by one of *lower* rank, "
    "and a low-rank matrix is cheap to store as a product B·A. That is the idea behind LoRA."
)

with shareable_state("rank"):
    st.header("1. Choose a matrix")
    label = st.selectbox(
        "Matrix", list(parts.PRESETS.values()), key="rank_preset", bind="query-params"
    )
    preset = parts.PRESET_OF[label]
    m = n = r = seed = 0
    if preset in ("zero", "random", "product"):
        c1, c2, c3, c4 = st.columns(4)
        d_name, k_name = ("d", "k") if preset == "product" else ("m", "n")
        m = c1.number_input(f"Rows {d_name}", 1, 8, 4, key="rank_rows", bind="query-params")
        n = c2.number_input(f"Columns {k_name}", 1, 8, 5, key="rank_cols", bind="query-params")
        if preset != "zero":
            label = "Inner size r" if preset == "product" else "Rank r"
            r = c3.number_input(label, 0, 8, 2, key="rank_target", bind="query-params")
            seed = c4.number_input("Random seed", 0, 9999, 0, key="rank_seed", bind="query-params")
            if preset == "random" and r > min(m, n):
                st.caption(f"A {m} × {n} matrix has rank at most min(m, n) = {min(m, n)}.")
    text = ""
    if preset == "custom":
        text = st.text_area(
            "Rows on separate lines, entries separated by spaces: 3, -1/2, 0.25",
            core.to_text(parts.CURRICULUM),
            key="rank_matrix",
            height=160,
            bind="query-params",
        )

    try:
        M, factors = parts.build(preset, int(m), int(n), int(r), int(seed), text)
    except ValueError as error:
        M, factors = None, None
        st.error(f"That matrix cannot be used: {error}.", icon=":material/error:")

    if M is not None:
        if factors is not None:
            B, A = factors
            st.latex(
                rf"B\,A = {parts.tex_matrix(B)}\,{parts.tex_matrix(A)} = {parts.tex_matrix(M)}"
            )
        elif preset != "custom":
            st.latex(rf"M = {parts.tex_matrix(M)}")
        if preset != "custom":
            st.button(
                "Edit a copy of this matrix",
                key="rank_edit",
                on_click=parts.edit_copy,
                args=(core.to_text(M),),
                icon=":material/edit:",
            )

        st.header("2. Row reduction, step by step")
        reduced = st.toggle(
            "Continue to the reduced form (leading 1s, zeros above the pivots)",
            key="rank_reduced",
            bind="query-params",
        )
        steps = core.row_reduce(M, reduced=reduced)
        last = len(steps) - 1
        i = 0
        if last:
            c1, c2, c3 = st.columns([1, 1, 6], vertical_alignment="bottom")
            i = c3.slider("Step", 0, last, key="rank_step", bind="query-params")
            c1.button(
                "Previous",
                key="rank_prev",
                on_click=parts.move_step,
                args=(-1, last),
                icon=":material/arrow_back:",
                disabled=i == 0,
            )
            c2.button(
                "Next",
                key="rank_next",
                on_click=parts.move_step,
                args=(1, last),
                icon=":material/arrow_forward:",
                disabled=i == last,
            )
        else:
            st.caption("No row operation is needed: the matrix is already in this form.")
        step = steps[i]
        pivots = core.pivot_columns(step.matrix) if i == last else ()
        boxed = [(row, col) for row, col in enumerate(pivots)] if i == last else [step.pivot]
        st.markdown(f"**Step {i} of {last}:** {step.explanation}.")
        st.latex(
            rf"{parts.tex_op(step.op)} \qquad {parts.tex_matrix(step.matrix, boxed, step.rows)}"
        )

        if i == last:
            rank_t = core.rank(core.transpose(M))
            kind = "reduced row-echelon" if reduced else "row-echelon"
            st.success(
                f"In {kind} form. Rank = number of pivots = **{len(pivots)}**; "
                f"pivot columns: {', '.join(str(j + 1) for j in pivots) or 'none'}. "
                f"Check: the transpose, reduced the same way, has rank {rank_t}."
            )
            st.metric("Rank", len(pivots), border=True)
        else:
            st.caption("Step to the end to read off the rank.")
        st.markdown(read_asset("rank_steps.md"))
        show_code(core.row_reduce, core._reduce)

        st.header("3. Low rank: keep the largest singular values")
        f = core.svd(M)
        p = len(f.s)
        k = st.slider(
            "Rank r of the approximation", 0, p, min(1, p), key="rank_r", bind="query-params"
        )
        approx = core.low_rank_from_svd(f, k)
        rows, cols = f.M.shape
        parts.show(
            parts.singular_value_bars(f.s, k, "Singular values (blue: kept)", 320), key="rank_bars"
        )
        top = float(np.abs(f.M).max()) or 1.0
        left, right = st.columns(2)
        with left:
            parts.show(parts.heatmap(f.M, "M", -top, top, 360), key="rank_heat_m")
        with right:
            parts.show(
                parts.heatmap(approx.matrix, f"M_{k} (rank {k})", -top, top, 360), key="rank_heat_r"
            )
        tol = (f.s[0] if p else 0) * max(rows, cols) * np.finfo(float).eps  # numpy's rank tolerance
        dropped = " + ".join(f"{s:.3g}^2" if s > tol else "0^2" for s in f.s[k:]) or "0"
        error = approx.error if approx.error > tol else 0
        st.latex(rf"\|M - M_{{{k}}}\|_F = \sqrt{{{dropped}}} = {error:.4g}")
        st.latex(
            rf"r\,(m + n) = {k} \cdot ({rows} + {cols}) = {approx.stored}"
            rf"\quad\text{{vs.}}\quad m\,n = {rows} \cdot {cols} = {approx.full}"
        )
        st.markdown(read_asset("rank_lowrank.md"))
        show_code(core.low_rank_approx, core.low_rank_from_svd)

    st.header("4. The same on a picture")
    picture = parts.picture_svd()
    height, width = picture.M.shape
    k_pic = st.slider(
        "Rank r of the picture",
        1,
        min(height, width),
        10,
        key="rank_picture_r",
        bind="query-params",
    )
    image, error = parts.picture_approx(k_pic)
    left, right = st.columns(2)
    left.image(
        picture.M.astype(np.uint8),
        caption=f"Original: {height} × {width} = {height * width:,} numbers",
        width="stretch",
        output_format="PNG",
    )
    right.image(
        image,
        caption=f"Rank {k_pic}: {k_pic} · ({height} + {width}) = "
        f"{k_pic * (height + width):,} numbers",
        width="stretch",
        output_format="PNG",
    )
    relative = error / np.linalg.norm(picture.s)
    st.markdown(
        f"Relative error ‖M − M_r‖ / ‖M‖ = **{relative:.1%}**, storage "
        f"**{k_pic * (height + width) / (height * width):.1%}** of the picture."
    )
    parts.show(
        parts.singular_value_bars(
            picture.s, k_pic, "The picture's singular values (first 60)", 300
        ),
        key="rank_picture_bars",
    )

    st.header("5. The bridge to LoRA: B·A has rank at most r")
    st.markdown(read_asset("rank_lora.md"))
    c1, c2 = st.columns(2)
    d = c1.selectbox("d = k", [8, 64, 512], index=1, key="rank_lora_d", bind="query-params")
    r_lora = c2.slider("r", 1, 8, 4, key="rank_lora_r", bind="query-params")

s = parts.product_singular_values(d, r_lora)
numerical_rank = int((s > s[0] * d * np.finfo(float).eps).sum())
st.latex(
    rf"B\,({d} \times {r_lora})\;A\,({r_lora} \times {d}):\quad \operatorname{{rank}}(BA) = "
    rf"{numerical_rank} \le {r_lora},\quad r\,(d + k) = {r_lora * 2 * d:,} \text{{ numbers "
    rf"instead of }} d\,k = {d * d:,}"
)
parts.show(
    parts.singular_value_bars(s, r_lora, f"Singular values of a random {d} × {d} product B·A", 300),
    key="rank_lora_bars",
)
