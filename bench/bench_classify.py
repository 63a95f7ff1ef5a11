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

from _common import MB, REPO, load_average, machine_tag  # noqa: E402, F401


def worker(method: str, steps: int | None, keep: str | None) -> dict:
    """One classify run of ``method`` with the defaults, as the lab runs it: load, evaluate
    before, train, save, evaluate after. With ``keep``, its run directory (config.json,
    status.json, adapter/, eval.json from ``eval_record``) stays in ``keep/<method>``."""
    import torch

    from core.finetune import FinetuneConfig, now_iso, write_json_atomic
    from core.finetune.classify import (
        classify_settings,
        encode_labelled,
        eval_record,
        evaluate_classifier,
        load_labelled_dataset,
        make_classify_trainer,
        prepare_classifier,
        save_classifier,
        trainable_parameters,
    )
    from core.finetune.train import peak_rss_bytes, reset_peak_rss
    from core.models import resolve_model

    settings = classify_settings(method=method, **({"max_steps": steps} if steps else {}))
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(keep) / method if keep else Path(scratch) / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        config = FinetuneConfig(**settings, output_dir=str(run_dir))
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
        trainable = trainable_parameters(model)
        features = encode_labelled(tokenizer, dataset.train, dataset.labels, config.max_length)
        before = evaluate_classifier(model, tokenizer, dataset, config.max_length)
        trainer = make_classify_trainer(model, tokenizer, config, features, scratch)
        reset_peak_rss()
        wall, cpu = time.perf_counter(), time.process_time()
        trainer.train()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = peak_rss_bytes()
        save_classifier(trainer.model, tokenizer, dataset.labels, run_dir / "adapter")
        after = evaluate_classifier(trainer.model, tokenizer, dataset, config.max_length)
        record = eval_record(
            before,
            after,
            trainable,
            wall,
            peak,
            run_dir / "adapter",
            model_path,
            steps=trainer.state.global_step,
            tokens_trained=trainer.state.num_input_tokens_seen,
            cpu_seconds=round(cpu, 3),
        )
        write_json_atomic(run_dir / "config.json", {**config.to_json(), "task": "classify"})
        write_json_atomic(run_dir / "eval.json", record)
        write_json_atomic(
            run_dir / "status.json",
            {
                "state": "done",
                "message": "Finished.",
                "phase": "",
                "step": record["steps"],
                "max_steps": config.max_steps,
                "pid": None,
                "started": now_iso(),
                "updated": now_iso(),
            },
        )
    return {
        "method": method,
        "learning_rate": config.learning_rate,
        "threads": torch.get_num_threads(),
        **record,
    }


def measure(method: str, steps: int | None, keep: str | None) -> dict:
    args = [sys.executable, __file__, "--worker", method]
    args += (["--steps", str(steps)] if steps else []) + (["--keep", keep] if keep else [])
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('{"method"')]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{method} worker failed:\n{proc.stderr[-3000:]}")
    print(lines[-1], flush=True)  # the raw figures, as they come
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps (default: the defaults')"
    )
    parser.add_argument("--methods", default="lora,full,qlora", help="comma-separated methods")
    parser.add_argument("--keep", help="keep each method's run directory in KEEP/<method>")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps, args.keep)))
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
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    results = [
        measure(m, args.steps, args.keep and str(Path(args.keep).resolve())) for m in methods
    ]
    print(
        f"  {'':<6}{'lr':>7}{'trainable':>11}{'saved MB':>10}{'base MB':>9}{'train s':>9}{'CPU s':>8}"
        f"{'train peak MB':>15}{'acc before':>12}{'acc after':>11}{'loss after':>12}"
    )
    for r in results:
        ev_before, ev_after = r["before"], r["after"]
        print(
            f"  {r['method']:<6}{r['learning_rate']:>7g}{r['trainable_parameters']:>11,}"
            f"{r['adapter_bytes'] / MB:>10.2f}{r['base_model_bytes'] / MB:>9.1f}"
            f"{r['train_seconds']:>9.1f}{r['cpu_seconds']:>8.1f}"
            f"{r['peak_memory_bytes'] / MB:>15.0f}{ev_before['accuracy']:>12.1%}"
            f"{ev_after['accuracy']:>11.1%}{ev_after['loss']:>12.3f}"
        )
    print(f"  ({load_average()} at end)")


if __name__ == "__main__":
    main()
