"""§6 Where fine-tuning sits: pretraining -> SFT -> preference tuning, PEFT's four promises,
prompting against full fine-tuning, LoRA and QLoRA, why fine-tune, and the risks."""

import streamlit as st

from core import pipeline as core
from core.memory import GB, GPUS
from core.params import ARCHITECTURES
from pages import _pipeline_parts as parts
from pages._charts import plot_styled
from pages._memory_parts import md_table
from pages._ui import fail, fmt_bytes, lesson_link, read_asset, self_check, shareable_state

st.title("Where fine-tuning sits")
st.markdown(read_asset("pipeline.md"))

with shareable_state("pipe"):
    st.header("1. From web text to a chat assistant")
    stage = st.segmented_control(
        "Stage", list(parts.stages()), default="sft", required=True, key="pipe_stage",
        format_func=lambda key: parts.stages()[key]["title"], bind="query-params",
        help="Which stage the picture highlights and the cards below describe: what it changes, "
        "its data, its cost. The course's LoRA and QLoRA live in stage 2.",
    )  # fmt: skip
    plot_styled(parts.diagram(stage), key="pipe_diagram")
    stage = stage or "sft"  # an empty value in the address bar: the default stage
    parts.stage_card(stage)
    plot_styled(parts.compute_figure(), key="pipe_compute_chart")
    st.caption("Ouyang et al. 2022 (InstructGPT), section 5.1: aligning GPT-3 cost a small "
               "fraction of pretraining it.")  # fmt: skip

    st.header("2. PEFT: four promises")
    st.markdown(read_asset("pipeline_peft.md"))
    model = st.selectbox(
        "Model", list(ARCHITECTURES), index=list(ARCHITECTURES).index("Llama-2 7B"),
        key="pipe_model", bind="query-params",
        help="The model the promises and the decision guide below are computed for (Llama-2 7B "
        "is the notes' example; SmolLM2-135M is the lab's).",
    )  # fmt: skip
    arch = ARCHITECTURES[model]
    p = core.promises(arch)
    c = st.columns(4)
    c[0].metric("Fewer trainable parameters", f"{p.trainable:,}", help=f"of {p.total:,}")
    c[0].caption(f"{p.trainable_share:.3%} of {p.total:,}")
    c[1].metric("Less memory (QLoRA)", f"{p.qlora_memory / GB:,.1f} GB")
    c[1].caption(f"full fine-tuning: {p.full_memory / GB:,.1f} GB")
    c[2].metric("Less storage per task", fmt_bytes(p.adapter_bytes))
    c[2].caption(f"a full bf16 copy: {fmt_bytes(p.full_copy_bytes)}")
    c[3].metric("Less forgetting", "W₀ frozen")
    c[3].caption("removing the adapter gives the base model back exactly")
    for column, (file, label) in zip(c, parts.PROMISE_LINKS, strict=True):
        lesson_link(file, label, where=column)
    st.caption("The notes' wording: reduce computational cost, less memory, speed up the "
               "process, maintain the model's performance.")  # fmt: skip

    st.header("3. Prompting, full fine-tuning, LoRA or QLoRA?")
    c1, c2, c3 = st.columns(3)
    gpu = c1.select_slider(
        "GPU memory (GB)", list(GPUS), value=24, key="pipe_gpu", bind="query-params",
        help="The card you have (8-80 GB). Watch which methods fit in the table.",
    )  # fmt: skip
    data = c2.radio(
        "Labeled pairs you have", list(core.DATA), index=2, format_func=core.DATA.get,
        key="pipe_data", bind="query-params",
        help="SFT needs a few hundred good prompt → response pairs; with fewer, prompt.",
    )  # fmt: skip
    goal = c3.radio(
        "What must change", list(core.GOALS), format_func=core.GOALS.get, key="pipe_goal",
        bind="query-params",
        help="Fine-tuning teaches behaviour (format, domain, skill); facts that change belong in "
        "the prompt.",
    )  # fmt: skip
    try:
        rec = core.recommend(arch, gpu, data, goal)
    except ValueError as error:
        fail(error)
    st.success(f"**{parts.CHOICE_LABELS[rec.choice]}.** {rec.reason}", icon=":material/route:")
    st.markdown(md_table(parts.fit_table(rec)))
    st.caption("Estimated peak training memory at batch 1, 512 tokens, r = 16 on q_proj and "
               "v_proj, AdamW: the memory lesson's estimate.")  # fmt: skip
    st.markdown(read_asset("pipeline_guide.md"))

st.header("4. Why fine-tune at all")
st.markdown(read_asset("pipeline_why.md"))
lesson_link(
    "finetune.py", "Fine-tune lab: teach a model one JSON format", ":material/model_training:"
)

st.header("5. Risks, and where to see them")
for column, risk in zip(st.columns(2) + st.columns(2), parts.risks(), strict=True):
    with column.container(border=True, height="stretch"):
        st.markdown(f"**{risk['risk']}.** {risk['text']}")
        lesson_link(risk["file"], risk["link"], risk["icon"])
self_check("pipeline")
