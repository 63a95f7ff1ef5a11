"""The fine-tune lab's classify task: the upload box for labelled texts and the preview of
the chosen dataset (its size, classes and first examples, counted by core)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from pages._finetune_parts import dataset_label


def upload_box(save: Callable[[bytes, str], tuple[Path, list]]) -> str | None:
    """A text/label upload, validated and saved once by ``save(data, filename) -> (path,
    examples)`` (which raises ValueError naming the bad line), then selected as the dataset.
    Returns the saved file's path (None without a good upload)."""
    file = st.file_uploader(
        "Or upload your own labelled texts: JSONL or CSV with `text` and `label` columns",
        type=["jsonl", "csv"],
        key="ft_cls_upload",
        max_upload_size=5,
        help="One example a line (JSONL) or a row (CSV): the text and its class name. At "
        "least 2 classes; 10% of the distinct texts are held out to measure accuracy.",
    )
    if file is None:
        return None
    seen = st.session_state.get("_ft_cls_upload")
    if seen is None or seen["id"] != file.file_id:
        try:
            path, examples = save(file.getvalue(), file.name)
        except ValueError as error:
            seen = {"id": file.file_id, "error": f"{file.name}: {error}"}
        else:
            classes = len({e.label for e in examples})
            seen = {
                "id": file.file_id,
                "error": None,
                "n": len(examples),
                "classes": classes,
                "path": str(path),
            }
            st.session_state["ft_cls_dataset"] = str(path)
        st.session_state["_ft_cls_upload"] = seen
    if seen["error"]:
        st.error(seen["error"], icon=":material/error:")
        return None
    st.success(
        f"{file.name}: {seen['n']} examples in {seen['classes']} classes, saved for training.",
        icon=":material/check:",
    )
    return seen["path"]


@st.cache_data(show_spinner=False, max_entries=8)
def _dataset_summary(name: str) -> tuple[int, int, dict, list[dict]]:
    from core.finetune.classify import load_labelled_dataset

    ds = load_labelled_dataset(name)
    return (
        len(ds.train),
        len(ds.heldout),
        ds.class_counts(),
        [{"text": e.text, "label": e.label} for e in ds.train[:5]],
    )


def dataset_preview(name: str) -> None:
    """The labelled set's size, its classes with their training counts, and five examples."""
    try:
        n_train, n_heldout, counts, rows = _dataset_summary(name)
    except (ValueError, OSError) as error:
        st.error(f"Dataset {dataset_label(name)}: {error}", icon=":material/error:")
        return
    classes = ", ".join(f"{label} ({n})" for label, n in counts.items())
    st.caption(
        f"**{dataset_label(name)}**: {n_train} training and {n_heldout} held-out texts "
        f"in {len(counts)} classes: {classes}. The first five:"
    )
    st.dataframe(rows, hide_index=True, height=220)
