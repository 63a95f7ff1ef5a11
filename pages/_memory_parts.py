"""Pieces of the QLoRA-and-memory page: option labels, help texts, the filled-in formulas
and the tables. UI helpers only; the numbers come from core.memory."""

from __future__ import annotations

import streamlit as st

from core import memory as core
from core.params import transformer_param_count
from pages._ui import md_table

# Widget options are the labels themselves (they are what a shared link carries).
METHODS = {"full": "Full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}
METHOD_OF = {label: method for method, label in METHODS.items()}
OPTIMIZER_OF = {"AdamW (32-bit)": "adamw", "AdamW 8-bit": "adamw-8bit",
                "Paged AdamW 8-bit": "paged-adamw-8bit"}
DTYPES = {"fp16": "fp16", "bf16": "bf16", "fp32": "fp32"}  # fp16 first: the notes' choice
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
BATCHES = (1, 2, 4, 8, 16, 32, 64)
SEQ_LENS = (128, 256, 512, 1024, 2048, 4096, 8192)
RANKS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CLAIM_ARCH = "Llama-2 7B"
FITS, YES, NO = ":green[**fits**]", ":green[**yes**]", ":red[no]"  # colour, not emoji fonts

HELP = {
    "preset": "The model whose memory is estimated (published config numbers). Every "
              "section below uses it except the notes' claims, which have their own model box.",
    "method": "Full fine-tuning trains every weight; LoRA freezes the model and trains small "
              "adapters; QLoRA also stores the frozen weights in 4-bit NF4. Watch the ◀ bar.",
    "dtype": "The dtype the matmuls run in and the frozen weights are held in (LoRA, full). "
             "bf16 or fp16 on a GPU (2 bytes); fp32 doubles weights and activations.",
    "batch": "Sequences per step. Activations (teal) grow in proportion; usual values 1-16. "
             "Watch the teal segment.",
    "seq": "Tokens per sequence. Activations grow in proportion (and the logits with it); "
           "512-2048 is usual for chat data.",
    "optimizer": "AdamW keeps two fp32 states per trainable parameter (8 bytes); 8-bit AdamW "
                 "keeps them in about 2 bytes. Paged 8-bit holds the same bytes as 8-bit: "
                 "paging only moves them to CPU RAM during a spike (section 4).",
    "rank": "LoRA's rank r: adapter size r·(d_in + d_out) per matrix. 8-64 is usual; the "
            "adapters stay tiny next to the frozen model at any of these.",
    "ckpt": "Keep only each layer's input and recompute the rest during the backward pass: "
            "activations shrink by roughly the number of layers, at about 30% more compute.",
    "dq": "QLoRA only: store the per-block absmax constants in 8 bits as well (4.127 instead "
          "of 4.5 bits per weight).",
    "targets": "The linear layers that get adapters (peft's target_modules). More targets: "
               "more trainable parameters and more saved adapter inputs.",
    "gpu": "The GPU's memory for the spike picture (the red dashed line).",
    "spike": "The length of the one long batch that causes the spike (the usual length is "
             "the one set in section 2). Longer: more activations in that step.",
    "spike_method": "Which training the spike hits. Paging can only move optimizer states, "
                    "so it matters when they are large (full fine-tuning), hardly for LoRA.",
    "claim_model": "The model the notes' figures are checked on (they speak of a 7B model).",
}


def gb(n: float) -> str:
    return f"{n / core.GB:,.2f}"


def tex_int(n: int) -> str:
    return f"{n:,}".replace(",", r"{,}")


def formulas(arch, method: str, e: core.MemoryEstimate, s: dict) -> list[str]:
    """The estimate's formulas (LaTeX) with this model's and these settings' numbers."""
    b_c = core.BYTES[s["compute_dtype"]]
    P, Pt = transformer_param_count(arch), e.trainable
    if method == "full":
        master = (rf" + 4P = {gb(e.optimizer_states)} + {gb(e.master_weights)}"
                  if e.master_weights else "")
        lines = [
            rf"\text{{weights}} = P \cdot {b_c} = {tex_int(P)} \cdot {b_c}\,\text{{B}} = {gb(e.weights)}\text{{ GB}}",
            rf"\text{{gradients}} = P \cdot {b_c} = {gb(e.gradients)}\text{{ GB}}",
            rf"\text{{optimizer}} = \text{{states}}(P){master} = {gb(e.optimizer)}\text{{ GB}}",
        ]
    else:
        fmt = s["compute_dtype"] if method == "lora" else ("nf4-dq" if s["double_quant"] else "nf4")
        lines = [
            rf"\text{{weights}} = \text{{frozen}}_{{\text{{{fmt}}}}} + 4P_t = "
            rf"{gb(e.frozen_weights)} + 4 \cdot {tex_int(Pt)}\,\text{{B}} = {gb(e.weights)}\text{{ GB}}",
            rf"\text{{gradients}} = 4P_t = {gb(e.gradients)}\text{{ GB}}",
            rf"\text{{optimizer}} = \text{{states}}(P_t) = {gb(e.optimizer)}\text{{ GB}}",
        ]
    terms = core.activation_terms(arch, s["batch_size"], s["seq_len"], s["compute_dtype"],
                                  s["gradient_checkpointing"], "sdpa",
                                  None if method == "full" else s["target_modules"], s["r"])
    layer = terms.layer
    b, seq, L = s["batch_size"], s["seq_len"], arch.num_layers
    if terms.checkpointing:
        kept = rf"{b} \cdot {seq} \cdot ({L} \cdot {arch.hidden_size} \cdot {b_c} + {tex_int(layer.total)})"
    else:
        kept = rf"{b} \cdot {seq} \cdot {L} \cdot {tex_int(layer.total)}"
    lines += [rf"a_\text{{layer}} = {' + '.join(layer.symbols)}",
              rf"= {' + '.join(layer.numbers)} = {tex_int(layer.total)}\text{{ B per token}}",
              rf"\text{{activations}} = {terms.formula} = {kept} + {tex_int(terms.logits)} "
              rf"= {gb(terms.total)}\text{{ GB}}",
              rf"\text{{overhead}} = 0.5\text{{ GB}} + 5\% = {gb(e.overhead)}\text{{ GB}}",
              rf"\textbf{{total}} = {gb(e.total)}\text{{ GB}}"]
    return lines


def gpu_table(estimates: dict) -> dict:
    rows = {"GPU memory": [f"{size} GB" for size in core.GPUS],
            "e.g.": list(core.GPUS.values())}
    for method, e in estimates.items():
        fits = core.fitting_gpus(e.total)
        rows[METHODS[method]] = [FITS if size in fits else "—" for size in core.GPUS]
    return rows


def _setting_words(check: core.ClaimCheck) -> str:
    s = dict(check.settings)
    words = f"{check.compute_dtype}, batch {s['batch_size']} × {s['seq_len']} tokens"
    return words + (", checkpointing" if s["gradient_checkpointing"] else "")


@st.cache_data(show_spinner=False, max_entries=256)
def claim_examples(name: str, claim: core.NotesClaim, half: str,
                   fixed: tuple) -> tuple[core.ClaimCheck, ...]:
    """The first two settings of core.CLAIM_GRID under which ``claim`` holds (the grid sets
    batch, length, checkpointing and dtype, so only ``fixed``'s r, targets, ... matter)."""
    from core.params import ARCHITECTURES

    return core.where_claim_holds(ARCHITECTURES[name], claim, half, **dict(fixed))[:2]


@st.cache_data(show_spinner=False, max_entries=64)
def claims(name: str, settings: tuple) -> tuple[dict, tuple, tuple]:
    """(table of the notes' claims, lines for the bands picture, their batch sizes) for ``arch``:
    the estimate at these settings (LoRA in fp32 and in 16 bits, QLoRA in 16 bits), whether
    it holds, and the plainest settings of core.CLAIM_GRID under which it does."""
    from core.params import ARCHITECTURES

    arch, settings = ARCHITECTURES[name], dict(settings)
    half = settings["compute_dtype"] if settings["compute_dtype"] != "fp32" else "bf16"
    fixed = {k: v for k, v in settings.items() if k != "compute_dtype"}

    def estimate(method, dtype, **over):
        return core.estimate_training_memory(arch, method, compute_dtype=dtype,
                                             **{**fixed, **over})

    table = {"the notes say": [], "estimate here (GB)": [], "holds here": [],
             "holds, for example, at": []}
    for claim in core.NOTES_CLAIMS:
        dtypes = ("fp32", half) if claim.method == "lora" else (half,)
        here = [estimate(claim.method, d).total / core.GB for d in dtypes]
        found = claim_examples(name, claim, half, tuple(sorted(
            (k, v) for k, v in fixed.items() if k not in core.CLAIM_GRID)))
        table["the notes say"].append(claim.text)
        table["estimate here (GB)"].append(" / ".join(f"{g:.1f}" for g in here)
                                           + (" (fp32 / 16-bit)" if len(here) == 2 else ""))
        table["holds here"].append(YES if any(claim.low_gb <= g <= claim.high_gb for g in here)
                                   else NO)
        table["holds, for example, at"].append(
            "; ".join(f"{_setting_words(c)} ({c.gb:.1f} GB)" for c in found)
            or "none of the settings tried")
    batches = BATCHES[:5]
    series = tuple((label, method, tuple(estimate(method, dtype, batch_size=b).total / core.GB
                                         for b in batches))
                   for label, method, dtype in (("LoRA, model in fp32", "lora", "fp32"),
                                                ("LoRA, 16-bit", "lora", half),
                                                ("QLoRA, 16-bit", "qlora", half)))
    return table, series, batches


@st.cache_data(show_spinner=False, max_entries=32)
def format_rows(name: str) -> dict:
    from core.params import ARCHITECTURES

    arch = ARCHITECTURES[name]
    P = transformer_param_count(arch)
    sizes = {fmt: core.weight_bytes(arch, fmt) for fmt in core.FORMATS}
    return {"format": list(sizes), "GB": [gb(n) for n in sizes.values()],
            "bits per parameter": [f"{8 * n / P:.3f}" for n in sizes.values()]}


def model_id(arch) -> str:
    """The hub id the preset's numbers come from, for the generated code."""
    first = arch.source.split()[0] if arch.source else ""
    return first if "/" in first else "MODEL_ID"


def size_words(n: int) -> str:
    return f"{n / core.GB:,.2f} GB" if n >= 0.1 * core.GB else f"{n / 1024**2:,.1f} MB"


@st.fragment
def spike_section(name: str, settings: tuple) -> None:
    """Section 4: one long batch, with AdamW 8-bit and with Paged AdamW 8-bit."""
    from pages import _memory_figures as figs
    from pages._charts import plot_styled

    c1, c2, c3 = st.columns([3, 2, 2])
    method = METHOD_OF[c1.radio("Training hit by the spike", list(METHOD_OF), index=0,
                                horizontal=True, key="mem_spike_method",
                                help=HELP["spike_method"], bind="query-params")]
    gpu = c2.select_slider("GPU memory (GB)", list(core.GPUS), value=80, key="mem_gpu",
                           help=HELP["gpu"], bind="query-params")
    spike = c3.select_slider("Long batch: tokens per sequence", SEQ_LENS, value=4096,
                             key="mem_spike", help=HELP["spike"], bind="query-params")
    try:
        plain, paged = figs.spike_steps(name, settings, method, gpu, spike)
    except ValueError as error:
        st.error(f"{error}.", icon=":material/error:")
        return
    plot_styled(figs.spike_bars(name, settings, method, gpu, spike), key="mem_spike_chart")
    same = "the same bytes" if plain.usual.total == paged.usual.total else "different bytes"
    if plain.fits:
        verdict = "fits without paging, so paging moves nothing"
    elif paged.fits:
        verdict = (f"is out of memory with AdamW 8-bit; the paged optimizer moves "
                   f"**{size_words(paged.paged_out)}** of its "
                   f"{size_words(paged.spike.optimizer_states)} of states to CPU RAM and the "
                   "step runs (slower: the states travel over PCIe and back)")
    else:
        verdict = (f"is out of memory either way: paging can move at most the "
                   f"{size_words(paged.spike.optimizer_states)} of optimizer states, and the "
                   f"step needs {size_words(paged.on_gpu - paged.gpu_bytes)} more than that")
    st.markdown(
        f"{METHODS[method]} of {name}: the usual step ({dict(settings)['seq_len']} tokens) "
        f"needs **{gb(plain.usual.total)} GB** with either optimizer ({same}). The spike "
        f"({spike} tokens) needs **{gb(plain.spike.total)} GB** and {verdict}.")


@st.fragment
def claims_section(settings: tuple) -> None:
    """Section 5: every memory figure of the notes against the estimate."""
    from core.params import ARCHITECTURES
    from pages import _memory_figures as figs
    from pages._charts import plot_styled
    from pages._ui import read_asset

    presets = list(ARCHITECTURES)
    name = st.selectbox("Model for the notes' figures", presets, presets.index(CLAIM_ARCH),
                        key="mem_claim_model", help=HELP["claim_model"], bind="query-params")
    try:
        table, series, batches = claims(name, settings)
    except ValueError as error:
        st.error(f"{error}. Pick target modules that {name} has.", icon=":material/error:")
        return
    plot_styled(figs.claims_figure(series, batches), key="mem_claims_chart")
    st.caption(f"Lines: {name} at {dict(settings)['seq_len']} tokens and the other settings of "
               "section 2, batch sizes 1-16. A figure holds where a line of its method crosses "
               "its band.")
    st.markdown(md_table(table))
    st.markdown(read_asset("qlora_memory_claim.md"))
