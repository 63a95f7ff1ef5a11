"""The quantization page's sections. A section whose controls change only itself is an
``st.fragment``: moving its control reruns that section, not the page."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from core import quantization as Q
from pages import _quantization_blocks as B
from pages import _quantization_figures as F
from pages import _quantization_tables as tables
from pages._charts import plot_styled
from pages._quantization_parts import num, value_table
from pages._ui import read_asset

HIGHLIGHT = "#ff8700"


def _keep_in_range(key: str, last: int) -> None:
    """A shorter input or another method can leave a step or index out of range."""
    if st.session_state.get(key, 0) > last:
        st.session_state[key] = last


def _next_stage(last: int) -> None:
    st.session_state.quant_stage = (st.session_state.get("quant_stage", 0) + 1) % (last + 1)


def steps_tex(trace: Q.ValueTrace, stage: int) -> str:
    """x -> x / scale -> ... -> x_hat as one LaTeX chain, the current step boxed."""
    cells = []
    for k, step in enumerate(trace.steps):
        value = num(step.value)
        if k == stage:
            value = rf"\boxed{{\textcolor{{{HIGHLIGHT}}}{{{value}}}}}"
        cells.append(rf"\underset{{\text{{{step.name}}}}}{{{value}}}")
    return r" \;\longrightarrow\; ".join(cells)


@st.fragment
def one_value(x: np.ndarray, method: str, bits: int, blocksize: int, clip: float) -> None:
    """The number line and one value step by step (their controls rerun only this)."""
    _keep_in_range("quant_index", x.size - 1)
    a, b, c = st.columns([2, 3, 1], vertical_alignment="bottom")
    i = a.number_input(
        "Follow the value x[i], i =",
        0,
        x.size - 1,
        min(1, x.size - 1),
        key="quant_index",
        bind="query-params",
        help="Which input value to follow through the quantizer (0 is the first). Its path is "
        "the orange line on the number line; the steps are below it.",
    )
    trace = Q.trace_value(method, x, int(i), bits, blocksize, clip)
    last = len(trace.steps) - 1
    _keep_in_range("quant_stage", last)
    stage = b.slider(
        "Step",
        0,
        last,
        0,
        key="quant_stage",
        bind="query-params",
        help="Walk one value through the quantizer: x, x / scale, round, + zero point, clamp, "
        "code, dequantized. The orange ring on the number line sits on the current step.",
    )
    c.button(
        "Next step",
        key="quant_next",
        on_click=_next_stage,
        args=(last,),
        icon=":material/arrow_forward:",
        help="One step further (after the last, back to x).",
    )
    view = st.radio(
        "View",
        F.VIEWS,
        horizontal=True,
        key="quant_view",
        bind="query-params",
        help="Whole range: every level. Zoom on the chosen value: its neighbouring levels, the "
        "scale between them and its rounding error. The bulk: the 1st-99th percentile of x, so "
        "one outlier does not squeeze the small values into a dot.",
    )
    args = (x, method, bits, blocksize, clip, int(i))
    plot_styled(F.number_line(*args, int(stage), view), key="quant_number_line")
    st.latex(steps_tex(trace, int(stage)))
    step = trace.steps[int(stage)]
    st.markdown(f"**Step {stage} of {last}, {step.name}:** {step.note}.")
    kind = "a clipping error: x was clamped" if trace.clamped else "a rounding error"
    st.markdown(f"Error x - x_hat = {num(trace.error)} ({kind}).")
    result = Q.quantize(method, x, bits, blocksize, clip)
    for line in tables.formulas(method, x, result, int(i), clip):
        st.latex(line)
    plot_styled(F.landing(*args, view), key="quant_grid_chart")


def numbers(x, result, method: str, bits: int, blocksize: int, dq: bool) -> Q.Errors:
    """The result's constants and errors, each with what it means."""
    err = Q.errors(x, result.dequantize())
    stored = Q.storage(method, x.size, bits, blocksize, dq)
    scale = np.asarray(result.scale)
    per_block = result.blocksize is not None
    cols = st.columns(3) + st.columns(3)
    cols[0].metric(
        "Scale" + (f" ({scale.size} blocks)" if per_block else ""),
        f"{scale.min():.4g} .. {scale.max():.4g}" if per_block else num(result.scale),
        help="The spacing between neighbouring levels (for NF4: each block's absmax).",
    )
    cols[1].metric(
        "Zero point",
        "none" if method in ("NF4", "ternary") else str(result.zero_point),
        help="The code 0.0 maps to: min-max (asymmetric) needs one; absmax (symmetric) has 0.",
    )
    cols[2].metric("MSE", f"{err.mse:.4g}", help="Mean squared error: mean of (x - x_hat)^2.")
    cols[3].metric("Max |error|", f"{err.max_abs:.4g}", help="The worst single value's error.")
    cols[4].metric(
        "SQNR",
        f"{err.sqnr_db:.2f} dB",
        help="Signal-to-quantization-noise ratio, 10 log10(sum x^2 / sum error^2): larger is "
        "better, about +6 dB per extra bit.",
    )
    cols[5].metric(
        "Bits per weight",
        f"{stored.bits_per_weight:.3f}",
        help="Everything stored for this vector, divided by its length: "
        + " + ".join(f"{count:,} x {what}" for what, count, _ in stored.parts)
        + ".",
    )
    if method == "ternary":
        st.caption(
            f"Ternary: log2 3 = {Q.TERNARY_BITS:.3f} bits is the information in one code, not a "
            f"storage format; codes are stored in {Q.TERNARY_PACKINGS['2 bits']:g} bits (4 per "
            f"byte, counted above) or {Q.TERNARY_PACKINGS['5 per byte']:g} bits (5 per byte)."
        )
    return err


@st.fragment
def cross_check(method: str, x: np.ndarray, bits: int, blocksize: int, clip: float) -> None:
    from pages import _quantization_parts as parts

    check = st.toggle(
        "Cross-check with torch and bitsandbytes (loads torch: a few seconds the first time)",
        key="quant_check",
        bind="query-params",
        help="Quantize the same input with the reference libraries (in a worker process) and "
        "count the codes that agree with this page's.",
    )
    if not check:
        return
    try:
        verdict = parts.cross_check(method, x, bits, blocksize, clip)
        show = st.success if verdict.agrees else (st.info if verdict.total == 0 else st.warning)
        show(str(verdict), icon=":material/fact_check:")
    except Exception as exc:  # the reference libraries run in a worker process
        st.warning(f"The cross-check could not run: {exc!r}", icon=":material/warning:")


def value_rows(x: np.ndarray, result: Q.Quantized) -> None:
    st.caption(f"x -> q -> x_hat (first {min(x.size, 64)} of {x.size:,} values)")
    st.dataframe(value_table(x, result), hide_index=True, height=300)


def nf4_against_int4(x: np.ndarray, blocksize: int) -> None:
    left, right = st.columns([3, 1])
    with left:
        plot_styled(B.nf4_vs_int4(x, blocksize), key="quant_nf4_chart")
    nf4 = Q.errors(x, Q.quantize_nf4(x, blocksize).dequantize())
    int4 = Q.errors(x, Q.quantize_blockwise(x, blocksize, 4).dequantize())
    right.metric("NF4 MSE", f"{nf4.mse:.4g}", help="On this input, blocks of the chosen size.")
    right.metric("INT4 MSE", f"{int4.mse:.4g}", help="Block-wise absmax at 4 bits, same blocks.")
    right.metric("NF4 SQNR", f"{nf4.sqnr_db:.2f} dB")
    right.metric("INT4 SQNR", f"{int4.sqnr_db:.2f} dB")
    st.caption(read_asset("quantization_nf4.md"))


def blocks(x: np.ndarray, method: str, bits: int, blocksize: int) -> None:
    bits = 4 if method in ("NF4", "ternary") else bits
    plot_styled(B.blocks(x, bits, blocksize), key="quant_blocks_chart")
    one = Q.errors(x, Q.quantize_absmax(x, bits).dequantize())
    per_block = Q.errors(x, Q.quantize_blockwise(x, blocksize, bits).dequantize())
    st.markdown(
        f"MSE with one scale: **{one.mse:.4g}**; with a scale per block of {blocksize}: "
        f"**{per_block.mse:.4g}**. Try Generate -> normal with outliers."
    )


def double_quantization(x: np.ndarray, result, blocksize: int, dq: bool, err) -> None:
    fp32 = Q.bits_per_parameter(0, blocksize)
    two = Q.bits_per_parameter(0, blocksize, double_quant=True)
    saving = Q.double_quant_saving(65e9, blocksize)
    st.graphviz_chart(B.double_quant_diagram(x.size, blocksize))
    plot_styled(B.double_quant_bars(x.size, blocksize), key="quant_dq_chart")
    st.latex(
        rf"\frac{{32}}{{{blocksize}}} = {fp32:.3f} \text{{ bit/weight}} \quad\longrightarrow\quad "
        rf"\frac{{8}}{{{blocksize}}} + \frac{{32}}{{{blocksize} \cdot 256}} = {two:.3f} \text{{ bit/weight}}"
    )
    st.write(
        f"Saving: {saving.bits_per_param:.3f} bit per weight, on a 65B model "
        f"{saving.gb:.2f} GB (10^9 bytes) = {saving.gib:.2f} GiB (2^30 bytes): the QLoRA "
        'paper\'s "about 3 GB" counts decimal gigabytes.'
    )
    st.caption(read_asset("quantization_dq.md"))
    if dq:
        constants = Q.double_quantize(result.scale)
        back = constants.dequantize()
        err_dq = Q.errors(x, replace(result, scale=back).dequantize())
        st.write(
            f"On this input: the {back.size} block constants come back with max error "
            f"{Q.errors(result.scale, back).max_abs:.3g}; the weights' MSE goes from "
            f"{err.mse:.4g} to {err_dq.mse:.4g}."
        )


@st.fragment
def sizes(blocksize: int) -> None:
    n_billions = st.number_input(
        "Model size (billions of parameters)",
        0.001,
        2000.0,
        7.0,
        key="quant_params",
        bind="query-params",
        help="7 for a 7B model, 65 for the QLoRA paper's largest, 175 for GPT-3.",
    )
    st.dataframe(tables.sizes_table(n_billions * 1e9, blocksize), hide_index=True)
    st.caption(read_asset("quantization_units.md"))
