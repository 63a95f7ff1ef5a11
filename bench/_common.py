"""What every benchmark script shares: offline set-up, the repository on the path, and the
machine facts printed beside every figure (load average, torch's CPU kernel level)."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
MB = 1024**2


def load_average() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def machine_tag() -> str:
    """What a figure is measured on: the CPU's kernel level and native bfloat16 (or the GPU),
    and torch's thread count (from this machine's cached probe)."""
    from core.finetune.device import profile

    p = profile()
    where = p["gpu"] or f"CPU {p['capability']}, {'native' if p['native_bf16'] else 'no'} bf16"
    return f"[{where}, {p['threads']} threads]"
