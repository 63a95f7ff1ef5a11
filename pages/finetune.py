"""Fine-tune lab: QLoRA-fine-tune a real small chat model here (or a BERT-family classifier,
LoRA against full fine-tuning), watch it learn, check it."""

from functools import partial
from pathlib import Path

import streamlit as st

from core.finetune import runs
from pages import _finetune_classify as classify_form
from pages import _finetune_classify_compare as classify_compare
from pages import _finetune_classify_data as classify_data
from pages import _finetune_classify_results as classify_results
from pages import _finetune_parts as parts
from pages import _finetune_results as run_view
from pages._ui import read_asset, self_check, shareable_state, show_code

TASKS = {"chat": "a chat model learns prompt -> JSON answer (SmolLM2, QLoRA)",
         "classify": "a text classifier learns message -> intent (MiniLM, LoRA vs full)"}

st.title("Fine-tune lab")
st.markdown(read_asset("finetune.md"))

active = runs.active_run()
left, right = st.columns([3, 2], gap="large")
with left, shareable_state("ft"):
    task = st.radio("Task", list(TASKS), captions=list(TASKS.values()), horizontal=True,
                    key="ft_task", bind="query-params",
                    help="chat: the notes' second exercise, QLoRA on your own prompt -> response "
                         "pairs. classify: their first, LoRA on a BERT-family model, to compare "
                         "against full fine-tuning on numbers you measure.")
    st.subheader("Settings")
    if task == "classify":
        uploads = [str(p) for p in runs.list_uploads(task="classify")]
        settings = classify_form.settings_form(uploads, partial(runs.save_upload, task="classify"))
    else:
        settings = parts.settings_form()
with right:
    arch = None
    if task == "classify":
        classify_data.dataset_preview(settings["dataset"])
    else:
        try:
            arch = parts.model_architecture(settings["model"])
        except ValueError as error:
            st.error(str(error), icon=":material/error:")
        if arch is not None:
            parts.memory_panel(settings, arch)
        parts.dataset_preview(settings["dataset"])

problems = []
if not settings["model"]:
    problems.append("Type a model: a bundled name or a local folder.")
if not settings["target_modules"] and settings["method"] != "full":
    problems.append("Pick at least one target module for the LoRA adapters.")
for problem in problems:
    st.error(problem, icon=":material/error:")
if active is not None:
    st.info(f"Run {active.run_id} is {active.state} on this server. One run at a time: "
            "watch it below, or stop it.", icon=":material/hourglass_top:")
blocked = active is not None or (task == "chat" and arch is None) or bool(problems)
if st.button("Start fine-tuning", key="ft_start", type="primary", icon=":material/play_arrow:",
             disabled=blocked):
    try:
        runs.start_run(settings)
    except ValueError as error:
        st.error(str(error), icon=":material/error:")
    else:
        st.session_state["_ft_view_picked"] = False  # show the new run's results when it ends
        st.rerun()

if active is not None:
    run_view.live(active.run_id)

all_runs = runs.list_runs()
finished = [run for run in all_runs if run.finished]
if finished:
    st.header("Results")
    by_id = {run.run_id: run for run in finished}
    if not st.session_state.get("_ft_view_picked") or st.session_state.get("ft_view") not in by_id:
        st.session_state["ft_view"] = finished[0].run_id  # follow the newest run
    view = st.selectbox("Run", list(by_id), key="ft_view",
                        on_change=lambda: st.session_state.update(_ft_view_picked=True),
                        format_func=lambda i: f"{i} · {by_id[i].config.get('method', '?')} on "
                        f"{Path(by_id[i].config.get('dataset', '?')).name} · {by_id[i].state}")
    shown = by_id[view]
    if shown.config.get("task") == "classify" and shown.eval:
        classify_results.results(parts.run_record(shown))
    else:
        run_view.results(shown)
    classified = [parts.run_record(r) for r in finished if r.config.get("task") == "classify"]
    if classified:
        st.header("LoRA against full fine-tuning, as measured")
        classify_compare.comparison(classified)
    st.header("Run history")
    run_view.history(all_runs)

st.header("Why it works")
st.markdown(read_asset("finetune_why.md"))
show_code(runs.start_run, runs.progress)
self_check("finetune")
