"""The LoRA page's pictures: the adapter path drawn to scale, where the adapters go in one
block, the three alpha/r rules, and a trained update's singular values. Cached builders,
styled inside; every number comes from core.lora."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import lora as core
from core.params import ARCHITECTURES
from pages._charts import chart_layout, diagram_arrow, diagram_box, diagram_figure

FROZEN, TRAINED, EMPTY, INPUT = "#8c8c8c", "#e4572e", "rgba(0,0,0,0)", "#4c78a8"
THIN = 0.05  # strips thinner than this (in W0 = 4 units) are drawn at this thickness
RANKS = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # the page's logarithmic rank sliders
SYNTHETIC = (576, 576, 8, 16)  # d_out, d_in, r, alpha: SmolLM2-135M's q_proj at the lab's r


def _rect(name, x0, y0, x1, y1, colour, filled=True, dash="solid"):
    shape, _ = diagram_box(x0, y0, x1, y1, fill=colour + "55" if filled else EMPTY,
                           line=colour, dash=dash)
    return {**shape, "name": name}


def _label(x, y, text, **kw):
    return {"x": x, "y": y, "text": text, "showarrow": False, "font": dict(size=15), **kw}


@st.cache_resource(show_spinner=False, max_entries=128)
def adapter_path(d: int, k: int, r: int) -> go.Figure:
    """x -> W0 -> W0 x beside x -> A (r x k) -> B (d x r) -> * alpha/r, summed into h.
    W0, A and B are drawn to one scale (the longest side of W0 = 4 units; a matrix is d
    tall and k wide); a strip thinner than ``THIN`` is drawn that thick. B = 0 at the
    start: an empty, dashed strip."""
    shapes = core.adapter_shapes(d, k, r)
    s = 4 / max(d, k)
    W, H = k * s, d * s  # W0's width (k inputs) and height (d outputs)
    tA, tB = max(r * s, THIN), max(r * s, THIN)
    c2 = W + 2.4  # the adapter column's left edge
    bx = c2 + W / 2  # B's centre line
    b_top, b_bottom = -tA - 0.9, -tA - 0.9 - H
    px, py = (W / 2 + bx) / 2, b_bottom - 1.9  # the sum
    xs = (W / 2 + bx) / 2  # the input x
    big = dict(size=17)
    items = [
        _rect("W0", 0, -H, W, 0, FROZEN),
        _rect("A", c2, -tA, c2 + W, 0, TRAINED),
        _rect("B", bx - tB / 2, b_bottom, bx + tB / 2, b_top, TRAINED, filled=False, dash="dash"),
        dict(type="circle", x0=px - 0.3, y0=py - 0.3, x1=px + 0.3, y1=py + 0.3,
             line=dict(color="#555", width=2)),
        _label(xs, 1.35, f"<b>x</b> ({k:,} inputs)", font=big),
        _label(W / 2, -H / 2, f"<b>W₀</b> (d × k)<br>{d:,} × {k:,}<br>{shapes.W0_params:,}"
               "<br>frozen", font=dict(size=17, color="#555")),
        _label(c2 + W + 0.2, -tA / 2, f"<b>A</b> (r × k) = {r} × {k:,}<br>{shapes.A_params:,}",
               xanchor="left", font=dict(size=17, color=TRAINED)),
        _label(bx + tB / 2 + 0.2, (b_top + b_bottom) / 2, f"<b>B</b> (d × r) = {d:,} × {r}<br>"
               f"{shapes.B_params:,}<br>starts at 0 (empty)", xanchor="left",
               font=dict(size=17, color=TRAINED)),
        _label(bx, b_bottom - 0.75, "× α/r", font=dict(size=17, color=TRAINED)),
        _label(px, py, "+", font=dict(size=24)),
        _label(px, py - 0.75, "h = W₀x + (α/r)·B(Ax)", font=big),
    ]
    items += diagram_arrow(xs - 0.2, 1.0, W / 2, 0.08)
    items += diagram_arrow(xs + 0.2, 1.0, bx, 0.08, color=TRAINED)
    items += diagram_arrow(bx, -tA - 0.05, bx, b_top + 0.05, color=TRAINED)
    items += diagram_arrow(bx, b_bottom - 1.05, px + 0.25, py + 0.2, color=TRAINED)
    items += diagram_arrow(W / 2, -H - 0.05, px - 0.25, py + 0.2)
    title = (f"{shapes.params:,} trainable numbers against {shapes.W0_params:,} in W₀ "
             f"({shapes.share:.3%})")
    return diagram_figure(items, (-0.3, c2 + W + 4.2), (py - 1.2, 1.8), height=620, title=title)


BOX_W, BOX_H, STEP = 3.3, 1.5, 1.75  # a linear layer's box, and the distance between boxes


def _block_box(m: core.ModuleCount | None, name: str, x0, y0) -> list:
    """One linear layer of the block: coloured with its adapter count when targeted."""
    x1, y1 = x0 + BOX_W, y0 + BOX_H
    if m is None:  # e.g. GPT-style models have no gate
        shape, label = diagram_box(x0, y0, x1, y1, f"no {name}", fill=EMPTY, line=FROZEN,
                                   dash="dot", size=15)
        return [shape, label]
    text = f"<b>{name}</b><br>{m.d_out:,} × {m.d_in:,}"
    if m.targeted:
        text += f"<br>+{m.per_layer:,} per layer"
    colour = TRAINED if m.targeted else FROZEN
    shape, label = diagram_box(x0, y0, x1, y1, text, fill=colour + ("55" if m.targeted
                               else "22"), line=colour, size=15)  # fmt: skip
    return [{**shape, "name": name}, label]


@st.cache_resource(show_spinner=False, max_entries=128)
def block_diagram(name: str, r: int, targets: tuple) -> go.Figure:
    """One decoder block of ``name``: attention (q, k, v -> attention -> o) then the MLP
    (gate, up -> SiLU(gate)·up -> down), residual adds; targeted modules coloured with their
    trainable count per layer (core.module_lora_counts)."""
    arch = ARCHITECTURES[name]
    counts = {m.name: m for m in core.module_lora_counts(arch, r, targets)}
    items = []
    x_in, x_mid, x_tail = 2.3, 2.3 + BOX_W + 0.8, 2.3 + BOX_W + 0.8 + 2.8 + 0.8
    rows = ((4.3, ("q_proj", "k_proj", "v_proj"), "o_proj", "attention"),
            (0.0, ("gate_proj", "up_proj"), "down_proj", "SiLU(gate) · up"))
    for y, inputs, tail, mid in rows:
        centre = y + STEP * len(inputs) / 2
        for x0, x1, text in ((0.0, 1.6, "RMSNorm"), (x_mid, x_mid + 2.8, mid)):
            shape, label = diagram_box(x0, centre - 0.6, x1, centre + 0.6, text,
                                       fill=INPUT + "22", line=INPUT, size=15)
            items += [shape, label]
        for i, module in enumerate(inputs):
            y0 = y + STEP * (len(inputs) - 1 - i) + (STEP - BOX_H) / 2
            items += _block_box(counts.get(module), module, x_in, y0)
            items += diagram_arrow(1.6, centre, x_in - 0.05, y0 + BOX_H / 2)
            items += diagram_arrow(x_in + BOX_W, y0 + BOX_H / 2, x_mid - 0.05, centre)
        items += _block_box(counts.get(tail), tail, x_tail, centre - BOX_H / 2)
        items += diagram_arrow(x_mid + 2.8, centre, x_tail - 0.05, centre)
        items += diagram_arrow(x_tail + BOX_W, centre, x_tail + BOX_W + 0.7, centre)
        items.append(_label(x_tail + BOX_W + 0.8, centre, "⊕ residual", xanchor="left"))
    if arch.model_type == "gpt2":
        items.append(_label(x_mid, 9.9, "GPT-style: transformers fuses q, k, v into one c_attn; "
                            "drawn as three pieces, as the LoRA paper counts them"))
    per_layer = sum(m.per_layer for m in counts.values() if m.targeted)
    total = core.model_lora_param_count(arch, r, targets)
    title = (f"{name}, one of its {arch.num_layers} blocks: {per_layer:,} per layer × "
             f"{arch.num_layers} = {total:,} trainable at r = {r}")
    return diagram_figure(items, (-0.2, x_tail + BOX_W + 2.9), (-0.3, 10.3), height=660,
                          title=title)


RULE_COLORS = {"α fixed: α/r": "#4c78a8", "α = 2r: always 2": "#e45756",
               "rsLoRA: α/√r": "#54a24b"}


@st.cache_resource(show_spinner=False, max_entries=64)
def scaling_figure(alpha: float, mark: int) -> go.Figure:
    """Left: the scaling of each rule against r. Right: the size of scaling·B·A when B and
    A hold random numbers of size 1 (core.compare_scalings)."""
    c = core.compare_scalings(alpha, RANKS)
    x = [str(r) for r in c.ranks]
    data = []
    for (label, colour), scale, size in zip(RULE_COLORS.items(), (c.fixed, c.two_r, c.rslora),
                                            (c.fixed_size, c.two_r_size, c.rslora_size),
                                            strict=True):
        common = dict(type="scatter", mode="lines+markers", x=x, line=dict(color=colour, width=3),
                      name=label)
        data.append(dict(common, y=list(scale), hovertemplate="r = %{x}: %{y:.3g}<extra></extra>"))
        data.append(dict(common, y=list(size), xaxis="x2", yaxis="y2", showlegend=False,
                         hovertemplate="r = %{x}: %{y:.3g}<extra></extra>"))
    marks = [dict(type="line", xref=axis, yref=f"{y} domain", x0=str(mark), x1=str(mark), y0=0,
                  y1=1, line=dict(color="#888", dash="dot")) for axis, y in (("x", "y"), ("x2", "y2"))]
    layout = chart_layout(430)
    layout.update(
        title=dict(text=f"Three ways to scale B·A (α = {alpha:g})"), shapes=marks,
        xaxis=dict(domain=[0, 0.45], title=dict(text="rank r"), type="category"),
        yaxis=dict(title=dict(text="scaling"), type="log"),
        xaxis2=dict(domain=[0.55, 1], title=dict(text="rank r"), type="category"),
        yaxis2=dict(anchor="x2", type="log", title=dict(text="size of scaling·B·A")),
        legend=dict(orientation="h", y=-0.3))
    return go.Figure(dict(data=data, layout=layout))


@st.cache_data(show_spinner="Reading the adapter and taking B·A apart...", max_entries=64)
def update_summary(adapter_dir: str, module: str, mtime: float) -> dict:
    """The numbers the page shows for one adapted matrix (core.adapter_update)."""
    if adapter_dir:
        u = core.adapter_update(adapter_dir, module)
    else:
        u = core.random_update(*SYNTHETIC)
    shapes = core.adapter_shapes(*u.shape, u.r)
    return dict(values=tuple(u.singular_values.tolist()), r=u.r, shape=u.shape, alpha=u.alpha,
                scaling=u.scaling, rslora=u.use_rslora, params=shapes.params,
                W0=shapes.W0_params, share=shapes.share, rank=u.numerical_rank(), tail=u.tail,
                n_values=u.n_values, full=u.full_spectrum)


@st.cache_resource(show_spinner=False, max_entries=32)
def spectrum_figure(adapter_dir: str, module: str, mtime: float, title: str) -> go.Figure:
    """Singular values of an update (``update_summary``), largest first (log scale), the
    rank r marked: every value after the r-th is zero up to float rounding."""
    u = update_summary(adapter_dir, module, mtime)
    s, r = np.asarray(u["values"]), u["r"]
    shown = s[: max(3 * r, 24)]  # the non-zero ones and enough of the rest
    floor = max(float(s[0]) * 1e-18, 1e-30) if s.size else 1e-30
    y = np.maximum(shown, floor)
    colours = [TRAINED if i < r else FROZEN for i in range(len(shown))]
    bar = dict(type="bar", x=list(range(1, len(shown) + 1)), y=y.tolist(),
               marker=dict(color=colours), hovertemplate="σ%{x} = %{y:.3e}<extra></extra>")
    layout = chart_layout(420)
    layout.update(title=dict(text=title), showlegend=False,
                  xaxis=dict(title=dict(text="index i of the singular value σᵢ")),
                  yaxis=dict(title=dict(text="σᵢ (log scale)"), type="log",
                             exponentformat="power"),
                  shapes=[dict(type="line", x0=r + 0.5, x1=r + 0.5, yref="paper", y0=0, y1=1,
                               line=dict(color="#555", dash="dash"))],
                  annotations=[dict(x=r + 0.5, yref="paper", y=1.0, xanchor="left",
                                    showarrow=False,
                                    text=f" r = {r}: the rest is rounding" if u["full"] else
                                    f" r = {r}: the other {u['n_values'] - r:,} are exactly 0 "
                                    "(rank ≤ r; not computed for a matrix this large)")])
    return go.Figure(dict(data=[bar], layout=layout))
