"""The fine-tune lab's classify task: its settings form (the upload box and the data preview
are in ``_finetune_classify_data``).

UI only (the results are in ``_finetune_classify_results``, the comparison of runs in
``_finetune_classify_compare``). The settings are ``core.finetune.classify.CLASSIFY_DEFAULTS``
to start with; uploads are validated by the ``save`` function the page passes in.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.finetune.classify import (
    BUNDLED_LABELLED,
    CLASSIFY_DEFAULTS,
    CLASSIFY_TARGETS,
    METHOD_LEARNING_RATES,
)
from pages._finetune_classify_data import upload_box
from pages._finetune_parts import POWERS_OF_TWO, _choices, dataset_label

METHODS = {
    "lora": "frozen encoder + LoRA",
    "full": "every weight trains",
    "qlora": "4-bit encoder + LoRA",
}
D = CLASSIFY_DEFAULTS

LEARNING_RATES = sorted(
    {
        1e-5,
        2e-5,
        5e-5,
        1e-4,
        2e-4,
        5e-4,
        1e-3,
        2e-3,
        5e-3,
        1e-2,
        2e-2,
        *METHOD_LEARNING_RATES.values(),
    }
)
MAX_LENGTHS = _choices((16, 32, 48, 64, 128, 256, 512), D["max_length"])


def _method_changed() -> None:
    """A new method starts from its usual learning rate (the slider can change it after)."""
    st.session_state["ft_cls_lr"] = METHOD_LEARNING_RATES[st.session_state["ft_cls_method"]]


def settings_form(uploads: list[str], save: Callable | None = None) -> dict:
    """The classify run's settings, one URL-bound widget each (call inside
    ``shareable_state("ft")``). ``uploads``: paths of saved labelled files to offer;
    ``save``: how an upload is validated and saved (no upload box without it)."""
    q = "query-params"
    model = st.text_input(
        "Encoder: a bundled name or a local folder",
        D["model"],
        key="ft_cls_model",
        bind=q,
        help="minilm-l6 is the bundled all-MiniLM-L6-v2 (a 6-layer BERT encoder). A "
        "folder of another BERT-family encoder works too; a fresh classification head is "
        "put on top either way.",
    ).strip()
    method = st.radio(
        "Method",
        list(METHODS),
        captions=list(METHODS.values()),
        horizontal=True,
        key="ft_cls_method",
        bind=q,
        on_change=_method_changed,
        help="LoRA trains small adapters on the attention projections plus the new head; full "
        "fine-tuning trains every weight; QLoRA is LoRA over a 4-bit encoder. Compare "
        "the runs in the table below.",
    )
    saved = upload_box(save) if save is not None else None
    datasets = [*BUNDLED_LABELLED, *uploads, *([saved] if saved and saved not in uploads else [])]
    dataset = st.selectbox(
        "Labelled data",
        datasets,
        format_func=dataset_label,
        key="ft_cls_dataset",
        bind=q,
        help="intents: customer messages in six intents (track, cancel, refund, change "
        "address, payment, account), with a fixed held-out part partly in sentence patterns "
        "training never shows. The counts are shown below the form.",
    )
    a, b = st.columns(2)
    r = a.select_slider(
        "LoRA rank r",
        _choices(POWERS_OF_TWO[:7], D["r"]),
        D["r"],
        key="ft_cls_r",
        bind=q,
        help="Columns of B and rows of A in each adapter: more rank, more trainable weights "
        "(r x (d_in + d_out) per adapted matrix). 4-16 is usual. Not used by full.",
    )
    alpha = b.select_slider(
        "alpha",
        _choices(POWERS_OF_TWO, D["alpha"]),
        D["alpha"],
        key="ft_cls_alpha",
        bind=q,
        help="The adapter's update is scaled by alpha / r; alpha = 2r is a common choice.",
    )
    dropout = a.slider(
        "LoRA dropout",
        0.0,
        0.5,
        float(D["dropout"]),
        0.05,
        key="ft_cls_dropout",
        bind=q,
        help="Dropout on the adapters' input while training; 0-0.1 is usual.",
    )
    lr = b.select_slider(
        "Learning rate",
        LEARNING_RATES,
        D["learning_rate"],
        format_func=lambda v: f"{v:g}",
        key="ft_cls_lr",
        bind=q,
        help="Peak AdamW step size (linear decay after a 10% warm-up). Picking a method "
        "sets its usual value: LoRA's adapters and the fresh head take large steps; full "
        "fine-tuning moves every pretrained weight and diverges at LoRA's rate (the model "
        "then answers one class for everything: see the confusion matrix).",
    )
    targets = st.multiselect(
        "Target modules (LoRA)",
        CLASSIFY_TARGETS,
        list(D["target_modules"]),
        key="ft_cls_targets",
        bind=q,
        help="Which of BERT's linear layers get adapters: the attention projections query, "
        "key and value, and 'dense' = every other linear layer (attention output, the "
        "feed-forward pair, the pooler). The head always trains.",
    )
    steps = a.slider(
        "Training steps",
        1,
        300,
        D["max_steps"],
        key="ft_cls_steps",
        bind=q,
        help="Optimizer steps. Runs compare fairly only at the same data and steps.",
    )
    batch = b.select_slider(
        "Batch size",
        _choices(POWERS_OF_TWO[:7], D["batch_size"]),
        D["batch_size"],
        key="ft_cls_batch",
        bind=q,
        help="Examples per step: more is smoother and slower per step; 8-32 is usual.",
    )
    max_length = a.select_slider(
        "Max length (tokens)",
        MAX_LENGTHS,
        D["max_length"],
        key="ft_cls_max_length",
        bind=q,
        help="Longer texts are cut to this many tokens (a word is one to a few tokens); "
        "short messages need little, and a shorter cut trains faster.",
    )
    seed = b.number_input(
        "Seed",
        0,
        2**31 - 1,
        D["seed"],
        key="ft_cls_seed",
        bind=q,
        help="Draws the untrained head, the LoRA initialisation and the data order.",
    )
    return dict(
        task="classify",
        model=model,
        method=method,
        dataset=dataset,
        r=r,
        alpha=alpha,
        dropout=dropout,
        target_modules=tuple(targets),
        learning_rate=lr,
        max_steps=steps,
        batch_size=batch,
        max_length=max_length,
        seed=int(seed),
    )
