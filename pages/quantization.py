"""§2 Quantization: the number line first, then absmax, min-max, block-wise, NF4, double
quantization and ternary, with what each costs in error and in bits."""

import streamlit as st

from core import quantization as Q
from pages import _quantization_inputs as inputs
from pages import _quantization_parts as parts
from pages import _quantization_sections as sections
from pages import _quantization_tables as tables
from pages._ui import fail, glossary, read_asset, self_check, shareable_state, show_code

st.title("Quantization")
st.markdown(read_asset("quantization.md"))
glossary(
    "Symmetric quantization",
    "Asymmetric quantization",
    "Scale",
    "Zero point",
    "Code",
    "Level",
    "Clamp",
    "Block",
    "Absmax",
    "NF4",
    "Quantile",
    "Calibration",
    "Double quantization",
    "Bits per weight",
    "MSE",
    "SQNR",
    "GB and GiB",
)

with shareable_state("quant"):
    x, problem = inputs.input_vector()
    if st.session_state.get("quant_source") == inputs.MODEL:
        st.caption(read_asset("quantization_weights.md"))
    method, bits, blocksize, double_quant, clip = parts.method_controls()
    source = st.session_state.get("quant_source")
    if problem is None and source in inputs.PRESETS:
        if (method, bits) != ("min-max", 8):
            st.info("The notes work this example with min-max at 8 bits.", icon=":material/info:")
        parts.preset_notes(source, x)

    if problem is None:
        result = Q.quantize(method, x, bits, blocksize, clip)
        st.header("1. The number line: where each value lands")
        st.markdown(
            "Above, the float values; below, the integer grid on the same axis: one tick per "
            "code, the scale is the spacing between ticks. Each value goes to its nearest level; "
            "values beyond the grid are clamped to its ends (red). Follow one value step by step."
        )
        sections.one_value(x, method, bits, blocksize, clip)

        st.header(f"2. The numbers: {parts.NOTES_NAMES[method]}, on {x.size:,} values")
        err = sections.numbers(x, result, method, bits, blocksize, double_quant)
        sections.cross_check(method, x, bits, blocksize, clip)
        sections.value_rows(x, result)

        st.header("3. NF4 against INT4: where the 16 levels sit")
        sections.nf4_against_int4(x, blocksize)

        st.header("4. Blocks: an outlier coarsens only its own block")
        sections.blocks(x, method, bits, blocksize)

        st.header("5. Every method on this input")
        st.caption(
            "Bits per weight count every constant stored for this vector. INT4 against NF4 at "
            "the same 4 bits and block size. Try Generate -> normal with outliers."
        )
        st.dataframe(
            tables.comparison(x, bits, blocksize, clip),
            hide_index=True,
            column_config=parts.ERROR_COLUMNS,
        )

        st.header("6. Double quantization: quantize the block constants too")
        sections.double_quantization(x, result, blocksize, double_quant, err)

        st.header("7. A model in each format")
        sections.sizes(blocksize)
if problem:
    fail(problem)

st.markdown(read_asset("quantization_why.md"))
show_code(
    Q.quantize_absmax,
    Q.quantize_minmax,
    Q.quantize_blockwise,
    Q.quantize_nf4,
    Q.quantize_ternary,
    Q.double_quantize,
    Q.trace_value,
    Q.storage,
)
self_check("quantization")
