"""LoRA: the adapter path of one weight matrix drawn to scale, alpha/r against alpha = 2r and
rsLoRA, B = 0 at the start and merging on a small matrix, where the adapters go in a whole
model, and a lab run's trained update taken apart."""

import streamlit as st

from core import lora as core
from pages import _lora_model as model
from pages import _lora_parts as parts
from pages._ui import read_asset, self_check, shareable_state, show_code

st.title("LoRA")
st.markdown(read_asset("lora.md"))

with shareable_state("lora"):
    st.header("1. One weight matrix and its adapter")
    parts.one_matrix()

    st.header("2. Alpha and the scaling: α/r, α = 2r, or α/√r")
    parts.alpha_rules()

    st.header("3. W₀, B, A and B·A on a small matrix")
    parts.small_example()  # and section 4, merging

    st.header("5. Where the adapters go in a whole model")
    model.whole_model()

    st.header("6. A trained update is low rank")
    model.trained_update()

show_code(
    core.adapter_shapes,
    core.lora_scaling,
    core.model_lora_param_count,
    core.module_lora_counts,
    core.LoRALinear,
    core.lora_init,
    core.adapter_update,
    core.update_from_factors,
)
self_check("lora")
