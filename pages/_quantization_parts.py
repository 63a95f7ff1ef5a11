"""Pieces of the quantization page: the input picker, the method controls, the notes'
worked examples (and where the notes slip), the value table and the cross-check worker."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pandas as pd
import streamlit as st

from core import quantization as Q
from pages._ui import notes_slip
from pages._warm_up import warm_up_task

EXAMPLE_A = "Example A: 0..1000 onto uint8"
EXAMPLE_B = "Example B: [-20, 1000] asymmetric"
EXAMPLE_C = "Example C: [-50, 100] at 8 bits"
PRESETS = {
    EXAMPLE_A: [0.0, 250.0, 500.0, 750.0, 1000.0],
    EXAMPLE_B: [-20.0, 1000.0, 0.0, 500.0],
    EXAMPLE_C: [-20.0, -10.0, 0.0, -50.0, 100.0],  # the values the notes list with it
}
GENERATE, TYPE, MODEL = "Generate", "Type or paste", "SmolLM2 weights"
SOURCES = (EXAMPLE_A, EXAMPLE_B, EXAMPLE_C, GENERATE, TYPE, MODEL)
BLOCKSIZES = (4, 8, 16, 32, 64, 128, 256, 512)
DEFAULT_TEXT = "0.12, -0.5, 0.02, 0.9, -0.08, 1.7, -1.2, 0.33"
DEFAULT_MATRIX = "model.layers.0.self_attn.q_proj.weight"
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


@st.cache_data(show_spinner=False)
def _matrix_shapes() -> dict[str, tuple[int, int]]:
    from core.weights import matrix_shapes

    return matrix_shapes()


@st.cache_data(show_spinner=False, max_entries=32)
def _rows(name: str, start: int, count: int) -> np.ndarray:
    from core.weights import load_rows

    return load_rows(name, start, count).rows.ravel()


def input_vector() -> tuple[np.ndarray | None, str | None]:
    """The input picker (inside the page's shareable_state); returns (x, None) or (None, error)."""
    source = st.selectbox(
        "Input",
        SOURCES,
        key="quant_source",
        bind="query-params",
        help="What to quantize. Examples A, B and C are the notes' worked examples; Generate "
        "draws weight-like numbers (try 'normal with outliers'); SmolLM2 weights are rows of a "
        "real model. Watch the number line below.",
    )
    try:
        if source in PRESETS:
            return np.array(PRESETS[source], dtype=np.float32), None
        if source == GENERATE:
            return _generated(), None
        if source == TYPE:
            text = st.text_area(
                "Values (commas, spaces or new lines)",
                DEFAULT_TEXT,
                key="quant_text",
                bind="query-params",
                help="Any numbers, up to 65,536 of them. Add one large value to see an outlier "
                "stretch the grid.",
            )
            x = Q.parse_vector(text)
            Q.minmax_range(x)  # every section compares min-max: a range it can hold
            return x, None
        return _model_rows(), None
    except (ValueError, OSError) as err:
        return None, str(err)


def _generated() -> np.ndarray:
    a, b, c = st.columns(3)
    kind = a.selectbox(
        "Distribution",
        Q.DISTRIBUTIONS,
        key="quant_dist",
        bind="query-params",
        help="normal: how trained weights look (NF4's case); uniform: evenly spread (INT4's "
        "case); normal with outliers: 1% of the values at 20 standard deviations. Watch the "
        "blocks picture.",
    )
    n = b.number_input(
        "Values",
        2,
        4096,
        256,
        key="quant_n",
        bind="query-params",
        help="How many numbers (2-4096); 256 = 4 blocks of 64.",
    )
    seed = c.number_input(
        "Seed",
        0,
        2**31 - 1,
        0,
        key="quant_seed",
        bind="query-params",
        help="The same seed always draws the same numbers.",
    )
    return Q.sample_weights(kind, int(n), int(seed))


def _model_rows() -> np.ndarray:
    shapes = _matrix_shapes()
    names = list(shapes)
    a, b, c = st.columns([3, 1, 1])
    name = a.selectbox(
        "Weight matrix",
        names,
        index=names.index(DEFAULT_MATRIX),
        key="quant_matrix",
        bind="query-params",
        help="A weight matrix of the bundled SmolLM2-135M-Instruct.",
    )
    start = b.number_input(
        "First row",
        0,
        shapes[name][0] - 1,
        0,
        key="quant_row",
        bind="query-params",
        help="Which row of the matrix to start at.",
    )
    count = c.number_input(
        "Rows",
        1,
        8,
        1,
        key="quant_rows",
        bind="query-params",
        help="How many consecutive rows (1-8) make the vector.",
    )
    count = min(int(count), shapes[name][0] - int(start))
    st.caption(f"{name}: shape {shapes[name]}; rows {start}..{start + count - 1}.")
    return _rows(name, int(start), count)


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
