"""§2 Quantization: absmax, min-max, block-wise, NF4, double quantization and ternary."""

from dataclasses import replace

import numpy as np
import streamlit as st

from core import quantization as Q
from pages import _quantization_parts as parts
from pages import _quantization_tables as tables
from pages._ui import fail, fmt_bytes, read_asset, self_check, shareable_state, show_code

st.title("Quantization")
st.markdown(read_asset("quantization.md"))

with shareable_state("quant"):
    x, problem = parts.input_vector()
    if st.session_state.get("quant_source") == parts.MODEL:
        st.caption(read_asset("quantization_weights.md"))
    method, bits, blocksize, double_quant, clip = parts.method_controls()
    if st.session_state.get("quant_source") in parts.PRESETS and (method, bits) != ("min-max", 8):
        st.info("The notes work this example with min-max at 8 bits.", icon=":material/info:")
    n_billions = st.number_input(
        "Model size for the memory table (billions of parameters)",
        0.001,
        2000.0,
        7.0,
        key="quant_params",
        bind="query-params",
    )
    check = st.toggle(
        "Cross-check with torch and bitsandbytes (loads torch: a few seconds the first time)",
        key="quant_check",
        bind="query-params",
    )
if problem:
    fail(problem)

result = Q.quantize(method, x, bits, blocksize, clip)
x_hat = result.dequantize()
err = Q.errors(x, x_hat)
per_block = result.blocksize is not None
bits_per_param = Q.bits_per_parameter(result.bits, result.blocksize, double_quant)

# --- the result ------------------------------------------------------------------------------
st.subheader(f"{method} on {x.size:,} values")
cols = st.columns(3) + st.columns(3)
scale = np.asarray(result.scale)
cols[0].metric(
    "Scale" + (f" ({scale.size} blocks)" if per_block else ""),
    f"{parts.num(scale.min())} .. {parts.num(scale.max())}"
    if per_block
    else parts.num(result.scale),
)
cols[1].metric("Zero point", "none" if method in ("NF4", "ternary") else str(result.zero_point))
cols[2].metric("MSE", f"{err.mse:.4g}")
cols[3].metric("Max |error|", f"{err.max_abs:.4g}")
cols[4].metric("SQNR", f"{err.sqnr_db:.2f} dB")
cols[5].metric("Bits per weight", f"{bits_per_param:.3f}", help="Including the scale constants.")
for line in tables.formulas(method, x, result, clip):
    st.latex(line)

if check:
    try:
        verdict = parts.cross_check(method, x, bits, blocksize, clip)
        show = st.success if verdict.agrees else (st.info if verdict.total == 0 else st.warning)
        show(str(verdict), icon=":material/fact_check:")
    except Exception as exc:  # the reference libraries run in a worker process
        st.warning(f"The cross-check could not run: {exc!r}", icon=":material/warning:")

parts.charts(x, result, method)
st.caption(f"x -> q -> x_hat (first {min(x.size, parts.TABLE_ROWS)} of {x.size:,} values)")
st.dataframe(parts.value_table(x, result), hide_index=True, height=300)

# --- the comparisons that carry the lesson -----------------------------------------------------
st.subheader("Every method on this input")
st.caption(
    "One outlier stretches a single scale; blocks contain it. INT4 against NF4 at the "
    "same 4 bits and block size. Try Generate -> normal with outliers, and SmolLM2 weights."
)
st.dataframe(
    tables.comparison(x, bits, blocksize, clip), hide_index=True, column_config=parts.ERROR_COLUMNS
)

st.subheader("Double quantization: the cost of the block constants")
fp32, dq = Q.bits_per_parameter(0, blocksize), Q.bits_per_parameter(0, blocksize, double_quant=True)
saved_65b = (fp32 - dq) * 65e9 / 8
st.latex(
    rf"\frac{{32}}{{{blocksize}}} = {fp32:.3f} \text{{ bit/weight}} \quad\longrightarrow\quad "
    rf"\frac{{8}}{{{blocksize}}} + \frac{{32}}{{{blocksize} \cdot 256}} = {dq:.3f} \text{{ bit/weight}}"
)
st.write(
    f"Saving: {fp32 - dq:.3f} bit per weight, {fmt_bytes(saved_65b)} on a 65B model "
    f"({saved_65b / 1e9:.2f} x 10^9 bytes)."
)
if double_quant:
    constants = Q.double_quantize(result.scale)
    err_dq = Q.errors(x, replace(result, scale=constants.dequantize()).dequantize())
    st.write(
        f"On this input: the {scale.size} block constants come back with max error "
        f"{np.abs(constants.dequantize() - scale).max():.3g}; the weights' MSE goes from "
        f"{err.mse:.4g} to {err_dq.mse:.4g}."
    )

st.subheader(f"A model of {n_billions:g}B parameters in each format")
st.dataframe(tables.sizes_table(n_billions * 1e9, blocksize), hide_index=True)
st.caption("1 byte = 8 bits; 1 KB = 1024 B, 1 MB = 1024 KB, 1 GB = 1024 MB.")

st.markdown(read_asset("quantization_why.md"))
show_code(
    Q.quantize_absmax,
    Q.quantize_minmax,
    Q.quantize_blockwise,
    Q.quantize_nf4,
    Q.quantize_ternary,
    Q.double_quantize,
)
self_check("quantization")
