"""Matrix rank: row reduction step by step in exact fractions, then the SVD as a sum of
rank-1 layers, on small matrices and on a picture; the bridge to LoRA."""

import streamlit as st

from core import rank as core
from pages import _rank_parts as parts
from pages import _rank_sections as sections
from pages._ui import glossary, read_asset, self_check, shareable_state

st.title("Matrix rank")
st.markdown(
    "The **rank** of a matrix is the number of linearly independent rows, which is always "
    "the number of independent columns too. Row reduction reveals it exactly; the singular "
    "value decomposition builds the matrix from rank-1 layers and shows how well fewer "
    "layers approximate it; and a low-rank matrix is cheap to store as a product B·A. That "
    "is the idea behind LoRA."
)
glossary(
    "Rank",
    "Linearly independent",
    "Row operation",
    "Pivot",
    "Row echelon form",
    "Reduced row echelon form",
    "Free column",
    "Outer product",
    "SVD",
    "Singular value",
    "Frobenius norm",
    "Eckart-Young theorem",
)

with shareable_state("rank"):
    st.header("1. Choose a matrix")
    label = st.selectbox(
        "Matrix",
        list(parts.PRESETS.values()),
        key="rank_preset",
        bind="query-params",
        help="The notes' example (rank 3), the notes' outer product [1,2,3]^T [4,1,5,6] "
        "(rank 1), the zero matrix (rank 0), a random matrix of a chosen rank, a product B·A, "
        "or your own. Watch the pivots at the last step of section 2.",
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
            help="Up to 8 x 8. Fractions (-1/2) and decimals (0.25) are read exactly.",
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
        sections.rank_one(M)
        if preset != "custom":
            st.button(
                "Edit a copy of this matrix",
                key="rank_edit",
                on_click=parts.edit_copy,
                args=(core.to_text(M),),
                icon=":material/edit:",
                help="Copy this matrix into 'Your own matrix' and change any entry.",
            )

        st.header("2. Row reduction, step by step")
        sections.row_reduction(M, preset)

        st.header("3. The SVD: the matrix as a sum of rank-1 layers")
        st.markdown(read_asset("rank_layers.md"))
        sections.low_rank(M)

    st.header("4. The same on a picture")
    st.markdown(
        "A greyscale picture is a matrix of brightness values. Add its rank-1 layers, "
        "largest singular value first, and watch it come back as r grows."
    )
    sections.picture()

    st.header("5. The bridge to LoRA: B·A has rank at most r")
    st.markdown(read_asset("rank_lora.md"))
    sections.lora()
self_check("rank")
