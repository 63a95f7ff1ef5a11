"""Pieces of the QLoRA-and-memory page: labels, the filled-in formulas, the stacked bar and
the tables. UI helpers only; the numbers come from core.memory."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core import memory as core
from core.params import transformer_param_count

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
COLORS = {"weights": "#4c78a8", "gradients": "#f58518", "optimizer": "#e45756",
          "activations": "#72b7b2", "overhead": "#bab0ac"}
CLAIM_ARCH = "Llama-2 7B"
FITS, YES, NO = ":green[**fits**]", ":green[**yes**]", ":red[no]"  # colour, not emoji fonts


def md_table(columns: dict) -> str:
    """A markdown table from {header: [values]} (a fraction of st.dataframe's cost)."""
    rows = [list(columns), ["---"] * len(columns)]
    rows += [list(map(str, row)) for row in zip(*columns.values(), strict=True)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def gb(n: float) -> str:
    return f"{n / core.GB:,.2f}"


def tex_int(n: int) -> str:
    return f"{n:,}".replace(",", r"{,}")


def formulas(arch, method: str, e: core.MemoryEstimate, s: dict) -> list[str]:
    """The estimate's formulas (LaTeX) with this model's and these settings' numbers."""
    b_c = core.BYTES[s["compute_dtype"]]
    P, Pt = transformer_param_count(arch), e.trainable
    if method == "full":
        master = r" + 4P" if b_c == 2 else ""
        lines = [
            rf"\text{{weights}} = P \cdot {b_c} = {tex_int(P)} \cdot {b_c}\,\text{{B}} = {gb(e.weights)}\text{{ GB}}",
            rf"\text{{gradients}} = P \cdot {b_c} = {gb(e.gradients)}\text{{ GB}}",
            rf"\text{{optimizer}} = \text{{states}}(P){master} = {gb(e.optimizer)}\text{{ GB}}",
        ]
    else:
        fmt = s["compute_dtype"] if method == "lora" else ("nf4-dq" if s["double_quant"] else "nf4")
        lines = [
            rf"\text{{weights}} = \text{{frozen}}_{{\text{{{fmt}}}}} + 4P_t = "
            rf"{gb(e.weights - 4 * Pt)} + 4 \cdot {tex_int(Pt)}\,\text{{B}} = {gb(e.weights)}\text{{ GB}}",
            rf"\text{{gradients}} = 4P_t = {gb(e.gradients)}\text{{ GB}}",
            rf"\text{{optimizer}} = \text{{states}}(P_t) = {gb(e.optimizer)}\text{{ GB}}",
        ]
    targets = None if method == "full" else s["target_modules"]
    layer = core.layer_activation_bytes(arch, s["seq_len"], s["compute_dtype"], "sdpa", targets, s["r"])
    logits = core.logits_bytes(arch, s["batch_size"], s["seq_len"], s["compute_dtype"])
    b, seq, L = s["batch_size"], s["seq_len"], arch.num_layers
    if s["gradient_checkpointing"]:
        kept = rf"{b} \cdot {seq} \cdot ({L} \cdot {arch.hidden_size} \cdot {b_c} + {tex_int(layer)})"
    else:
        kept = rf"{b} \cdot {seq} \cdot {L} \cdot {tex_int(layer)}"
    h, i = arch.hidden_size, arch.intermediate_size
    q, kv = arch.num_heads * arch.head_dim, arch.num_kv_heads * arch.head_dim
    if method == "full":  # a_layer: the formula, then this model's numbers
        symbols = rf"8h + (4h + 2q + 2kv + 4i) \cdot {b_c}"
        numbers = rf"8 \cdot {h} + ({4 * h} + {2 * q} + {2 * kv} + {4 * i}) \cdot {b_c}"
    else:
        adapters = layer - 8 * h - (2 * q + 2 * kv + 3 * i) * b_c - 4 * arch.num_heads
        symbols = rf"8h + (2q + 2kv + 3i) \cdot {b_c} + 4\textstyle\sum_\text{{targets}} (d_\text{{in}} + r)"
        numbers = rf"8 \cdot {h} + ({2 * q} + {2 * kv} + {3 * i}) \cdot {b_c} + {tex_int(adapters)}"
    lines += [rf"a_\text{{layer}} = {symbols}",
              rf"= {numbers} \approx {tex_int(layer)}\text{{ B per token}}"]
    lines += [
        rf"\text{{activations}} = b \cdot s \cdot L \cdot a_\text{{layer}} + \text{{logits}} = "
        rf"{kept} + {tex_int(logits)} = {gb(e.activations)}\text{{ GB}}",
        rf"\text{{overhead}} = 0.5\text{{ GB}} + 5\% = {gb(e.overhead)}\text{{ GB}}",
        rf"\textbf{{total}} = {gb(e.total)}\text{{ GB}}",
    ]
    return lines


@st.cache_resource(show_spinner=False, max_entries=64)
def stacked_bar(estimates: dict, chosen: str) -> go.Figure:
    """Full, LoRA and QLoRA side by side, one stack per component, GPU sizes as lines.
    (Built from plain dicts: plotly's add_hline/add_annotation cost ~20 ms each; cached as
    one shared object, which plot() only restyles the same way each time.)"""
    names = [METHODS[m] for m in estimates]
    bars = [dict(type="bar", x=names, y=[getattr(e, part) / core.GB for e in estimates.values()],
                 name=part, marker=dict(color=color),
                 hovertemplate="%{x}: %{y:.2f} GB<extra>" + part + "</extra>")
            for part, color in COLORS.items()]
    top = max(e.total for e in estimates.values()) / core.GB
    sizes = [size for size in core.GPUS if size <= top * 1.15]
    lines = [dict(type="line", xref="paper", x0=0, x1=1, y0=size, y1=size,
                  line=dict(dash="dot", color="gray")) for size in sizes]
    labels, last = [], -top
    for size in sizes:  # label a line only where it does not overprint the one below
        if size - last >= 0.06 * top:
            labels.append(dict(xref="paper", x=1, y=size, text=f"{size} GB", showarrow=False,
                               xanchor="left"))
            last = size
    labels += [dict(x=METHODS[m], y=e.total / core.GB, showarrow=False, yshift=14,
                    text=f"<b>{e.total / core.GB:.1f} GB</b>" + (" ◀" if m == chosen else ""))
               for m, e in estimates.items()]
    layout = dict(barmode="stack", title=dict(text="Training memory by component"),
                  yaxis=dict(title=dict(text="GB (1 GB = 1024³ bytes)")),
                  shapes=lines, annotations=labels, legend=dict(traceorder="normal"))
    return go.Figure(dict(data=bars, layout=layout))


def gpu_table(estimates: dict) -> dict:
    rows = {"GPU memory": [f"{size} GB" for size in core.GPUS],
            "e.g.": list(core.GPUS.values())}
    for method, e in estimates.items():
        fits = core.fitting_gpus(e.total)
        rows[METHODS[method]] = [FITS if size in fits else "—" for size in core.GPUS]
    return rows


@st.cache_data(show_spinner=False, max_entries=256)
def claims_table(arch, settings: dict) -> tuple[dict, dict]:
    """The notes' claims at these settings, and across batch sizes (18 estimates: cached)."""
    checks = core.check_claims(arch, **settings)
    at_settings = {"claim": [c.claim for c in checks],
                   "estimate (GB)": [f"{c.gb:.1f}" for c in checks],
                   "claimed (GB)": [f"{c.low_gb:g}-{c.high_gb:g}" for c in checks],
                   "holds": [YES if c.holds else NO for c in checks]}
    by_batch = {"batch size": list(BATCHES[:5])}
    for i, c in enumerate(checks):
        column = []
        for batch in BATCHES[:5]:
            other = core.check_claims(arch, **{**settings, "batch_size": batch})[i]
            column.append(f":green[**{other.gb:.1f}**]" if other.holds else f"{other.gb:.1f}")
        by_batch[c.claim] = column
    return at_settings, by_batch


def format_table(arch) -> dict:
    P = transformer_param_count(arch)
    sizes = {fmt: core.weight_bytes(arch, fmt) for fmt in core.FORMATS}
    return {"format": list(sizes), "GB": [gb(n) for n in sizes.values()],
            "bits per parameter": [f"{8 * n / P:.3f}" for n in sizes.values()]}


def model_id(arch) -> str:
    """The hub id the preset's numbers come from, for the generated code."""
    first = arch.source.split()[0] if arch.source else ""
    return first if "/" in first else "MODEL_ID"
