"""The quantization page's input picker: the notes' worked examples, generated weight-like
numbers, typed values, or rows of the bundled model's weight matrices."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import quantization as Q

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
DEFAULT_TEXT = "0.12, -0.5, 0.02, 0.9, -0.08, 1.7, -1.2, 0.33"
DEFAULT_MATRIX = "model.layers.0.self_attn.q_proj.weight"

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
