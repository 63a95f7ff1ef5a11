"""Fine-tuning a small chat model with QLoRA, LoRA or every weight: the settings and the run
directory, without the heavy libraries.

This module stays light (no torch, transformers, peft or bitsandbytes at import time) so the
page and the data module can import it; the training itself lives in ``core.finetune.train``
and runs as ``python -m core.finetune`` (see ``__main__``).

A run directory holds (written by ``train.run``, read by the page):

- ``config.json``: the ``FinetuneConfig`` as JSON, written first;
- ``status.json``: ``{"state", "message", "phase", "step", "max_steps", "pid", "started",
  "updated"}``, written atomically. ``state`` is one of ``STATES``; ``phase`` one of
  ``PHASES``. Read it with ``read_status``, which also notices a process that died;
- ``events.jsonl``: one line per training step ``{"step", "loss", "learning_rate",
  "tokens_per_s", "elapsed_s", "memory_bytes"}``;
- ``STOP``: created by the page; training stops at the next step and keeps what it trained;
- ``adapter/``: the LoRA adapter (or, for ``full``, the whole model) saved with
  ``save_pretrained``, written to a temp folder and renamed, so it is complete or absent;
- ``eval.json``: held-out metrics ``{"before": {...}, "after": {...}, "peak_memory_bytes",
  "estimate_bytes", "train_seconds", "samples"}``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

METHODS = ("qlora", "lora", "full")
STATES = ("queued", "running", "stopping", "stopped", "failed", "done")
ACTIVE_STATES = ("queued", "running", "stopping")
PHASES = ("loading", "eval-before", "training", "eval-after", "saving", "")
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DIED_MESSAGE = "The training process ended without finishing (it was killed or crashed)."


def _default_output_dir() -> str:
    return "runs/" + time.strftime("%Y%m%d-%H%M%S", time.gmtime())


@dataclass
class FinetuneConfig:
    """Everything a fine-tuning run needs; every field is also a flag of
    ``python -m core.finetune`` (``max_steps`` -> ``--max-steps``).

    The defaults are the demo run of the page: QLoRA on ``orders``, tuned so that the whole
    run (load, held-out evaluation before, training, evaluation after) takes under four
    minutes on a 2-core CPU and the held-out answers become valid, exact order JSON.
    The LoRA update is ``W = W0 + (alpha / r) * B @ A`` with ``A: (r, d_in)``,
    ``B: (d_out, r)``, ``B`` starting at zero (Hu et al. 2021, as in peft).
    """

    model: str = "smollm2-135m-instruct"
    method: str = "qlora"
    dataset: str = "orders"
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0  # peft's default; dropout would keep a copy of every adapted input
    target_modules: tuple[str, ...] = ALL_LINEAR
    learning_rate: float = 1e-3
    max_steps: int = 30
    batch_size: int = 8
    max_length: int = 96
    seed: int = 0
    output_dir: str = field(default_factory=_default_output_dir)

    def __post_init__(self):
        if isinstance(self.target_modules, str):
            self.target_modules = tuple(m.strip() for m in self.target_modules.split(",") if m.strip())
        else:
            self.target_modules = tuple(self.target_modules)
        validate(self)

    def to_json(self) -> dict:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data

    @classmethod
    def from_json(cls, data: dict) -> FinetuneConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


FIELD_HELP = {
    "model": "bundled model name (smollm2-135m-instruct), a local model folder, or a hub id",
    "method": "qlora (4-bit NF4 base + LoRA), lora (full-precision base + LoRA) or full "
              "(every weight trains)",
    "dataset": "bundled dataset (orders, course-qa) or a path to a .jsonl/.csv file with "
               "prompt and response columns",
    "r": "LoRA rank r (columns of B, rows of A)",
    "alpha": "LoRA alpha; the update is scaled by alpha / r",
    "dropout": "dropout on the LoRA input, between 0 and 1",
    "target_modules": "comma-separated linear layers that get LoRA adapters",
    "learning_rate": "peak learning rate (AdamW, linear decay after a short warm-up)",
    "max_steps": "optimizer steps to train",
    "batch_size": "examples per step",
    "max_length": "longest example in tokens (prompt + response); longer ones are cut",
    "seed": "random seed (data order, LoRA initialisation, dropout)",
    "output_dir": "run directory to write (config.json, status.json, events.jsonl, "
                  "adapter/, eval.json)",
}


def validate(config: FinetuneConfig) -> None:
    """Raise ValueError naming the first bad setting and what was expected."""
    checks = [
        (config.method in METHODS, "method", f"one of {list(METHODS)}"),
        (isinstance(config.model, str) and config.model.strip() != "", "model", "a non-empty name or path"),
        (isinstance(config.dataset, str) and config.dataset.strip() != "", "dataset", "a non-empty name or path"),
        (_is_int(config.r) and config.r >= 1, "r", "a positive integer"),
        (_is_int(config.alpha) and config.alpha >= 1, "alpha", "a positive integer"),
        (_is_num(config.dropout) and 0 <= config.dropout < 1, "dropout", "a number in [0, 1)"),
        (config.method == "full" or len(config.target_modules) > 0, "target_modules",
         "at least one module name, e.g. q_proj,v_proj"),
        (_is_num(config.learning_rate) and 0 < config.learning_rate <= 1, "learning_rate", "a number in (0, 1]"),
        (_is_int(config.max_steps) and config.max_steps >= 1, "max_steps", "a positive integer"),
        (_is_int(config.batch_size) and config.batch_size >= 1, "batch_size", "a positive integer"),
        (_is_int(config.max_length) and 16 <= config.max_length <= 8192, "max_length", "an integer in [16, 8192]"),
        (_is_int(config.seed) and config.seed >= 0, "seed", "a non-negative integer"),
    ]
    for ok, name, expected in checks:
        if not ok:
            raise ValueError(f"{name} should be {expected}, but the value passed is {getattr(config, name)!r}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


# -- the run directory --------------------------------------------------------------------

def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, value: dict) -> None:
    """Write to a temp file in the same folder, then ``os.replace``: readers never see half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(value, f, indent=2)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the page may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux ``/proc``; else ``kill 0``)."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def read_status(run_dir: Path | str) -> dict:
    """A run's ``status.json`` as the page should show it: ``{}`` while it is not written.

    A status that still says ``running``/``stopping`` (or ``queued`` with a pid) whose
    process is gone is reported as ``state="failed"``, ``died=True`` with a plain message
    (the process was killed or crashed); the file itself is not changed.
    """
    try:
        status = json.loads((Path(run_dir) / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(status, dict):
        return {}
    if status.get("state") in ACTIVE_STATES and status.get("pid") and not pid_alive(status["pid"]):
        status = {**status, "state": "failed", "died": True, "phase": "", "message": DIED_MESSAGE}
    return status


__all__ = [
    "ALL_LINEAR", "FinetuneConfig", "METHODS", "PHASES", "STATES", "FIELD_HELP", "read_status",
    "validate", "write_json_atomic", "pid_alive", "load_tuned", "prepare_model", "run", "generate",
]


def __getattr__(name):  # the heavy functions, imported from train.py on first use
    if name in ("prepare_model", "run", "load_tuned", "generate"):
        from core.finetune import train

        return getattr(train, name)
    raise AttributeError(f"module 'core.finetune' has no attribute {name!r}")
