"""Pieces of the LoRA page: the rank scale, the small worked matrix and its heatmaps."""


import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.lora import LoRALinear, lora_init, lora_param_count
from pages._ui import style_fig

RANKS = [1, 2, 4, 8, 16, 32, 64, 128, 256]  # a logarithmic rank slider
TARGETS = {
    "q_proj": "W_q (q_proj)",
    "k_proj": "W_k (k_proj)",
    "v_proj": "W_v (v_proj)",
    "o_proj": "W_o (o_proj)",
    "gate_proj": "MLP gate_proj",
    "up_proj": "MLP up_proj",
    "down_proj": "MLP down_proj",
}
DEFAULT_TARGETS = ("q_proj", "v_proj")
SMALL = (6, 8)  # the worked matrix W0 is d_out x d_in = 6 x 8


@st.cache_data(max_entries=64)
def small_lora(r: int, alpha: float, trained: bool, seed: int = 0) -> LoRALinear:
    """A 6 x 8 W0 with a fresh adapter; ``trained`` fills B with what a few steps of
    training might have left there (random, for the picture)."""
    from dataclasses import replace

    rng = np.random.default_rng(seed)
    W0 = np.round(rng.normal(size=SMALL), 2)  # (d_out, d_in)
    lora = lora_init(W0, r, alpha, rng)
    if trained:
        lora = replace(lora, B=rng.normal(scale=0.5, size=(SMALL[0], r)))  # (d_out, r)
    return lora


@st.cache_resource(max_entries=64)
def small_heatmaps(r: int, alpha: float, trained: bool) -> go.Figure:
    """The heatmaps of ``small_lora(r, alpha, trained)``, built once (plotly's subplots
    take ~30 ms to build, too slow to redo on every slider move)."""
    return style_fig(heatmaps(small_lora(r, alpha, trained)), height=330)


def heatmaps(lora: LoRALinear) -> go.Figure:
    """W0, B, A, (alpha/r)·B·A and W0 + (alpha/r)·B·A on one colour scale."""
    mats = {
        "W0 (frozen)": lora.W0,
        f"B ({lora.B.shape[0]}×{lora.r})": lora.B,
        f"A ({lora.r}×{lora.A.shape[1]})": lora.A,
        "ΔW = (α/r)·B·A": lora.delta_W,
        "W0 + ΔW": lora.merged(),
    }
    widths = [m.shape[1] for m in mats.values()]
    fig = make_subplots(
        rows=1, cols=5, subplot_titles=list(mats), column_widths=widths, horizontal_spacing=0.03
    )
    bound = max(float(np.abs(m).max()) for m in mats.values()) or 1.0
    for i, m in enumerate(mats.values(), start=1):
        fig.add_trace(
            go.Heatmap(
                z=m,
                zmin=-bound,
                zmax=bound,
                colorscale="RdBu",
                showscale=i == 5,
                hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
    fig.update_annotations(font_size=16)
    return fig


@st.cache_resource(max_entries=128)
def count_figure(d: int, k: int, r: int) -> go.Figure:
    """LoRA's r·(d + k) for every rank on the slider, against the full d·k (log scale)."""
    full = d * k
    counts = [lora_param_count(d, k, x) for x in RANKS]
    fig = go.Figure(
        go.Bar(
            x=[str(x) for x in RANKS],
            y=counts,
            name="LoRA r·(d+k)",
            marker_color=["#e4572e" if x == r else "#4c78a8" for x in RANKS],
            text=[f"{c:,}" for c in counts],
            textposition="outside",
        )
    )
    fig.add_hline(y=full, line_dash="dash")
    fig.add_annotation(  # on a log axis, annotations take log10 of the value
        x=0, xref="paper", xanchor="left", y=np.log10(full), yshift=14, showarrow=False,
        text=f"full d·k = {full:,}",
    )  # fmt: skip
    fig.update_layout(
        title="Trainable parameters of one matrix",
        xaxis_title="rank r",
        xaxis_type="category",
        yaxis_type="log",
        yaxis_title="parameters (log scale)",
        yaxis_range=[np.log10(min(counts + [full])) - 0.3, np.log10(max(counts + [full])) + 0.4],
    )
    return style_fig(fig, height=380)


def tex_int(n: int) -> str:
    """12345 -> 12{,}345 (a thousands comma that LaTeX does not space out)."""
    return f"{n:,}".replace(",", "{,}")


def count_rows(shapes: dict, targets, r: int, layers: int) -> list[dict]:
    return [
        {
            "module": t,
            "W (d_out × d_in)": f"{shapes[t][0]:,} × {shapes[t][1]:,}",
            "LoRA per layer r·(d_in + d_out)": f"{lora_param_count(*shapes[t], r):,}",
            f"× {layers} layers": f"{layers * lora_param_count(*shapes[t], r):,}",
        }
        for t in targets
    ]


def peft_snippet(r: int, alpha: float, targets) -> str:
    return (
        "from peft import LoraConfig, get_peft_model\n\n"
        f"config = LoraConfig(r={r}, lora_alpha={alpha:g}, lora_dropout=0.05,\n"
        f'                    target_modules={list(targets)!r}, task_type="CAUSAL_LM")\n'
        "model = get_peft_model(model, config)\n"
        "model.print_trainable_parameters()"
    )
