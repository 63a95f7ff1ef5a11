"""The fine-tune itself: load the model for a method, train it with transformers' ``Trainer``,
evaluate on the held-out split before and after, and write the run directory.

Methods (Dettmers et al. 2023, "QLoRA"; Hu et al. 2021, "LoRA"):

- ``qlora``: every linear layer of the frozen base stored as 4-bit NF4 with double
  quantization (``bnb.nn.Linear4bit`` via ``BitsAndBytesConfig``), LoRA adapters (peft)
  on ``target_modules`` train in float32;
- ``lora``: the same adapters over a frozen base in the compute dtype;
- ``full``: every weight trains (float32 masters; autocast when computing in 16 bits).

How it trains on this machine is ``core.finetune.device.plan``: the compute dtype (bfloat16
only where this machine runs it faster, measured once; float32 otherwise), gradient
checkpointing (QLoRA on a GPU) and the optimizer (paged 8-bit AdamW on a GPU, AdamW on a
CPU). ``core.finetune.estimate`` predicts the memory of that plan.

The loss counts only the response tokens: each example is the model's chat template over
``[system: instruction, user: prompt, assistant: response]``; the prompt tokens get label
-100 (ignored by the cross-entropy), the response and its end-of-turn token are learned.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.finetune import FinetuneConfig, validate
from core.finetune.device import Plan, plan
from core.finetune.rundir import RunWriter, claim, read_json
from core.models import atomic_folder

# The short instruction each bundled dataset is trained and evaluated with (the system turn
# of the chat template); an upload keeps the model's own default system turn.
INSTRUCTIONS = {
    # The field names matter: with only "Reply with the order as JSON." the demo run wrote
    # "color": null for most colours (exact match 48% against 88% with them).
    "orders": "Reply with the order as JSON: item, quantity, color, destination.",
    "qa": "Answer in one to three sentences.",
}
ANSWER_ROOM = 6  # new tokens allowed beyond the longest training response (orders: 34 -> 40)
MAX_NEW_TOKENS = 64
EVAL_BATCH = 64  # the whole held-out split at once: 4-bit layers dequantize once per token step
SAMPLES = 6
IGNORE = -100  # the label cross-entropy skips


def on_gpu() -> bool:
    return torch.cuda.is_available()


def run_plan(config: FinetuneConfig) -> Plan:
    """How this run trains on this machine (``config.compute_dtype`` overrides the measured
    dtype choice)."""
    return plan(config.method, config.compute_dtype)


def torch_dtype(run: Plan) -> torch.dtype:
    return getattr(torch, run.compute.dtype)


# -- model ----------------------------------------------------------------------------------

def load_tokenizer(model_path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # for batched generation; training pads by hand
    return tokenizer


def load_base(model_path: str, method: str, dtype: torch.dtype = torch.float32):
    """The frozen (or, for ``full``, trainable) base model for a method: 4-bit NF4 with double
    quantization computing in ``dtype`` for ``qlora``; weights in ``dtype`` for ``lora``;
    float32 master weights for ``full`` (16-bit compute comes from autocast)."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs = {}
    if on_gpu():
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
    if method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
    weights = torch.float32 if method == "full" or (method == "qlora" and not on_gpu()) else dtype
    # On a CPU, read the checkpoint into memory rather than mapping it: a mapped file stays
    # resident beside the model's own (quantized or converted) copy for the whole run.
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=weights, use_safetensors=True,
                                                 disable_mmap=not on_gpu(), **kwargs)
    model.config.use_cache = False
    keep_4bit_layout(model)
    return model


def keep_4bit_layout(model) -> None:
    """Turn off bitsandbytes' CPU inference repacking of 4-bit layers.

    On a CPU with AVX512-BF16, ``Linear4bit`` repacks its weight the first time it runs
    without gradients in eval mode (as in ``generate``): a new nibble layout and the absmax
    constants rounded to bfloat16. Training afterwards in the same process would then run
    on that layout (wrong gradients - the gradient check in the tests caught it), and the
    repacked kernel computes in bfloat16. Keeping the one layout makes evaluation use the
    same weights and arithmetic as training.
    """
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


def lora_config(config: FinetuneConfig):
    from peft import LoraConfig

    return LoraConfig(r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM")


def prepare_model(config: FinetuneConfig, how: Plan | None = None):
    """``(model, tokenizer)`` ready to train for ``config.method`` as planned (default:
    ``run_plan(config)``).

    ``qlora``: a peft model over ``bnb.nn.Linear4bit`` layers (``prepare_model_for_kbit_training``
    freezes the base and keeps norms in float32). ``lora``: a peft model over the frozen
    base. ``full``: the model itself, every weight trainable. The LoRA initialisation
    follows ``config.seed``.
    """
    from core.models import resolve_model

    validate(config)
    how = how or run_plan(config)
    model_path = resolve_model(config.model)
    tokenizer = load_tokenizer(model_path)
    model = load_base(model_path, config.method, torch_dtype(how))
    if config.method == "full":
        model.train()
        return model, tokenizer
    from peft import get_peft_model, prepare_model_for_kbit_training

    if config.method == "qlora":
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=how.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    torch.manual_seed(config.seed)
    model = get_peft_model(model, lora_config(config))
    model.train()
    return model, tokenizer


# -- data -----------------------------------------------------------------------------------

def instruction_for(kind: str) -> str | None:
    """The system instruction a dataset of this kind (``orders``, ``qa``, ``upload``) uses."""
    return INSTRUCTIONS.get(kind)


def _messages(prompt: str, instruction: str | None) -> list[dict]:
    system = [{"role": "system", "content": instruction}] if instruction else []
    return [*system, {"role": "user", "content": prompt}]


def render_prompt(tokenizer, prompt: str, instruction: str | None) -> str:
    """The chat-template text up to and including the assistant turn's header."""
    return tokenizer.apply_chat_template(_messages(prompt, instruction), tokenize=False,
                                         add_generation_prompt=True)


def encode_example(tokenizer, prompt: str, response: str, instruction: str | None,
                   max_length: int) -> dict | None:
    """``{"input_ids", "labels"}`` for one example, prompt tokens labelled -100.

    The response text is what the template adds after the prompt (the answer and its
    end-of-turn marker), so the model learns to stop. Cut to ``max_length`` tokens; None
    when no response token is left after the cut.
    """
    prompt_text = render_prompt(tokenizer, prompt, instruction)
    full_text = tokenizer.apply_chat_template(
        [*_messages(prompt, instruction), {"role": "assistant", "content": response}],
        tokenize=False)
    if not full_text.startswith(prompt_text):  # a template that rewrites earlier turns
        full_text = prompt_text + response + (tokenizer.eos_token or "")
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(full_text[len(prompt_text):], add_special_tokens=False)["input_ids"]
    input_ids = (prompt_ids + response_ids)[:max_length]
    labels = ([IGNORE] * len(prompt_ids) + response_ids)[:max_length]
    if all(label == IGNORE for label in labels):
        return None
    return {"input_ids": input_ids, "labels": labels}


def encode_examples(tokenizer, examples, instruction, max_length) -> list[dict]:
    encoded = [encode_example(tokenizer, e.prompt, e.response, instruction, max_length)
               for e in examples]
    kept = [e for e in encoded if e is not None]
    if examples and not kept:
        raise ValueError(f"max_length {max_length} is too short: every example's prompt fills "
                         "it and no response token is left; raise max_length")
    return kept


def collate(features: list[dict], pad_token_id: int) -> dict:
    """Right-pad a batch: ``input_ids`` with the pad token, ``labels`` with -100,
    ``attention_mask`` 1 on real tokens. Shapes ``(batch, longest)``."""
    longest = max(len(f["input_ids"]) for f in features)
    ids, labels, mask = [], [], []
    for f in features:
        pad = longest - len(f["input_ids"])
        ids.append(f["input_ids"] + [pad_token_id] * pad)
        labels.append(f["labels"] + [IGNORE] * pad)
        mask.append([1] * len(f["input_ids"]) + [0] * pad)
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels),
            "attention_mask": torch.tensor(mask)}


# -- evaluation -----------------------------------------------------------------------------

def _device(model):
    return next(model.parameters()).device


@contextmanager
def dequantized_once(model):
    """Within the block, each 4-bit layer multiplies by its weight dequantized once (in its
    compute dtype) instead of dequantizing the whole matrix again on every call.

    bitsandbytes' 4-bit matrix product (``gemm_4bit`` on a CPU, the training layout) is
    ``linear(x, dequantize_4bit(W).to(x.dtype))`` for every call, so greedy generation of
    40 tokens dequantizes every matrix 40 times. Precomputing that same dequantized matrix
    gives the same numbers (tests/test_finetune_train.py checks the logits and answers) and
    costs one float copy of the quantized weights for the length of an evaluation. A no-op
    on a GPU, where bitsandbytes' fused kernels read the 4-bit weights directly.
    """
    import bitsandbytes as bnb
    import bitsandbytes.functional as bnbF

    patched = []
    if not on_gpu():
        for module in model.modules():
            if isinstance(module, bnb.nn.Linear4bit) and module.weight.quant_state is not None:
                dtype = module.compute_dtype or torch.float32
                W = bnbF.dequantize_4bit(module.weight.data, module.weight.quant_state).to(dtype)
                bias = None if module.bias is None else module.bias.to(dtype)

                def forward(x, W=W, bias=bias):  # (..., d_in) -> (..., d_out)
                    return torch.nn.functional.linear(x.to(W.dtype), W, bias).to(x.dtype)

                module.forward = forward
                patched.append(module)
    try:
        yield model
    finally:
        for module in patched:
            del module.forward  # back to the class's forward


def generate(model, tokenizer, prompts: list[str], max_new_tokens: int = 64,
             instruction: str | None = None, batch_size: int = EVAL_BATCH) -> list[str]:
    """Greedy answers to ``prompts``, each wrapped in the chat template (with the system
    ``instruction``; when None, ``tokenizer.finetune_instruction`` as set by ``load_tuned``,
    else the model's default). Batched with left padding; only the new tokens are decoded."""
    if instruction is None:
        instruction = getattr(tokenizer, "finetune_instruction", None)
    was_training = model.training
    model.eval()
    tokenizer.padding_side = "left"
    answers = []
    try:
        with torch.no_grad():
            for start in range(0, len(prompts), batch_size):
                texts = [render_prompt(tokenizer, p, instruction)
                         for p in prompts[start:start + batch_size]]
                batch = tokenizer(texts, return_tensors="pt", padding=True,
                                  add_special_tokens=False).to(_device(model))
                out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id, use_cache=True)
                new = out[:, batch["input_ids"].shape[1]:]
                answers += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    finally:
        model.train(was_training)
    return answers


def heldout_loss(model, encoded: list[dict], pad_token_id: int, batch_size: int = 8) -> float:
    """Mean cross-entropy per response token over the held-out examples (nats/token).
    Small batches: the logits are ``(batch, length, vocab)`` floats (8 x 96 x 49152 x 4 B =
    150 MB for SmolLM2)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for start in range(0, len(encoded), batch_size):
                batch = {k: v.to(_device(model)) for k, v in
                         collate(encoded[start:start + batch_size], pad_token_id).items()}
                logits = model(input_ids=batch["input_ids"],
                               attention_mask=batch["attention_mask"]).logits.float()
                # token t predicts token t+1
                logits, labels = logits[:, :-1], batch["labels"][:, 1:]
                loss = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                    ignore_index=IGNORE, reduction="sum")
                total += loss.item()
                count += int((labels != IGNORE).sum())
    finally:
        model.train(was_training)
    return total / max(count, 1)


def answer_budget(train_features: list[dict]) -> int:
    """New tokens to generate: the longest training response (with its end-of-turn marker)
    plus ``ANSWER_ROOM``, at most ``MAX_NEW_TOKENS`` - enough for a right answer, so the
    evaluation does not pay for rambling (an order JSON: 34 + 6 = 40 tokens)."""
    longest = max(sum(label != IGNORE for label in f["labels"]) for f in train_features)
    return min(MAX_NEW_TOKENS, longest + ANSWER_ROOM)


def evaluate(model, tokenizer, dataset, instruction, max_length,
             max_new_tokens=MAX_NEW_TOKENS) -> tuple[dict, list[str]]:
    """Held-out metrics ``{"loss", "n"}`` (+ ``valid_json``, ``exact_match`` for orders),
    and the greedy answers to the held-out prompts that were generated (all of them for
    orders, the first ``SAMPLES`` otherwise)."""
    encoded = encode_examples(tokenizer, dataset.heldout, instruction, max_length)
    prompts = [e.prompt for e in (dataset.heldout if dataset.kind == "orders"
                                  else dataset.heldout[:SAMPLES])]
    with dequantized_once(model):
        metrics = {"loss": heldout_loss(model, encoded, tokenizer.pad_token_id),
                   "n": len(dataset.heldout)}
        answers = generate(model, tokenizer, prompts, max_new_tokens, instruction)
    if dataset.kind == "orders":
        from core.finetune.data import score_orders

        scores = score_orders(answers, [e.response for e in dataset.heldout])
        metrics.update(valid_json=scores["valid_json"], exact_match=scores["exact_match"])
    return metrics, answers


# -- memory ---------------------------------------------------------------------------------

def peak_rss_bytes() -> int:
    """Peak resident memory since the start or the last ``reset_peak_rss`` (Linux
    ``VmHWM``; elsewhere ``ru_maxrss``, the peak since the start)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def reset_peak_rss() -> None:
    """Start the peak from now (Linux: writing 5 to ``/proc/self/clear_refs`` resets VmHWM),
    so loading the checkpoint and evaluating do not count as training memory. Memory that
    was freed but kept by the C allocator is handed back first (``malloc_trim``)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def memory_bytes() -> int:
    """What an event reports: peak allocated GPU memory, or this process's RSS on a CPU."""
    import psutil

    return int(torch.cuda.max_memory_allocated()) if on_gpu() else psutil.Process().memory_info().rss


# -- training -------------------------------------------------------------------------------

def training_arguments(config: FinetuneConfig, scratch: str, how: Plan):
    """Trainer settings: no checkpoints, a log line every step, linear decay after a
    warm-up of 10% of the steps, AdamW (paged 8-bit on a GPU), non-padding tokens counted (``include_num_input_tokens_seen``, summed over processes
    under a multi-GPU launch)."""
    from transformers import TrainingArguments

    from core.memory import HF_OPTIMIZERS

    gpu, dtype = on_gpu(), how.compute.dtype
    # full fine-tuning keeps float32 masters and computes in 16 bits under autocast
    autocast = config.method == "full" or gpu
    return TrainingArguments(
        output_dir=scratch, max_steps=config.max_steps, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, lr_scheduler_type="linear",
        warmup_steps=max(1, round(0.1 * config.max_steps)) if config.max_steps > 2 else 0,
        weight_decay=0.0, max_grad_norm=1.0, optim=HF_OPTIMIZERS[how.optimizer],
        bf16=autocast and dtype == "bfloat16", fp16=autocast and dtype == "float16",
        use_cpu=not gpu, seed=config.seed, data_seed=config.seed,
        logging_strategy="steps", logging_steps=1, save_strategy="no", report_to="none",
        disable_tqdm=True, remove_unused_columns=False, dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
        gradient_checkpointing=how.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
    )


def make_trainer(model, tokenizer, config: FinetuneConfig, train_features: list[dict],
                 scratch: str, callbacks=(), how: Plan | None = None):
    """A ``Trainer`` for these features; ``trainer.state.num_input_tokens_seen`` counts the
    non-padding tokens it trained on."""
    from transformers import Trainer

    pad = tokenizer.pad_token_id
    args = training_arguments(config, scratch, how or run_plan(config))
    return Trainer(model=model, args=args, train_dataset=train_features,
                   data_collator=lambda features: collate(features, pad), callbacks=list(callbacks))


def is_main_process() -> bool:
    """True except in the extra processes of a multi-GPU launch (``accelerate launch``,
    ``torchrun``: ``RANK`` > 0), which train but leave the run directory to process 0."""
    return int(os.environ.get("RANK", "0")) == 0


def progress_callback(files: RunWriter):
    """A ``TrainerCallback`` writing one event per step and stopping when ``STOP`` appears."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start = self.last_time = time.perf_counter()
            self.last_tokens = state.num_input_tokens_seen

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return
            now, tokens = time.perf_counter(), state.num_input_tokens_seen
            files.event({
                "step": state.global_step, "loss": float(logs["loss"]),
                "learning_rate": float(logs.get("learning_rate", 0.0)),
                "tokens_per_s": (tokens - self.last_tokens) / max(now - self.last_time, 1e-9),
                "elapsed_s": round(now - self.start, 3), "memory_bytes": memory_bytes()})
            self.last_time, self.last_tokens = now, tokens
            files.set(step=state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            if files.stop_requested() and state.global_step < state.max_steps:
                control.should_training_stop = True
                files.set(state="stopping", step=state.global_step,
                          message=f"Stop requested: stopping after step {state.global_step}.")

    return Progress()


def save_atomic(model, tokenizer, target: Path) -> None:
    """``save_pretrained`` into a temp folder next to ``target``, then rename: a killed run
    leaves no ``adapter/`` that looks complete. A LoRA adapter names its base model as the
    run was given it (a bundled name or hub id, never this machine's cache folder)."""
    with atomic_folder(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)


def portable_base_name(model: str) -> str:
    """What ``adapter_config.json`` names as the base: the hub id of a bundled model, a hub
    id as given, or a local folder's name (a path of this machine would not work elsewhere)."""
    from core.models import BUNDLED_HUB_IDS

    if model in BUNDLED_HUB_IDS:
        return BUNDLED_HUB_IDS[model]
    path = Path(model).expanduser()
    return path.name if path.exists() else model


def failure_message(error: BaseException, config: FinetuneConfig) -> str:
    """A plain-language reason a run failed."""
    text = str(error)
    if isinstance(error, MemoryError) or "out of memory" in text.lower() or \
            type(error).__name__ == "OutOfMemoryError":
        hint = " or use QLoRA (4-bit base)" if config.method != "qlora" else ""
        return (f"Out of memory with batch size {config.batch_size} and max length "
                f"{config.max_length}: try a smaller batch size, a shorter max length{hint}.")
    if isinstance(error, ValueError | FileNotFoundError):
        return text
    return f"The run failed: {type(error).__name__}: {text}"


class Phases:
    """Times the run's phases and reports each on ``status.json``."""

    def __init__(self, files: RunWriter):
        self.files, self.seconds, self._clock = files, {}, time.perf_counter()

    def start(self, name: str, message: str) -> None:
        now, previous = time.perf_counter(), self.files.status["phase"]
        if previous:
            self.seconds[previous] = round(now - self._clock, 3)
        self._clock = now
        self.files.set(phase=name, message=message)


@dataclass
class Loaded:
    """What the load phase gives the others (for ``classify``: a labelled dataset, no
    instruction, the features of ``core.finetune.classify.encode_labelled``)."""

    model: Any
    tokenizer: Any
    dataset: Any
    instruction: str | None
    features: list[dict]
    how: Plan

    @property
    def seq_len(self) -> int:
        return max(len(f["input_ids"]) for f in self.features)

    @property
    def budget(self) -> int:
        return answer_budget(self.features)


def load(config: FinetuneConfig) -> Loaded:
    how = run_plan(config)
    if config.task == "classify":
        from core.finetune import classify
        from core.models import resolve_model

        dataset = classify.load_labelled_dataset(config.dataset, seed=config.seed)
        model, tokenizer = classify.prepare_classifier(
            resolve_model(config.model), config.method, dataset.labels, config.r, config.alpha,
            config.dropout, config.target_modules, config.seed, how)
        features = classify.encode_labelled(tokenizer, dataset.train, dataset.labels,
                                            config.max_length)
        return Loaded(model, tokenizer, dataset, None, features, how)
    from core.finetune.data import load_dataset

    dataset = load_dataset(config.dataset, seed=config.seed)
    instruction = instruction_for(dataset.kind)
    model, tokenizer = prepare_model(config, how)
    features = encode_examples(tokenizer, dataset.train, instruction, config.max_length)
    return Loaded(model, tokenizer, dataset, instruction, features, how)


def evaluate_loaded(run: Loaded, config: FinetuneConfig, base: bool = False):
    """Held-out metrics and answers of the model, or (``base``) of the base model: a LoRA
    model with its adapter switched off (B starts at zero: the same numbers anyway). A
    classifier's ``before`` is its untrained head (no answers to show side by side)."""
    if config.task == "classify":
        from core.finetune.classify import evaluate_classifier

        return evaluate_classifier(run.model, run.tokenizer, run.dataset, config.max_length), []
    if base and config.method != "full":
        with run.model.disable_adapter():
            return evaluate(run.model, run.tokenizer, run.dataset, run.instruction,
                            config.max_length, run.budget)
    return evaluate(run.model, run.tokenizer, run.dataset, run.instruction, config.max_length,
                    run.budget)


def train(run: Loaded, config: FinetuneConfig, files: RunWriter, scratch: str) -> dict:
    """Train with the progress callback; ``{"trainer", "seconds", "peak", "stopped"}``, the
    peak being the training phase's alone (GPU max allocated, else the process's peak RSS
    after loading and evaluating were handed back)."""
    if config.task == "classify":
        from core.finetune.classify import make_classify_trainer as make
    else:
        make = make_trainer
    trainer = make(run.model, run.tokenizer, config, run.features, scratch,
                   [progress_callback(files)], how=run.how)
    if on_gpu():
        torch.cuda.reset_peak_memory_stats()
    reset_peak_rss()
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    peak = int(torch.cuda.max_memory_allocated()) if on_gpu() else peak_rss_bytes()
    stopped = files.stop_requested() and trainer.state.global_step < config.max_steps
    run.model = trainer.model
    return {"trainer": trainer, "seconds": seconds, "peak": peak, "stopped": stopped}


def save(run: Loaded, config: FinetuneConfig, target: Path) -> None:
    if config.task == "classify":
        from core.finetune.classify import save_classifier

        save_classifier(run.model, run.tokenizer, run.dataset.labels, target)
    else:
        save_atomic(run.model, run.tokenizer, target)
    adapter_config = target / "adapter_config.json"
    if adapter_config.exists():  # name the base portably (see portable_base_name)
        from core.finetune.rundir import write_json_atomic

        value = read_json(adapter_config) or {}
        value["base_model_name_or_path"] = portable_base_name(config.model)
        write_json_atomic(adapter_config, value)


def report(run: Loaded, config: FinetuneConfig, before, after, trained: dict,
           phases: Phases) -> dict:
    """``eval.json``: held-out metrics before and after, memory measured (and for the chat
    task estimated), the compute plan, timings, trainable parameters, and a few answers side
    by side (chat) or the adapter's and the base model's sizes on disk (classify)."""
    trainer = trained["trainer"]
    (metrics_before, answers_before), (metrics_after, answers_after) = before, after
    common = {
        "compute": run.how.compute.to_json(), "gradient_checkpointing": run.how.gradient_checkpointing,
        "optimizer": run.how.optimizer, "seq_len": run.seq_len, "phase_seconds": phases.seconds,
        "steps": trainer.state.global_step, "tokens_trained": trainer.state.num_input_tokens_seen}
    trainable = sum(p.numel() for p in run.model.parameters() if p.requires_grad)
    if config.task == "classify":
        from core.finetune.classify import eval_record
        from core.models import resolve_model

        return eval_record(metrics_before, metrics_after, trainable, trained["seconds"],
                           trained["peak"], Path(config.output_dir) / "adapter",
                           resolve_model(config.model), **common)
    from core.finetune.estimate import estimate_run_memory

    samples = [{"prompt": e.prompt, "reference": e.response, "before": b, "after": a}
               for e, b, a in zip(run.dataset.heldout[:SAMPLES], answers_before, answers_after,
                                  strict=False)]
    estimate = estimate_run_memory(config, seq_len=run.seq_len)
    return {
        "before": metrics_before, "after": metrics_after,
        "peak_memory_bytes": trained["peak"], "estimate_bytes": estimate.total,
        "estimate": estimate.to_json(), "trainable_parameters": trainable,
        "train_seconds": round(trained["seconds"], 3), **common, "samples": samples}


def run(config: FinetuneConfig) -> str:
    """The whole run, writing ``config.output_dir`` (see ``core.finetune.rundir``). Returns
    the final state (``done``, ``stopped`` or ``failed``); a failed run is reported in
    ``status.json``, not raised. Raises ValueError only for an output folder that already
    holds a run, before writing anything."""
    validate(config)
    main = is_main_process()
    run_dir = claim(config.output_dir) if main else Path(config.output_dir)
    files = RunWriter(run_dir, config.max_steps, enabled=main)
    files.write_json("config.json", config.to_json())
    files.set(message="Loading the model and the data.")
    phases = Phases(files)
    try:
        # 1) load the model for the method, and the data
        loaded = load(config)
        files.set(compute=loaded.how.compute.to_json())
        # 2) evaluate the base model on the held-out split
        phases.start("eval-before", f"Scoring the base model on {len(loaded.dataset.heldout)} "
                                    "held-out examples.")
        before = evaluate_loaded(loaded, config, base=True)
        # 3) train
        phases.start("training", f"Training {config.max_steps} steps "
                                 f"({loaded.how.compute.dtype}).")
        scratch = tempfile.mkdtemp(prefix=".trainer-", dir=run_dir)
        trained = train(loaded, config, files, scratch)
        shutil.rmtree(scratch, ignore_errors=True)
        if not main:
            return "done"  # process 0 saves, evaluates and reports
        # 4) save the adapter (or the model)
        phases.start("saving", "Saving the model." if config.method == "full"
                     else "Saving the adapter.")
        save(loaded, config, run_dir / "adapter")
        # 5) evaluate the fine-tuned model on the same held-out prompts
        phases.start("eval-after", "Scoring the fine-tuned model on the held-out examples.")
        after = evaluate_loaded(loaded, config)
        phases.start("", "")
        # 6) report
        files.write_json("eval.json", report(loaded, config, before, after, trained, phases))
        step = trained["trainer"].state.global_step
        if trained["stopped"]:
            files.set(state="stopped", phase="", step=step,
                      message=f"Stopped after step {step} of {config.max_steps}; the adapter "
                              "keeps what was trained.")
        else:
            files.set(state="done", phase="", step=step, message="Finished.")
        return files.status["state"]
    except BaseException as error:  # noqa: BLE001 - every failure ends in status.json
        files.set(state="failed", phase="", message=failure_message(error, config))
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        import traceback

        traceback.print_exc(file=sys.stderr)
        return "failed"
    finally:
        files.close()


# -- reuse ----------------------------------------------------------------------------------

@dataclass
class Tuned:
    """A finished run's model for answering prompts: the fine-tuned model, and the base it
    started from - for LoRA/QLoRA the same model with its adapter switched off
    (``disable_adapter``), for ``full`` a separately loaded base."""

    model: Any
    tokenizer: Any
    method: str
    base_model: Any = None  # only for full

    def answer(self, prompts: list[str], base: bool = False, **kwargs) -> list[str]:
        """Greedy answers from the fine-tuned model, or (``base``) from the base model."""
        if not base:
            return generate(self.model, self.tokenizer, prompts, **kwargs)
        if self.base_model is not None:
            return generate(self.base_model, self.tokenizer, prompts, **kwargs)
        with self.model.disable_adapter():
            return generate(self.model, self.tokenizer, prompts, **kwargs)


def load_tuned(run_dir: Path | str) -> Tuned:
    """A finished run's model, loaded as the run trained it (4-bit for qlora, in the dtype
    recorded in ``eval.json``): the base with the saved adapter
    (``peft.PeftModel.from_pretrained``), or for ``full`` the saved model plus the base. The
    tokenizer carries ``finetune_instruction``, which ``generate`` uses by default, so
    answers are prompted as in training. Raises ValueError when the run has no saved
    adapter."""
    from core.finetune.data import load_dataset
    from core.models import resolve_model

    run_dir = Path(run_dir)
    adapter = run_dir / "adapter"
    try:
        config = FinetuneConfig.from_json(read_json(run_dir / "config.json") or {})
        assert (run_dir / "config.json").is_file()
    except (ValueError, TypeError, AssertionError) as error:
        raise ValueError(f"Run {str(run_dir)!r} has no readable config.json ({error})") from None
    if not adapter.is_dir():
        raise ValueError(f"Run {run_dir.name!r} has no saved adapter (yet)")
    model_path = resolve_model(config.model)
    tokenizer = load_tokenizer(model_path)
    try:
        kind = load_dataset(config.dataset).kind
    except (ValueError, OSError):
        kind = "upload"
    tokenizer.finetune_instruction = instruction_for(kind)
    recorded = (read_json(run_dir / "eval.json") or {}).get("compute", {}).get("dtype")
    dtype = getattr(torch, recorded) if recorded else torch_dtype(run_plan(config))
    if config.method == "full":
        from transformers import AutoModelForCausalLM

        tuned = AutoModelForCausalLM.from_pretrained(adapter, dtype=torch.float32,
                                                     use_safetensors=True)
        return Tuned(tuned.eval(), tokenizer, config.method,
                     base_model=load_base(model_path, "full").eval())
    from peft import PeftModel

    tuned = PeftModel.from_pretrained(load_base(model_path, config.method, dtype), adapter)
    return Tuned(tuned.eval(), tokenizer, config.method)
