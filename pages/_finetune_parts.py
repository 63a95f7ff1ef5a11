"""The fine-tune lab's settings: the form, the model check, the memory estimate, the data.

UI only; nothing here imports torch (the model check reads config.json only).
"""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import psutil
import streamlit as st

from core.finetune import ALL_LINEAR, COMPUTE_DTYPES, FinetuneConfig, runs
from core.finetune.device import profile_in_subprocess
from core.finetune.estimate import architecture, estimate_run_memory
from pages._charts import plot
from pages._ui import fmt_bytes

METHODS = {"qlora": "4-bit base + LoRA", "lora": "16/32-bit base + LoRA",
           "full": "every weight trains"}
BUNDLED_DATASETS = ("orders", "course-qa")
# The page opens on the demo run: FinetuneConfig's defaults.
DEFAULTS = {k: v for k, v in FinetuneConfig().to_json().items() if k != "output_dir"}
TARGETS = ALL_LINEAR
POWERS_OF_TWO = (1, 2, 4, 8, 16, 32, 64, 128)


def _choices(values, default) -> list:
    """A slider's stops, always including the demo run's default."""
    return sorted({*values, default})


LEARNING_RATES = _choices((1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3),
                          DEFAULTS["learning_rate"])
MAX_LENGTHS = _choices((32, 64, 96, 128, 192, 256, 512, 1024), DEFAULTS["max_length"])


def dataset_label(name: str) -> str:
    """A dataset as the menus name it: a bundled set by its name, an upload as "your file"."""
    from core.finetune.classify import BUNDLED_LABELLED

    bundled = name in BUNDLED_DATASETS or name in BUNDLED_LABELLED
    return name if bundled else f"your file: {Path(name).name}"


def upload_box() -> None:
    """Validate and save an uploaded JSONL/CSV file once, then select it as the dataset."""
    file = st.file_uploader("Or upload your own data: JSONL or CSV with `prompt` and "
                            "`response` columns", type=["jsonl", "csv"], key="ft_upload",
                            max_upload_size=5)
    if file is None:
        return
    seen = st.session_state.get("_ft_upload")
    if seen is None or seen["id"] != file.file_id:
        try:
            path, examples = runs.save_upload(file.getvalue(), file.name)
        except ValueError as error:
            seen = {"id": file.file_id, "error": f"{file.name}: {error}"}
        else:
            seen = {"id": file.file_id, "error": None, "n": len(examples)}
            st.session_state["ft_dataset"] = str(path)
        st.session_state["_ft_upload"] = seen
    if seen["error"]:
        st.error(seen["error"], icon=":material/error:")
    else:
        st.success(f"{file.name}: {seen['n']} examples, saved for training.",
                   icon=":material/check:")


HELP = {
    "model": "The chat model to fine-tune: the bundled SmolLM2-135M-Instruct (135 million "
             "parameters), a folder on this machine, or a hub id (needs network access).",
    "method": "qlora: the frozen base in 4-bit NF4 plus LoRA adapters (least memory). lora: the "
              "frozen base in its compute dtype (float32 on most CPUs, bfloat16 on a GPU) plus "
              "adapters. full: every weight trains (most memory). Watch the memory bars.",
    "dataset": "The prompt -> response pairs to learn. orders teaches a fixed JSON format; "
               "course-qa short answers about this course; or your own uploaded file.",
    "r": "LoRA rank: B is d_out x r and A is r x d_in. 4-16 is usual; 1-4 often suffices for "
         "q_proj and v_proj. Higher r = more trainable parameters (see the memory bars).",
    "alpha": "LoRA alpha: the update B*A is scaled by alpha / r. Usual: alpha = 2r (scale 2) "
             "or a fixed alpha. Larger scale = larger steps, like a higher learning rate.",
    "alpha_2r": "Keep alpha = 2 x r as you move r: the scale alpha/r stays 2 at every rank.",
    "dropout": "Dropout on the adapters' input during training (0 = off, peft's default). "
               "0.05-0.1 can help on small data; it costs memory and time.",
    "learning_rate": "Peak learning rate of AdamW (warm-up, then linear decay). LoRA is usually "
                     "trained with 1e-4 to 1e-3; full fine-tuning needs about 10x less.",
    "targets": "The linear layers that get adapters: attention q, k, v, o and MLP gate, up, "
               "down. More modules = more capacity and more trainable parameters.",
    "steps": "Optimizer steps. The demo learns the JSON format in 30 steps of 8 examples.",
    "batch": "Examples per step. Memory for activations grows in proportion.",
    "max_length": "Longest example in tokens (prompt + response); longer ones are cut. The "
                  "orders examples are under 96 tokens.",
    "seed": "Random seed: data order and the adapters' start. Same seed, same run.",
    "dtype": "The arithmetic of the base model's matrix products. auto: bfloat16 only where this "
             "machine runs it faster (measured once), else float32. A CPU without native "
             "bfloat16 (AVX2) emulates it and is ~50x slower.",
}


def settings_form() -> dict:
    """The run's settings, one URL-bound widget each (call inside ``shareable_state``)."""
    d, q = DEFAULTS, "query-params"
    model = st.text_input("Model: a bundled name, a local folder, or a hub id", d["model"],
                          key="ft_model", bind=q, help=HELP["model"]).strip()
    method = st.radio("Method", list(METHODS), captions=list(METHODS.values()),
                      horizontal=True, key="ft_method", bind=q, help=HELP["method"])
    upload_box()
    datasets = [*BUNDLED_DATASETS, *(str(p) for p in runs.list_uploads())]
    dataset = st.selectbox("Dataset", datasets, format_func=dataset_label, key="ft_dataset",
                           bind=q, help=HELP["dataset"])
    no_lora = method == "full"
    if no_lora:
        st.caption("Full fine-tuning trains every weight: the LoRA settings do not apply.")
    a, b = st.columns(2)
    r = a.select_slider("LoRA rank r", _choices(POWERS_OF_TWO[:7], d["r"]), d["r"], key="ft_r",
                        bind=q, disabled=no_lora, help=HELP["r"])
    two_r = b.checkbox("alpha = 2r", False, key="ft_alpha_2r", bind=q, disabled=no_lora,
                       help=HELP["alpha_2r"])
    alpha = b.select_slider("alpha", _choices(POWERS_OF_TWO, d["alpha"]), d["alpha"],
                            key="ft_alpha", bind=q, disabled=no_lora or two_r,
                            help=HELP["alpha"])
    if two_r:
        alpha = 2 * r
        b.caption(f"alpha = 2 x r = {alpha}: the update is scaled by 2.")
    dropout = a.slider("LoRA dropout", 0.0, 0.5, d["dropout"], 0.05, key="ft_dropout", bind=q,
                       disabled=no_lora, help=HELP["dropout"])
    lr = b.select_slider("Learning rate", LEARNING_RATES, d["learning_rate"],
                         format_func=lambda v: f"{v:g}", key="ft_lr", bind=q,
                         help=HELP["learning_rate"])
    targets = st.multiselect("Target modules (LoRA)", TARGETS, list(d["target_modules"]),
                             key="ft_targets", bind=q, disabled=no_lora, help=HELP["targets"])
    steps = a.slider("Training steps", 1, 300, d["max_steps"], key="ft_steps", bind=q,
                     help=HELP["steps"])
    batch = b.select_slider("Batch size", _choices(POWERS_OF_TWO[:6], d["batch_size"]),
                            d["batch_size"], key="ft_batch", bind=q, help=HELP["batch"])
    max_length = a.select_slider("Max length (tokens)", MAX_LENGTHS, d["max_length"],
                                 key="ft_max_length", bind=q, help=HELP["max_length"])
    seed = b.number_input("Seed", 0, 2**31 - 1, d["seed"], key="ft_seed", bind=q,
                          help=HELP["seed"])
    dtype = st.selectbox("Compute dtype", COMPUTE_DTYPES, key="ft_dtype", bind=q,
                         help=HELP["dtype"])
    return dict(model=model, method=method, dataset=dataset, r=r, alpha=alpha, dropout=dropout,
                target_modules=tuple(targets), learning_rate=lr, max_steps=steps,
                batch_size=batch, max_length=max_length, seed=int(seed), compute_dtype=dtype)


def model_architecture(model: str):
    """The Architecture behind a model argument, read from config.json only (no weights)."""
    return architecture(model)


@st.cache_resource(show_spinner="Measuring this machine once: its fastest arithmetic and the "
                                "memory of the libraries a run loads...")
def machine() -> dict:
    """This machine's profile (compute dtype probe, libraries' memory), measured by a separate
    process once per server so that this one never imports torch."""
    return profile_in_subprocess()


def _free_memory() -> tuple[int, int]:
    """(available, total) bytes of this machine's RAM, where training runs on a CPU."""
    memory = psutil.virtual_memory()
    return memory.available, memory.total


@st.cache_data(show_spinner=False)
def estimate(arch, settings: tuple, profile: str) -> dict:
    """The run's memory estimate as the page shows it (``core.finetune.estimate``)."""
    run = estimate_run_memory(FinetuneConfig(**dict(settings), output_dir="-"), arch,
                              machine=json.loads(profile))
    return run.to_json()


def memory_panel(settings: dict, arch) -> int | None:
    """The run's own memory estimate for these settings, and whether it fits here."""
    st.subheader("Will it fit?")
    try:
        profile = machine()
        est = estimate(arch, tuple(sorted(settings.items())), json.dumps(profile, sort_keys=True))
    except (ValueError, RuntimeError, OSError) as error:
        st.warning(f"No memory estimate for these settings: {error}", icon=":material/warning:")
        return None
    available, total = _free_memory()
    st.caption(est["notes"][0])
    st.metric("Estimated training memory", fmt_bytes(est["total"]),
              help="core.finetune.estimate.estimate_run_memory: the memory lesson's terms for "
                   "the dtype, checkpointing and optimizer this run will use here, plus what a "
                   "process on this machine adds. The run records it beside its measured peak.")
    parts = est["components"]
    fig = go.Figure([go.Bar(x=[v / 2**20 for v in parts.values()], y=list(parts),
                            orientation="h")])
    fig.update_layout(xaxis_title="MB", yaxis_autorange="reversed")
    plot(fig, height=280, key="ft_memory_chart")
    with st.expander("Why this is not the memory lesson's number"):
        st.markdown(f"The lesson's GPU-style estimate for the same settings: "
                    f"**{fmt_bytes(est['textbook_total'])}**.")
        for note in est["notes"][1:]:
            st.markdown(f"- {note}")
    if est["total"] < available:
        st.success(f"Fits: this machine has {fmt_bytes(available)} free of {fmt_bytes(total)}.")
    else:
        st.error(f"Does not fit in the {fmt_bytes(available)} free here: lower the batch size "
                 "or max length, or use QLoRA.")
    return int(est["total"])


@st.cache_data(show_spinner=False, max_entries=8)
def _examples(name: str) -> tuple[int, int, list[dict]]:
    from core.finetune.data import load_dataset

    ds = load_dataset(name)
    return len(ds.train), len(ds.heldout), [
        {"prompt": e.prompt, "response": e.response} for e in ds.train[:5]]


def dataset_preview(name: str) -> None:
    try:
        n_train, n_heldout, rows = _examples(name)
    except (ValueError, OSError, ImportError) as error:
        st.error(f"Dataset {dataset_label(name)}: {error}", icon=":material/error:")
        return
    st.caption(f"**{dataset_label(name)}**: {n_train} training and {n_heldout} held-out "
               "examples; the first five:")
    st.dataframe(rows, hide_index=True, height=220)


def run_record(run: runs.RunInfo) -> dict:
    """A run as the classify views take it: ``{"run_id", "state", "config", "eval", "path"}``."""
    return {"run_id": run.run_id, "state": run.state, "config": run.config, "eval": run.eval,
            "path": str(run.path)}
