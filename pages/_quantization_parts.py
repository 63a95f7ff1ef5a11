"""Pieces of the quantization page: the input picker, charts, and the comparison tables."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pandas as pd
import streamlit as st

from core import quantization as Q
from pages._ui import chart_layout, warm_up_task

EXAMPLE_A = "Example A: 0..1000 onto uint8"
EXAMPLE_B = "Example B: [-20, 1000] asymmetric"
PRESETS = {
    EXAMPLE_A: [0.0, 250.0, 500.0, 750.0, 1000.0],
    EXAMPLE_B: [-20.0, 1000.0, 0.0, 500.0],
}
GENERATE, TYPE, MODEL = "Generate", "Type or paste", "SmolLM2 weights"
SOURCES = (EXAMPLE_A, EXAMPLE_B, GENERATE, TYPE, MODEL)
BLOCKSIZES = (4, 8, 16, 32, 64, 128, 256, 512)
DEFAULT_TEXT = "0.12, -0.5, 0.02, 0.9, -0.08, 1.7, -1.2, 0.33"
DEFAULT_MATRIX = "model.layers.0.self_attn.q_proj.weight"
TABLE_ROWS = 64
ERROR_COLUMNS = {
    "MSE": st.column_config.NumberColumn(format="scientific"),
    "max |error|": st.column_config.NumberColumn(format="scientific"),
}
CHART_POINTS = 2000


def num(v: float) -> str:
    return f"{v:.6g}"


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
    )
    try:
        if source in PRESETS:
            return np.array(PRESETS[source], dtype=np.float32), None
        if source == GENERATE:
            a, b, c = st.columns(3)
            kind = a.selectbox(
                "Distribution", Q.DISTRIBUTIONS, key="quant_dist", bind="query-params"
            )
            n = b.number_input("Values", 2, 4096, 256, key="quant_n", bind="query-params")
            seed = c.number_input("Seed", 0, 2**31 - 1, 0, key="quant_seed", bind="query-params")
            return Q.sample_weights(kind, int(n), int(seed)), None
        if source == TYPE:
            text = st.text_area(
                "Values (commas, spaces or new lines)",
                DEFAULT_TEXT,
                key="quant_text",
                bind="query-params",
            )
            return Q.parse_vector(text), None
        shapes = _matrix_shapes()
        names = list(shapes)
        a, b, c = st.columns([3, 1, 1])
        name = a.selectbox(
            "Weight matrix",
            names,
            index=names.index(DEFAULT_MATRIX),
            key="quant_matrix",
            bind="query-params",
        )
        start = b.number_input(
            "First row", 0, shapes[name][0] - 1, 0, key="quant_row", bind="query-params"
        )
        count = c.number_input("Rows", 1, 8, 1, key="quant_rows", bind="query-params")
        count = min(int(count), shapes[name][0] - int(start))
        st.caption(f"{name}: shape {shapes[name]}; rows {start}..{start + count - 1}.")
        return _rows(name, int(start), count), None
    except (ValueError, OSError) as err:
        return None, str(err)


def method_controls() -> tuple[str, int, int, bool, float]:
    a, b, c = st.columns([2, 2, 2])
    method = a.selectbox("Method", Q.METHODS, index=1, key="quant_method", bind="query-params")
    fixed_bits = method in ("NF4", "ternary")
    bits = b.slider(
        "Bits",
        Q.MIN_BITS,
        Q.MAX_BITS,
        8,
        key="quant_bits",
        bind="query-params",
        disabled=fixed_bits,
        help="NF4 is 4 bits, ternary 1.58.",
    )
    blocked = method in ("block-wise absmax", "NF4")
    blocksize = c.select_slider(
        "Block size", BLOCKSIZES, 64, key="quant_block", bind="query-params", disabled=not blocked
    )
    left, right = st.columns(2)
    double_quant = left.checkbox(
        "Double-quantize the block constants (8 bits, blocks of 256)",
        key="quant_dq",
        bind="query-params",
        disabled=not blocked,
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
        help="100 = no clipping. Lower: a finer grid for most values, a clipping error for the few.",
    )
    clip = float(clip) if method == "absmax" else 100.0
    return method, int(bits), int(blocksize), bool(double_quant and blocked), clip


def grid(method: str, result: Q.Quantized) -> np.ndarray:
    """Every code the method can emit, used or not."""
    if method == "NF4":
        return np.arange(16)
    if method == "ternary":
        return np.arange(-1, 2)
    if method == "min-max":
        return np.arange(0, 2**result.bits)
    q_max = 2 ** (result.bits - 1) - 1
    return np.arange(-q_max, q_max + 1)


def _figure(traces: list[dict], title: str, x_title: str, y_title: str, **xaxis):
    """A plotly figure with ``pages._ui.chart_layout`` built in one go, which is
    several times faster than ``update_layout`` calls (this page reruns on every slider move)."""
    import plotly.graph_objects as go

    layout = chart_layout()
    layout |= dict(
        title=dict(text=title, font=dict(size=layout.pop("title_font_size"))),
        xaxis=dict(title=dict(text=x_title), **xaxis),
        yaxis=dict(title=dict(text=y_title)),
    )
    return go.Figure(data=traces, layout=layout)


def charts(x: np.ndarray, result: Q.Quantized, method: str) -> None:
    left, right = st.columns(2)
    codes = grid(method, result)
    counts = np.bincount(result.q - codes[0], minlength=codes.size)[: codes.size]
    labels = [f"{v:+.2f}" for v in result.code] if result.code is not None else codes
    used = int(np.count_nonzero(counts))
    bars = dict(type="bar", x=labels, y=counts, name="values")
    title = f"Values per code ({used} of {codes.size} used)"
    fig = _figure([bars], title, "code q", "how many values", type="category")
    left.plotly_chart(fig, theme="streamlit", key="quant_codes_chart")
    step = max(1, x.size // CHART_POINTS)
    x_hat = result.dequantize()
    lo, hi = float(min(x.min(), x_hat.min())), float(max(x.max(), x_hat.max()))
    identity = dict(type="scatter", x=[lo, hi], y=[lo, hi], mode="lines", name="no error",
                    line=dict(dash="dot"))  # fmt: skip
    points = dict(type="scatter", x=x[::step], y=x_hat[::step], mode="markers", name="x -> x_hat")
    fig = _figure([identity, points], "Where x lands: x_hat", "x", "x_hat (dequantized)")
    right.plotly_chart(fig, theme="streamlit", key="quant_grid_chart")


def value_table(x: np.ndarray, result: Q.Quantized) -> pd.DataFrame:
    n = min(x.size, TABLE_ROWS)
    x_hat = result.dequantize()[:n]
    table = {"x": x[:n], "q": result.q[:n], "x_hat": x_hat, "error x - x_hat": x[:n] - x_hat}
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
