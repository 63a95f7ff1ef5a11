"""QAT benchmark: how long the PTQ-against-QAT lesson trains on this machine.

For each dataset: the float32 training, then PTQ + QAT at every width of core.qat.BITS, per
tensor and per output channel, with the held-out accuracies. Every figure is printed beside
torch's CPU capability and thread count (training runs on one thread, see core.qat).

    .venv/bin/python bench/bench_qat.py [--kinds spirals,moons,rings] [--seed 0] [--repeat 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core import qat  # noqa: E402


def machine(threads: int) -> str:
    """Where a figure comes from: torch's CPU kernels and the threads that training ran on."""
    return f"cpu capability {torch.backends.cpu.get_cpu_capability()}, {threads} thread(s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default=",".join(qat.KINDS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=1, help="float32 trainings per dataset")
    args = parser.parse_args()
    print(f"torch {torch.__version__}; torch's default threads here: {torch.get_num_threads()}")
    print(f"network {'-'.join(map(str, qat.LAYERS))}; float32 {qat.TRAIN_STEPS} steps; "
          f"QAT {qat.QAT_STEPS} steps per width")  # fmt: skip
    for kind in args.kinds.split(","):
        seconds = []
        for _ in range(args.repeat):
            base = qat.train_float(kind, args.noise, args.seed)
            seconds.append(base.seconds)
        where = machine(base.threads)
        print(f"\n{kind} (seed {args.seed}, noise {args.noise}): float32 training "
              f"{statistics.median(seconds):.2f} s, accuracy {base.accuracy:.1%}  [{where}]")  # fmt: skip
        for per_channel in (False, True):
            start = time.perf_counter()
            for bits in qat.BITS:
                w = qat.quantize_width(base, bits, per_channel)
                where = machine(w.threads)
                print(f"  {'per channel' if per_channel else 'per tensor '} {bits} bits: "
                      f"QAT {w.qat_seconds:.2f} s ({w.qat_seconds / w.qat_steps * 1000:.2f} ms/step)"
                      f"  PTQ {w.ptq_accuracy:.1%}  QAT {w.qat_accuracy:.1%}  [{where}]")  # fmt: skip
            total = time.perf_counter() - start
            label = "per channel" if per_channel else "per tensor"
            print(f"  {label}: all {len(qat.BITS)} widths {total:.2f} s  [{where}]")


if __name__ == "__main__":
    main()
