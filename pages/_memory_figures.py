"""The QLoRA-and-memory page's pictures: the stacked bar, QLoRA's data flow, a memory spike
with and without a paged optimizer, and the notes' claims as bands. Cached builders, styled
inside (numbers from core.memory)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core import memory as core
from core.params import ARCHITECTURES
from pages._charts import chart_layout, diagram_arrow, diagram_box, diagram_figure

# The builders take the preset's name and the settings as a sorted tuple of items: cheap to
# hash for the cache (a dataclass argument would be pickled on every rerun).

METHODS = {"full": "Full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}
COLORS = {"frozen weights": "#4c78a8", "adapters": "#9d755d", "gradients": "#f58518",
          "optimizer": "#e45756", "activations": "#72b7b2", "overhead": "#bab0ac"}
FROZEN, TRAINED, GRAD = "#8c8c8c", "#e4572e", "#d62728"


def parts_of(e: core.MemoryEstimate) -> dict[str, int]:
    """The bar's segments: core's components with the weights split as core splits them."""
    return {"frozen weights": e.frozen_weights, "adapters": e.adapter_weights,
            "gradients": e.gradients, "optimizer": e.optimizer, "activations": e.activations,
            "overhead": e.overhead}


def _gpu_lines(top: float) -> tuple[list, list]:
    sizes = [size for size in core.GPUS if size <= top * 1.15]
    lines = [dict(type="line", xref="paper", x0=0, x1=1, y0=size, y1=size,
                  line=dict(dash="dot", color="gray")) for size in sizes]
    labels, last = [], -top
    for size in sizes:  # label a line only where it does not overprint the one below
        if size - last >= 0.06 * top:
            labels.append(dict(xref="paper", x=1, y=size, text=f"{size} GB", showarrow=False,
                               xanchor="left"))
            last = size
    return lines, labels


def estimates(name: str, settings: tuple) -> dict[str, core.MemoryEstimate]:
    """core.estimate_training_memory for full, LoRA and QLoRA at these settings."""
    return {m: core.estimate_training_memory(ARCHITECTURES[name], m, **dict(settings))
            for m in METHODS}


@st.cache_resource(show_spinner=False, max_entries=64)
def stacked_bar(name: str, settings: tuple, chosen: str) -> go.Figure:
    """Full, LoRA and QLoRA side by side, one stack per component, GPU sizes as lines."""
    estimates_ = estimates(name, settings)
    names = [METHODS[m] for m in estimates_]
    bars = [dict(type="bar", x=names, y=[parts_of(e)[part] / core.GB for e in estimates_.values()],
                 name=part, marker=dict(color=color),
                 hovertemplate="%{x}: %{y:.2f} GB<extra>" + part + "</extra>")
            for part, color in COLORS.items()]
    top = max(e.total for e in estimates_.values()) / core.GB
    lines, labels = _gpu_lines(top)
    labels += [dict(x=METHODS[m], y=e.total / core.GB, showarrow=False, yshift=14,
                    text=f"<b>{e.total / core.GB:.1f} GB</b>" + (" ◀" if m == chosen else ""))
               for m, e in estimates_.items()]
    layout = chart_layout(470)
    layout.update(barmode="stack", title=dict(text="Training memory by component"),
                  yaxis=dict(title=dict(text="GB (1 GB = 1024³ bytes)")),
                  shapes=lines, annotations=labels, legend=dict(traceorder="normal"))
    return go.Figure(dict(data=bars, layout=layout))


def _size(n: int) -> str:
    return f"{n / core.GB:.2f} GB" if n >= 0.1 * core.GB else f"{n / 1024**2:,.1f} MB"


@st.cache_resource(show_spinner=False, max_entries=64)
def data_flow(name: str, settings: tuple) -> go.Figure:
    """QLoRA's forward and backward pass through one adapted layer: NF4 storage, per-block
    dequantization, the matmul in the compute dtype, the adapters beside it, gradients into
    the adapters only, the optimizer states, and where a paged optimizer moves them."""
    arch, s = ARCHITECTURES[name], dict(settings)
    e = core.estimate_training_memory(arch, "qlora", **s)
    nf4_bytes = core.weight_bytes(arch, "nf4-dq" if s["double_quant"] else "nf4")
    bf16_bytes = core.weight_bytes(arch, "bf16")
    dtype, r = s["compute_dtype"], s["r"]
    items = []

    def box(x0, y0, x1, y1, text, colour, dash="solid"):
        shape, label = diagram_box(x0, y0, x1, y1, text, fill=colour + "33", line=colour,
                                   dash=dash, size=15)
        items.extend([shape, label])

    top, low = (4.2, 6.0), (0.6, 2.4)  # the frozen row and the adapter row
    box(0.0, 2.9, 0.9, 3.7, "x", "#4c78a8")
    box(1.6, *top[:1], 5.0, top[1], f"<b>W₀ in NF4</b><br>4-bit codes + absmax<br>"
        f"{_size(nf4_bytes)} (16-bit: {_size(bf16_bytes)})", FROZEN)
    box(5.8, top[0], 9.0, top[1], f"<b>dequantize</b><br>one block of {core.NF4_BLOCK}<br>"
        "4 → 16 bit", FROZEN)
    box(9.8, top[0], 13.0, top[1], f"<b>x·W₀ᵀ</b><br>matmul in {dtype}", FROZEN)
    box(1.6, low[0], 5.0, low[1], f"<b>A</b> (r × d_in)<br>r = {r}, trainable", TRAINED)
    box(5.8, low[0], 9.0, low[1], "<b>B</b> (d_out × r)<br>trainable, starts at 0", TRAINED)
    box(9.8, low[0], 13.0, low[1], f"<b>× α/r</b><br>adapters: {_size(e.adapter_weights)}",
        TRAINED)
    box(13.8, 2.9, 14.6, 3.7, "+", "#4c78a8")
    box(15.3, 2.8, 17.3, 3.8, "h → loss", "#4c78a8")
    box(1.6, -2.7, 9.0, -0.9, f"<b>gradients</b> {_size(e.gradients)} → <b>optimizer states"
        f"</b> (m, v)<br>{_size(e.optimizer_states)}, for A and B only", TRAINED)
    box(11.0, -2.7, 17.3, -0.9, "<b>CPU RAM</b> (paged optimizer only):<br>states evicted "
        "here in a spike,<br>paged back for the optimizer step", "#7f7f7f", "dot")
    for x0, y0, x1, y1 in [(0.9, 3.5, 1.55, 5.1), (0.9, 3.1, 1.55, 1.5), (5.0, 5.1, 5.75, 5.1),
                           (9.0, 5.1, 9.75, 5.1), (13.0, 5.1, 14.0, 3.75), (5.0, 1.5, 5.75, 1.5),
                           (9.0, 1.5, 9.75, 1.5), (13.0, 1.5, 14.0, 2.85),
                           (14.6, 3.3, 15.25, 3.3)]:
        items += diagram_arrow(x0, y0, x1, y1, color="#555")
    # the backward pass: back along the bottom, kept only where it reaches A and B
    for x0, y0, x1, y1 in [(16.3, 2.75, 16.3, 0.2), (16.3, 0.2, 3.3, 0.2)]:
        items.append(dict(type="line", x0=x0, y0=y0, x1=x1, y1=y1,
                          line=dict(color=GRAD, width=2.5, dash="dash")))
    for x in (3.3, 7.4):
        items += diagram_arrow(x, 0.2, x, 0.55, color=GRAD)
    items += diagram_arrow(5.3, 0.2, 5.3, -0.85, color=GRAD)
    items.append(dict(x=11.6, y=-0.25, text="backward: gradients kept only for A and B",
                      showarrow=False, font=dict(size=15, color=GRAD)))
    items += diagram_arrow(9.0, -1.4, 10.95, -1.4, color="#7f7f7f", dash="dot")
    items += diagram_arrow(10.95, -2.2, 9.05, -2.2, color="#7f7f7f", dash="dot")
    items.append(dict(x=7.3, y=6.45, text="frozen: no gradient kept, no optimizer state",
                      showarrow=False, font=dict(size=15, color=FROZEN)))
    return diagram_figure(items, (-0.2, 17.5), (-2.9, 6.8), height=600,
                          title="QLoRA: one adapted layer, forward and backward")


def spike_steps(name: str, settings: tuple, method: str, gpu: int,
                spike: int) -> tuple[core.SpikeStep, core.SpikeStep]:
    """The spike with AdamW 8-bit and with Paged AdamW 8-bit (settings' optimizer ignored)."""
    usual = {k: v for k, v in settings if k != "optimizer"}
    arch = ARCHITECTURES[name]
    return (core.spike_step(arch, method, gpu, spike, "adamw-8bit", **usual),
            core.spike_step(arch, method, gpu, spike, "paged-adamw-8bit", **usual))


@st.cache_resource(show_spinner=False, max_entries=64)
def spike_bars(name: str, settings: tuple, method: str, gpu: int, spike: int) -> go.Figure:
    """The usual step and the spike with AdamW 8-bit and Paged AdamW 8-bit, on the GPU,
    plus what the paged optimizer moved to CPU RAM; the GPU's size as a line."""
    plain, paged = spike_steps(name, settings, method, gpu, spike)
    gb = core.GB
    columns = {"AdamW 8-bit<br>usual step": parts_of(plain.usual),
               "AdamW 8-bit<br>spike": parts_of(plain.spike),
               "Paged 8-bit<br>usual step": parts_of(paged.usual),
               "Paged 8-bit<br>spike, on GPU": parts_of(paged.gpu_at_spike)}
    names = list(columns)
    bars = [dict(type="bar", x=names, y=[c[part] / gb for c in columns.values()], name=part,
                 marker=dict(color=colour), hovertemplate="%{y:.2f} GB<extra>" + part + "</extra>")
            for part, colour in COLORS.items()]
    bars.append(dict(type="bar", x=["Paged 8-bit<br>spike, in CPU RAM"], y=[paged.paged_out / gb],
                     name="optimizer states in CPU RAM",
                     marker=dict(color=COLORS["optimizer"], pattern=dict(shape="/")),
                     hovertemplate="%{y:.2f} GB<extra>paged out</extra>"))
    totals = [plain.usual.total, plain.spike.total, paged.usual.total, paged.on_gpu]
    limit = plain.gpu_bytes / gb
    labels = [dict(x=name, y=t / gb, yshift=14, showarrow=False,
                   text=f"<b>{t / gb:.1f} GB</b>" + ("<br>out of memory" if t / gb > limit else ""),
                   font=dict(color="#d62728") if t / gb > limit else {})
              for name, t in zip(names, totals, strict=True)]
    labels.append(dict(x="Paged 8-bit<br>spike, in CPU RAM", y=paged.paged_out / gb, yshift=14,
                       showarrow=False, text=f"<b>{_size(paged.paged_out)}</b>"))
    labels.append(dict(xref="paper", x=0, y=limit, yshift=12, xanchor="left", showarrow=False,
                       text=f"{limit:g} GB GPU"))
    layout = chart_layout(470)
    layout.update(barmode="stack", title=dict(text="One step with a long batch (a spike)"),
                  yaxis=dict(title=dict(text="GB"), range=[0, max(totals) / gb * 1.25]),
                  shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=limit, y1=limit,
                               line=dict(color="#d62728", dash="dash", width=2))],
                  annotations=labels, legend=dict(traceorder="normal"))
    return go.Figure(dict(data=bars, layout=layout))


BAND_COLORS = {"lora": "#4c78a8", "qlora": "#e45756"}


@st.cache_resource(show_spinner=False, max_entries=64)
def claims_figure(series: tuple, batches: tuple, claims: tuple = core.NOTES_CLAIMS) -> go.Figure:
    """Estimates across batch sizes as lines, the notes' claims as shaded bands: a claim
    holds where a line of its method runs through its band. ``series`` holds a line's
    (label, method, GB per batch size)."""
    data, shapes, notes = [], [], []
    for label, method, values in series:
        axis = "x" if method == "lora" else "x2"
        data.append(dict(type="scatter", mode="lines+markers", x=[str(b) for b in batches],
                         y=values, name=label, xaxis=axis, yaxis="y" if axis == "x" else "y2",
                         line=dict(width=3, dash="solid" if "fp32" not in label else "dot",
                                   color=BAND_COLORS[method])))
    for claim in claims:
        axis = "" if claim.method == "lora" else "2"
        shapes.append(dict(type="rect", xref=f"x{axis} domain", yref=f"y{axis}", x0=0, x1=1,
                           y0=claim.low_gb, y1=claim.high_gb, layer="below", line=dict(width=0),
                           fillcolor=BAND_COLORS[claim.method], opacity=0.13))
        ranged = "-" in claim.text  # a range's label at its bottom, a figure's at its top
        notes.append(dict(xref=f"x{axis} domain", yref=f"y{axis}", x=0.01, xanchor="left",
                          y=claim.low_gb + 0.3 if ranged else claim.high_gb - 0.3,
                          yanchor="bottom" if ranged else "top", showarrow=False,
                          text=claim.text, font=dict(size=15)))
    layout = chart_layout(440)
    top = max(max(values) for _, _, values in series)
    layout.update(
        title=dict(text="The notes' figures (bands) against the estimate (lines)"),
        xaxis=dict(domain=[0, 0.47], title=dict(text="batch size"), type="category"),
        xaxis2=dict(domain=[0.53, 1], title=dict(text="batch size"), type="category"),
        yaxis=dict(title=dict(text="GB"), range=[0, max(top, 75) * 1.05]),
        yaxis2=dict(anchor="x2", range=[0, 30]),
        shapes=shapes, annotations=notes, legend=dict(orientation="h", y=-0.25))
    return go.Figure(dict(data=data, layout=layout))


@st.cache_resource(show_spinner=False, max_entries=32)
def format_bars(name: str) -> go.Figure:
    """The model's weights alone in each format (core.weight_bytes), GB and bits/parameter."""
    from core.params import transformer_param_count

    arch = ARCHITECTURES[name]
    P = transformer_param_count(arch)
    sizes = {fmt: core.weight_bytes(arch, fmt) for fmt in core.FORMATS}
    bar = dict(type="bar", x=list(sizes), y=[n / core.GB for n in sizes.values()],
               marker=dict(color=["#4c78a8"] * 3 + ["#f58518"] + ["#e45756"] * 2),
               text=[f"{n / core.GB:,.2f} GB<br>{8 * n / P:.2f} bit" for n in sizes.values()],
               textposition="outside", hovertemplate="%{x}: %{y:.2f} GB<extra></extra>")
    layout = chart_layout(400)
    top = max(sizes.values()) / core.GB
    layout.update(title=dict(text=f"{arch.name}: the weights alone"), showlegend=False,
                  yaxis=dict(title=dict(text="GB"), range=[0, top * 1.3]))
    return go.Figure(dict(data=[bar], layout=layout))
