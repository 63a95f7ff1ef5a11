"""A tiny random BERT (2 layers, hidden size 32) with the bundled MiniLM tokenizer, and a tiny
labelled set: the smallest things that exercise the classify task's plumbing."""

import json
from pathlib import Path

TINY_ROWS = [
    (f"{verb} {thing} {i}", label)
    for i in range(8)
    for verb, thing, label in (
        ("where is", "my parcel", "track"),
        ("cancel", "the order", "cancel"),
        ("refund", "my money", "refund"),
    )
]


def save_tiny_bert(folder: Path) -> str:
    """Save the tiny BERT (a ``BertModel`` with its pooler, random weights from seed 0) and
    MiniLM's tokenizer into ``folder``; returns the folder as a string."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from core.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("minilm-l6"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def write_tiny_rows(path: Path) -> str:
    """The tiny labelled set as JSONL (24 texts, 3 classes); returns the path."""
    path.write_text("".join(json.dumps({"text": t, "label": la}) + "\n" for t, la in TINY_ROWS))
    return str(path)
