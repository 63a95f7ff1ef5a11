"""Pieces of the parameters page: the small network's diagram and table."""


import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.params import (
    ARCHITECTURES,
    BITS_PER_PARAM,
    dense_layers,
    mlp_param_count,
    model_size,
    param_breakdown,
)
from pages._charts import style_fig
from pages._ui import fmt_bytes

MAX_DRAWN = 12  # widest layer and most layers the diagram draws; bigger nets: table only


@st.cache_data(max_entries=64)
def layer_table(sizes: tuple[int, ...]) -> pd.DataFrame:
    layers = dense_layers(sizes)
    return pd.DataFrame(
        {
            "layer": [f"{x.n_in} → {x.n_out}" for x in layers],
            "weights w = n_in·n_out": [f"{x.n_in}·{x.n_out} = {x.weights:,}" for x in layers],
            "biases b = n_out": [x.biases for x in layers],
            "parameters": [x.params for x in layers],
        }
    )


@st.cache_resource(max_entries=32)
def network_figure(sizes: tuple[int, ...]) -> go.Figure | None:
    """Neurons as dots, one line per weight; each non-input neuron carries one bias."""
    if max(sizes) > MAX_DRAWN or len(sizes) > MAX_DRAWN:
        return None
    y = [[(n - 1) / 2 - i for i in range(n)] for n in sizes]  # centred columns of neurons
    edge_x, edge_y = [], []
    for col, (left, right) in enumerate(zip(y[:-1], y[1:], strict=True)):
        for y0 in left:
            for y1 in right:
                edge_x += [col, col + 1, None]
                edge_y += [y0, y1, None]
    fig = go.Figure(
        go.Scatter(
            x=edge_x, y=edge_y, mode="lines", line=dict(width=1, color="#9aa5b1"), hoverinfo="skip"
        )
    )
    layers = dense_layers(sizes)
    for col, ys in enumerate(y):
        label = "inputs" if col == 0 else f"+{layers[col - 1].biases} b"
        hover = "input" if col == 0 else f"{layers[col - 1].n_in} weights in + 1 bias"
        fig.add_trace(
            go.Scatter(
                x=[col] * len(ys),
                y=ys,
                mode="markers",
                marker=dict(size=26, color="#4c78a8" if col else "#e4572e", line=dict(width=0)),
                hovertext=hover,
                hoverinfo="text",
            )
        )
        fig.add_annotation(x=col, y=max(ys) + 0.9, text=label, showarrow=False)
    for col, layer in enumerate(layers):
        fig.add_annotation(
            x=col + 0.5, y=-max(sizes) / 2 - 0.4, text=f"{layer.weights} w", showarrow=False
        )
    fig.update_layout(showlegend=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style_fig(fig, height=300)


@st.cache_data(max_entries=32)
def config_table(name: str) -> pd.DataFrame:
    arch = ARCHITECTURES[name]
    config = {
        "hidden size d": arch.hidden_size,
        "MLP size": arch.intermediate_size,
        "layers": arch.num_layers,
        "attention heads": arch.num_heads,
        "key-value heads": arch.num_kv_heads,
        "head size": arch.head_dim,
        "vocabulary": arch.vocab_size,
        "tied embeddings": "yes" if arch.tie_embeddings else "no",
        "attention biases": "yes" if arch.attention_bias or arch.model_type == "qwen2" else "no",
    }
    return pd.DataFrame({"config.json": list(config), "value": [str(v) for v in config.values()]})


@st.cache_resource(max_entries=32)
def breakdown_figure(name: str) -> go.Figure:
    b = param_breakdown(ARCHITECTURES[name])
    pieces = {"embeddings": b.embeddings, "attention": b.attention, "MLP": b.mlp,
              "norms": b.norms, "output head": b.lm_head}  # fmt: skip
    fig = go.Figure(
        go.Bar(x=list(pieces), y=[v / 1e9 for v in pieces.values()],
               text=[f"{v / 1e9:.3f} B" for v in pieces.values()], textposition="outside")
    )  # fmt: skip
    fig.update_layout(title=f"Where {name}'s parameters are", yaxis_title="billions")
    return style_fig(fig, height=380)


@st.cache_data(max_entries=64)
def size_table(billions: float) -> pd.DataFrame:
    sizes = [model_size(billions * 1e9, dtype) for dtype in BITS_PER_PARAM]
    return pd.DataFrame(
        {
            "datatype": [s.dtype for s in sizes],
            "bits per parameter": [f"{BITS_PER_PARAM[s.dtype]:g}" for s in sizes],
            "bytes per parameter": [f"{s.bytes_per_param:g}" for s in sizes],
            "size (GB, 10⁹ B)": [f"{s.gb:,.2f}" for s in sizes],
            "size (1 GB = 1024³ B)": [fmt_bytes(s.bytes) for s in sizes],
        }
    )


@st.cache_resource(max_entries=64)
def size_figure(billions: float) -> go.Figure:
    sizes = [model_size(billions * 1e9, dtype) for dtype in BITS_PER_PARAM]
    fig = go.Figure(
        go.Bar(x=[s.dtype for s in sizes], y=[s.gb for s in sizes],
               text=[f"{s.gb:,.1f}" for s in sizes], textposition="outside")
    )  # fmt: skip
    fig.update_layout(title=f"Weights of a {billions:g} B-parameter model", yaxis_title="GB")
    return style_fig(fig, height=380)


@st.cache_resource(max_entries=32)
def presets_figure(name: str) -> go.Figure:
    """Every preset's parameter count on a log scale, the chosen one highlighted."""
    names = list(ARCHITECTURES)
    counts = [param_breakdown(ARCHITECTURES[n]).total / 1e9 for n in names]
    fig = go.Figure(
        go.Bar(x=names, y=counts, text=[f"{c:,.2f} B" for c in counts], textposition="outside",
               marker_color=["#e4572e" if n == name else "#4c78a8" for n in names])
    )  # fmt: skip
    fig.update_layout(title="All the presets", yaxis_type="log", yaxis_title="billions (log scale)",
                      yaxis_range=[-1.3, 2.8])  # fmt: skip
    return style_fig(fig, height=380)


NOTES_NETWORK = (4, 3, 3, 2, 1)  # the notes' network; they add its parameters with a slip


def notes_sum_slip(sizes: tuple[int, ...]) -> None:
    """Under the notes' network: the per-layer sum (from core), and how the notes wrote it."""
    if tuple(sizes) != NOTES_NETWORK:
        return
    from pages._ui import notes_slip

    layers = dense_layers(sizes)
    terms = " + ".join(str(x.params) for x in layers)
    notes_slip(
        f"Per layer, weights + biases: {terms} = {mlp_param_count(sizes)}.",
        "12 + 9 + 6 + 2 + 2 = 38: the weights (12 + 9 + 6 + 2) with one 2, the other biases "
        "left out, and those terms do not add up to 38.",
    )
