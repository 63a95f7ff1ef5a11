"""Fine-tune benchmark, on this machine:

1. the default demo run (QLoRA on ``orders`` with the page's defaults), end to end through
   the CLI: wall time, time per phase, held-out valid-JSON and exact-match before and after;
2. training throughput (non-padding tokens per second) and training peak memory of qlora,
   lora and full on the same batches, each in its own process so their memory does not mix;
3. the same for a plain reference script (Trainer + peft with the libraries' defaults), and
   our figures as ratios of it; and QLoRA with a float32 vs a bfloat16 compute dtype.

Peak memory = the process's peak resident set size while training (``VmHWM`` reset after
loading via ``/proc/self/clear_refs``; ``ru_maxrss`` is shown too, which includes loading).

Usage: ``python bench/bench_finetune.py [--skip-demo] [--steps 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
MB = 1024**2


def load_average() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# -- 1. the demo run --------------------------------------------------------------------

def demo_run() -> None:
    from core.finetune import FinetuneConfig

    defaults = FinetuneConfig(output_dir="-")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "demo"
        print(f"Demo run: {defaults.method} on {defaults.dataset}, r={defaults.r}, "
              f"lr={defaults.learning_rate}, steps={defaults.max_steps}, batch={defaults.batch_size}, "
              f"max_length={defaults.max_length} ({load_average()} at start)")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "core.finetune", "--output-dir", str(run_dir)],
                              cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - start
        status = json.loads((run_dir / "status.json").read_text())
        if proc.returncode != 0:
            print(f"  FAILED ({status.get('message')})\n{proc.stderr[-2000:]}")
            return
        report = json.loads((run_dir / "eval.json").read_text())
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in report["phase_seconds"].items())
        before, after = report["before"], report["after"]
        target = "OK" if wall <= 240 else "OVER 4 min"
        print(f"  wall time {wall:.1f}s ({target}); {phases}; {load_average()} at end")
        print(f"  held-out valid JSON {before['valid_json']:.0%} -> {after['valid_json']:.0%}, "
              f"exact match {before['exact_match']:.0%} -> {after['exact_match']:.0%} "
              f"(n={after['n']}); held-out loss {before['loss']:.3f} -> {after['loss']:.3f}")
        print(f"  training peak RSS {report['peak_memory_bytes'] / MB:.0f} MB "
              f"(memory lesson's estimate {(report['estimate_bytes'] or 0) / MB:.0f} MB)")
        for sample in report["samples"][:2]:
            print(f"  e.g. {sample['prompt']!r}\n     before: {sample['before'][:90]!r}"
                  f"\n     after:  {sample['after']!r}")


# -- 2./3. one training measurement per process ---------------------------------------------

def peak_since_reset() -> int:
    from core.finetune.train import peak_rss_bytes

    return peak_rss_bytes()


def worker(kind: str, steps: int) -> dict:
    """Train ``steps`` steps of ``kind`` (qlora, lora, full, qlora-fp32, reference) on the
    first ``steps * batch`` orders examples, in order; the first step is a warm-up."""
    import torch
    from transformers import Trainer, TrainingArguments

    from core.finetune import FinetuneConfig
    from core.finetune import train as ft
    from core.finetune.data import load_dataset
    from core.finetune.train import reset_peak_rss

    method = "qlora" if kind in ("qlora-fp32", "reference") else kind
    if kind == "qlora-fp32":  # the alternative compute dtype for the 4-bit layers
        ft.compute_dtype = lambda method="qlora": torch.float32
    config = FinetuneConfig(method=method, max_steps=steps, output_dir="-")
    dataset = load_dataset("orders")
    counted: list = []

    class Counting(Trainer):  # measurement only: the non-padding tokens of each batch
        def training_step(self, model, inputs, num_items_in_batch=None):
            counted.append(int(inputs["attention_mask"].sum()))
            return super().training_step(model, inputs, num_items_in_batch)

    scratch = tempfile.mkdtemp()
    if kind == "reference":
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import (
            AutoModelForCausalLM,
            AutoTokenizer,
            BitsAndBytesConfig,
            DataCollatorForSeq2Seq,
        )

        from core.models import resolve_model

        path = resolve_model(config.model)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, quantization_config=BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True))
        model = prepare_model_for_kbit_training(model)
        model = get_peft_model(model, LoraConfig(r=config.r, lora_alpha=config.alpha,
                                                 target_modules=list(config.target_modules),
                                                 task_type="CAUSAL_LM"))
        features = ft.encode_examples(tokenizer, dataset.train[:steps * config.batch_size],
                                      ft.instruction_for("orders"), config.max_length)
        args = TrainingArguments(output_dir=scratch, max_steps=steps, report_to="none",
                                 per_device_train_batch_size=config.batch_size,
                                 learning_rate=config.learning_rate, use_cpu=True,
                                 disable_tqdm=True, save_strategy="no")
        trainer = Counting(model=model, args=args, train_dataset=features,
                           data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True))
    else:
        model, tokenizer = ft.prepare_model(config)
        features = ft.encode_examples(tokenizer, dataset.train[:steps * config.batch_size],
                                      ft.instruction_for("orders"), config.max_length)
        trainer = ft.make_trainer(model, tokenizer, config, features, scratch)
    times: list[float] = []
    totals: list[int] = []  # non-padding tokens trained so far, after each step

    def tokens_so_far() -> int:
        return getattr(trainer, "tokens_seen", None) or sum(counted)

    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - self.t)
            totals.append(tokens_so_far())

    trainer.add_callback(Timer())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    reset_peak_rss()
    trainer.train()
    peak = peak_since_reset()
    timed_tokens, timed_seconds = totals[-1] - totals[0], sum(times[1:])
    return {"kind": kind, "tokens_per_s": timed_tokens / timed_seconds,
            "s_per_step": timed_seconds / max(len(times) - 1, 1), "peak_bytes": peak,
            "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "trainable": trainable, "tokens": timed_tokens}


def measure(kind: str, steps: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, "--steps", str(steps)],
                          cwd=REPO, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def methods(steps: int) -> None:
    print(f"\nTraining on the same batches: {steps} steps of 8 orders examples (first step "
          f"= warm-up, not timed), one process each ({load_average()})")
    results = {kind: measure(kind, steps) for kind in
               ("reference", "qlora", "lora", "full", "qlora-fp32")}
    ref = results["reference"]
    print(f"  {'':<11}{'tokens/s':>9}{'s/step':>8}{'train peak MB':>15}{'ru_maxrss MB':>14}"
          f"{'trainable':>12}{'tok/s vs ref':>14}{'peak vs ref':>13}")
    for kind, r in results.items():
        print(f"  {kind:<11}{r['tokens_per_s']:>9.1f}{r['s_per_step']:>8.2f}"
              f"{r['peak_bytes'] / MB:>15.0f}{r['ru_maxrss_bytes'] / MB:>14.0f}"
              f"{r['trainable']:>12,}{r['tokens_per_s'] / ref['tokens_per_s']:>14.2f}"
              f"{r['peak_bytes'] / ref['peak_bytes']:>13.2f}")
    q, lo, fu = (results[k]["peak_bytes"] for k in ("qlora", "lora", "full"))
    print(f"  peak memory qlora < lora < full: {'yes' if q < lo < fu else 'NO'}; "
          f"our qlora tokens/s >= reference: "
          f"{'yes' if results['qlora']['tokens_per_s'] >= ref['tokens_per_s'] else 'NO'}")
    print(f"  compute dtype of the 4-bit layers on this CPU (qlora): bfloat16 "
          f"{results['qlora']['tokens_per_s']:.1f} tokens/s vs float32 "
          f"{results['qlora-fp32']['tokens_per_s']:.1f} tokens/s")
    print(f"  ({load_average()} at end)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=5, help="training steps per method")
    parser.add_argument("--skip-demo", action="store_true", help="only the per-method table")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps)))
        return
    if not args.skip_demo:
        demo_run()
    methods(args.steps)


if __name__ == "__main__":
    main()
