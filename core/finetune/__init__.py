"""Fine-tuning a small chat model with QLoRA, LoRA or every weight: the settings, without the
heavy libraries.

This module stays light (no torch, transformers, peft or bitsandbytes at import time) so the
page and the data module can import it. The run directory's files are written and read by
``core.finetune.rundir``; the training itself lives in ``core.finetune.train`` and runs as
``python -m core.finetune`` (see ``__main__``); ``core.finetune.runs`` starts and lists runs
for the page; ``core.finetune.device`` chooses the compute dtype for this machine and
``core.finetune.estimate`` the memory a run will need.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field, fields

TASKS = ("chat", "classify")
METHODS = ("qlora", "lora", "full")
COMPUTE_DTYPES = ("auto", "float32", "bfloat16")
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def new_run_id() -> str:
    """``YYYYMMDD-HHMMSS-xxxxxx`` (UTC time + 6 random hex digits): sorts by start time, and
    two runs started in the same second still get folders of their own."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _default_output_dir() -> str:
    return "runs/" + new_run_id()


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

    task: str = "chat"
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
    compute_dtype: str = "auto"
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
    "task": "chat: a chat model learns prompt -> response pairs; classify: a BERT-family "
            "encoder with a fresh head learns text -> label (then the other settings default "
            "to core.finetune.classify.CLASSIFY_DEFAULTS: minilm-l6 on intents)",
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
    "compute_dtype": "dtype of the base model's matrix products: auto (bfloat16 only where this "
                     "machine runs it faster, measured once; else float32), float32 or bfloat16",
    "output_dir": "a new run directory to write (config.json, status.json, events.jsonl, "
                  "adapter/, eval.json); a folder that holds a run is refused. Default: "
                  "runs/<UTC time>-<random>",
}


def validate(config: FinetuneConfig) -> None:
    """Raise ValueError naming the first bad setting and what was expected."""
    checks = [
        (config.task in TASKS, "task", f"one of {list(TASKS)}"),
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
        (config.compute_dtype in COMPUTE_DTYPES, "compute_dtype", f"one of {list(COMPUTE_DTYPES)}"),
    ]
    for ok, name, expected in checks:
        if not ok:
            raise ValueError(f"{name} should be {expected}, but the value passed is {getattr(config, name)!r}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


__all__ = [
    "ALL_LINEAR", "COMPUTE_DTYPES", "FinetuneConfig", "METHODS", "TASKS", "FIELD_HELP",
    "new_run_id", "validate", "load_tuned", "prepare_model", "run", "generate",
]


def __getattr__(name):  # the heavy functions, imported from train.py on first use
    if name in ("prepare_model", "run", "load_tuned", "generate"):
        from core.finetune import train

        return getattr(train, name)
    raise AttributeError(f"module 'core.finetune' has no attribute {name!r}")


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
