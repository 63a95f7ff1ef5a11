"""The fine-tune itself: load the model for a method, train it with transformers' ``Trainer``,
evaluate on the held-out split before and after, and write the run directory.

Methods (Dettmers et al. 2023, "QLoRA"; Hu et al. 2021, "LoRA"):

- ``qlora``: every linear layer of the frozen base stored as 4-bit NF4 with double
  quantization (``bnb.nn.Linear4bit`` via ``BitsAndBytesConfig``), LoRA adapters (peft)
  on ``target_modules`` train in float32;
- ``lora``: the same adapters over a full-precision frozen base;
- ``full``: every weight trains.

Compute dtype: bfloat16 on a GPU. On a CPU, bfloat16 for QLoRA's 4-bit layers (measured 1.2-1.4x
the tokens/s of float32 with AVX512-BF16; ``bench/bench_finetune.py`` prints both) and
float32 for the lora/full base. QLoRA uses gradient checkpointing. Optimizer: paged 8-bit
AdamW on a GPU, plain AdamW on a CPU.

The loss counts only the response tokens: each example is the model's chat template over
``[system: instruction, user: prompt, assistant: response]``; the prompt tokens get label
-100 (ignored by the cross-entropy), the response and its end-of-turn token are learned.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from core.finetune import FinetuneConfig, now_iso, validate, write_json_atomic
from core.models import atomic_folder

# The short instruction each bundled dataset is trained and evaluated with (the system turn
# of the chat template); an upload keeps the model's own default system turn.
INSTRUCTIONS = {
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


def compute_dtype(method: str = "lora") -> torch.dtype:
    """The dtype the base's matrix products run in: bfloat16 on a GPU. On a CPU, bfloat16
    for QLoRA's 4-bit layers (they dequantize to it; with AVX512-BF16 this measured 1.2-1.4x the
    tokens/s of float32, see bench/bench_finetune.py) and float32 for the lora/full base,
    whose weights stay float32 masters."""
    if on_gpu() or method == "qlora":
        return torch.bfloat16
    return torch.float32


def uses_gradient_checkpointing(method: str) -> bool:
    """QLoRA recomputes activations in the backward pass (as in the QLoRA recipe and peft's
    default): memory is the point of QLoRA, and it keeps qlora's training peak below lora's."""
    return method == "qlora"


# -- model ----------------------------------------------------------------------------------

def load_tokenizer(model_path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # for batched generation; training pads by hand
    return tokenizer


def load_base(model_path: str, method: str):
    """The frozen (or, for ``full``, trainable) base model for a method: 4-bit NF4 with double
    quantization for ``qlora``, the compute dtype otherwise (float32 master weights for
    ``full``, which trains under bf16 autocast on a GPU)."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = compute_dtype(method)
    kwargs = {}
    if on_gpu():
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
    if method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
    # full trains float32 masters (bf16 autocast on a GPU); on a CPU the rest stays float32
    model = AutoModelForCausalLM.from_pretrained(
        model_path, dtype=dtype if on_gpu() and method != "full" else torch.float32, **kwargs)
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


def prepare_model(config: FinetuneConfig):
    """``(model, tokenizer)`` ready to train for ``config.method``.

    ``qlora``: a peft model over ``bnb.nn.Linear4bit`` layers (``prepare_model_for_kbit_training``
    freezes the base and keeps norms in float32; gradient checkpointing on). ``lora``: a peft model
    over the full-precision base. ``full``: the model itself, every weight trainable.
    The LoRA initialisation follows ``config.seed``.
    """
    from core.models import resolve_model

    validate(config)
    model_path = resolve_model(config.model)
    tokenizer = load_tokenizer(model_path)
    model = load_base(model_path, config.method)
    if config.method == "full":
        model.train()
        return model, tokenizer
    from peft import get_peft_model, prepare_model_for_kbit_training

    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=uses_gradient_checkpointing("qlora"),
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
    metrics = {"loss": heldout_loss(model, encoded, tokenizer.pad_token_id), "n": len(dataset.heldout)}
    if dataset.kind == "orders":
        from core.finetune.data import score_orders

        answers = generate(model, tokenizer, [e.prompt for e in dataset.heldout],
                           max_new_tokens, instruction)
        scores = score_orders(answers, [e.response for e in dataset.heldout])
        metrics.update(valid_json=scores["valid_json"], exact_match=scores["exact_match"])
    else:
        answers = generate(model, tokenizer, [e.prompt for e in dataset.heldout[:SAMPLES]],
                           max_new_tokens, instruction)
    return metrics, answers


# -- memory ---------------------------------------------------------------------------------

def rss_bytes() -> int:
    """Resident memory of this process now (Linux ``/proc``; else the peak so far)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """Peak resident memory since the start or the last ``reset_peak_rss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


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
    return int(torch.cuda.max_memory_allocated()) if on_gpu() else rss_bytes()


def estimate_bytes(config: FinetuneConfig, model_path: str, seq_len: int) -> int | None:
    """The memory lesson's estimate for these settings (None when it cannot tell)."""
    try:
        from transformers import AutoConfig

        from core.memory import estimate_training_memory
        from core.params import arch_from_hf_config

        arch = arch_from_hf_config(AutoConfig.from_pretrained(model_path))
        return int(estimate_training_memory(
            arch, config.method, batch_size=config.batch_size, seq_len=seq_len, r=config.r,
            target_modules=tuple(config.target_modules),
            optimizer="paged-adamw-8bit" if on_gpu() else "adamw",
            gradient_checkpointing=uses_gradient_checkpointing(config.method),
            compute_dtype="bf16" if compute_dtype(config.method) == torch.bfloat16 else "fp32").total)
    except Exception:  # noqa: BLE001 - an estimate is a nicety, never a reason to fail a run
        return None


# -- training -------------------------------------------------------------------------------

def training_arguments(config: FinetuneConfig, scratch: str):
    """Trainer settings: no checkpoints, a log line every step, linear decay after a
    warm-up of 10% of the steps, AdamW (paged 8-bit on a GPU)."""
    from transformers import TrainingArguments

    gpu = on_gpu()
    return TrainingArguments(
        output_dir=scratch, max_steps=config.max_steps, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, lr_scheduler_type="linear",
        warmup_steps=max(1, round(0.1 * config.max_steps)) if config.max_steps > 2 else 0,
        weight_decay=0.0, max_grad_norm=1.0, optim="paged_adamw_8bit" if gpu else "adamw_torch",
        bf16=gpu, use_cpu=not gpu, seed=config.seed, data_seed=config.seed,
        logging_strategy="steps", logging_steps=1, save_strategy="no", report_to="none",
        disable_tqdm=True, remove_unused_columns=False, dataloader_num_workers=0,
        gradient_checkpointing=uses_gradient_checkpointing(config.method),
        gradient_checkpointing_kwargs={"use_reentrant": False},
    )


def make_trainer(model, tokenizer, config: FinetuneConfig, train_features: list[dict],
                 scratch: str, callbacks=()):
    """A ``Trainer`` that counts the non-padding tokens it trains on (``tokens_seen``)."""
    from transformers import Trainer

    class CountingTrainer(Trainer):
        tokens_seen = 0

        def training_step(self, model, inputs, num_items_in_batch=None):
            self.tokens_seen += int(inputs["attention_mask"].sum())
            return super().training_step(model, inputs, num_items_in_batch)

    pad = tokenizer.pad_token_id
    return CountingTrainer(
        model=model, args=training_arguments(config, scratch), train_dataset=train_features,
        data_collator=lambda features: collate(features, pad), callbacks=list(callbacks))


def is_main_process() -> bool:
    """True except in the extra processes of a multi-GPU launch (``accelerate launch``,
    ``torchrun``: ``RANK`` > 0), which train but leave the run directory to process 0."""
    return int(os.environ.get("RANK", "0")) == 0


class RunFiles:
    """Writes a run directory's ``status.json`` and ``events.jsonl`` (process 0 only)."""

    def __init__(self, run_dir: Path, max_steps: int):
        self.dir = run_dir
        self.main = is_main_process()
        self.status = {"state": "running", "message": "", "phase": "loading", "step": 0,
                       "max_steps": max_steps, "pid": os.getpid(), "started": now_iso(),
                       "updated": now_iso()}
        self.events = open(run_dir / "events.jsonl", "a") if self.main else None

    def set(self, **changes) -> None:
        self.status.update(changes, updated=now_iso())
        if self.main:
            write_json_atomic(self.dir / "status.json", self.status)

    def event(self, event: dict) -> None:
        if self.main:
            self.events.write(json.dumps(event) + "\n")
            self.events.flush()

    def close(self) -> None:
        if self.events is not None:
            self.events.close()

    def stop_requested(self) -> bool:
        return (self.dir / "STOP").exists()


def progress_callback(files: RunFiles, trainer_ref: list):
    """A ``TrainerCallback`` writing one event per step and stopping when ``STOP`` appears."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start = self.last_time = time.perf_counter()
            self.last_tokens = 0

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return
            now, tokens = time.perf_counter(), trainer_ref[0].tokens_seen
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
    leaves no ``adapter/`` that looks complete."""
    with atomic_folder(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)


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


def run(config: FinetuneConfig) -> str:
    """The whole run, writing ``config.output_dir`` (see ``core.finetune``): load, held-out
    evaluation before, training, saving the adapter, evaluation after. Returns the final
    state (``done``, ``stopped`` or ``failed``); never raises for a failed run."""
    from core.finetune.data import load_dataset
    from core.models import resolve_model

    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if is_main_process():
        write_json_atomic(run_dir / "config.json", config.to_json())
    files = RunFiles(run_dir, config.max_steps)
    files.set(message="Loading the model and the data.")
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def phase(name: str, message: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        previous = files.status["phase"]
        if previous:
            phases[previous] = round(now - clock, 3)
        clock = now
        files.set(phase=name, message=message)

    try:
        validate(config)
        dataset = load_dataset(config.dataset, seed=config.seed)
        instruction = instruction_for(dataset.kind)
        model, tokenizer = prepare_model(config)
        model_path = resolve_model(config.model)
        train_features = encode_examples(tokenizer, dataset.train, instruction, config.max_length)
        seq_len = max(len(f["input_ids"]) for f in train_features)
        budget = answer_budget(train_features)

        phase("eval-before", f"Scoring the base model on {len(dataset.heldout)} held-out examples.")
        if config.method == "full":
            before, before_answers = evaluate(model, tokenizer, dataset, instruction,
                                              config.max_length, budget)
        else:
            with model.disable_adapter():  # LoRA's B starts at zero: the same model anyway
                before, before_answers = evaluate(model, tokenizer, dataset, instruction,
                                                  config.max_length, budget)

        phase("training", f"Training {config.max_steps} steps.")
        trainer_ref: list = []
        scratch = tempfile.mkdtemp(prefix=".trainer-", dir=run_dir)
        trainer = make_trainer(model, tokenizer, config, train_features, scratch,
                               [progress_callback(files, trainer_ref)])
        trainer_ref.append(trainer)
        if on_gpu():
            torch.cuda.reset_peak_memory_stats()
        reset_peak_rss()
        train_start = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - train_start
        peak = int(torch.cuda.max_memory_allocated()) if on_gpu() else peak_rss_bytes()
        shutil.rmtree(scratch, ignore_errors=True)
        stopped = files.stop_requested() and trainer.state.global_step < config.max_steps
        model = trainer.model

        phase("saving", "Saving the adapter." if config.method != "full" else "Saving the model.")
        if files.main:
            save_atomic(model, tokenizer, run_dir / "adapter")
        else:
            return "done"  # process 0 evaluates and reports

        phase("eval-after", "Scoring the fine-tuned model on the held-out examples.")
        after, after_answers = evaluate(model, tokenizer, dataset, instruction,
                                        config.max_length, budget)
        phase("", "")
        samples = [{"prompt": e.prompt, "reference": e.response, "before": b, "after": a}
                   for e, b, a in zip(dataset.heldout[:SAMPLES], before_answers, after_answers,
                                      strict=False)]
        write_json_atomic(run_dir / "eval.json", {  # process 0 only (see above)
            "before": before, "after": after, "peak_memory_bytes": peak,
            "estimate_bytes": estimate_bytes(config, model_path, seq_len),
            "train_seconds": round(train_seconds, 3), "phase_seconds": phases,
            "steps": trainer.state.global_step, "tokens_trained": trainer.tokens_seen,
            "samples": samples})
        step = trainer.state.global_step
        if stopped:
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

def load_tuned(run_dir: Path | str):
    """``(base_model, tuned_model, tokenizer)`` of a finished run, for side-by-side answers:
    the base as the run loaded it (4-bit for qlora) and the same base with the saved adapter
    (``peft.PeftModel.from_pretrained``; for ``full`` the saved model). The tokenizer carries
    ``finetune_instruction``, which ``generate`` uses by default, so answers are prompted as
    in training. Raises ValueError when the run has no saved adapter."""
    from core.finetune.data import load_dataset
    from core.models import resolve_model

    run_dir = Path(run_dir)
    adapter = run_dir / "adapter"
    try:
        config = FinetuneConfig.from_json(json.loads((run_dir / "config.json").read_text()))
    except (OSError, ValueError) as error:
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
    base = load_base(model_path, config.method).eval()
    if config.method == "full":
        from transformers import AutoModelForCausalLM

        tuned = AutoModelForCausalLM.from_pretrained(adapter, dtype=torch.float32)
    else:
        from peft import PeftModel

        tuned = PeftModel.from_pretrained(load_base(model_path, config.method), adapter)
    return base, tuned.eval(), tokenizer
