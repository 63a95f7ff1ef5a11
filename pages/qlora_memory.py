"""QLoRA and memory: a model's weights per format, where the gigabytes of a fine-tuning run go
(full fine-tuning, LoRA, QLoRA), QLoRA's data flow, what a paged optimizer does in a spike,
the notes' memory figures checked, and the code that sets the run up."""

import streamlit as st

from core import memory as core
from core.params import ARCHITECTURES
from pages import _memory_figures as figs
from pages import _memory_parts as parts
from pages._charts import plot_styled
from pages._ui import fail, md_table, read_asset, self_check, shareable_state, show_code

st.title("QLoRA and memory")
st.markdown(read_asset("qlora_memory.md"))
H = parts.HELP

with shareable_state("mem"):
    st.header("1. The model and its weights")
    left, right = st.columns([1, 2])
    presets = list(ARCHITECTURES)
    name = left.selectbox("Model", presets, index=presets.index(parts.CLAIM_ARCH),
                          key="mem_preset", help=H["preset"], bind="query-params")
    arch = ARCHITECTURES[name]
    left.markdown(md_table(parts.format_rows(name)))
    left.caption("int8 and NF4 quantize the attention and MLP matrices; embeddings, norms and "
                 "an untied output head stay in 16 bits.")
    with right:
        plot_styled(figs.format_bars(name), key="mem_format_chart")

    st.header("2. Training memory: full fine-tuning, LoRA and QLoRA")
    left, right = st.columns([1, 2])
    with left:
        method = parts.METHOD_OF[st.radio("Method", list(parts.METHOD_OF), index=2,
                                          horizontal=True, key="mem_method", help=H["method"],
                                          bind="query-params")]
        c1, c2 = st.columns(2)
        dtype = c1.selectbox("Compute dtype", list(parts.DTYPES), key="mem_dtype",
                             help=H["dtype"], bind="query-params")
        optimizer = parts.OPTIMIZER_OF[c2.selectbox("Optimizer", list(parts.OPTIMIZER_OF),
                                                    key="mem_optimizer", help=H["optimizer"],
                                                    bind="query-params")]
        batch = c1.select_slider("Batch size", parts.BATCHES, value=1, key="mem_batch",
                                 help=H["batch"], bind="query-params")
        seq_len = c2.select_slider("Sequence length (tokens)", parts.SEQ_LENS, value=512,
                                   key="mem_seq", help=H["seq"], bind="query-params")
        r = st.select_slider("LoRA rank r", parts.RANKS, value=16, key="mem_rank",
                             help=H["rank"], bind="query-params")
        targets = st.multiselect("LoRA target modules", parts.TARGETS,
                                 default=["q_proj", "v_proj"], key="mem_targets",
                                 help=H["targets"], bind="query-params")
        checkpointing = st.toggle("Gradient checkpointing", key="mem_ckpt", help=H["ckpt"],
                                  bind="query-params")
        double_quant = st.toggle("Double quantization (QLoRA)", value=True, key="mem_dq",
                                 help=H["dq"], bind="query-params")
    settings = dict(batch_size=batch, seq_len=seq_len, r=r, target_modules=tuple(targets),
                    optimizer=optimizer, gradient_checkpointing=checkpointing,
                    compute_dtype=dtype, double_quant=double_quant)
    key = tuple(sorted(settings.items()))  # the cached pictures' key
    try:
        estimates = figs.estimates(name, key)
    except ValueError as error:
        fail(f"{error}. Pick at least one target module that {name} has.")
    chosen = estimates[method]
    with right:
        fits = core.fitting_gpus(chosen.total)
        m1, m2, m3 = st.columns(3)
        m1.metric("Estimated peak memory", f"{parts.gb(chosen.total)} GB")
        m2.metric("Trainable parameters", f"{chosen.trainable:,}")
        m3.metric("Smallest common GPU that fits", f"{fits[0]} GB" if fits else "none (over 80 GB)")
        plot_styled(figs.stacked_bar(name, key, method), key="mem_chart")
        if optimizer == "paged-adamw-8bit":
            st.info("Paged AdamW 8-bit holds exactly the bytes of AdamW 8-bit, so the bars do "
                    "not change: paging decides *where* the states sit when a spike fills the "
                    "GPU (section 4), not how big they are.", icon=":material/swap_vert:")
    for line in parts.formulas(arch, method, chosen, settings):
        st.latex(line)
    with st.expander("What each term means, and which GPUs each method fits"):
        st.markdown(read_asset("qlora_memory_terms.md"))
        st.markdown(md_table(parts.gpu_table(estimates)))

    st.header("3. How QLoRA saves memory: the data flow")
    plot_styled(figs.data_flow(name, key), key="mem_flow")
    st.markdown(read_asset("qlora_memory_flow.md"))

    st.header("4. Paged optimizers: what they do in a spike")
    st.markdown(read_asset("qlora_memory_paged.md"))
    parts.spike_section(name, key)

    st.header("5. The notes' memory figures, checked")
    parts.claims_section(key)

    st.header("6. The code for these settings")
    st.code(core.training_config_code(method, r, tuple(targets), dtype, double_quant, optimizer,
                                      checkpointing, batch, model=parts.model_id(arch)),
            language="python")

st.markdown(read_asset("qlora_memory_why.md"))
show_code(core.estimate_training_memory, core.activation_bytes, core.layer_activation_parts,
          core.weight_bytes, core.optimizer_bytes, core.spike_step, core.where_claim_holds)
self_check("qlora_memory")
