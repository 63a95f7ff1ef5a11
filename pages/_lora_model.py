"""Sections 5 and 6 of the LoRA page: where the adapters go in a whole model, and a trained
update from a lab run (low rank, for real). Fragments with their own controls."""

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core import lora as core
from core.params import ARCHITECTURES, linear_shapes
from pages import _lora_figures as figs
from pages._charts import plot_styled
from pages._lora_parts import DEFAULT_TARGETS, RANKS, TARGETS
from pages._ui import md_table, read_asset

HELP = {
    "model": "A preset with published config numbers. Llama-style models name their "
             "projections as peft's target_modules do; GPT-3 uses GPT-2's fused layout.",
    "rank": "r for every targeted module (LoraConfig(r=...)). Usual values 8-64.",
    "alpha": "lora_alpha for the generated LoraConfig. The scaling is α/r (section 2).",
    "target": "Give this linear layer an adapter (peft's target_modules). Watch its box in "
              "the block light up and the trainable count grow.",
    "run": "A finished fine-tune lab run that saved a LoRA adapter (newest first).",
    "module": "Which adapted matrix of the run to take apart: its layer and projection.",
}


def peft_snippet(r: int, alpha: float, targets) -> str:
    return (
        "from peft import LoraConfig, get_peft_model\n\n"
        f"config = LoraConfig(r={r}, lora_alpha={alpha:g}, lora_dropout=0.05,\n"
        f'                    target_modules={list(targets)!r}, task_type="CAUSAL_LM")\n'
        "model = get_peft_model(model, config)\n"
        "model.print_trainable_parameters()"
    )


def count_rows(counts, layers: int) -> dict:
    """The targeted modules' counts as a markdown table's columns (core.ModuleCount)."""
    rows = [m for m in counts if m.targeted]
    return {"module": [m.name for m in rows],
            "W (d_out × d_in)": [f"{m.d_out:,} × {m.d_in:,}" for m in rows],
            "LoRA per layer r·(d_in + d_out)": [f"{m.per_layer:,}" for m in rows],
            f"× {layers} layers": [f"{m.total:,}" for m in rows]}


@st.fragment
def whole_model() -> None:
    """Section 5: the targeted modules of one block and the model's trainable count."""
    c1, c2, c3 = st.columns([2, 2, 1])
    name = c1.selectbox("Model", list(ARCHITECTURES), index=1, key="lora_model",
                        help=HELP["model"], bind="query-params")
    r = c2.select_slider("Rank r of every adapter", RANKS, value=8, key="lora_model_rank",
                         help=HELP["rank"], bind="query-params")
    alpha = c3.number_input("α", 1, 1024, 16, key="lora_model_alpha", help=HELP["alpha"],
                            bind="query-params")
    arch = ARCHITECTURES[name]
    have = [t for t in TARGETS if t in linear_shapes(arch)]
    cols = st.columns(len(have))
    targets = tuple(t for col, t in zip(cols, have, strict=True)
                    if col.checkbox(TARGETS[t], t in DEFAULT_TARGETS, help=HELP["target"],
                                    key=f"lora_t_{t.split('_')[0]}", bind="query-params"))
    try:
        report = core.peft_report(arch, r, targets)
        counts = core.module_lora_counts(arch, r, targets)
    except ValueError as error:
        st.error(f"Nothing to train: {error}.", icon=":material/error:")
        return
    plot_styled(figs.block_diagram(name, r, targets), key="lora_block")
    trainable = core.model_lora_param_count(arch, r, targets)
    m1, m2, m3 = st.columns([2, 3, 2])
    m1.metric(f"Trainable at r = {r}", f"{trainable:,}")
    m2.metric("Model parameters", f"{report.all_params - report.trainable:,}")
    m3.metric("peft's trainable%", f"{report.share:.4%}")
    if arch.model_type == "gpt2":
        same = "the same count" if report.trainable == trainable else f"{report.trainable:,}"
        st.caption(
            "GPT-3 is counted as the LoRA paper counts it: W_q, W_k, W_v as three d × d "
            "pieces. In transformers' GPT-2 layout q, k, v are one fused c_attn (3d × d); peft "
            f"with target_modules={list(report.target_modules)!r} adapts that and reports "
            f"{same} (equal only for two of q, k, v, as the paper's q + v, or none). The snippet uses those names.")
    else:
        st.caption("This is what peft's print_trainable_parameters() reports for this model "
                   "and LoraConfig (tests check it against peft on the same configuration).")
    with st.expander("The count per module, and the LoraConfig"):
        st.markdown(md_table(count_rows(counts, arch.num_layers)))
        st.code(peft_snippet(r, alpha, report.target_modules), language="python")
    st.markdown(read_asset("lora_model.md"))


def _adapter_runs() -> list:
    """Finished lab runs that saved a LoRA adapter, newest first."""
    from core.finetune.runs import list_runs

    return [run for run in list_runs() if run.finished
            and (run.path / "adapter" / "adapter_model.safetensors").is_file()
            and (run.path / "adapter" / "adapter_config.json").is_file()]


def _run_label(run) -> str:
    c = run.config
    return f"{run.run_id} · {c.get('method', '?')} · {c.get('dataset', '?')} · r = {c.get('r', '?')}"


@st.cache_data(show_spinner=False, max_entries=64)
def _modules(adapter_dir: str, mtime: float) -> tuple[str, ...]:
    return core.adapter_modules(adapter_dir)


@st.fragment
def trained_update() -> None:
    """Section 6: a lab run's adapter, one matrix's B·A and its singular values."""
    runs = _adapter_runs()
    if runs:
        labels = {_run_label(run): run for run in runs}
        c1, c2 = st.columns(2)
        run = labels[c1.selectbox("Lab run", list(labels), key="lora_run", help=HELP["run"],
                                  bind="query-params")]
        adapter = run.path / "adapter"
        mtime = (adapter / "adapter_model.safetensors").stat().st_mtime
        try:
            modules = _modules(str(adapter), mtime)
            module = c2.selectbox("Adapted matrix", modules, key="lora_module",
                                  help=HELP["module"], bind="query-params")
            u = figs.update_summary(str(adapter), module, mtime)
        except ValueError as error:
            st.error(f"This run's adapter cannot be read: {error}.", icon=":material/error:")
            return
        title = f"ΔW = (α/r)·B·A of {module}: singular values"
    else:
        st.info("No finished lab run with a LoRA adapter yet. Start one in the fine-tune lab "
                "(lora or qlora; a few minutes on a CPU) and come back: this section then takes "
                "its real B·A apart.", icon=":material/science:")
        try:
            st.page_link("pages/finetune.py", label="Open the fine-tune lab",
                         icon=":material/model_training:")
        except StreamlitAPIException:  # the page run on its own, outside app.py's navigation
            st.markdown("[Open the fine-tune lab](finetune)")
        st.warning("Meanwhile, a stand-in made of **random numbers** (not a trained adapter): "
                   "A as peft initialises it, B drawn at random, for SmolLM2's 576 × 576 "
                   "q_proj at r = 8.", icon=":material/casino:")
        u = figs.update_summary("", "", 0.0)
        title = "Random stand-in: singular values of (α/r)·B·A"
    d_out, d_in = u["shape"]
    key = (str(adapter), module, mtime) if runs else ("", "", 0.0)
    plot_styled(figs.spectrum_figure(*key, title), key="lora_spectrum")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Rank r of A and B", u["r"])
    m2.metric("Numerical rank of ΔW", u["rank"])
    m3.metric(f"ΔW has d·k = {d_out:,} × {d_in:,}", f"{u['W0']:,}")
    m4.metric("A and B store r·(d + k)", f"{u['params']:,}", f"{u['share']:.2%} of W₀",
              delta_color="off", delta_arrow="off")
    tail = (f"the largest after the r-th is {u['tail']:.1e} of the largest: float rounding"
            if u["tail"] is not None else "the rest are zero, since rank(B·A) ≤ r")
    st.markdown(f"Scaling α/{'√r' if u['rslora'] else 'r'} = {u['scaling']:g}. Of the "
                f"{u['n_values']:,} singular values of this {d_out:,} × {d_in:,} update, "
                f"{u['rank']} are clearly non-zero and {tail}.")
    st.markdown(read_asset("lora_trained.md"))
