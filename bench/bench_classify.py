"""Classify benchmark, on this machine: LoRA against full fine-tuning (and QLoRA) of the bundled
MiniLM on ``intents``, with the classify defaults (``classify_settings(method=...)``: the same
data, steps and batches, each method at its usual learning rate), one process per
method so that their memory does not mix.

Per method: trainable parameters, the saved weights on disk (the adapter with its head for
lora/qlora, the whole model for full) against the base model's weights, training wall time
and CPU time (both threads; on a busy shared machine the wall time stretches, the CPU time
much less), training-phase peak memory (the process's peak resident set size, ``VmHWM``,
reset after loading with ``core.finetune.train.reset_peak_rss``) and held-out accuracy before
(the untrained head) and after.

Usage: ``python bench/bench_classify.py [--methods lora,full,qlora] [--steps N]``.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
MB = 1024**2


def load_average() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def worker(method: str, steps: int | None) -> dict:
    """One classify run of ``method`` with the defaults, as the lab runs it: load, evaluate
    before, train, save, evaluate after."""
    import torch

    from core.finetune import FinetuneConfig
    from core.finetune.classify import (
        classify_settings,
        encode_labelled,
        evaluate_classifier,
        load_labelled_dataset,
        make_classify_trainer,
        prepare_classifier,
        save_classifier,
        trainable_parameters,
        weights_bytes,
    )
    from core.finetune.train import peak_rss_bytes, reset_peak_rss
    from core.models import resolve_model

    settings = classify_settings(method=method, **({"max_steps": steps} if steps else {}))
    config = FinetuneConfig(**settings, output_dir="-")
    model_path = resolve_model(config.model)
    dataset = load_labelled_dataset(config.dataset, seed=config.seed)
    model, tokenizer = prepare_classifier(
        model_path,
        config.method,
        dataset.labels,
        config.r,
        config.alpha,
        config.dropout,
        config.target_modules,
        config.seed,
    )
    features = encode_labelled(tokenizer, dataset.train, dataset.labels, config.max_length)
    before = evaluate_classifier(model, tokenizer, dataset, config.max_length)
    with tempfile.TemporaryDirectory() as scratch:
        trainer = make_classify_trainer(model, tokenizer, config, features, scratch)
        reset_peak_rss()
        wall, cpu = time.perf_counter(), time.process_time()
        trainer.train()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = peak_rss_bytes()
        after = evaluate_classifier(trainer.model, tokenizer, dataset, config.max_length)
        save_classifier(trainer.model, tokenizer, dataset.labels, Path(scratch) / "adapter")
        saved = weights_bytes(Path(scratch) / "adapter")
    return {
        "method": method,
        "steps": trainer.state.global_step,
        "batch_size": config.batch_size,
        "trainable": trainable_parameters(trainer.model),
        "saved_bytes": saved,
        "base_bytes": weights_bytes(model_path),
        "train_seconds": wall,
        "cpu_seconds": cpu,
        "peak_bytes": peak,
        "before": before["accuracy"],
        "after": after["accuracy"],
        "after_loss": after["loss"],
        "tokens": trainer.tokens_seen,
        "threads": torch.get_num_threads(),
    }


def measure(method: str, steps: int | None) -> dict:
    args = [sys.executable, __file__, "--worker", method] + (
        ["--steps", str(steps)] if steps else []
    )
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('{"method"')]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{method} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps (default: the defaults')"
    )
    parser.add_argument("--methods", default="lora,full,qlora", help="comma-separated methods")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps)))
        return
    import torch

    from core.finetune.classify import CLASSIFY_DEFAULTS

    d = {**CLASSIFY_DEFAULTS, **({"max_steps": args.steps} if args.steps else {})}
    print(
        f"Classify: {d['model']} on {d['dataset']}, r={d['r']}, alpha={d['alpha']}, "
        f"targets={','.join(d['target_modules'])}, lr: each method's usual (below), "
        f"steps={d['max_steps']}, batch={d['batch_size']}, max_length={d['max_length']}"
    )
    print(
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, torch threads "
        f"{torch.get_num_threads()}, {os.cpu_count()} CPUs; {load_average()} at start "
        "(a shared machine: wall times are noisy, CPU seconds less so)"
    )
    results = [measure(m.strip(), args.steps) for m in args.methods.split(",") if m.strip()]
    print(
        f"  {'':<6}{'lr':>7}{'trainable':>11}{'saved MB':>10}{'base MB':>9}{'train s':>9}{'CPU s':>8}"
        f"{'train peak MB':>15}{'acc before':>12}{'acc after':>11}{'loss after':>12}"
    )
    for r in results:
        print(
            f"  {r['method']:<6}{r['learning_rate']:>7g}{r['trainable']:>11,}{r['saved_bytes'] / MB:>10.2f}"
            f"{r['base_bytes'] / MB:>9.1f}{r['train_seconds']:>9.1f}{r['cpu_seconds']:>8.1f}"
            f"{r['peak_bytes'] / MB:>15.0f}{r['before']:>12.1%}{r['after']:>11.1%}"
            f"{r['after_loss']:>12.3f}"
        )
    print(f"  ({load_average()} at end)")


if __name__ == "__main__":
    main()
