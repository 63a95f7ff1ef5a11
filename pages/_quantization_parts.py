"""Pieces of the quantization page: the method controls, the notes' worked examples (and
where the notes slip), the value table and the cross-check worker. The input picker is
pages/_quantization_inputs.py."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pandas as pd
import streamlit as st

from core import quantization as Q
from pages._quantization_inputs import EXAMPLE_A, EXAMPLE_B, EXAMPLE_C
from pages._ui import notes_slip
from pages._warm_up import warm_up_task

BLOCKSIZES = (4, 8, 16, 32, 64, 128, 256, 512)
TABLE_ROWS = 64
ERROR_COLUMNS = {
    "MSE": st.column_config.NumberColumn(format="scientific"),
    "max |error|": st.column_config.NumberColumn(format="scientific"),
}
# The notes' names: absmax is "symmetric", min-max (with a zero point) is "asymmetric".
NOTES_NAMES = {
    "absmax": "absmax, symmetric",
    "min-max": "min-max, asymmetric",
    "block-wise absmax": "block-wise absmax, symmetric",
    "NF4": "NF4",
    "ternary": "ternary",
}


def num(v: float) -> str:
    """Six significant digits; -0.0 prints as 0."""
    return f"{float(v) + 0.0:.6g}"


def method_controls() -> tuple[str, int, int, bool, float]:
    a, b, c = st.columns([2, 2, 2])
    method = a.selectbox(
        "Method (absmax = symmetric, min-max = asymmetric)",
        Q.METHODS,
        index=1,
        key="quant_method",
        bind="query-params",
        help="Symmetric (absmax): a grid centred on 0, no zero point. Asymmetric (min-max): "
        "the range [min, max] onto 0..2^b-1 with a zero point. Block-wise and NF4: one scale "
        "per block. Watch the number line's levels.",
    )
    fixed_bits = method in ("NF4", "ternary")
    bits = b.slider(
        "Bits",
        Q.MIN_BITS,
        Q.MAX_BITS,
        8,
        key="quant_bits",
        bind="query-params",
        disabled=fixed_bits,
        help="Bits per code: 2^bits codes. 8 is INT8, 4 is INT4. Fewer bits: fewer, wider-spaced "
        "levels on the number line and a larger error. NF4 is always 4 bits, ternary 1.58.",
    )
    blocked = method in ("block-wise absmax", "NF4")
    blocksize = c.select_slider(
        "Block size",
        BLOCKSIZES,
        64,
        key="quant_block",
        bind="query-params",
        disabled=not blocked,
        help="Values sharing one scale (block-wise and NF4; QLoRA uses 64). Smaller blocks: an "
        "outlier spoils fewer values, but more constants to store. Watch the blocks picture.",
    )
    left, right = st.columns(2)
    double_quant = left.checkbox(
        "Double-quantize the block constants (8 bits, blocks of 256)",
        key="quant_dq",
        bind="query-params",
        disabled=not blocked,
        help="QLoRA's double quantization: store each block's absmax in 8 bits instead of 32. "
        "Watch bits per weight and the double-quantization picture.",
    )
    clip = right.slider(
        "Calibration: clip absmax at this percentile of |x|",
        90.0,
        100.0,
        100.0,
        step=0.1,
        key="quant_clip",
        bind="query-params",
        disabled=method != "absmax",
        help="100 = no clipping (the range is max|x|). Lower: a finer grid for most values, and "
        "the few beyond the threshold are clamped at the ends of the number line (in red).",
    )
    clip = float(clip) if method == "absmax" else 100.0
    return method, int(bits), int(blocksize), bool(double_quant and blocked), clip


def preset_notes(source: str, x: np.ndarray) -> None:
    """Under a worked example: the right numbers (from core) where the notes slip."""
    p = Q.minmax_params(x, 8)
    scale = rf"({num(p.x_max)} - ({num(p.x_min)})) / {p.q_max} = {num(p.width)} / {p.q_max}"
    scale += f" = {num(p.scale)}"
    if source == EXAMPLE_A:
        notes_slip(f"Scale = {num(p.width)} / {p.q_max} = {num(p.scale)}.", "1000/255 = 0.")
        notes_slip(
            f"It is min-max (asymmetric): the zero point is {p.zero_point} because x_min = "
            f"{num(p.x_min)}.",
            'they call this example "symmetric unsigned int8".',
        )
    elif source == EXAMPLE_B:
        notes_slip(f"Scale = {scale}.", "(1000 - 20)/255 = 4.0: a range of 980.")
    elif source == EXAMPLE_C:
        notes_slip(f"Scale = {scale}; zero point {p.zero_point}.", "sf = (100 + 30)/255 = 130/255.")


def value_table(x: np.ndarray, result: Q.Quantized) -> pd.DataFrame:
    n = min(x.size, TABLE_ROWS)
    x_hat = result.dequantize()[:n]
    error = Q.residual(x, result)[:n]
    table = {"x": x[:n], "q": result.q[:n], "x_hat": x_hat, "error x - x_hat": error}
    if result.blocksize:
        table = {"block": np.arange(n) // result.blocksize, **table}
    return pd.DataFrame(table)


@st.cache_resource(show_spinner=False)
def _checker():
    """One worker process for the cross-check. torch and bitsandbytes load there, never in
    the app's server: their first import holds the interpreter for seconds, long enough for
    the browser to report a lost connection."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


@warm_up_task  # once per server, in the background: the worker imports torch and bitsandbytes
def _warm_checker() -> None:
    try:
        _checker().submit(Q.cross_check, "NF4", np.linspace(-1, 1, 64, dtype=np.float32)).result()
    except BrokenProcessPool:
        _checker.clear()


@st.cache_data(show_spinner="Loading torch and bitsandbytes ...", max_entries=64)
def cross_check(method: str, x: np.ndarray, bits: int, blocksize: int, clip: float) -> Q.CrossCheck:
    try:
        work = _checker().submit(Q.cross_check, method, x, bits, blocksize, clip)
        return work.result(timeout=600)
    except BrokenProcessPool:
        _checker.clear()  # the worker died (e.g. out of memory): start a fresh one next time
        raise
