"""Sections 1-4 of the LoRA page (one matrix, the alpha/r rules, the small worked matrix and
merging), each a fragment with its own controls, and their helpers. Numbers from core.lora."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import lora as core
from core.lora import LoRALinear, lora_init, lora_param_count
from pages import _lora_figures as figs
from pages._charts import plot_styled, style_fig
from pages._ui import read_asset

RANKS = list(figs.RANKS)  # a logarithmic rank slider
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
HELP = {
    "d": "Rows of W₀: the layer's outputs (d_out). 4096 for a Llama-2 7B attention "
         "projection, 11008 for its MLP up projection. Watch B's height and W₀'s in the picture.",
    "k": "Columns of W₀: the layer's inputs (d_in). Watch A's width in the picture.",
    "rank": "LoRA's rank r: B is d × r and A is r × k, so the adapter has r·(d + k) numbers. "
            "Usual values 4-64; the LoRA paper found 1-4 often enough for W_q and W_v.",
    "alpha": "lora_alpha. With α fixed the scaling α/r falls as r grows; usual values 8-32.",
    "alpha_r": "Which rank the numbers under the picture are read at (the dotted line).",
    "demo_rank": "The rank of the small 6 × 8 example: B gets r columns, A r rows.",
    "demo_alpha": "lora_alpha for the small example; the update is scaled by α/r.",
    "trained": "Fill B with random numbers, as a stand-in for what training would have put "
               "there (not a trained B). Off: B = 0, the state before the first step.",
}


def tex_int(n: int) -> str:
    """12345 -> 12{,}345 (a thousands comma that LaTeX does not space out)."""
    return f"{n:,}".replace(",", "{,}")


@st.fragment
def one_matrix() -> None:
    """Section 1: the adapter path to scale, and the counts of one matrix."""
    c1, c2, c3 = st.columns([1, 1, 2])
    d = c1.number_input("Rows d (outputs)", 1, 65_536, 4096, key="lora_d", help=HELP["d"],
                        bind="query-params")
    k = c2.number_input("Columns k (inputs)", 1, 65_536, 4096, key="lora_k", help=HELP["k"],
                        bind="query-params")
    r = c3.select_slider("Rank r", RANKS, value=8, key="lora_rank", help=HELP["rank"],
                         bind="query-params")
    shapes = core.adapter_shapes(int(d), int(k), int(r))
    plot_styled(figs.adapter_path(shapes.d_out, shapes.d_in, shapes.r), key="lora_path")
    st.caption("Drawn to one scale; a strip thinner than a line is drawn as a line. B is empty "
               "and dashed: it starts at zero, so at step 0 the adapter adds nothing.")
    st.latex(rf"W_0\,({d}\times{k}):\; {d}\cdot{k} = {tex_int(shapes.W0_params)}")
    st.latex(rf"B\,({d}\times{r}) + A\,({r}\times{k}):\; {r}\cdot({d}+{k}) = "
             rf"{tex_int(shapes.params)}")
    m1, m2, m3 = st.columns(3)
    m1.metric("Full matrix d·k", f"{shapes.W0_params:,}")
    m2.metric("LoRA r·(d + k)", f"{shapes.params:,}")
    m3.metric("LoRA / full", f"{shapes.share:.3%}")
    if shapes.share >= 0.5:
        st.warning(f"At r = {r}, r·(d + k) is no longer much smaller than d·k: LoRA pays off "
                   "when r is much smaller than d and k.", icon=":material/info:")
    plot_styled(count_figure(shapes.d_out, shapes.d_in, shapes.r), key="lora_count_chart")


@st.fragment
def alpha_rules() -> None:
    """Section 2: alpha fixed, alpha = 2r and rsLoRA's alpha/sqrt(r), side by side."""
    c1, c2 = st.columns([1, 3])
    alpha = c1.number_input("α (lora_alpha)", 1, 1024, 16, key="lora_alpha", help=HELP["alpha"],
                            bind="query-params")
    r = c2.select_slider("Read off at rank r", RANKS, value=8, key="lora_alpha_r",
                         help=HELP["alpha_r"], bind="query-params")
    plot_styled(figs.scaling_figure(float(alpha), int(r)), key="lora_alpha_chart")
    fixed, rs = core.lora_scaling(alpha, r), core.lora_scaling(alpha, r, use_rslora=True)
    two = core.lora_scaling(2 * r, r)
    st.latex(rf"r = {r}:\quad \frac{{\alpha}}{{r}} = \frac{{{alpha}}}{{{r}}} = {fixed:.4g}"
             rf"\qquad \frac{{2r}}{{r}} = {two:g}"
             rf"\qquad \frac{{\alpha}}{{\sqrt{{r}}}} = \frac{{{alpha}}}{{\sqrt{{{r}}}}} = {rs:.4g}")
    st.markdown(read_asset("lora_alpha.md"))


@st.fragment
def small_example() -> None:
    """Sections 3 and 4: W0, B, A and B·A on a 6 x 8 matrix, then merging."""
    c1, c2, c3 = st.columns([2, 1, 2])
    r = c1.slider("Rank of the small adapter", 1, 6, 2, key="lora_demo_rank",
                  help=HELP["demo_rank"], bind="query-params")
    alpha = c2.number_input("α", 1, 64, 4, key="lora_demo_alpha", help=HELP["demo_alpha"],
                            bind="query-params")
    trained = c3.toggle("After some training: B filled with random numbers", key="lora_trained",
                        help=HELP["trained"], bind="query-params")
    small = small_lora(r, float(alpha), trained)
    plot_styled(small_heatmaps(r, float(alpha), trained), key="lora_heatmaps")
    rank_dw = small.delta_rank
    state = (f"B holds random numbers (a stand-in for training, not a trained B); at most "
             f"r = {r}." if trained else "(B is zero: the layer is unchanged).")
    st.markdown(f"W₀ is {SMALL[0]} × {SMALL[1]}, α = {alpha:g}, α/r = {small.scaling:g}; "
                f"rank of ΔW = **{rank_dw}** {state}")
    st.markdown(read_asset("lora_zero.md"))

    st.header("4. Merging")
    x = np.arange(1, SMALL[1] + 1) / SMALL[1]  # one input vector (d_in,)
    st.latex(r"W_0x + \tfrac{\alpha}{r}B(Ax) \;=\; (W_0 + \tfrac{\alpha}{r}BA)\,x \qquad "
             rf"\max|\text{{difference}}| = {small.merge_error(x):.1e}")
    st.markdown(read_asset("lora_merge.md"))


@st.cache_data(max_entries=64)
def small_lora(r: int, alpha: float, trained: bool, seed: int = 0) -> LoRALinear:
    """A 6 x 8 W0 with a fresh adapter; ``trained`` fills B with random numbers (a stand-in
    for what training would leave there, for the picture)."""
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
    return style_fig(heatmaps(small_lora(r, alpha, trained), trained), height=330)


def heatmaps(lora: LoRALinear, trained: bool = False) -> go.Figure:
    """W0, B, A, (alpha/r)·B·A and W0 + (alpha/r)·B·A on one colour scale."""
    mats = {
        "W0 (frozen)": lora.W0,
        f"B ({lora.B.shape[0]}×{lora.r}){', random' if trained else ' = 0'}": lora.B,
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
            go.Heatmap(z=m, zmin=-bound, zmax=bound, colorscale="RdBu", showscale=i == 5,
                       hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>"),
            row=1, col=i,
        )  # fmt: skip
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
