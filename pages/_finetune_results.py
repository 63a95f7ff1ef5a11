"""The fine-tune lab's run sections: the live run, a finished run's results, the history.

UI only. Run files are read through core.finetune.runs; torch is imported only when a user
asks the trained model a question (``load_tuned``), never when the page loads.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from core.finetune import runs
from pages._charts import plot
from pages._ui import fmt_bytes

NO_ANSWER = "(no answer: the model ended its turn at once)"
PHASES = {"loading": "loading the model", "eval-before": "evaluating before training",
          "training": "training", "eval-after": "evaluating after training",
          "saving": "saving the adapter"}


def _loss_figure(curves: dict[str, list[dict]]) -> go.Figure:
    fig = go.Figure()
    for name, events in curves.items():
        fig.add_scatter(x=[e["step"] for e in events], y=[e["loss"] for e in events],
                        mode="lines+markers", name=name)
    fig.update_layout(xaxis_title="step", yaxis_title="training loss", showlegend=len(curves) > 1)
    return fig


def _duration(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60)} s" if seconds >= 60 else f"{seconds:.0f} s"


@st.fragment(run_every=1.0)
def live(run_id: str) -> None:
    """The running run, refreshed every second without rerunning the rest of the page."""
    run_dir = runs.runs_root() / run_id
    run = runs.read_run(run_dir)
    active = runs.active_run()
    if active is None or active.run_id != run_id:
        st.rerun()  # it has ended: show the results
    events = runs.read_events(run.path)
    p = runs.progress(run.status, events)
    stopping = run.state == "stopping" or runs.stop_requested(run.path)
    phase = "stopping at the next step" if stopping else PHASES.get(run.status.get("phase"),
                                                                    run.state)
    eta = f" · about {_duration(p.eta_s)} of training left" if p.eta_s is not None else ""
    st.progress(p.fraction, text=f"Run {run_id}: {phase} · step {p.step} of {p.max_steps}{eta}")
    a, b, c = st.columns(3)
    a.metric("Training loss", f"{p.loss:.3f}" if p.loss is not None else "-")
    b.metric("Tokens / s", f"{p.tokens_per_s:,.0f}" if p.tokens_per_s else "-")
    c.metric("Memory", fmt_bytes(p.memory_bytes) if p.memory_bytes else "-")
    if run.status.get("compute"):
        st.caption(run.status["compute"]["reason"])
    if events:
        plot(_loss_figure({run_id: events}), height=320, key="ft_live_loss")
    stop_button(run_dir, stopping)


def _confirm_stop(run_dir, confirmed: bool) -> None:
    if confirmed:
        runs.request_stop(run_dir)
    st.session_state.pop("_ft_confirm_stop", None)


def stop_button(run_dir, stopping: bool) -> None:
    """Stop, with a confirmation: the run belongs to everyone on this server."""
    if st.session_state.get("_ft_confirm_stop") != str(run_dir):
        st.button("Stop", key="ft_stop", icon=":material/stop:", disabled=stopping,
                  on_click=st.session_state.__setitem__, args=("_ft_confirm_stop", str(run_dir)),
                  help="Stops the run at its next step for everyone on this server; the "
                       "adapter keeps what was trained so far. Asks to confirm first.")
        return
    st.warning("Stop this run for everyone on this server? It stops at the next step and keeps "
               "what it trained.", icon=":material/warning:")
    yes, no = st.columns(2)
    yes.button("Yes, stop it", key="ft_stop_yes", type="primary", icon=":material/stop:",
               on_click=_confirm_stop, args=(run_dir, True))
    no.button("Keep it running", key="ft_stop_no", on_click=_confirm_stop, args=(run_dir, False))


def _pct(value) -> str:
    return f"{value:.0%}" if value is not None else "-"


@st.cache_resource(show_spinner="Loading the fine-tuned model...", max_entries=1)
def _tuned(run_dir: str):
    from core.finetune import load_tuned

    return load_tuned(run_dir)


def answer_box(run: runs.RunInfo) -> None:
    """Type a prompt; the base and the fine-tuned model answer side by side."""
    prompt = st.text_input("Ask both models (for example: send two blue notebooks to the "
                           "Oslo office)", key="ft_prompt")
    asked = st.button("Answer", key="ft_ask", icon=":material/chat:")
    if asked and prompt.strip():
        try:
            tuned = _tuned(str(run.path))
            answers = (tuned.answer([prompt], base=True)[0], tuned.answer([prompt])[0])
        except Exception as error:  # a model that will not load must not break the page
            st.error(f"Could not run the models: {error}", icon=":material/error:")
            return
        st.session_state["_ft_answers"] = (run.run_id, prompt, *answers)
    saved = st.session_state.get("_ft_answers")
    if saved and saved[0] == run.run_id:
        left, right = st.columns(2)
        left.markdown("**Base model**")
        left.code(saved[2] or NO_ANSWER, language=None, wrap_lines=True)
        right.markdown("**Fine-tuned**")
        right.code(saved[3] or NO_ANSWER, language=None, wrap_lines=True)


def results(run: runs.RunInfo) -> None:
    """What a finished run learned: held-out metrics before/after, memory, answers, adapter."""
    if run.state == "failed":
        st.error(run.status.get("message") or "The run failed.", icon=":material/error:")
    elif run.state == "stopped":
        st.warning(f"Stopped at step {run.status.get('step', '?')}; the adapter keeps what it "
                   "learned until then.")
    ev = run.eval or {}
    before, after = ev.get("before", {}), ev.get("after", {})
    items = []  # (label, value, delta, help) of each metric shown
    for key, label in (("valid_json", "Valid JSON"), ("exact_match", "Exact match")):
        if key in after:
            items.append((f"{label} (held-out)", _pct(after[key]),
                          f"{(after[key] - before.get(key, 0)) * 100:+.0f} points",
                          f"before training: {_pct(before.get(key))}"))
    if "loss" in after:
        items.append(("Held-out loss", f"{after['loss']:.3f}",
                      f"{after['loss'] - before.get('loss', after['loss']):+.3f}",
                      f"before training: {before.get('loss', 0):.3f} (nats per response token)"))
    if ev.get("peak_memory_bytes"):
        items.append(("Peak memory (measured)", fmt_bytes(ev["peak_memory_bytes"]), None,
                      "process RSS on a CPU, max allocated on a GPU"))
    if ev.get("estimate_bytes"):
        items.append(("Estimated memory", fmt_bytes(ev["estimate_bytes"]), None,
                      "the run's own estimate (core.finetune.estimate) for its settings and "
                      "this machine"))
    for col, (label, value, delta, help_) in zip(st.columns(max(len(items), 1)), items,
                                                 strict=False):
        col.metric(label, value, delta=delta, help=help_,
                   delta_color="inverse" if label == "Held-out loss" else "normal")
    if ev.get("compute"):
        st.caption(f"{ev['compute']['reason']}; gradient checkpointing "
                   f"{'on' if ev.get('gradient_checkpointing') else 'off'}.")
    if ev.get("samples"):
        st.dataframe(ev["samples"], hide_index=True)
    if (run.path / "adapter").is_dir() and run.config.get("task", "chat") == "chat":
        what = "fine-tuned model" if run.config.get("method") == "full" else "adapter"
        st.download_button(f"Download the {what} (zip)", partial(runs.zip_adapter, run.path),
                           file_name=f"adapter-{run.run_id}.zip", mime="application/zip",
                           key="ft_download", icon=":material/download:", on_click="ignore")
        answer_box(run)


@st.cache_data(show_spinner=False, max_entries=256)
def _summary(run_dir: str, stamp: float) -> dict:
    return runs.summary(runs.read_run(run_dir))


def _stamp(path: Path) -> float:
    return sum(p.stat().st_mtime for p in (path / "status.json", path / "events.jsonl",
                                             path / "eval.json") if p.exists())


def history(all_runs: list[runs.RunInfo]) -> None:
    """Past runs with their settings and final metrics; overlay the loss curves of some."""
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe([_summary(str(r.path), _stamp(r.path)) for r in all_runs], hide_index=True,
                 column_config={"valid JSON": percent, "exact match": percent,
                                "accuracy": percent})
    picked = st.multiselect("Overlay the loss curves of (pick two or more runs)",
                            [r.run_id for r in all_runs], key="ft_compare")
    curves = {run_id: runs.read_events(runs.runs_root() / run_id) for run_id in picked}
    curves = {k: v for k, v in curves.items() if v}
    if curves:
        plot(_loss_figure(curves), height=380, key="ft_compare_chart")
