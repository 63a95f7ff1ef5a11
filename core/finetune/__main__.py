"""Command line: ``python -m core.finetune --method qlora --dataset orders --max-steps 60
--output-dir runs/<id>``. Every ``FinetuneConfig`` field is a flag; ``--help`` lists them
with their defaults. Exit status: 0 when the run finished or was stopped, 1 when it failed,
2 for bad flags or an output folder that already holds a run."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from core.finetune import FIELD_HELP, FinetuneConfig
from core.finetune.rundir import claim, now_iso, write_json_atomic

DEFAULT_DIR = "runs/<UTC time>-<random>"


def parser(defaults: bool = True) -> argparse.ArgumentParser:
    """The CLI's flags; ``defaults=False`` leaves out every flag not given (to tell which
    settings a person chose)."""
    p = argparse.ArgumentParser(
        prog="python -m core.finetune",
        description="Fine-tune a chat model (or, with --task classify, a BERT-family text "
                    "classifier) with QLoRA, LoRA or full fine-tuning, evaluate it on the "
                    "held-out split before and after, and write a run directory.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in fields(FinetuneConfig):
        default = f.default if f.default is not MISSING else None
        if f.name == "target_modules":
            kind, default = str, ",".join(default)
        elif f.name == "output_dir":
            kind, default = str, DEFAULT_DIR
        else:
            kind = type(default)
        p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind,
                       default=default if defaults else argparse.SUPPRESS,
                       help=FIELD_HELP[f.name])
    return p


def settings(argv: list[str] | None) -> dict:
    """The run's settings from the flags: the chat task's defaults, or for ``--task
    classify`` the classify defaults (``classify_settings``: MiniLM on intents, each method's
    learning rate) under the flags that were given."""
    args = vars(parser().parse_args(argv))
    if args["output_dir"] == DEFAULT_DIR:
        del args["output_dir"]
    if args["task"] != "classify":
        return args
    from core.finetune.classify import CLASSIFY_DEFAULTS, classify_settings

    given = vars(parser(defaults=False).parse_args(argv))
    chosen = {k: v for k, v in given.items() if k in CLASSIFY_DEFAULTS}
    try:
        return {**args, **classify_settings(**chosen)}
    except ValueError as error:
        parser().error(str(error))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    p = parser()
    args = settings(argv)
    try:
        config = FinetuneConfig(**args)
    except ValueError as error:
        if args.get("output_dir"):  # a page waiting on this run directory should hear why
            try:
                run_dir = claim(args["output_dir"])
            except ValueError:
                pass  # it holds another run: leave that run's files alone
            else:
                write_json_atomic(run_dir / "status.json", {
                    "state": "failed", "message": str(error), "phase": "", "step": 0,
                    "max_steps": args.get("max_steps") or 0, "pid": os.getpid(),
                    "started": now_iso(), "updated": now_iso()})
        p.error(str(error))
    try:
        claim(config.output_dir)
    except ValueError as error:
        p.error(str(error))
    from core.finetune.train import run

    state = run(config)
    print(f"{state}: {Path(config.output_dir).resolve()}")
    return 0 if state in ("done", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
