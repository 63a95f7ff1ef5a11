"""Parameters and sizes: the notes' layer counter, real models' parameter counts from their
published configs, and bytes per parameter per datatype."""

import streamlit as st

from core import params as core
from pages import _parameters_parts as parts
from pages._charts import plot_styled
from pages._ui import read_asset, self_check, shareable_state, show_code

st.title("Parameters and sizes")
st.markdown(read_asset("parameters.md"))


def use_model_count(n_params: int) -> None:
    st.session_state["params_billions"] = round(n_params / 1e9, 3)


with shareable_state("params"):
    st.header("1. Count a small network")
    text = st.text_input(
        "Layer widths, inputs first (the notes' network is 4-3-3-2-1)",
        "4-3-3-2-1",
        key="params_layers",
        bind="query-params",
    )
    try:
        sizes = core.parse_layer_sizes(text)
    except ValueError as error:
        st.error(f"That layer list cannot be used: {error}.", icon=":material/error:")
    else:
        layers = core.dense_layers(sizes)
        total = core.mlp_param_count(sizes)
        st.dataframe(parts.layer_table(sizes), hide_index=True, key="params_layer_table")
        figure = parts.network_figure(sizes)
        if figure is not None:
            plot_styled(figure, key="params_network")
        terms = " + ".join(rf"({x.n_in}\cdot{x.n_out}+{x.n_out})" for x in layers[:8])
        more = r" + \dots" if len(layers) > 8 else ""
        st.latex(rf"{terms}{more} = {total:,}".replace(",", "{,}"))
        parts.notes_sum_slip(sizes)
        st.metric("Parameters", f"{total:,}")

    st.header("2. Real language models")
    name = st.selectbox(
        "Model", list(core.ARCHITECTURES), index=1, key="params_model", bind="query-params"
    )
    arch = core.ARCHITECTURES[name]
    breakdown = core.param_breakdown(arch)
    n_params = breakdown.total
    c1, c2, c3 = st.columns([2, 3, 2])
    c1.metric("In billions", f"{n_params / 1e9:.2f} B")
    c2.metric("Exact count", f"{n_params:,}")
    c3.metric("Decoder layers", arch.num_layers)
    st.caption(f"Source: {arch.source}.")
    if arch.model_type == "gpt2":
        st.caption(
            "GPT-3 is built like GPT-2 (learned positions, LayerNorm, biases, tied embeddings); "
            "counted that way its published shape gives 174.6 B, which the paper rounds to 175 B."
        )
    left, right = st.columns([2, 3])
    left.dataframe(parts.config_table(name), hide_index=True, key="params_config_table")
    with right:
        plot_styled(parts.breakdown_figure(name), key="params_breakdown_chart")
    plot_styled(parts.presets_figure(name), key="params_presets_chart")
    shapes = core.linear_shapes(arch)
    st.markdown(
        "One decoder layer's weight matrices (d_out × d_in): "
        + ", ".join(f"`{k}` {o:,} × {i:,}" for k, (o, i) in shapes.items())
        + "."
    )
    st.markdown(read_asset("parameters_models.md"))

    st.header("3. Bytes per parameter")
    st.button(
        f"Use {name}'s count ({n_params / 1e9:.3f} B)",
        key="params_use_model",
        on_click=use_model_count,
        args=(n_params,),
        icon=":material/arrow_downward:",
    )
    billions = st.number_input(
        "Parameters, in billions (GPT-3: 175)",
        min_value=0.001,
        max_value=10_000.0,
        value=175.0,
        step=1.0,
        format="%.3f",
        key="params_billions",
        bind="query-params",
    )
    fp32 = core.model_size(billions * 1e9, "FP32")
    st.latex(
        rf"{billions:g}\times10^9 \text{{ parameters}} \times 4 \text{{ B}} = "
        rf"{fp32.gb:,.1f} \text{{ GB}} = {fp32.gib:,.1f} \text{{ GiB}}".replace(",", "{,}")
    )
    st.dataframe(parts.size_table(billions), hide_index=True, key="params_size_table")
    plot_styled(parts.size_figure(billions), key="params_size_chart")
    st.markdown(read_asset("parameters_bytes.md"))

show_code(core.mlp_param_count, core.param_breakdown, core.model_size)
self_check("parameters")
