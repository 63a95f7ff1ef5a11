"""Reading a person's JSONL or CSV upload into rows of named text columns, line by line.

One reader for every upload of the lab: ``core.finetune.classify`` reads ``text``/``label``
files with it; the chat task's ``prompt``/``response`` files follow the same rules and limits
(``core.finetune.data.parse_upload``). Pure Python, no torch.

- JSONL: every non-blank line is a JSON object with exactly the given keys.
- CSV: a header row naming exactly the given columns (any order, any case), then one row per
  example; quoted fields may span lines.
- A UTF-8 byte-order mark is accepted; blank lines and rows are skipped.

The first problem raises ``ValueError`` naming the line (1-based, as an editor counts) and
what was expected, so a person can fix the file.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

UPLOAD_SUFFIXES = (".jsonl", ".csv")
MAX_BYTES = 5_000_000  # the page's upload box allows 5 MB
MAX_FIELD_CHARS = 4000


def read_rows(
    data: bytes,
    filename: str,
    columns: tuple[str, ...],
    max_bytes: int = MAX_BYTES,
    max_field_chars: int = MAX_FIELD_CHARS,
) -> list[tuple[int, dict[str, str]]]:
    """``(line, {column: value})`` for every example of a JSONL or CSV file (by the suffix).

    Every value is a non-empty string of at most ``max_field_chars`` characters. Raises
    ValueError for: an unsupported suffix, an empty or oversized file (> ``max_bytes``), text
    that is not UTF-8, a malformed JSON line or CSV row, wrong keys/columns, a missing,
    non-text, empty or too long value, or a file holding no example. ``filename`` only picks
    the format; messages do not repeat it (callers prefix it).
    """
    if max_bytes <= 0 or max_field_chars <= 0:
        raise ValueError(
            f"max_bytes and max_field_chars must be positive, got {max_bytes} and {max_field_chars}"
        )
    if len(columns) < 1 or len(set(columns)) != len(columns):
        raise ValueError(f"columns must be distinct names, got {columns!r}")
    what = "/".join(columns)
    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ValueError(
            f"unsupported file type {suffix or '(none)'!r}; expected a .jsonl or .csv file"
        )
    if not data:
        raise ValueError(f"the file is empty; expected {what} examples")
    if len(data) > max_bytes:
        raise ValueError(f"the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(
            f"line {line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8"
        ) from None
    rows = _jsonl_rows(text, columns) if suffix == ".jsonl" else _csv_rows(text, columns)
    checked = [(line, _checked(row, line, columns, max_field_chars)) for line, row in rows]
    if not checked:
        raise ValueError(f"no examples found; expected at least one {what} pair")
    return checked


def _jsonl_rows(text: str, columns: tuple[str, ...]):
    """Yield (line number, dict) for each non-blank line."""
    for line, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"line {line}: malformed JSON ({err.msg}, column {err.colno})"
            ) from None
        if not isinstance(row, dict):
            keys = " and ".join(f'"{c}"' for c in columns)
            raise ValueError(
                f"line {line}: expected a JSON object with {keys}, got a {type(row).__name__}"
            )
        _check_columns(list(row), line, "keys", columns)
        yield line, row


def _csv_rows(text: str, columns: tuple[str, ...]):
    """Yield (line number where the row starts, dict) for each non-blank CSV row."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = None
    line = 1  # the line the next row starts on
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            if "field larger than field limit" in str(err):  # the csv module's own cap
                raise ValueError(
                    f"line {line}: a value is longer than {csv.field_size_limit():,} characters"
                ) from None
            raise ValueError(f"line {line}: malformed CSV ({err})") from None
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in cells]
            _check_columns(header, start, "columns", columns)
            continue
        if len(cells) != len(header):
            raise ValueError(
                f"line {start}: expected {len(header)} values ({', '.join(header)}), "
                f"found {len(cells)}"
            )
        yield start, dict(zip(header, cells, strict=True))


def _check_columns(names: list[str], line: int, what: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in names]
    extra = [n for n in names if n not in columns]
    if missing or extra or len(names) != len(columns):
        found = ", ".join(repr(n) for n in names) or "none"
        problem = f"missing {', '.join(repr(c) for c in missing)}" if missing else "wrong " + what
        expected = " and ".join(f"'{c}'" for c in columns)
        raise ValueError(
            f"line {line}: {problem}; expected exactly the {what} {expected}, found {found}"
        )


def _checked(row: dict, line: int, columns: tuple[str, ...], max_field_chars: int) -> dict:
    for column in columns:
        value = row[column]
        if not isinstance(value, str):
            raise ValueError(f'line {line}: "{column}" must be text, got {json.dumps(value)[:40]}')
        if not value.strip():
            raise ValueError(f'line {line}: "{column}" is empty')
        if len(value) > max_field_chars:
            raise ValueError(
                f'line {line}: "{column}" is {len(value):,} characters long; '
                f"the limit is {max_field_chars:,}"
            )
    return {column: row[column] for column in columns}


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
