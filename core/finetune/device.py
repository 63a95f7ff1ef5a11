"""Which arithmetic this machine runs fast: the compute dtype of a fine-tune, chosen per machine.

A bfloat16 matrix product is fast only where the processor has it natively (a GPU; a CPU
with AVX512-BF16 or AMX). Elsewhere - an AVX2 laptop - torch emulates it, and a
768x576 @ 576x1536 product measured 31 ms in float32 against 1,508 ms in bfloat16. So the
choice is measured, not assumed:

- on a GPU: bfloat16 where ``torch.cuda.is_bf16_supported()``, else float16;
- on a CPU: a short timed probe of what a training step really runs - two decoder layers of
  the bundled model's shape with LoRA adapters, over frozen 4-bit NF4 layers
  (``bnb.nn.Linear4bit``) for ``qlora`` or plain ones for ``lora`` and ``full`` - forward,
  loss and backward, in float32 and in bfloat16 taking turns; bfloat16 is chosen only when
  it is at least ``BF16_MARGIN`` faster. (A single matrix product is not enough: on an
  AVX512-BF16 CPU a bfloat16 product can win while the whole step, with its casts and
  element-wise work, runs several times slower.)

The probe takes 10-30 seconds once per machine; its result (with the resident memory of
the libraries a run imports, which the memory estimate needs) is cached in
``core.models.cache_root()/machine-<fingerprint>.json``, keyed by the processor, its
flags, torch and bitsandbytes versions and the thread count, so another machine (or the
same disk on another CPU) probes again. ``python -m core.finetune.device`` prints it;
``plan`` turns it into how a run trains here.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DTYPES = ("float32", "bfloat16", "float16")
REQUESTS = ("auto", "float32", "bfloat16")
BF16_MARGIN = 0.9  # bfloat16 must take at most 90% of float32's time to be chosen
KERNELS = {"qlora": "nf4", "lora": "dense", "full": "dense"}
# The probe's block: two decoder layers of SmolLM2-135M's shape over one demo batch.
PROBE_LAYER = dict(vocab_size=1024, hidden_size=576, intermediate_size=1536, num_hidden_layers=2,
                   num_attention_heads=9, num_key_value_heads=3, head_dim=64)
PROBE_TOKENS = (8, 96)  # batch, sequence length
PROBE_SECONDS = 1.0  # per kernel and dtype, once settled
WARM_UP_CALLS = 3


@dataclass(frozen=True)
class ComputeChoice:
    """The dtype a run computes in, and why: ``reason`` is the sentence the page shows
    ("this CPU: AVX2 - computing in float32 (...)")."""

    dtype: str  # one of DTYPES
    requested: str  # one of REQUESTS
    device: str  # "cpu" or "cuda"
    capability: str  # torch.backends.cpu.get_cpu_capability(), or the GPU's name
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


def cpu_flags() -> set[str]:
    """The processor's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_bf16(flags: set[str] | None = None, level: str | None = None) -> bool:
    """Whether torch can use the CPU's bfloat16 arithmetic: the CPU advertises AVX512-BF16 or
    AMX-BF16 and torch's kernel level (``level``, default ``capability()``) is not held
    below AVX512 (``ATEN_CPU_CAPABILITY=avx2`` runs such a CPU as an AVX2 one)."""
    flags = cpu_flags() if flags is None else flags
    if not {"avx512_bf16", "amx_bf16"} & flags:
        return False
    level = capability() if level is None else level
    return level not in ("DEFAULT", "AVX2")


def capability() -> str:
    """torch's CPU kernel level (``AVX2``, ``AVX512``, ...), as the benchmarks print it."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def fingerprint() -> str:
    """What the probe's result depends on, hashed: processor, flags, library versions,
    threads, and the environment variables that restrict torch's kernels."""
    import torch

    try:
        import bitsandbytes

        bnb_version = bitsandbytes.__version__
    except ImportError:
        bnb_version = "-"
    parts = [cpu_name(), " ".join(sorted(cpu_flags())), capability(), torch.__version__,
             bnb_version, str(torch.get_num_threads()),
             *(f"{k}={os.environ.get(k, '')}" for k in
               ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS"))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _settled(step, calls: int = WARM_UP_CALLS) -> float:
    """Call ``step`` until it runs at its settled speed (the first calls of a new shape pay
    for kernel selection, memory growth and page faults: up to 8x slower here); the last
    call's seconds."""
    for _ in range(calls):
        start = time.perf_counter()
        step()
        seconds = time.perf_counter() - start
    return seconds


def _time_pair(steps: dict, budget: float = PROBE_SECONDS) -> dict[str, float]:
    """Median seconds per call of each of ``steps`` (name -> callable; the first is the
    baseline), once each has settled, called in turn (A B A B ...) so that a machine whose
    speed drifts weighs on both alike; at least 3 calls each, about ``budget`` seconds each.
    Stops early when one is clearly slower (more than 10x the baseline while settling, or
    3x once timed): an emulated bfloat16 step can take seconds."""
    names = list(steps)
    baseline = _settled(steps[names[0]])
    for name in names[1:]:
        if _settled(steps[name], calls=2) > 10 * baseline:
            return {names[0]: baseline, name: _settled(steps[name], calls=1)}
    times: dict[str, list[float]] = {name: [] for name in steps}
    deadline = time.perf_counter() + budget * len(steps)
    while time.perf_counter() < deadline or min(len(t) for t in times.values()) < 3:
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
        medians = {name: sorted(t)[len(t) // 2] for name, t in times.items()}
        if max(medians.values()) > 3 * min(medians.values()):
            break
    return {name: sorted(t)[len(t) // 2] for name, t in times.items()}


def _block(kernel: str, dtype, layers: int = 2):
    """What one training step runs, cut down: ``layers`` decoder layers of SmolLM2-135M's
    shape (``PROBE_LAYER``, random weights, a small vocabulary) with LoRA adapters (peft,
    r=16) on every projection, over frozen projections that are 4-bit NF4 layers (``nf4``,
    as QLoRA) or plain ones in ``dtype`` (``dense``, as LoRA); ``full``: every weight
    trainable, no adapters. Returns ``(model, batch)``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**{**PROBE_LAYER, "num_hidden_layers": layers}))
    batch_size, seq_len = PROBE_TOKENS
    ids = torch.randint(0, PROBE_LAYER["vocab_size"], (batch_size, seq_len))
    if kernel == "full":
        return model.to(dtype).train(), {"input_ids": ids, "labels": ids}
    if kernel == "nf4":
        import bitsandbytes as bnb

        for layer in model.model.layers:
            for parent in (layer.self_attn, layer.mlp):
                for name, linear in list(parent.named_children()):
                    if not isinstance(linear, torch.nn.Linear):
                        continue
                    q = bnb.nn.Linear4bit(linear.in_features, linear.out_features, bias=False,
                                          compute_dtype=dtype, quant_type="nf4",
                                          compress_statistics=True)
                    q.weight = bnb.nn.Params4bit(linear.weight.data, requires_grad=False,
                                                 quant_type="nf4", compress_statistics=True)
                    q = q.to("cpu")  # quantizes the weight
                    q.support_avx512bf16_for_cpu = False  # the layout training uses (train.py)
                    setattr(parent, name, q)
    else:
        model = model.to(dtype)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    return model, {"input_ids": ids, "labels": ids}


FOOTPRINT_LAYERS = 6


def layer_footprint(method: str, dtype: str) -> float:
    """How much resident memory one decoder layer's forward really adds on this machine,
    as a multiple of what ``core.memory.layer_activation_bytes`` says autograd saves.

    Besides the saved tensors, each layer's forward makes temporaries (casts, the rotary
    embedding's products, the adapters' intermediate sums) that are freed again, but the C
    allocator keeps their memory for reuse and later tensors do not fit its holes exactly.
    Measured in this process (call it in a fresh one, ``--footprint``): the first forward
    pass of a ``FOOTPRINT_LAYERS``-layer block, the process's resident memory read after
    every layer; the mean growth of layers 2.. over the textbook bytes."""
    import psutil
    import torch
    from transformers import LlamaConfig

    from core.memory import layer_activation_bytes
    from core.params import arch_from_hf_config

    kernel = "full" if method == "full" else KERNELS[method]
    model, batch = _block(kernel, getattr(torch, dtype), layers=FOOTPRINT_LAYERS)
    decoder = model.model if kernel == "full" else model.base_model.model.model
    me, rss = psutil.Process(), []
    for layer in decoder.layers:
        layer.register_forward_hook(lambda *_: rss.append(me.memory_info().rss))
    model(**batch)
    growth = [b - a for a, b in zip(rss[1:], rss[2:], strict=False)]
    arch = arch_from_hf_config(LlamaConfig(**{**PROBE_LAYER, "num_hidden_layers": FOOTPRINT_LAYERS}))
    batch_size, seq_len = PROBE_TOKENS
    dtype_name = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}[dtype]
    targets = None if method == "full" else ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                             "up_proj", "down_proj")
    book = batch_size * seq_len * layer_activation_bytes(arch, seq_len, dtype_name, "sdpa",
                                                         targets, 16)
    return round(sum(growth) / len(growth) / book, 3)


def _footprint_in_subprocess(method: str, dtype: str) -> float:
    import subprocess

    out = subprocess.run([sys.executable, "-m", "core.finetune.device", "--footprint", method,
                          dtype], capture_output=True, text=True, timeout=600,
                         cwd=Path(__file__).resolve().parents[2])
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"The memory probe failed: {out.stderr.strip()[-500:]}") from None


def probe_kernel(kernel: str) -> dict[str, float]:
    """Seconds per training step (forward, loss, backward into the adapters) of the probe
    block, ``{"float32": s, "bfloat16": s}``."""
    import torch

    def step_of(name):
        model, batch = _block(kernel, getattr(torch, name))

        def step():
            model.zero_grad(set_to_none=True)
            model(**batch).loss.backward()

        return step

    return _time_pair({name: step_of(name) for name in ("float32", "bfloat16")})


RUNTIME_PROBE = ("import psutil, torch, transformers, peft, bitsandbytes\n"
                 "from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer\n"
                 "print(psutil.Process().memory_info().rss)")


def runtime_bytes() -> int:
    """Resident memory of a fresh Python process that has imported what a run imports
    (torch, transformers, peft, bitsandbytes): the floor under every run on this machine."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", RUNTIME_PROBE], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, TRANSFORMERS_VERBOSITY="error"))
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines or not lines[-1].isdigit():
        raise RuntimeError(f"The runtime probe failed: {out.stderr.strip()[-500:]}")
    return int(lines[-1])


def _cache_file() -> Path:
    from core.models import cache_root

    return cache_root() / f"machine-{fingerprint()}.json"


def measure() -> dict:
    """Probe this machine now (10-30 s): ``{"cpu", "capability", "native_bf16", "threads",
    "gpu", "gpu_bf16", "timings": {kernel: {dtype: s}}, "runtime_bytes",
    "layer_footprint": {method: x}}`` (see ``layer_footprint``; none on a GPU)."""
    import torch

    gpu = torch.cuda.is_available()
    result = {"cpu": cpu_name(), "capability": capability(), "native_bf16": native_bf16(),
              "threads": torch.get_num_threads(),
              "gpu": torch.cuda.get_device_name() if gpu else None,
              "gpu_bf16": bool(gpu and torch.cuda.is_bf16_supported()),
              "timings": {} if gpu else {k: probe_kernel(k) for k in ("nf4", "dense")},
              "runtime_bytes": runtime_bytes(), "layer_footprint": {}}
    if not gpu:  # each in a fresh process: an allocator that served other work would hide it
        for method in KERNELS:
            dtype = choose(method, "auto", result).dtype
            result["layer_footprint"][method] = _footprint_in_subprocess(method, dtype)
    return result


def profile(refresh: bool = False) -> dict:
    """This machine's probe (see ``measure``), from the cache or measured now and cached."""
    path = _cache_file()
    if not refresh:
        try:
            cached = json.loads(path.read_text())
        except (OSError, ValueError):
            cached = None
        if isinstance(cached, dict) and "layer_footprint" in cached:
            return cached
    result = measure()
    try:
        from core.finetune.rundir import write_json_atomic

        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, result)
    except OSError:
        pass  # a read-only cache only means probing again next time
    return result


def profile_in_subprocess(timeout: float = 600) -> dict:
    """``profile()`` computed by a separate process, for a caller that must not import torch
    (the app server): ``python -m core.finetune.device --json``."""
    import subprocess

    out = subprocess.run([sys.executable, "-m", "core.finetune.device", "--json"],
                         capture_output=True, text=True, timeout=timeout,
                         cwd=Path(__file__).resolve().parents[2])
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"The machine probe failed: {out.stderr.strip()[-500:]}") from None


def choose(method: str, requested: str, machine: dict) -> ComputeChoice:
    """The compute dtype for ``method`` on the machine ``machine`` describes (a ``profile``);
    ``requested`` = ``float32`` or ``bfloat16`` overrides the choice, ``auto`` decides
    (see the module docstring). Pure: no torch."""
    if method not in KERNELS:
        raise ValueError(f"method should be one of {sorted(KERNELS)}, but the value passed is {method!r}")
    if requested not in REQUESTS:
        raise ValueError(f"compute_dtype should be one of {list(REQUESTS)}, but the value "
                         f"passed is {requested!r}")
    if machine.get("gpu"):
        name = machine["gpu"]
        if requested != "auto":
            return ComputeChoice(requested, requested, "cuda", name, f"{name}: {requested} as requested")
        dtype = "bfloat16" if machine.get("gpu_bf16") else "float16"
        return ComputeChoice(dtype, requested, "cuda", name,
                             f"{name}: computing in {dtype} (the GPU's fastest training dtype)")
    cap = machine["capability"]
    native = "native bfloat16" if machine.get("native_bf16") else "no native bfloat16"
    if requested != "auto":
        return ComputeChoice(requested, requested, "cpu", cap,
                             f"this CPU: {cap}, {native} - computing in {requested} as requested")
    kernel = KERNELS[method]
    fp32, bf16 = (machine["timings"][kernel][d] for d in ("float32", "bfloat16"))
    dtype = "bfloat16" if bf16 <= BF16_MARGIN * fp32 else "float32"
    block = "4-bit layers" if kernel == "nf4" else "layers"
    return ComputeChoice(dtype, requested, "cpu", cap,
                         f"this CPU: {cap}, {native} - computing in {dtype} (a training step "
                         f"of two {block} with adapters: {fp32 * 1e3:.0f} ms in float32, "
                         f"{bf16 * 1e3:.0f} ms in bfloat16)")


@dataclass(frozen=True)
class Plan:
    """How a run trains on a machine: its compute dtype, whether it recomputes activations
    (gradient checkpointing) and its optimizer (``core.memory``'s names)."""

    compute: ComputeChoice
    gradient_checkpointing: bool
    optimizer: str  # "adamw" or "paged-adamw-8bit"


def plan(method: str, requested: str = "auto", machine: dict | None = None) -> Plan:
    """The run's plan on ``machine`` (default: this one). Gradient checkpointing for QLoRA on a
    GPU, where memory is the point (the QLoRA recipe); a CPU keeps the activations - it has RAM
    to spare, and recomputing would add about a third to every step. Paged 8-bit AdamW on a
    GPU (QLoRA's optimizer), AdamW on a CPU (bitsandbytes pages GPU memory only)."""
    if requested not in REQUESTS:  # validate before probing
        raise ValueError(f"compute_dtype should be one of {list(REQUESTS)}, but the value "
                         f"passed is {requested!r}")
    compute = choose(method, requested, profile() if machine is None else machine)
    gpu = compute.device == "cuda"
    return Plan(compute, gradient_checkpointing=method == "qlora" and gpu,
                optimizer="paged-adamw-8bit" if gpu else "adamw")


def main() -> int:
    """``--json``: the profile as one line (for ``profile_in_subprocess``); ``--refresh``:
    probe again; otherwise the profile and each method's choice, for a person."""
    args = sys.argv[1:]
    if args[:1] == ["--footprint"]:
        print(layer_footprint(args[1], args[2]))
        return 0
    result = profile(refresh="--refresh" in args)
    if "--json" in args:
        print(json.dumps(result))
        return 0
    print(json.dumps(result, indent=2))
    for method in KERNELS:
        print(f"{method}: {plan(method, machine=result)}")
    return 0


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)


if __name__ == "__main__":
    sys.exit(main())
