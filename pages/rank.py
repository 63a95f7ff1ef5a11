"""Matrix rank: row reduction step by step in exact fractions, then low-rank approximation
with the SVD, on small matrices and on a picture; the bridge to LoRA."""

import streamlit as st

from core import rank as core
from pages import _rank_parts as parts
from pages._ui import read_asset, self_check, shareable_state, show_code

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
    m, n, r, seed = parts.size_controls(preset)
    text = ""
    if preset == "custom":
        text = st.text_area(
            "Rows on separate lines, entries separated by spaces: 3, -1/2, 0.25",
            core.to_text(core.CURRICULUM),
            key="rank_matrix",
            height=160,
            bind="query-params",
        )
    try:
        M, factors = core.preset(preset, m, n, r, seed, text)
    except ValueError as error:
        M, factors = None, None
        st.error(f"That matrix cannot be used: {error}.", icon=":material/error:")

    if M is not None:
        if factors is not None:
            B, A = factors
            tex = rf"B\,A = {parts.tex_matrix(B)}\,{parts.tex_matrix(A)} = {parts.tex_matrix(M)}"
            st.latex(tex)
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
        i = parts.step_controls(last, core.to_text(M))
        step = steps[i]
        pivots = core.pivot_columns(step.matrix) if i == last else ()
        boxed = list(enumerate(pivots)) if i == last else [step.pivot]
        st.markdown(f"**Step {i} of {last}:** {step.explanation}.")
        st.latex(
            rf"{parts.tex_op(step.op)} \qquad "
            rf"{parts.tex_matrix(step.matrix, boxed, step.rows)}"
        )
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

        st.header("3. Low rank: keep the largest singular values")
        f = core.svd(M)
        p = len(f.s)
        k = st.slider(
            "Rank r of the approximation", 0, p, min(1, p), key="rank_r", bind="query-params"
        )
        parts.low_rank_view(f, core.low_rank_from_svd(f, k))
        st.markdown(read_asset("rank_lowrank.md"))
        show_code(core.low_rank_approx, core.low_rank_from_svd)

    st.header("4. The same on a picture")
    st.markdown(
        "A greyscale picture is a matrix of brightness values. Keep its r largest "
        "singular values and watch it come back as r grows."
    )
    height, width = parts.picture_svd().M.shape
    k_picture = st.slider(
        "Rank r of the picture",
        1,
        min(height, width),
        10,
        key="rank_picture_r",
        bind="query-params",
    )
    parts.picture_view(k_picture)

    st.header("5. The bridge to LoRA: B·A has rank at most r")
    st.markdown(read_asset("rank_lora.md"))
    c1, c2 = st.columns(2)
    d = c1.selectbox("d = k", [8, 64, 512], index=1, key="rank_lora_d", bind="query-params")
    r_lora = c2.slider("r", 1, 8, 4, key="rank_lora_r", bind="query-params")
parts.lora_view(d, r_lora)
self_check("rank")
