"""The fine-tune lab's settings: the form, the model check, the memory estimate, the data.

UI only; nothing here imports torch (the model check reads config.json only).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import plotly.graph_objects as go
import streamlit as st

from core.finetune import ALL_LINEAR, FinetuneConfig, runs
from core.models import BUNDLED, DEFAULT_MODEL
from pages._ui import fmt_bytes, plot

METHODS = {"qlora": "4-bit base + LoRA", "lora": "full-precision base + LoRA",
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


def _dataset_label(name: str) -> str:
    return name if name in BUNDLED_DATASETS else f"your file: {Path(name).name}"


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


def settings_form() -> dict:
    """The run's settings, one URL-bound widget each (call inside ``shareable_state``)."""
    d, q = DEFAULTS, "query-params"
    model = st.text_input("Model: a bundled name, a local folder, or a hub id", d["model"],
                          key="ft_model", bind=q).strip()
    method = st.radio("Method", list(METHODS), captions=list(METHODS.values()),
                      horizontal=True, key="ft_method", bind=q)
    upload_box()
    datasets = [*BUNDLED_DATASETS, *(str(p) for p in runs.list_uploads())]
    dataset = st.selectbox("Dataset", datasets, format_func=_dataset_label, key="ft_dataset",
                           bind=q)
    a, b = st.columns(2)
    r = a.select_slider("LoRA rank r", _choices(POWERS_OF_TWO[:7], d["r"]), d["r"], key="ft_r",
                        bind=q)
    alpha = b.select_slider("alpha", _choices(POWERS_OF_TWO, d["alpha"]), d["alpha"],
                            key="ft_alpha", bind=q)
    dropout = a.slider("LoRA dropout", 0.0, 0.5, d["dropout"], 0.05, key="ft_dropout", bind=q)
    lr = b.select_slider("Learning rate", LEARNING_RATES, d["learning_rate"],
                         format_func=lambda v: f"{v:g}", key="ft_lr", bind=q)
    targets = st.multiselect("Target modules (LoRA)", TARGETS, list(d["target_modules"]),
                             key="ft_targets", bind=q)
    steps = a.slider("Training steps", 1, 300, d["max_steps"], key="ft_steps", bind=q)
    batch = b.select_slider("Batch size", _choices(POWERS_OF_TWO[:6], d["batch_size"]),
                            d["batch_size"], key="ft_batch", bind=q)
    max_length = a.select_slider("Max length (tokens)", MAX_LENGTHS, d["max_length"],
                                 key="ft_max_length", bind=q)
    seed = b.number_input("Seed", 0, 2**31 - 1, d["seed"], key="ft_seed", bind=q)
    return dict(model=model, method=method, dataset=dataset, r=r, alpha=alpha, dropout=dropout,
                target_modules=tuple(targets), learning_rate=lr, max_steps=steps,
                batch_size=batch, max_length=max_length, seed=int(seed))


class _Config(SimpleNamespace):
    """A config.json read without transformers: absent fields read as None."""

    def __getattr__(self, name):
        return None


def model_architecture(model: str):
    """The Architecture behind a model argument, read from config.json only (no weights).
    ValueError with a plain message for a missing folder or an unreachable hub id."""
    from core.params import ARCHITECTURES, arch_from_hf_config

    if not model:
        raise ValueError("Type a model: a bundled name, a local folder, or a hub id.")
    if model in BUNDLED:
        if model != DEFAULT_MODEL:
            raise ValueError(f"{model!r} is not a chat model; use {DEFAULT_MODEL!r}.")
        return ARCHITECTURES["SmolLM2-135M"]
    path = Path(model).expanduser()
    if path.exists() or model.startswith(("/", ".", "~")) or model.count("/") > 1:
        if not path.is_dir():
            raise ValueError(f"No model folder {model!r} on this machine.")
        config_file = path / "config.json"
        if not config_file.exists():
            raise ValueError(f"Model folder {model!r} has no config.json.")
    else:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
        if not isinstance(cached, str):
            raise ValueError(f"{model!r} is neither a model folder on this machine nor a hub "
                             "model in the local cache, and the hub cannot be reached (this app "
                             "runs offline). Download it where there is internet and give its "
                             "folder instead.")
        config_file = Path(cached)
    config = _Config(**json.loads(config_file.read_text()))
    return arch_from_hf_config(config, name=path.name or model)


def _free_memory() -> tuple[int, int]:
    """(available, total) bytes of this machine's RAM, where training runs on a CPU."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        meminfo = Path("/proc/meminfo").read_text().split()
        available = int(meminfo[meminfo.index("MemAvailable:") + 1]) * 1024
    except (OSError, ValueError):
        available = total
    return available, total


@st.cache_data(show_spinner=False)
def estimate(arch, settings: tuple) -> dict:
    from core.memory import estimate_training_memory

    s = dict(settings)
    m = estimate_training_memory(arch, s["method"], s["batch_size"], s["max_length"], s["r"],
                                 s["target_modules"], "adamw", False, "fp32")
    return {**m.components(), "total": m.total}


def memory_panel(settings: dict, arch) -> int | None:
    """The memory lesson's estimate for these settings and whether it fits here."""
    st.subheader("Will it fit?")
    try:
        parts = estimate(arch, tuple(sorted(settings.items())))
    except (ValueError, ImportError) as error:
        st.warning(f"No memory estimate for these settings: {error}")
        return None
    available, total = _free_memory()
    st.metric("Estimated training memory", fmt_bytes(parts["total"]),
              help="core.memory.estimate_training_memory (see the QLoRA and memory lesson)")
    fig = go.Figure([go.Bar(x=[parts[k] / 2**20 for k in parts if k != "total"],
                            y=[k for k in parts if k != "total"], orientation="h")])
    fig.update_layout(xaxis_title="MB", yaxis_autorange="reversed")
    plot(fig, height=260, key="ft_memory_chart")
    if parts["total"] < available:
        st.success(f"Fits: this machine has {fmt_bytes(available)} free of {fmt_bytes(total)}.")
    else:
        st.error(f"Does not fit in the {fmt_bytes(available)} free here: lower the batch size "
                 "or max length, or use QLoRA.")
    return int(parts["total"])


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
        st.error(f"Dataset {_dataset_label(name)}: {error}", icon=":material/error:")
        return
    st.caption(f"**{_dataset_label(name)}**: {n_train} training and {n_heldout} held-out "
               "examples; the first five:")
    st.dataframe(rows, hide_index=True, height=220)
