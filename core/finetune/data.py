"""Fine-tuning data: the bundled datasets, the user's upload, the held-out split, order scoring.

Supervised fine-tuning (CURRICULUM.md §6) learns from labeled prompt -> response pairs; this
module turns files into such pairs and nothing else (no torch: the page imports it to preview
data before any model is loaded).

- Bundled sets live in ``assets/datasets/<name>/{train,heldout}.jsonl`` with a fixed split,
  written by the seeded scripts ``assets/datasets/make_orders.py`` and ``make_course_qa.py``.
- An upload is JSONL (one ``{"prompt": ..., "response": ...}`` object a line) or CSV (a header
  ``prompt,response``), validated line by line: the first problem raises ``ValueError`` naming
  the line, so a person can fix the file.
- ``orders`` teaches a specific output format (JSON, the curriculum's reason to fine-tune):
  "send 3 red mugs to our Lima office" ->
  ``{"item": "mug", "quantity": 3, "color": "red", "destination": "Lima"}``.
  ``score_orders`` measures it: the valid-JSON rate and the exact-match rate.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from core.finetune.tables import UPLOAD_SUFFIXES, read_rows

DATASETS_DIR = Path(__file__).resolve().parents[2] / "assets" / "datasets"
BUNDLED_DATASETS = ("orders", "course-qa")
_KINDS = {"orders": "orders", "course-qa": "qa"}
COLUMNS = ("prompt", "response")
ORDER_KEYS = ("item", "quantity", "color", "destination")


@dataclass(frozen=True)
class Example:
    """One supervised pair: the raw request text and the answer the model should give."""

    prompt: str
    response: str


@dataclass(frozen=True)
class Dataset:
    """A named dataset with its train and held-out examples (no prompt is in both)."""

    name: str  # "orders", "course-qa", or the upload's file name
    kind: str  # "orders" | "qa" | "upload"
    train: tuple[Example, ...]
    heldout: tuple[Example, ...]


def load_dataset(name_or_path: str, heldout_fraction: float = 0.1, seed: int = 0) -> Dataset:
    """A bundled dataset by name, or the user's ``.jsonl`` / ``.csv`` file by path.

    Bundled names (``BUNDLED_DATASETS``) come with their own fixed split, so
    ``heldout_fraction`` and ``seed`` are ignored for them. A file is read with
    ``parse_upload`` and split with ``split_examples(examples, heldout_fraction, seed)``.
    """
    name, train, heldout = read_parts(name_or_path, BUNDLED_DATASETS, parse_upload,
                                      split_examples, heldout_fraction, seed)
    kind = _KINDS[name] if name_or_path in BUNDLED_DATASETS else "upload"
    return Dataset(name, kind, train, heldout)


def read_parts(name_or_path: str, bundled: tuple[str, ...], parse, split,
               heldout_fraction: float, seed: int, what: str = "dataset") -> tuple[str, tuple, tuple]:
    """``(name, train, held-out)`` of a bundled set (``assets/datasets/<name>/train.jsonl``
    and ``heldout.jsonl``, read with ``parse``) or of a file by path (``parse`` then
    ``split(examples, heldout_fraction, seed)``): the one reader behind both tasks' data."""
    if name_or_path in bundled:
        folder = DATASETS_DIR / name_or_path
        train, heldout = (
            tuple(parse((folder / f"{part}.jsonl").read_bytes(), f"{name_or_path}/{part}.jsonl"))
            for part in ("train", "heldout")
        )
        return name_or_path, train, heldout
    path = Path(name_or_path)
    if path.suffix.lower() not in UPLOAD_SUFFIXES:
        raise ValueError(
            f"Unknown {what} {name_or_path!r}: expected one of {list(bundled)} "
            f"or a path to a {' or '.join(UPLOAD_SUFFIXES)} file"
        )
    if not path.is_file():
        raise ValueError(f"Dataset file {name_or_path!r} does not exist")
    try:
        examples = parse(path.read_bytes(), path.name)
    except ValueError as err:
        raise ValueError(f"{path.name}: {err}") from None
    train, heldout = split(examples, heldout_fraction, seed)
    return path.name, tuple(train), tuple(heldout)


def parse_upload(
    data: bytes, filename: str, max_bytes: int = 5_000_000, max_field_chars: int = 4000
) -> list[Example]:
    """Validate and read a JSONL or CSV file of prompt/response pairs (chosen by the suffix),
    with ``core.finetune.tables.read_rows`` and the columns ``prompt`` and ``response``.

    JSONL: every non-blank line is a JSON object with exactly the keys "prompt" and
    "response", both non-empty strings. CSV: a header row naming exactly the columns
    ``prompt`` and ``response`` (any order), then one row per example (quoted fields may
    span lines). A UTF-8 byte-order mark is accepted; blank lines are skipped.

    ``filename`` only picks the format; messages do not repeat it (callers prefix it).
    Raises ValueError on the first problem, naming the line (1-based, as an editor counts):
    an empty or oversized file (> ``max_bytes``), text that is not UTF-8, a malformed JSON
    line or CSV row, wrong columns, a missing, non-text or empty field, a field longer than
    ``max_field_chars`` characters, or a file holding no example.
    """
    rows = read_rows(data, filename, COLUMNS, max_bytes, max_field_chars)
    return [Example(row["prompt"], row["response"]) for _, row in rows]


def split_examples(
    examples, heldout_fraction: float = 0.1, seed: int = 0
) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """Split examples into (train, held-out), deterministically for a given seed.

    The split is by distinct prompt: examples sharing a prompt go to the same side, so the
    held-out set never repeats a training prompt. The distinct prompts are shuffled with
    ``random.Random(seed)`` and taken for held-out until it holds
    ``max(1, round(len(examples) * heldout_fraction))`` examples; at least one prompt always
    stays in training. Both parts keep the input order.
    """
    examples = list(examples)
    if not 0 < heldout_fraction < 1:
        raise ValueError(
            f"heldout_fraction must be between 0 and 1 (exclusive), got {heldout_fraction}"
        )
    prompts = list(dict.fromkeys(e.prompt for e in examples))  # distinct, first-seen order
    if len(prompts) < 2:
        raise ValueError(
            f"Need at least 2 examples with different prompts to hold some out, got {len(prompts)}"
        )
    random.Random(seed).shuffle(prompts)
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.prompt] = counts.get(e.prompt, 0) + 1
    target = max(1, round(len(examples) * heldout_fraction))
    held: set[str] = set()
    n_held = 0
    for prompt in prompts[:-1]:  # the last prompt always stays in training
        if n_held >= target:
            break
        held.add(prompt)
        n_held += counts[prompt]
    train = tuple(e for e in examples if e.prompt not in held)
    heldout = tuple(e for e in examples if e.prompt in held)
    assert train and heldout and len(train) + len(heldout) == len(examples)
    return train, heldout


def parse_order(text: str) -> dict | None:
    """The first JSON object in a model answer, if it is a valid order; else None.

    Valid means exactly the keys ``ORDER_KEYS``; "item" and "destination" non-empty strings;
    "quantity" a positive integer (not a float or a bool); "color" a non-empty string or null.
    Text around the object (a sentence, a code fence) is allowed. The result is a dict with
    the keys in ``ORDER_KEYS`` order, so ``json.dumps`` prints it as the dataset does.
    """
    if not isinstance(text, str):
        raise ValueError(f"parse_order expects a string, got {type(text).__name__}")
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        return _valid_order(obj)
    return None


def _valid_order(obj) -> dict | None:
    if not isinstance(obj, dict) or set(obj) != set(ORDER_KEYS):
        return None
    item, quantity, color, destination = (obj[k] for k in ORDER_KEYS)
    ok = (
        isinstance(item, str)
        and item.strip() != ""
        and type(quantity) is int
        and quantity > 0
        and (color is None or (isinstance(color, str) and color.strip() != ""))
        and isinstance(destination, str)
        and destination.strip() != ""
    )
    return {k: obj[k] for k in ORDER_KEYS} if ok else None


def score_orders(predictions: list[str], references: list[str]) -> dict:
    """Held-out metrics for ``orders``: {"valid_json": frac, "exact_match": frac, "n": int}.

    valid_json = (# predictions where ``parse_order`` finds a valid order) / n;
    exact_match = (# predictions whose parsed order equals the reference's, value for value,
    case-sensitive) / n. Every reference must itself be a valid order.
    """
    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references):
        raise ValueError(
            f"Got {len(predictions)} predictions for {len(references)} references; expected the same number"
        )
    if not references:
        raise ValueError("Nothing to score: expected at least one prediction and reference")
    n_valid = n_exact = 0
    for i, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
        expected = parse_order(reference)
        if expected is None:
            raise ValueError(f"Reference {i} is not a valid order: {reference!r}")
        got = parse_order(prediction)
        n_valid += got is not None
        n_exact += got == expected
    n = len(references)
    return {"valid_json": n_valid / n, "exact_match": n_exact / n, "n": n}


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
