"""The fine-tune lab's classify task: finished runs on the same data and steps, side by side.

UI only. Runs are plain dicts ``{"run_id", "state", "config", "eval"}``; the rows, grouped by
what makes runs comparable, come from ``core.finetune.classify.compare_runs``, as measured.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.finetune.classify import compare_runs
from pages._charts import plot_styled, style_fig
from pages._finetune_parts import dataset_label
from pages._ui import fmt_bytes


def _run_label(row: dict) -> str:
    method = row["method"] if row["method"] == "full" else f"{row['method']} r{row['r']}"
    return f"{method} · {row['run'][-4:]}"


@st.cache_resource(show_spinner=False, max_entries=16)
def comparison_figure(rows: tuple) -> go.Figure:
    """One bar per run in each panel: what it trained, stored, spent and reached."""
    rows = [dict(r) for r in rows]
    x = [_run_label(r) for r in rows]
    panels = (
        ("trainable parameters", "trainable_parameters", 1, True),
        ("weights saved (MB)", "adapter_bytes", 2**20, True),
        ("training time (s)", "train_seconds", 1, False),
        ("training peak memory (MB)", "peak_memory_bytes", 2**20, False),
        ("held-out accuracy before", "accuracy_before", 1, False),
        ("held-out accuracy after", "accuracy_after", 1, False),
    )
    fig = make_subplots(
        rows=2,
        cols=3,
        subplot_titles=[p[0] for p in panels],
        vertical_spacing=0.22,
        horizontal_spacing=0.08,
    )
    for i, (_, key, unit, log) in enumerate(panels):
        row, col = divmod(i, 3)
        y = [r[key] / unit if r[key] is not None else None for r in rows]
        fig.add_trace(
            go.Bar(
                x=x,
                y=y,
                showlegend=False,
                marker_color=["#d62728" if r["method"] == "full" else "#1f77b4" for r in rows],
            ),
            row=row + 1,
            col=col + 1,
        )
        if log:
            fig.update_yaxes(type="log", dtick=1, row=row + 1, col=col + 1)
        if key.startswith("accuracy"):
            fig.update_yaxes(range=[0, 1], tickformat=".0%", row=row + 1, col=col + 1)
    base = next((r["base_model_bytes"] for r in rows if r["base_model_bytes"]), None)
    if base:  # the full model's size, for the adapters to be measured against
        fig.add_trace(  # a line trace, not add_hline: shapes on a log axis take log10 units
            go.Scatter(
                x=x,
                y=[base / 2**20] * len(x),
                mode="lines",
                line_dash="dash",
                line_color="gray",
                name="full model",
                showlegend=False,
                hovertemplate="the full model: %{y:.1f} MB<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_annotations(font_size=18)
    return style_fig(fig, height=640)


def _group_label(key: tuple) -> str:
    dataset, steps, batch, max_length, seed = key
    return (
        f"{dataset_label(str(dataset))} · {steps} steps of {batch} · max length "
        f"{max_length} · seed {seed}"
    )


@st.fragment
def comparison(runs: list[dict]) -> None:
    """Finished classify runs on the same data and steps, side by side, as measured."""
    groups = compare_runs(runs)
    if not groups:
        st.caption("Finish a classify run to compare methods here.")
        return
    keys = list(groups)
    picked = st.selectbox(
        "Compare runs on",
        range(len(keys)),
        format_func=lambda i: _group_label(keys[i]),
        key="ft_cls_compare",
        help="Runs are comparable when they share the data, the steps, the batch size, the "
        "max length and the seed. Run LoRA and full with the same settings to fill this in.",
    )
    rows = groups[keys[picked]]
    plot_styled(
        comparison_figure(tuple(tuple(r.items()) for r in rows)), key="ft_cls_compare_chart"
    )
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        [
            {
                "run": r["run"],
                "method": r["method"],
                "r": r["r"],
                "trainable parameters": r["trainable_parameters"],
                "weights saved": fmt_bytes(r["adapter_bytes"]) if r["adapter_bytes"] else None,
                "of the full model": r["size_fraction"],
                "training s": r["train_seconds"],
                "training peak": fmt_bytes(r["peak_memory_bytes"])
                if r["peak_memory_bytes"]
                else None,
                "accuracy before": r["accuracy_before"],
                "accuracy after": r["accuracy_after"],
            }
            for r in rows
        ],
        hide_index=True,
        column_config={
            "accuracy before": percent,
            "accuracy after": percent,
            "of the full model": percent,
            "training s": st.column_config.NumberColumn(format="%.1f"),
            "trainable parameters": st.column_config.NumberColumn(format="localized"),
        },
    )
