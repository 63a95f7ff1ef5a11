"""Pieces of the parameters page: the small network's diagram and table."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.params import dense_layers

MAX_DRAWN = 12  # widest layer the diagram draws; wider networks get the table only


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
    if max(sizes) > MAX_DRAWN:
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
    return fig
