"""The lab's second task: fine-tune a BERT-family encoder to sort texts into classes.

The notes' first exercise (CURRICULUM.md §7): LoRA on a small BERT model against full
fine-tuning, on numbers measured here. The model is all-MiniLM-L6-v2 (bundled as
``minilm-l6``: a 6-layer BERT encoder, hidden size 384) under a fresh classification head,
``AutoModelForSequenceClassification``: the [CLS] token's vector goes through BERT's pooler
(``tanh(W_p h + b_p)``) and a new linear layer ``classifier: (num_labels, 384)`` that gives
one logit per class. The loss is the cross-entropy of those logits against the label.

Methods (Hu et al. 2021, "LoRA"; Dettmers et al. 2023, "QLoRA"):

- ``lora``: the encoder frozen; LoRA adapters (peft, ``task_type="SEQ_CLS"``) on the attention
  projections ``query``, ``key``, ``value`` (optionally every ``dense`` layer), each update
  ``W = W0 + (alpha / r) * B @ A`` with ``A: (r, d_in)``, ``B: (d_out, r)``, B starting at
  zero. peft's SEQ_CLS task puts the head (``classifier``) into ``modules_to_save``: a full,
  trainable copy, saved with the adapter. So the head trains in every method;
- ``qlora``: the same over the encoder's linear layers stored as 4-bit NF4 with double
  quantization (bitsandbytes ``Linear4bit``, which runs on a CPU too; the pooler too); the
  head is kept out of the quantization (``llm_int8_skip_modules``), a float32 ``nn.Linear``
  that trains;
- ``full``: every weight trains.

"Before" means the model with its untrained head, drawn with the run's ``seed``
(``torch.manual_seed(seed)`` right before loading), so ``load_tuned_classifier`` rebuilds the
same untrained model that the run scored before training. With 6 classes it answers at about
chance level, 1/6.

Data: the bundled ``intents`` set (``assets/datasets/make_intents.py``: customer messages in
six intents, a fixed split) or a person's JSONL/CSV file of ``text``/``label`` columns, read
with ``core.finetune.tables.read_rows`` and split 90/10 by distinct text as
``core.finetune.data.split_examples`` splits prompts.

Light at import time: torch, transformers and peft are imported inside the functions.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from core.finetune.data import Example, read_parts, split_examples
from core.finetune.tables import read_rows

BUNDLED_LABELLED = ("intents",)
LABELLED_COLUMNS = ("text", "label")
MAX_LABELS = 50
MAX_LABEL_CHARS = 100
LABELS_FILE = "labels.json"  # written beside the adapter: the class names, in logit order
CLASSIFY_TARGETS = ("query", "key", "value", "dense")  # BERT's linear layers, as peft matches them
EVAL_BATCH = 64

# The default classify run: LoRA on MiniLM over ``intents``. Tuned on this project's 2-core
# CPU (bench/bench_classify.py prints the figures): held-out accuracy about 1/6 before (the
# untrained head), about 0.95 after 30 steps, in well under 120 s of training.
CLASSIFY_DEFAULTS = {
    "task": "classify",
    "model": "minilm-l6",
    "method": "lora",
    "dataset": "intents",
    "r": 8,
    "alpha": 16,
    "dropout": 0.0,
    "target_modules": ("query", "key", "value"),
    "learning_rate": 1e-2,
    "max_steps": 30,
    "batch_size": 16,
    "max_length": 48,
    "seed": 0,
}
# The usual peak learning rate of each method here: LoRA's adapters and the fresh head take
# large steps; full fine-tuning moves every pretrained weight, and at 1e-2 it diverged (the
# model then answers one class for everything), while 1e-3 learned as well as LoRA at 1e-2.
METHOD_LEARNING_RATES = {"lora": 1e-2, "qlora": 1e-2, "full": 1e-3}


def classify_settings(**changes) -> dict:
    """The settings of a classify run: ``CLASSIFY_DEFAULTS`` with ``changes``; unless
    ``learning_rate`` is among them, the method's ``METHOD_LEARNING_RATES`` entry."""
    unknown = sorted(set(changes) - set(CLASSIFY_DEFAULTS))
    if unknown:
        raise ValueError(
            f"Unknown classify settings {unknown}; expected some of {list(CLASSIFY_DEFAULTS)}"
        )
    settings = {**CLASSIFY_DEFAULTS, **changes}
    _check_method(settings["method"])
    if "learning_rate" not in changes:
        settings["learning_rate"] = METHOD_LEARNING_RATES[settings["method"]]
    return settings


@dataclass(frozen=True)
class LabelledExample:
    """One text and the class it belongs to."""

    text: str
    label: str


@dataclass(frozen=True)
class LabelledDataset:
    """A named labelled set: train and held-out examples (no text on both sides) and the
    class names in a fixed order (sorted), which is the order of the classifier's logits."""

    name: str  # "intents" or the upload's file name
    train: tuple[LabelledExample, ...]
    heldout: tuple[LabelledExample, ...]
    labels: tuple[str, ...]

    def class_counts(self) -> dict[str, int]:
        """Training examples per class, in the order of ``labels``."""
        counts = Counter(e.label for e in self.train)
        return {label: counts[label] for label in self.labels}


# -- data -----------------------------------------------------------------------------------


def parse_labelled_upload(data: bytes, filename: str) -> list[LabelledExample]:
    """Validate and read a JSONL or CSV file of ``text``/``label`` examples.

    The file rules and limits are ``core.finetune.tables.read_rows``' (exactly the keys or
    columns ``text`` and ``label``, non-empty text values, 5 MB, 4000 characters a value).
    On top: a label is trimmed of surrounding spaces and at most ``MAX_LABEL_CHARS``
    characters; the same text may not carry two different labels; the file holds at least 2
    and at most ``MAX_LABELS`` classes. Raises ValueError naming the line and the problem.
    """
    rows = read_rows(data, filename, LABELLED_COLUMNS)
    examples, first_seen = [], {}  # text -> (line, label)
    for line, row in rows:
        text, label = row["text"], row["label"].strip()
        if len(label) > MAX_LABEL_CHARS:
            raise ValueError(
                f'line {line}: "label" is {len(label):,} characters long; a class name may '
                f"have at most {MAX_LABEL_CHARS}"
            )
        seen = first_seen.setdefault(text, (line, label))
        if seen[1] != label:
            raise ValueError(
                f"line {line}: the same text already has the label {seen[1]!r} on line "
                f"{seen[0]}, here it is {label!r}; give each text one label"
            )
        examples.append(LabelledExample(text, label))
    labels = sorted({e.label for e in examples})
    if len(labels) < 2:
        raise ValueError(
            f"only one class ({labels[0]!r}) in the file; a classifier needs at least 2 labels"
        )
    if len(labels) > MAX_LABELS:
        raise ValueError(f"{len(labels)} different labels; the limit is {MAX_LABELS} classes")
    return examples


def split_labelled(
    examples, heldout_fraction: float = 0.1, seed: int = 0
) -> tuple[tuple[LabelledExample, ...], tuple[LabelledExample, ...]]:
    """(train, held-out) by distinct text, deterministically for a seed: exactly
    ``core.finetune.data.split_examples`` with the text as the prompt and the label as the
    response (so a repeated text never sits on both sides)."""
    as_pairs = [Example(e.text, e.label) for e in examples]
    train, heldout = split_examples(as_pairs, heldout_fraction, seed)
    return tuple(LabelledExample(e.prompt, e.response) for e in train), tuple(
        LabelledExample(e.prompt, e.response) for e in heldout
    )


def load_labelled_dataset(
    name_or_path: str, seed: int = 0, heldout_fraction: float = 0.1
) -> LabelledDataset:
    """The bundled ``intents`` set (its fixed split; ``seed`` and ``heldout_fraction`` are
    ignored), or a ``.jsonl``/``.csv`` file by path, read with ``parse_labelled_upload`` and
    split with ``split_labelled(examples, heldout_fraction, seed)``. Every class must keep at
    least one training example, else ValueError names it."""
    name, train, heldout = read_parts(name_or_path, BUNDLED_LABELLED, parse_labelled_upload,
                                      split_labelled, heldout_fraction, seed, "labelled dataset")
    labels = tuple(sorted({e.label for e in train + heldout}))
    untrained = [label for label in labels if label not in {e.label for e in train}]
    if untrained:
        raise ValueError(
            f"{name}: the label(s) {untrained} have no training example after holding out "
            f"{heldout_fraction:.0%}; add more examples of them"
        )
    return LabelledDataset(name, train, heldout, labels)


# -- model ----------------------------------------------------------------------------------


def _check_method(method: str) -> None:
    from core.finetune import METHODS

    if method not in METHODS:
        raise ValueError(
            f"method should be one of {list(METHODS)}, but the value passed is {method!r}"
        )


def load_classifier_base(model_path: str, method: str, labels, seed: int = 0,
                         compute_dtype: str = "float32"):
    """The encoder with a fresh head for ``labels`` (``num_labels``, ``id2label``,
    ``label2id`` in that order), its head drawn after ``torch.manual_seed(seed)``.
    ``qlora``: the encoder's linear layers as bitsandbytes 4-bit NF4 with double quantization
    computing in ``compute_dtype`` (the run's plan, ``core.finetune.device.plan``), the head a
    float32 ``nn.Linear``."""
    import torch
    from transformers import AutoModelForSequenceClassification, BitsAndBytesConfig

    _check_method(method)
    labels = list(labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"labels should be at least 2 distinct class names, got {labels!r}")
    kwargs = {}
    if method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=getattr(torch, compute_dtype),
            llm_int8_skip_modules=["classifier"],
        )  # the head stays an nn.Linear: it trains
    torch.manual_seed(seed)  # the untrained head: "before" is this model
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path,
        use_safetensors=True,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        dtype=torch.float32,
        **kwargs,
    )
    if method == "qlora":
        from core.finetune.train import keep_4bit_layout

        keep_4bit_layout(model)
    return model


def classify_lora_config(r: int, alpha: int, dropout: float, target_modules):
    """peft's LoraConfig for sequence classification: ``task_type="SEQ_CLS"`` adds the head
    (``classifier``) to ``modules_to_save``, so it trains and is saved with the adapter."""
    from peft import LoraConfig

    return LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        task_type="SEQ_CLS",
    )


def prepare_classifier(
    model_path: str,
    method: str,
    labels,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.0,
    target_modules=("query", "key", "value"),
    seed: int = 0,
    how=None,
):
    """``(model, tokenizer)`` ready to train: ``full`` the model itself (every weight
    trainable); ``lora`` a peft model over the float32 encoder; ``qlora`` a peft model over
    the 4-bit encoder (``prepare_model_for_kbit_training``: base frozen, norms in float32,
    gradient checkpointing and compute dtype as the run's plan ``how`` says, default
    ``core.finetune.device.plan(method)``).
    The head comes from ``seed`` and so does the LoRA initialisation (A Kaiming-uniform)."""
    import torch
    from transformers import AutoTokenizer

    _check_method(method)
    if method != "full":
        bad = [m for m in target_modules if not isinstance(m, str) or not m.strip()]
        if not list(target_modules) or bad:
            raise ValueError(
                f"target_modules should be module names such as {list(CLASSIFY_TARGETS)}, "
                f"but the value passed is {target_modules!r}"
            )
    if how is None:
        from core.finetune.device import plan

        how = plan(method)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = load_classifier_base(model_path, method, labels, seed, how.compute.dtype)
    if method == "full":
        model.train()
        return model, tokenizer
    from peft import get_peft_model, prepare_model_for_kbit_training

    if method == "qlora":
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=how.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    torch.manual_seed(seed)
    model = get_peft_model(model, classify_lora_config(r, alpha, dropout, target_modules))
    model.train()
    return model, tokenizer


def trainable_parameters(model) -> int:
    """The number of weights the optimizer updates: ``sum(p.numel())`` over parameters with
    ``requires_grad`` (LoRA's A and B plus the head for lora/qlora; everything for full)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# -- encoding, training ---------------------------------------------------------------------


def encode_labelled(tokenizer, examples, labels, max_length: int) -> list[dict]:
    """One feature per example: ``{"input_ids", "attention_mask", "token_type_ids",
    "labels"}`` (the tokenizer's [CLS] text [SEP], cut to ``max_length`` tokens; ``labels``
    the class index in ``labels``). Unknown labels raise ValueError."""
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({e.label for e in examples} - set(index))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the model's classes {labels}")
    if not 2 <= max_length <= 8192:
        raise ValueError(f"max_length should be an integer in [2, 8192], got {max_length!r}")
    encoded = tokenizer([e.text for e in examples], truncation=True, max_length=max_length)
    return [
        {**{k: v[i] for k, v in encoded.items()}, "labels": index[e.label]}
        for i, e in enumerate(examples)
    ]


def collator(tokenizer):
    """transformers' ``DataCollatorWithPadding``: pads a batch to its longest example and
    stacks ``labels`` into a ``(batch,)`` tensor."""
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer)


def make_classify_trainer(
    model, tokenizer, config, features: list[dict], scratch_dir: str, callbacks=(), how=None
):
    """A transformers ``Trainer`` over the encoded ``features``, with the chat task's
    settings (``core.finetune.train.training_arguments``: AdamW, linear decay after a 10%
    warm-up, no checkpoints, a log line every step). ``config`` is a ``FinetuneConfig`` (its
    method, learning_rate, max_steps, batch_size, seed). ``trainer.state.num_input_tokens_seen``
    counts the non-padding tokens trained on, as the run
    directory's progress callback expects."""
    from transformers import Trainer

    from core.finetune.train import run_plan, training_arguments

    args = training_arguments(config, scratch_dir, how or run_plan(config))
    return Trainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=collator(tokenizer),
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )


# -- evaluation, prediction -----------------------------------------------------------------


def _logits(model, tokenizer, texts: list[str], max_length: int, batch_size: int = EVAL_BATCH):
    """``(len(texts), num_labels)`` float32 logits, in eval mode without gradients."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer(
                    texts[start : start + batch_size],
                    truncation=True,
                    max_length=max_length,
                    padding=True,
                    return_tensors="pt",
                )
                out.append(model(**batch.to(device)).logits.float())
    finally:
        model.train(was_training)
    return torch.cat(out)


def evaluate_classifier(model, tokenizer, dataset: LabelledDataset, max_length: int) -> dict:
    """Held-out metrics of a classifier on ``dataset.heldout``:

    ``accuracy`` = (# argmax logit == label) / n; ``loss`` = mean cross-entropy
    ``-log softmax(logits)[label]`` (nats per example); ``n``; ``confusion[i][j]`` = # held-out
    examples of class ``labels[i]`` predicted as ``labels[j]`` (rows sum to each class's count,
    the diagonal holds the right answers); ``labels`` = ``dataset.labels``."""
    import torch

    if not dataset.heldout:
        raise ValueError(f"{dataset.name} has no held-out examples to evaluate")
    labels = list(dataset.labels)
    logits = _logits(model, tokenizer, [e.text for e in dataset.heldout], max_length)
    target = torch.tensor([labels.index(e.label) for e in dataset.heldout])
    predicted = logits.argmax(dim=-1)
    confusion = torch.zeros(len(labels), len(labels), dtype=torch.int64)
    confusion.index_put_((target, predicted), torch.ones_like(target), accumulate=True)
    n = len(dataset.heldout)
    result = {
        "accuracy": float((predicted == target).float().mean()),
        "loss": float(torch.nn.functional.cross_entropy(logits, target)),
        "n": n,
        "confusion": confusion.tolist(),
        "labels": labels,
    }
    assert sum(map(sum, result["confusion"])) == n
    return result


def predict(model, tokenizer, texts: list[str], max_length: int = 128) -> list[str]:
    """The class name (``model.config.id2label``) of the highest logit for each text."""
    if isinstance(texts, str) or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError(f"texts should be a list of non-empty strings, got {texts!r:.80}")
    if not texts:
        return []
    id2label = model.config.id2label
    return [id2label[int(i)] for i in _logits(model, tokenizer, list(texts), max_length).argmax(-1)]


def class_probabilities(model, tokenizer, text: str, max_length: int = 128) -> dict[str, float]:
    """``softmax(logits)`` of one text as ``{class name: probability}`` in the head's order
    (``model.config.id2label``); the probabilities sum to 1."""
    import torch

    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text should be a non-empty string, got {text!r:.80}")
    p = torch.softmax(_logits(model, tokenizer, [text], max_length)[0], dim=-1)
    id2label = model.config.id2label
    return {id2label[i]: float(p[i]) for i in range(len(p))}


# -- saving, reloading ----------------------------------------------------------------------


def save_classifier(model, tokenizer, labels, target: Path | str) -> None:
    """``save_pretrained`` of the adapter (lora/qlora: LoRA weights and the trained head) or
    of the whole model (full), the tokenizer, and ``labels.json``, into a temp folder renamed
    to ``target`` (``core.models.atomic_folder``): complete or absent."""
    from core.models import atomic_folder

    with atomic_folder(Path(target)) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / LABELS_FILE).write_text(json.dumps(list(labels)))


def weights_bytes(folder: Path | str) -> int:
    """Bytes of the weight files (``*.safetensors``, ``*.bin``) in a folder: the adapter's
    size on disk for lora/qlora, the whole model's for full or for the base model folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"No folder {str(folder)!r}")
    return sum(
        p.stat().st_size
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in (".safetensors", ".bin")
    )


def load_tuned_classifier(run_dir: Path | str):
    """``(base, tuned, tokenizer)`` of a finished classify run, for side-by-side answers.

    ``base`` is what the run scored "before": the encoder with the untrained head from the
    run's seed (4-bit for qlora). ``tuned``: the same base with the saved adapter
    (``peft.PeftModel.from_pretrained``, which also loads the trained head), or for ``full``
    the saved model. Reads ``config.json`` and ``adapter/`` (with ``labels.json``); raises
    ValueError when they are missing or unreadable."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.finetune import FinetuneConfig
    from core.finetune.rundir import read_json
    from core.models import resolve_model

    run_dir = Path(run_dir)
    adapter = run_dir / "adapter"
    try:
        config = FinetuneConfig.from_json(json.loads((run_dir / "config.json").read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"Run {str(run_dir)!r} has no readable config.json ({error})") from None
    try:
        labels = json.loads((adapter / LABELS_FILE).read_text())
    except (OSError, ValueError):
        raise ValueError(f"Run {run_dir.name!r} has no saved classifier (yet)") from None
    model_path = resolve_model(config.model)
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    recorded = ((read_json(run_dir / "eval.json") or {}).get("compute") or {}).get("dtype")
    dtype = recorded or "float32"
    base = load_classifier_base(model_path, config.method, labels, config.seed, dtype).eval()
    if config.method == "full":
        tuned = AutoModelForSequenceClassification.from_pretrained(
            adapter, dtype=torch.float32, use_safetensors=True
        )
    else:
        from peft import PeftModel

        tuned = PeftModel.from_pretrained(
            load_classifier_base(model_path, config.method, labels, config.seed, dtype), adapter
        )
    return base, tuned.eval(), tokenizer


# -- comparing finished runs ----------------------------------------------------------------

# What a classify run's eval.json holds (written by the run, read by the page):
EVAL_KEYS = {
    "before": "held-out metrics of the untrained-head model (evaluate_classifier's dict)",
    "after": "held-out metrics after training (evaluate_classifier's dict)",
    "trainable_parameters": "trainable_parameters(model) when training started",
    "train_seconds": "wall time of trainer.train()",
    "peak_memory_bytes": "peak RSS of the training phase (reset_peak_rss before it)",
    "adapter_bytes": "weights_bytes(adapter/): the adapter and head, or the whole model for full",
    "base_model_bytes": "weights_bytes of the base model's folder: the full model's size on disk",
}


def eval_record(
    before: dict,
    after: dict,
    trainable: int,
    train_seconds: float,
    peak_memory_bytes: int,
    adapter_dir: Path | str,
    model_path: Path | str,
    **extra,
) -> dict:
    """A classify run's ``eval.json``: the ``EVAL_KEYS`` (sizes read from disk with
    ``weights_bytes``) plus any ``extra`` keys the run adds (steps, phase times...)."""
    record = {
        "before": before,
        "after": after,
        "trainable_parameters": int(trainable),
        "train_seconds": round(float(train_seconds), 3),
        "peak_memory_bytes": int(peak_memory_bytes),
        "adapter_bytes": weights_bytes(adapter_dir),
        "base_model_bytes": weights_bytes(model_path),
    }
    assert set(record) == set(EVAL_KEYS)
    return {**record, **extra}


def comparable_key(config: dict) -> tuple:
    """What two classify runs must share to be compared: the data and the amount of
    training, ``(dataset, max_steps, batch_size, max_length, seed)``."""
    return tuple(
        config.get(k) for k in ("dataset", "max_steps", "batch_size", "max_length", "seed")
    )


def compare_runs(runs: list[dict]) -> dict[tuple, list[dict]]:
    """Finished classify runs grouped by ``comparable_key``, one row each, as measured.

    ``runs``: dicts ``{"run_id", "state", "config", "eval"}`` (a run directory's files). Only
    runs in state ``done`` whose ``eval.json`` has an ``after`` accuracy count (a stopped run
    trained fewer steps; a chat run has no accuracy). Each row: ``run``, ``method``, ``r``, the ``EVAL_KEYS``
    numbers, ``accuracy_before`` / ``accuracy_after``, and ``size_fraction =
    adapter_bytes / base_model_bytes`` (None when either is unknown). Groups keep the input
    order (newest first, as ``runs.list_runs`` gives them)."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        ev, config = run.get("eval") or {}, run.get("config") or {}
        if run.get("state") != "done" or "accuracy" not in (ev.get("after") or {}):
            continue  # not finished, or not a classify run (no accuracy)
        adapter, base = ev.get("adapter_bytes"), ev.get("base_model_bytes")
        groups.setdefault(comparable_key(config), []).append(
            {
                "run": run["run_id"],
                "method": config.get("method"),
                "r": config.get("r") if config.get("method") != "full" else None,
                "trainable_parameters": ev.get("trainable_parameters"),
                "adapter_bytes": adapter,
                "base_model_bytes": base,
                "size_fraction": adapter / base if adapter and base else None,
                "train_seconds": ev.get("train_seconds"),
                "peak_memory_bytes": ev.get("peak_memory_bytes"),
                "accuracy_before": ev["before"].get("accuracy"),
                "accuracy_after": ev["after"].get("accuracy"),
            }
        )
    return groups


def result_summary(ev: dict) -> dict:
    """The headline numbers of one classify run's ``eval.json``: accuracy and loss before and
    after, ``accuracy_gain = after - before`` (a fraction) and ``loss_change = after -
    before`` (None where a value is missing)."""
    before, after = ev.get("before") or {}, ev.get("after") or {}

    def change(key):
        a, b = after.get(key), before.get(key)
        return a - b if a is not None and b is not None else None

    return {
        "accuracy_before": before.get("accuracy"),
        "accuracy_after": after.get("accuracy"),
        "accuracy_gain": change("accuracy"),
        "loss_before": before.get("loss"),
        "loss_after": after.get("loss"),
        "loss_change": change("loss"),
        "n": after.get("n", before.get("n")),
    }


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
