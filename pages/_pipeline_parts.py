"""Pieces of the "Where fine-tuning sits" page: the pipeline diagram (Graphviz), the stage
cards, the compute chart and the decision guide's table."""

from __future__ import annotations

import json
from functools import cache

import plotly.graph_objects as go
import streamlit as st

from core import pipeline as core
from core.memory import GB
from pages._charts import CHART_FONT, chart_layout
from pages._ui import ASSETS

CHOICE_LABELS = {
    "prompting": "Prompting (no training)",
    "full": "Full fine-tuning",
    "lora": "LoRA",
    "qlora": "QLoRA",
    "none": "Nothing fits",
}
PROMISE_LINKS = (  # each promise, and the lesson that shows it
    ("lora.py", "LoRA: counts of A and B"),
    ("qlora_memory.py", "QLoRA and memory"),
    ("lora.py", "LoRA: merging, adapters per task"),
    ("finetune.py", "Fine-tune lab: base against fine-tuned"),
)
HIGHLIGHT, PLAIN, DATA_FILL = "#fdd49e", "#f0f0f0", "#deebf7"


@cache
def stages() -> dict[str, dict]:
    return {s["key"]: s for s in json.loads((ASSETS / "pipeline_stages.json").read_text())}


@cache
def risks() -> list[dict]:
    return json.loads((ASSETS / "pipeline_risks.json").read_text())


STAGE_BOXES = {"pretraining": (0.1, 2.6), "sft": (3.75, 6.25), "preference": (7.4, 9.9)}
STAGE_LABELS = {
    "pretraining": "<b>1. Pretraining</b><br>self-supervised:<br>predict the next token",
    "sft": "<b>2. SFT /</b><br><b>instruction tuning</b><br>supervised",
    "preference": "<b>3. Preference tuning</b><br>RLHF: reward model + PPO<br>or DPO",
}
DATA_LABELS = {
    "pretraining": "web-scale text: web pages,<br>books, code, Stack Overflow",
    "sft": "prompt → response pairs<br>(labeled, hundreds+)",
    "preference": "preference pairs:<br>answer A better than B",
}


def _box(x0, x1, y0, y1, fill, width=1.5, dash=None) -> dict:
    line = dict(color="#555555", width=width) | ({"dash": dash} if dash else {})
    return dict(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, fillcolor=fill, line=line, layer="below")


def _arrow(x, y, ax, ay, dash=False) -> dict:
    return dict(x=x, y=y, ax=ax, ay=ay, xref="x", yref="y", axref="x", ayref="y", text="",
                showarrow=True, arrowhead=2, arrowsize=1.3, arrowwidth=2.5,
                arrowcolor="#777777" if dash else "#333333")  # fmt: skip


def _text(x, y, text, size=CHART_FONT, in_box=True) -> dict:
    """A label; inside a (light) box it is dark in dark mode too."""
    font = dict(size=size) | ({"color": "#222222"} if in_box else {})
    return dict(x=x, y=y, xref="x", yref="y", text=text, showarrow=False, font=font)


@st.cache_resource(max_entries=8)
def diagram(chosen: str) -> go.Figure:
    """The pipeline as boxes and arrows: data above each stage, the models each stage hands
    on between them, LoRA / QLoRA under SFT; the chosen stage filled in."""
    shapes, notes = [], []
    for key, (x0, x1) in STAGE_BOXES.items():
        middle = (x0 + x1) / 2
        chosen_box = key == chosen
        shapes.append(
            _box(x0, x1, 1.4, 2.6, HIGHLIGHT if chosen_box else PLAIN, 4 if chosen_box else 1.5)
        )
        shapes.append(_box(x0 + 0.2, x1 - 0.2, 3.3, 4.1, DATA_FILL))
        notes += [_text(middle, 2.0, STAGE_LABELS[key]), _text(middle, 3.7, DATA_LABELS[key], 15),
                  _arrow(middle, 2.62, middle, 3.28)]  # fmt: skip
    for (_, left), (right, _), label in zip(
        list(STAGE_BOXES.values())[:-1], list(STAGE_BOXES.values())[1:],
        ("foundation<br>model", "instruction-<br>following<br>model"), strict=True,
    ):  # fmt: skip
        notes += [
            _arrow(right - 0.02, 2.0, left + 0.02, 2.0),
            _text((left + right) / 2, 2.85, label, 16, in_box=False),
        ]
    x0, x1 = STAGE_BOXES["sft"]
    shapes.append(_box(x0 - 0.1, x1 + 0.1, 0.05, 0.85, "#c7e9c0", dash="dash"))
    notes += [_text((x0 + x1) / 2, 0.45, "LoRA / QLoRA (this course):<br>train only an adapter", 15),
              _arrow((x0 + x1) / 2, 1.38, (x0 + x1) / 2, 0.87, dash=True)]  # fmt: skip
    x0, x1 = STAGE_BOXES["preference"]
    notes += [_arrow((x0 + x1) / 2, 0.8, (x0 + x1) / 2, 1.38),
              _text((x0 + x1) / 2, 0.5, "<b>chat assistant</b>", in_box=False)]  # fmt: skip
    layout = chart_layout(420) | dict(
        shapes=shapes, annotations=notes, showlegend=False, margin=dict(l=5, r=5, t=10, b=5),
        xaxis=dict(range=[0, 10], visible=False, fixedrange=True),
        yaxis=dict(range=[0, 4.2], visible=False, fixedrange=True),
    )  # fmt: skip
    return go.Figure(dict(data=[], layout=layout))


@st.cache_resource
def compute_figure() -> go.Figure:
    """Compute per stage for InstructGPT 175B (the paper's figures), log scale."""
    data = json.loads((ASSETS / "pipeline_compute.json").read_text())
    names, values = list(data["stages"]), list(data["stages"].values())
    bars = dict(type="bar", x=names, y=values, text=[f"{v:,g}" for v in values],
                textposition="outside", marker=dict(color=["#636efa", "#00cc96", "#ef553b"]),
                hovertemplate="%{x}: %{y:,g} " + data["unit"] + "<extra></extra>")  # fmt: skip
    layout = chart_layout(420) | dict(
        title=dict(text="What each stage cost for InstructGPT (log scale)"),
        yaxis=dict(title=dict(text=data["unit"]), type="log", range=[0, 4.2]),
        showlegend=False,
    )
    return go.Figure(dict(data=[bars], layout=layout))


def stage_card(key: str) -> None:
    s = stages()[key]
    st.subheader(f"{s['title']}: {s['kind']}")
    c1, c2, c3 = st.columns(3)
    for column, (title, field) in zip(
        (c1, c2, c3),
        (("What it changes", "changes"), ("Data", "data"), ("Cost", "cost")),
        strict=True,
    ):
        with column.container(border=True, height="stretch"):
            st.markdown(f"**{title}**\n\n{s[field]}")
    st.markdown(f"Result: {s['result']}")


def fit_table(rec: core.Recommendation) -> dict:
    methods = [m for m in CHOICE_LABELS if m in rec.totals]
    return {
        "method": [CHOICE_LABELS[m] for m in methods],
        "estimated peak memory": [f"{rec.totals[m] / GB:,.1f} GB" for m in methods],
        f"fits in {rec.gpu_gb:g} GB": ["yes" if rec.fits[m] else "no" for m in methods],
    }
