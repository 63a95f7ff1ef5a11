"""QLoRA and memory: where the gigabytes of a fine-tuning run go (weights, gradients,
optimizer states, activations, overhead) for full fine-tuning, LoRA and QLoRA, which GPUs
that fits, the notes' claim for a 7B model, and the code that sets the run up."""

import streamlit as st

from core import memory as core
from core.params import ARCHITECTURES
from pages import _memory_parts as parts
from pages._ui import fail, plot, read_asset, self_check, shareable_state, show_code

st.title("QLoRA and memory")
st.markdown(read_asset("qlora_memory.md"))

with shareable_state("mem"):
    c1, c2, c3 = st.columns(3)
    presets = list(ARCHITECTURES)
    name = c1.selectbox("Model", presets, index=presets.index(parts.CLAIM_ARCH),
                        key="mem_preset", bind="query-params")
    method = parts.METHOD_OF[c2.radio("Method", list(parts.METHOD_OF), index=2, horizontal=True,
                                      key="mem_method", bind="query-params")]
    dtype = c3.selectbox("Compute dtype", list(parts.DTYPES), key="mem_dtype", bind="query-params")
    c1, c2, c3 = st.columns(3)
    batch = c1.select_slider("Batch size", parts.BATCHES, value=1, key="mem_batch",
                             bind="query-params")
    seq_len = c2.select_slider("Sequence length (tokens)", parts.SEQ_LENS, value=512,
                               key="mem_seq", bind="query-params")
    optimizer = parts.OPTIMIZER_OF[c3.selectbox("Optimizer", list(parts.OPTIMIZER_OF),
                                                key="mem_optimizer", bind="query-params")]
    c1, c2, c3 = st.columns(3)
    r = c1.select_slider("LoRA rank r", parts.RANKS, value=16, key="mem_rank", bind="query-params")
    checkpointing = c2.toggle("Gradient checkpointing", key="mem_ckpt", bind="query-params")
    double_quant = c3.toggle("Double quantization (QLoRA)", value=True, key="mem_dq",
                             bind="query-params")
    targets = st.multiselect("LoRA target modules", parts.TARGETS, default=["q_proj", "v_proj"],
                             key="mem_targets", bind="query-params")

arch = ARCHITECTURES[name]
settings = dict(batch_size=batch, seq_len=seq_len, r=r, target_modules=tuple(targets),
                optimizer=optimizer, gradient_checkpointing=checkpointing,
                compute_dtype=dtype, double_quant=double_quant)
try:
    estimates = {m: core.estimate_training_memory(arch, m, **settings) for m in parts.METHODS}
except ValueError as error:
    fail(f"{error}. Pick at least one target module that {name} has.")
chosen = estimates[method]

st.header(f"1. {parts.METHODS[method]} of {name}")
fits = core.fitting_gpus(chosen.total)
m1, m2, m3 = st.columns(3)
m1.metric("Estimated peak memory", f"{parts.gb(chosen.total)} GB")
m2.metric("Trainable parameters", f"{chosen.trainable:,}")
m3.metric("Smallest common GPU that fits", f"{fits[0]} GB" if fits else "none (over 80 GB)")
for line in parts.formulas(arch, method, chosen, settings):
    st.latex(line)
with st.expander("What each term means"):
    st.markdown(read_asset("qlora_memory_terms.md"))

st.header("2. Full fine-tuning, LoRA and QLoRA side by side")
plot(parts.stacked_bar(estimates, method), height=480, key="mem_chart")
st.markdown(parts.md_table(parts.gpu_table(estimates)))

st.header(f"3. The notes' claim, checked on {parts.CLAIM_ARCH}")
st.markdown(read_asset("qlora_memory_claim.md"))
claim_arch = ARCHITECTURES[parts.CLAIM_ARCH]
at_settings, by_batch = parts.claims_table(claim_arch, settings)
st.markdown(parts.md_table(at_settings))
st.caption(f"The same estimates for batch sizes 1-16 (sequence length {seq_len}, the settings "
           "above; green where the claim holds):")
st.markdown(parts.md_table(by_batch))

st.header("4. The code for these settings")
st.code(core.training_config_code(method, r, tuple(targets), dtype, double_quant, optimizer,
                                  checkpointing, batch, model=parts.model_id(arch)),
        language="python")

st.header(f"5. The weights alone: {name} per format")
st.markdown(parts.md_table(parts.format_table(arch)))
st.caption("Bits per parameter of the whole model: int8 and NF4 quantize the attention and MLP "
           "matrices; embeddings, norms and an untied output head stay in 16 bits.")
st.markdown(read_asset("qlora_memory_why.md"))
show_code(core.estimate_training_memory, core.activation_bytes, core.layer_activation_bytes,
          core.weight_bytes, core.optimizer_bytes)
self_check("qlora_memory")
