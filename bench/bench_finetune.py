"""Fine-tune benchmark, on this machine (its processor and torch's kernel level are printed
beside every figure):

1. the machine: its compute dtype probe and the plan each method trains with here;
2. the default demo run (QLoRA on ``orders``, the page's defaults) end to end through the
   CLI - wall time, time per phase, held-out valid-JSON and exact-match before and after -
   and the same settings with ``--method lora`` and ``--method full``: each run's memory
   estimate (``eval.json``) beside its measured training-phase peak;
3. training throughput (non-padding tokens per second, Trainer's
   ``include_num_input_tokens_seen``) of qlora, lora and full on the same batches, each in
   its own process, against a plain reference script (Trainer + peft with the libraries'
   defaults) computing in the same dtype as our qlora; and qlora in the other dtype.

Peak memory = the process's peak resident set size while training (``VmHWM`` reset after
loading and evaluating via ``/proc/self/clear_refs``).

Usage: ``python bench/bench_finetune.py [--quick] [--skip-demo] [--steps 5]``
(``--quick``: the qlora demo only, no lora/full demo runs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import MB, REPO, load_average, machine_tag  # noqa: E402, F401

# -- 1. the machine ---------------------------------------------------------------------------

def machine() -> None:
    from core.finetune.device import plan, profile

    p = profile()
    print(f"Machine: {p['cpu']}; torch CPU capability {p['capability']}; native bfloat16 "
          f"{'yes' if p['native_bf16'] else 'no'}; {p['threads']} torch threads; "
          f"{os.cpu_count()} cores; GPU {p['gpu'] or 'none'}")
    for kernel, t in p["timings"].items():
        print(f"  probe {kernel:>5}: float32 {t['float32'] * 1e3:7.1f} ms, bfloat16 "
              f"{t['bfloat16'] * 1e3:7.1f} ms per forward+backward")
    print(f"  Python + libraries resident: {p['runtime_bytes'] / MB:.0f} MB")
    for method in ("qlora", "lora", "full"):
        how = plan(method)
        print(f"  {method:>5}: {how.compute.dtype}, gradient checkpointing "
              f"{'on' if how.gradient_checkpointing else 'off'}, {how.optimizer} - "
              f"{how.compute.reason}")


# -- 2. the demo run ----------------------------------------------------------------------------

def demo_run(method: str) -> dict | None:
    from core.finetune import FinetuneConfig

    defaults = FinetuneConfig(output_dir="-")
    tag = machine_tag()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "demo"
        print(f"\nDemo settings, --method {method}: {defaults.dataset}, r={defaults.r}, "
              f"lr={defaults.learning_rate}, steps={defaults.max_steps}, "
              f"batch={defaults.batch_size}, max_length={defaults.max_length} "
              f"({load_average()} at start) {tag}")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "core.finetune", "--method", method,
                               "--output-dir", str(run_dir)], cwd=REPO, capture_output=True,
                              text=True)
        wall = time.perf_counter() - start
        status = json.loads((run_dir / "status.json").read_text())
        if proc.returncode != 0:
            print(f"  FAILED ({status.get('message')})\n{proc.stderr[-2000:]}")
            return None
        report = json.loads((run_dir / "eval.json").read_text())
    phases = ", ".join(f"{k} {v:.1f}s" for k, v in report["phase_seconds"].items())
    before, after = report["before"], report["after"]
    verdict = "OK" if wall <= 240 else "OVER 4 min"
    print(f"  wall time {wall:.1f}s ({verdict}); {phases}; {load_average()} at end {tag}")
    print(f"  computing in {report['compute']['dtype']}; trained "
          f"{report['tokens_trained']:,} tokens in {report['train_seconds']:.1f}s = "
          f"{report['tokens_trained'] / report['train_seconds']:.1f} tokens/s {tag}")
    print(f"  held-out valid JSON {before['valid_json']:.0%} -> {after['valid_json']:.0%}, "
          f"exact match {before['exact_match']:.0%} -> {after['exact_match']:.0%} "
          f"(n={after['n']}); held-out loss {before['loss']:.3f} -> {after['loss']:.3f}")
    peak, estimate = report["peak_memory_bytes"], report["estimate_bytes"]
    print(f"  memory: estimate {estimate / MB:.0f} MB vs measured training peak "
          f"{peak / MB:.0f} MB (estimate / measured = {estimate / peak:.2f}) {tag}")
    parts = ", ".join(f"{k} {v / MB:.0f}" for k, v in report["estimate"]["components"].items())
    print(f"    estimate's parts (MB): {parts}; seq_len {report['seq_len']}")
    for sample in report["samples"][:2]:
        print(f"  e.g. {sample['prompt']!r}\n     before: {sample['before'][:90]!r}"
              f"\n     after:  {sample['after']!r}")
    return {"method": method, "wall": wall, "peak": peak, "estimate": estimate}


# -- 3. one training measurement per process ---------------------------------------------

def worker(kind: str, steps: int) -> dict:
    """Train ``steps`` steps of ``kind`` (qlora, lora, full, qlora-other, reference) on the
    first ``steps * batch`` orders examples; the first step is a warm-up."""
    import resource

    from transformers import Trainer, TrainerCallback, TrainingArguments

    from core.finetune import FinetuneConfig
    from core.finetune import train as ft
    from core.finetune.data import load_dataset
    from core.finetune.train import peak_rss_bytes, reset_peak_rss

    method = "qlora" if kind in ("qlora-other", "reference") else kind
    ours = ft.run_plan(FinetuneConfig(method="qlora", output_dir="-")).compute.dtype
    dtype = {"qlora-other": "float32" if ours == "bfloat16" else "bfloat16",
             "reference": ours}.get(kind, "auto")
    config = FinetuneConfig(method=method, max_steps=steps, compute_dtype=dtype, output_dir="-")
    dataset = load_dataset("orders")
    scratch = tempfile.mkdtemp()
    if kind == "reference":
        import torch
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
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=getattr(torch, ours)))
        model = prepare_model_for_kbit_training(model)
        model = get_peft_model(model, LoraConfig(r=config.r, lora_alpha=config.alpha,
                                                 target_modules=list(config.target_modules),
                                                 task_type="CAUSAL_LM"))
        features = ft.encode_examples(tokenizer, dataset.train[:steps * config.batch_size],
                                      ft.instruction_for("orders"), config.max_length)
        args = TrainingArguments(output_dir=scratch, max_steps=steps, report_to="none",
                                 per_device_train_batch_size=config.batch_size,
                                 learning_rate=config.learning_rate, use_cpu=True,
                                 disable_tqdm=True, save_strategy="no",
                                 include_num_input_tokens_seen="non_padding")
        trainer = Trainer(model=model, args=args, train_dataset=features,
                          data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True))
    else:
        model, tokenizer = ft.prepare_model(config)
        features = ft.encode_examples(tokenizer, dataset.train[:steps * config.batch_size],
                                      ft.instruction_for("orders"), config.max_length)
        trainer = ft.make_trainer(model, tokenizer, config, features, scratch)
    times: list[float] = []
    totals: list[int] = []  # non-padding tokens trained so far, after each step

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - self.t)
            totals.append(state.num_input_tokens_seen)

    trainer.add_callback(Timer())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    reset_peak_rss()
    trainer.train()
    timed_tokens, timed_seconds = totals[-1] - totals[0], sum(times[1:])
    return {"kind": kind, "dtype": dtype if dtype != "auto" else ours if method == "qlora" else
            ft.run_plan(config).compute.dtype,
            "tokens_per_s": timed_tokens / timed_seconds,
            "s_per_step": timed_seconds / max(len(times) - 1, 1), "peak_bytes": peak_rss_bytes(),
            "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "trainable": trainable, "tokens": timed_tokens}


def measure(kind: str, steps: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, "--steps", str(steps)],
                          cwd=REPO, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{\"kind\"")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def methods(steps: int) -> None:
    tag = machine_tag()
    print(f"\nTraining on the same batches: {steps} steps of 8 orders examples (first step "
          f"= warm-up, not timed), one process each ({load_average()}) {tag}")
    results = {kind: measure(kind, steps) for kind in
               ("reference", "qlora", "lora", "full", "qlora-other")}
    ref = results["reference"]
    print(f"  {'':<12}{'dtype':>9}{'tokens/s':>9}{'s/step':>8}{'train peak MB':>15}"
          f"{'trainable':>12}{'tok/s vs ref':>14}{'peak vs ref':>13}")
    for kind, r in results.items():
        print(f"  {kind:<12}{r['dtype']:>9}{r['tokens_per_s']:>9.1f}{r['s_per_step']:>8.2f}"
              f"{r['peak_bytes'] / MB:>15.0f}{r['trainable']:>12,}"
              f"{r['tokens_per_s'] / ref['tokens_per_s']:>14.2f}"
              f"{r['peak_bytes'] / ref['peak_bytes']:>13.2f}")
    q, lo, fu = (results[k]["peak_bytes"] for k in ("qlora", "lora", "full"))
    print(f"  peak memory qlora < lora < full: {'yes' if q < lo < fu else 'NO'}; "
          f"our qlora tokens/s >= reference (same dtype): "
          f"{'yes' if results['qlora']['tokens_per_s'] >= ref['tokens_per_s'] else 'NO'}")
    other = results["qlora-other"]
    print(f"  qlora in {results['qlora']['dtype']} (the choice here) "
          f"{results['qlora']['tokens_per_s']:.1f} tokens/s vs {other['dtype']} "
          f"{other['tokens_per_s']:.1f} tokens/s {tag}")
    print(f"  ({load_average()} at end)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=5, help="training steps per method")
    parser.add_argument("--skip-demo", action="store_true", help="only the per-method table")
    parser.add_argument("--quick", action="store_true", help="the qlora demo run only")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps)))
        return
    machine()
    if not args.skip_demo:
        runs = [demo_run(m) for m in (("qlora",) if args.quick else ("qlora", "lora", "full"))]
        done = [r for r in runs if r]
        if len(done) > 1:
            print("\nEstimate vs measured training peak at the demo settings "
                  f"{machine_tag()}:")
            for r in done:
                print(f"  {r['method']:>5}: estimate {r['estimate'] / MB:6.0f} MB, measured "
                      f"{r['peak'] / MB:6.0f} MB, off by {abs(r['estimate'] / r['peak'] - 1):.0%}")
    methods(args.steps)


if __name__ == "__main__":
    main()
