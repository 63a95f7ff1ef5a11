"""LoRA: the shapes and parameter count of one adapted weight, B = 0 at the start, alpha/r,
merging, and the trainable parameters of a whole model for chosen target modules."""

import numpy as np
import streamlit as st

from core import lora as core
from core.params import ARCHITECTURES, linear_shapes, transformer_param_count
from pages import _lora_parts as parts
from pages._ui import plot_styled, read_asset, self_check, shareable_state, show_code

st.title("LoRA")
st.markdown(read_asset("lora.md"))

with shareable_state("lora"):
    st.header("1. One weight matrix")
    c1, c2, c3 = st.columns([1, 1, 2])
    d = c1.number_input("Rows d (outputs)", 1, 65_536, 4096, key="lora_d", bind="query-params")
    k = c2.number_input("Columns k (inputs)", 1, 65_536, 4096, key="lora_k", bind="query-params")
    r = c3.select_slider("Rank r", parts.RANKS, value=8, key="lora_rank", bind="query-params")
    full, lora_n = d * k, core.lora_param_count(d, k, r)
    st.latex(rf"W_0\,({d}\times{k}):\; {d}\cdot{k} = {parts.tex_int(full)}")
    st.latex(
        rf"B\,({d}\times{r}) + A\,({r}\times{k}):\; {r}\cdot({d}+{k}) = {parts.tex_int(lora_n)}"
    )
    m1, m2, m3 = st.columns(3)
    m1.metric("Full matrix d·k", f"{full:,}")
    m2.metric("LoRA r·(d + k)", f"{lora_n:,}")
    m3.metric("LoRA / full", f"{lora_n / full:.3%}")
    if r >= min(d, k) / 2:
        st.warning(
            f"At r = {r}, r·(d + k) is no longer much smaller than d·k: LoRA pays off "
            "when r is much smaller than d and k.",
            icon=":material/info:",
        )
    plot_styled(parts.count_figure(d, k, r), key="lora_count_chart")

    st.header("2. Alpha and the scaling α/r")
    rule = st.toggle("Rule of thumb α = 2r", value=True, key="lora_alpha_rule", bind="query-params")
    alpha = 2 * r
    if not rule:
        alpha = st.number_input(
            "α (lora_alpha)", 1, 1024, 16, key="lora_alpha", bind="query-params"
        )
    st.latex(rf"\text{{scaling}} = \frac{{\alpha}}{{r}} = \frac{{{alpha}}}{{{r}}} = {alpha / r:g}")
    st.markdown(read_asset("lora_alpha.md"))

    st.header("3. W₀, B, A and B·A on a small matrix")
    c1, c2 = st.columns(2)
    r_small = c1.slider(
        "Rank of the small adapter", 1, 6, 2, key="lora_demo_rank", bind="query-params"
    )
    trained = c2.toggle(
        "After some training (B no longer zero)", key="lora_trained", bind="query-params"
    )
    alpha_small = 2 * r_small if rule else alpha
    small = parts.small_lora(r_small, float(alpha_small), trained)
    plot_styled(parts.small_heatmaps(r_small, float(alpha_small), trained), key="lora_heatmaps")
    rank_dw = int(np.linalg.matrix_rank(small.delta_W))
    st.markdown(
        f"W₀ is {parts.SMALL[0]} × {parts.SMALL[1]}, α = {alpha_small:g}, "
        f"α/r = {small.scaling:g}; rank of ΔW = **{rank_dw}** "
        + ("(B is zero: the layer is unchanged)." if not trained else f"(at most r = {r_small}).")
    )
    st.markdown(read_asset("lora_zero.md"))

    st.header("4. Merging")
    x = np.arange(1, parts.SMALL[1] + 1) / parts.SMALL[1]  # one input vector (d_in,)
    y_adapter, y_merged = small.forward(x), small.merged() @ x
    st.latex(
        r"W_0x + \tfrac{\alpha}{r}B(Ax) \;=\; (W_0 + \tfrac{\alpha}{r}BA)\,x \qquad "
        rf"\max|\text{{difference}}| = {np.abs(y_adapter - y_merged).max():.1e}"
    )
    st.markdown(read_asset("lora_merge.md"))

    st.header("5. A whole model")
    name = st.selectbox(
        "Model", list(ARCHITECTURES), index=1, key="lora_model", bind="query-params"
    )
    arch = ARCHITECTURES[name]
    shapes = linear_shapes(arch)
    cols = st.columns(4)
    targets = [
        t
        for i, (t, label) in enumerate(parts.TARGETS.items())
        if t in shapes
        and cols[i % 4].checkbox(
            label, t in parts.DEFAULT_TARGETS, key=f"lora_t_{t.split('_')[0]}", bind="query-params"
        )
    ]
    if arch.model_type == "gpt2":
        st.caption(
            "GPT-3 has no gate projection; its q, k, v live in one fused matrix, "
            "counted here as three d × d pieces, as the LoRA paper does. In transformers' "
            "GPT-2 layout the modules are named c_attn (q, k, v together), attn.c_proj (o), "
            "c_fc (up) and mlp.c_proj (down); peft adapts c_attn as one (3d × d) matrix."
        )
    try:
        trainable = core.model_lora_param_count(arch, r, targets)
    except ValueError as error:
        st.error(f"Nothing to train: {error}.", icon=":material/error:")
    else:
        total = transformer_param_count(arch)
        m1, m2, m3 = st.columns([2, 3, 2])
        m1.metric(f"Trainable at r = {r}", f"{trainable:,}")
        m2.metric("Model parameters", f"{total:,}")
        # peft's trainable%: adapters over all parameters, adapters included
        m3.metric("Trainable share", f"{trainable / (total + trainable):.4%}")
        st.dataframe(parts.count_rows(shapes, targets, r, arch.num_layers), hide_index=True)
        st.code(parts.peft_snippet(r, alpha, targets), language="python")
    st.markdown(read_asset("lora_model.md"))

show_code(core.lora_param_count, core.model_lora_param_count, core.LoRALinear, core.lora_init)
self_check("lora")
