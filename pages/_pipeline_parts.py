"""Pieces of the "Where fine-tuning sits" page: the pipeline diagram (Graphviz), the stage
cards, the compute chart and the decision guide's table."""

from __future__ import annotations

import json
from functools import cache

import plotly.graph_objects as go
import streamlit as st

from core import pipeline as core
from core.memory import GB
from pages._ui import ASSETS, chart_layout

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


@cache
def diagram(chosen: str) -> str:
    """The pipeline as Graphviz DOT, left to right, the chosen stage filled in."""

    def stage(key: str, label: str) -> str:
        fill = HIGHLIGHT if key == chosen else PLAIN
        pen = 3 if key == chosen else 1
        return f'{key} [label="{label}", fillcolor="{fill}", penwidth={pen}];'

    return "\n".join([
        "digraph pipeline {",
        '  rankdir=LR; nodesep=0.35; ranksep=0.45; bgcolor="transparent";',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=18, margin="0.2,0.12"];',
        '  edge [penwidth=2, arrowsize=1.1, fontname="Helvetica", fontsize=15];',
        f'  web [label="Web-scale text\\nweb, books, Wikipedia,\\nGitHub, Stack Overflow", shape=cylinder, fillcolor="{DATA_FILL}"];',
        f'  pairs [label="Prompt → response\\npairs (labeled)", shape=note, fillcolor="{DATA_FILL}"];',
        f'  prefs [label="Preference pairs\\nA better than B", shape=note, fillcolor="{DATA_FILL}"];',
        "  " + stage("pretraining", "1. Pretraining\\nself-supervised:\\npredict the next token"),
        "  " + stage("sft", "2. SFT /\\ninstruction tuning\\nsupervised"),
        "  " + stage("preference", "3. Preference tuning\\nRLHF: reward model + PPO\\nor DPO"),
        '  base [label="Foundation\\nmodel", shape=ellipse, fillcolor="white"];',
        '  inst [label="Instruction-\\nfollowing model", shape=ellipse, fillcolor="white"];',
        '  chat [label="Chat\\nassistant", shape=ellipse, fillcolor="white"];',
        '  peft [label="LoRA / QLoRA\\n(this course)", shape=component, fillcolor="#c7e9c0"];',
        "  web -> pretraining -> base -> sft -> inst -> preference -> chat;",
        "  pairs -> sft; prefs -> preference;",
        '  peft -> sft [style=dashed, label="train an adapter"];',
        "  {rank=same; web; pretraining} {rank=same; pairs; sft; peft} {rank=same; prefs; preference}",
        "}",
    ])  # fmt: skip


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
    st.subheader(f"{s['title']} ({s['kind']})")
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
