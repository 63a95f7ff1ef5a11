"""The fine-tune lab's classify task: a finished run's results and the sentence box.

UI only. A run is a plain dict ``{"run_id", "state", "config", "eval", "path"}`` (its run
directory's files); the numbers come from ``core.finetune.classify`` (``result_summary``, the
``eval.json`` the run wrote). torch is imported only when someone classifies a sentence.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.finetune.classify import result_summary
from pages._charts import plot_styled, style_fig
from pages._ui import fmt_bytes


@st.cache_resource(show_spinner=False, max_entries=32)
def confusion_figure(labels: tuple, before: tuple, after: tuple) -> go.Figure:
    """The held-out confusion matrices before and after, side by side: row = true class,
    column = predicted class, the diagonal = right answers."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.12,
        subplot_titles=("before (untrained head)", "after fine-tuning"),
    )
    top = max(max(map(max, before)), max(map(max, after)), 1)
    for col, matrix in ((1, before), (2, after)):
        fig.add_trace(
            go.Heatmap(
                z=matrix,
                x=list(labels),
                y=list(labels),
                zmin=0,
                zmax=top,
                colorscale="Blues",
                showscale=col == 2,
                text=matrix,
                texttemplate="%{text}",
                hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="predicted", tickangle=-35, row=1, col=col)
        fig.update_yaxes(
            autorange="reversed",
            row=1,
            col=col,
            title_text="true class" if col == 1 else None,
            showticklabels=col == 1,
        )
    fig.update_annotations(font_size=18)
    return style_fig(fig, height=520)


@st.cache_resource(show_spinner="Loading the untrained and the fine-tuned model...", max_entries=1)
def _models(run_dir: str):
    from core.finetune.classify import load_tuned_classifier

    return load_tuned_classifier(run_dir)


@st.cache_resource(show_spinner=False, max_entries=16)
def probabilities_figure(labels: tuple, before: tuple, after: tuple) -> go.Figure:
    fig = go.Figure(
        [
            go.Bar(y=list(labels), x=list(before), orientation="h", name="before (untrained head)"),
            go.Bar(y=list(labels), x=list(after), orientation="h", name="after fine-tuning"),
        ]
    )
    fig.update_layout(
        barmode="group", xaxis_title="probability", xaxis_range=[0, 1], yaxis_autorange="reversed"
    )
    return style_fig(fig, height=80 + 60 * len(labels))


@st.fragment
def classify_box(run: dict) -> None:
    """Type a sentence; the untrained-head model and the fine-tuned one classify it."""
    text = st.text_input(
        "Classify a sentence with both models (for example: my card was charged twice)",
        key="ft_cls_text",
        max_chars=500,
        help="The same text goes through the model before training (its untrained head) and "
        "after; the bars show each model's probability for every class.",
    )
    if st.button("Classify", key="ft_cls_classify", icon=":material/label:") and text.strip():
        try:
            from core.finetune.classify import class_probabilities

            base, tuned, tokenizer = _models(str(run["path"]))
            max_length = int((run.get("config") or {}).get("max_length") or 128)
            answers = [class_probabilities(m, tokenizer, text, max_length) for m in (base, tuned)]
        except Exception as error:  # a model that will not load must not break the page
            st.error(f"Could not run the models: {error}", icon=":material/error:")
            return
        st.session_state["_ft_cls_answer"] = (run["run_id"], text, *answers)
    saved = st.session_state.get("_ft_cls_answer")
    if saved and saved[0] == run["run_id"]:
        _, text, before, after = saved
        left, right = st.columns(2)
        left.metric(
            "Before (untrained head)",
            max(before, key=before.get),
            help=f"probability {max(before.values()):.0%}",
        )
        right.metric(
            "After fine-tuning",
            max(after, key=after.get),
            help=f"probability {max(after.values()):.0%}",
        )
        labels = tuple(after)
        plot_styled(
            probabilities_figure(
                labels, tuple(before[k] for k in labels), tuple(after[k] for k in labels)
            ),
            key="ft_cls_probabilities",
        )


def _pct(value) -> str:
    return f"{value:.1%}" if value is not None else "-"


def results(run: dict) -> None:
    """A finished classify run: held-out accuracy and loss before/after, its cost, the
    confusion matrices, and the sentence box."""
    ev = run.get("eval") or {}
    if not ev.get("after"):
        st.info("This run has no held-out results (yet).", icon=":material/hourglass_top:")
        return
    s = result_summary(ev)
    a, b, c, d = st.columns(4)
    a.metric(
        "Held-out accuracy",
        _pct(s["accuracy_after"]),
        delta=f"{s['accuracy_gain'] * 100:+.1f} points" if s["accuracy_gain"] is not None else None,
        help=f"before training (untrained head): {_pct(s['accuracy_before'])}, "
        f"on {s['n']} held-out texts",
    )
    b.metric(
        "Held-out loss",
        f"{s['loss_after']:.3f}",
        delta=f"{s['loss_change']:+.3f}" if s["loss_change"] is not None else None,
        delta_color="inverse",
        help=f"mean cross-entropy in nats; before training: {s['loss_before']:.3f}",
    )
    c.metric(
        "Trainable parameters",
        f"{ev['trainable_parameters']:,}" if ev.get("trainable_parameters") else "-",
        help="weights the optimizer updated (LoRA adapters + head, or every weight)",
    )
    d.metric(
        "Training time",
        f"{ev['train_seconds']:.0f} s" if ev.get("train_seconds") else "-",
        help="wall time of the training phase; peak memory "
        + (fmt_bytes(ev["peak_memory_bytes"]) if ev.get("peak_memory_bytes") else "-"),
    )
    before, after = ev.get("before", {}), ev["after"]
    if after.get("confusion") and before.get("confusion"):
        plot_styled(
            confusion_figure(
                tuple(after["labels"]),
                tuple(map(tuple, before["confusion"])),
                tuple(map(tuple, after["confusion"])),
            ),
            key="ft_cls_confusion",
        )
    if (Path(run["path"]) / "adapter").is_dir():
        classify_box(run)
