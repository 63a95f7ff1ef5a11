"""The memory a fine-tuning run will need on this machine: one estimate, used by the lab's
"Will it fit?", the run's ``eval.json`` and the QLoRA-and-memory lesson.

It is the memory lesson's textbook breakdown (``core.memory.estimate_training_memory``:
weights, gradients, optimizer states, activations) for the settings the run will really
use - the compute dtype ``core.finetune.device`` chooses here, gradient checkpointing and
the optimizer as ``core.finetune.train`` sets them - plus what a process on this machine
adds to it:

- on a GPU: the lesson's overhead (CUDA context + allocator slack), as the textbook has it;
- on a CPU there is no CUDA context. Instead the process itself - Python with torch,
  transformers, peft and bitsandbytes imported - is resident memory too, measured once on
  this machine (``device.runtime_bytes``). Each decoder layer's forward leaves more than the
  tensors autograd saves: temporaries whose memory the C allocator keeps for reuse, measured
  once on a few layers of the same shape (``device.layer_footprint``, a multiple of the
  textbook's per-layer bytes). And the backward pass of the loss holds, for a moment, the
  gradients of the log-probabilities and of the logits: two more
  ``(batch, length, vocabulary)`` float32 tensors beside the saved activations, which a GPU
  estimate folds into its slack.

Pure arithmetic given the machine's profile: it imports neither torch nor streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.finetune import FinetuneConfig

DTYPE_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}  # core.memory's names


@dataclass(frozen=True)
class RunMemory:
    """A run's estimated peak memory (bytes) by component, in display order, and the
    sentences that say where it differs from the lesson's GPU-style textbook estimate."""

    components: dict[str, int]
    textbook_total: int  # core.memory.estimate_training_memory(...).total, same settings
    device: str  # "cpu" or "cuda"
    compute_dtype: str
    gradient_checkpointing: bool
    optimizer: str
    seq_len: int
    notes: tuple[str, ...]

    @property
    def total(self) -> int:
        return sum(self.components.values())

    def to_json(self) -> dict:
        return {"components": self.components, "total": self.total,
                "textbook_total": self.textbook_total, "device": self.device,
                "compute_dtype": self.compute_dtype,
                "gradient_checkpointing": self.gradient_checkpointing,
                "optimizer": self.optimizer, "seq_len": self.seq_len, "notes": list(self.notes)}


def estimate_run_memory(config: FinetuneConfig, arch=None, seq_len: int | None = None,
                        machine: dict | None = None) -> RunMemory:
    """Peak training memory of ``config`` on ``machine`` (default: this machine's cached
    profile, ``core.finetune.device.profile()``).

    ``arch``: the model's ``core.params`` architecture (default: read from the model's
    config.json). ``seq_len``: the longest training example in tokens; default
    ``config.max_length``, the most a batch can hold (the run records its real one).

    CPU: runtime + weights + gradients + optimizer + activations + layer temporaries + loss
    backward, where layer temporaries = (footprint - 1) * (activations - logits) and loss
    backward = 2 * b * s * V * 4 bytes. GPU: the textbook total (with its overhead).
    """
    from core.finetune.device import plan, profile
    from core.memory import BYTES, estimate_training_memory, logits_bytes

    machine = profile() if machine is None else machine
    if arch is None:
        arch = architecture(config.model)
    seq_len = config.max_length if seq_len is None else seq_len
    if not isinstance(seq_len, int) or isinstance(seq_len, bool) or seq_len < 1:
        raise ValueError(f"seq_len should be a positive integer, but the value passed is {seq_len!r}")
    run_plan = plan(config.method, config.compute_dtype, machine)
    compute, gpu = run_plan.compute, run_plan.compute.device == "cuda"
    dtype = DTYPE_NAMES[compute.dtype]
    targets = tuple(config.target_modules) if config.method != "full" else ("q_proj",)
    textbook = estimate_training_memory(
        arch, config.method, batch_size=config.batch_size, seq_len=seq_len, r=config.r,
        target_modules=targets, optimizer=run_plan.optimizer,
        gradient_checkpointing=run_plan.gradient_checkpointing, compute_dtype=dtype)
    parts = textbook.components()
    notes = [f"Computing in {compute.dtype}: {compute.reason}."]
    if gpu:
        components = parts
    else:
        loss_backward = 2 * config.batch_size * seq_len * arch.vocab_size * BYTES["fp32"]
        layers = parts["activations"] - logits_bytes(arch, config.batch_size, seq_len, dtype)
        footprint = float(machine["layer_footprint"][config.method])
        temporaries = round(max(footprint - 1, 0) * layers)
        components = {"Python and libraries": int(machine["runtime_bytes"]),
                      "weights": parts["weights"], "gradients": parts["gradients"],
                      "optimizer": parts["optimizer"], "activations": parts["activations"],
                      "layer temporaries": temporaries, "loss backward": loss_backward}
        notes += [
            "No CUDA context on a CPU: instead of the lesson's 512 MB overhead, the Python "
            "process with torch, transformers, peft and bitsandbytes loaded, measured on this "
            f"machine: {machine['runtime_bytes'] / 2**20:,.0f} MB.",
            "Each layer's forward also leaves temporaries whose memory the C allocator keeps "
            f"for reuse: measured on this machine, a layer of this shape holds {footprint:.2f}x "
            f"what autograd saves ({temporaries / 2**20:,.0f} MB more over {arch.num_layers} "
            "layers).",
            "The loss's backward pass briefly holds the gradients of the log-probabilities "
            f"and the logits: 2 x {config.batch_size} x {seq_len} x {arch.vocab_size:,} "
            f"float32 values = {loss_backward / 2**20:,.0f} MB.",
        ]
        if config.method == "qlora":
            notes.append("Gradient checkpointing is off on a CPU (RAM is plentiful there, time "
                         "is not): every layer keeps its activations.")
    return RunMemory(components, textbook.total, compute.device, compute.dtype,
                     run_plan.gradient_checkpointing, run_plan.optimizer, seq_len, tuple(notes))


def architecture(model: str):
    """The ``core.params`` architecture of a model argument, from its config.json alone (no
    weights, no torch): a bundled name, a local folder, or a hub id in the local cache.
    ValueError with a plain message when there is none to read."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    from core.models import BUNDLED, DEFAULT_MODEL
    from core.params import ARCHITECTURES, arch_from_hf_config

    if not isinstance(model, str) or not model.strip():
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
        if not config_file.is_file():
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
    try:
        values = json.loads(config_file.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"The config.json of {model!r} cannot be read: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"The config.json of {model!r} is not a JSON object.")

    class _Config(SimpleNamespace):  # absent fields read as None, as in transformers
        def __getattr__(self, name):
            return None

    return arch_from_hf_config(_Config(**values), name=path.name or model)


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
