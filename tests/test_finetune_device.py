"""The compute dtype is chosen from what this machine runs fast (a cached probe), can be
forced, and follows a GPU's abilities; the plan's gradient checkpointing and optimizer; and
on an emulated AVX2 CPU (torch's and oneDNN's kernels held to AVX2) the probe picks float32."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.finetune import device

REPO = Path(__file__).resolve().parents[1]


def machine(fp32=0.03, bf16=1.5, **extra) -> dict:
    """A profile: the AVX2 laptop of the issue by default (31 ms float32, 1,508 ms bfloat16)."""
    timings = {"float32": fp32, "bfloat16": bf16}
    return {"cpu": "test CPU", "capability": "AVX2", "native_bf16": False, "threads": 2,
            "gpu": None, "gpu_bf16": False, "timings": {"nf4": timings, "dense": timings},
            "runtime_bytes": 400 * 2**20, "layer_footprint": {"qlora": 1.9, "lora": 1.9,
                                                               "full": 1.2}, **extra}


@pytest.mark.parametrize("method", ["qlora", "lora", "full"])
def test_auto_picks_float32_where_bfloat16_is_emulated(method):
    choice = device.choose(method, "auto", machine())
    assert (choice.dtype, choice.device, choice.requested) == ("float32", "cpu", "auto")
    assert "AVX2" in choice.reason and "float32" in choice.reason and "1500 ms" in choice.reason


def test_auto_picks_bfloat16_only_when_it_is_clearly_faster():
    fast = machine(fp32=0.010, bf16=0.007, capability="AVX512", native_bf16=True)
    assert device.choose("qlora", "auto", fast).dtype == "bfloat16"
    assert "native bfloat16" in device.choose("qlora", "auto", fast).reason
    close = machine(fp32=0.010, bf16=0.0095, capability="AVX512", native_bf16=True)
    assert device.choose("qlora", "auto", close).dtype == "float32"  # within the 10% margin
    # the kernel of the method decides: a 4-bit layer for qlora, a dense one for lora/full
    mixed = machine(capability="AVX512", native_bf16=True)
    mixed["timings"] = {"nf4": {"float32": 0.01, "bfloat16": 0.005},
                        "dense": {"float32": 0.01, "bfloat16": 0.02}}
    assert [device.choose(m, "auto", mixed).dtype for m in ("qlora", "lora", "full")] == \
        ["bfloat16", "float32", "float32"]


def test_a_forced_dtype_wins_and_bad_values_are_named():
    for dtype in ("float32", "bfloat16"):
        choice = device.choose("qlora", dtype, machine())
        assert choice.dtype == dtype and choice.requested == dtype and "as requested" in choice.reason
    with pytest.raises(ValueError, match="compute_dtype"):
        device.choose("qlora", "float8", machine())
    with pytest.raises(ValueError, match="method"):
        device.choose("qlora4", "auto", machine())
    with pytest.raises(ValueError, match="compute_dtype"):
        device.plan("qlora", "fp8")


def test_gpus_compute_in_bfloat16_where_supported_else_float16_and_plan_for_memory():
    a100 = machine(gpu="NVIDIA A100", gpu_bf16=True, timings={})
    t4 = machine(gpu="Tesla T4", gpu_bf16=False, timings={})
    assert device.choose("qlora", "auto", a100).dtype == "bfloat16"
    assert device.choose("lora", "auto", t4).dtype == "float16"
    gpu_plan, cpu_plan = device.plan("qlora", machine=a100), device.plan("qlora", machine=machine())
    assert (gpu_plan.gradient_checkpointing, gpu_plan.optimizer) == (True, "paged-adamw-8bit")
    assert (cpu_plan.gradient_checkpointing, cpu_plan.optimizer) == (False, "adamw")
    assert not device.plan("lora", machine=a100).gradient_checkpointing


def test_this_machines_probe_is_cached_and_consistent():
    profile = device.profile()
    assert set(profile) >= {"cpu", "capability", "native_bf16", "threads", "timings",
                            "runtime_bytes"}
    assert 50 * 2**20 < profile["runtime_bytes"] < 4 * 2**30
    # a layer's forward holds at least what autograd saves, and not wildly more
    assert all(1.0 <= f < 4.0 for f in profile["layer_footprint"].values()), profile
    cache = device._cache_file()
    stamp = cache.stat().st_mtime_ns
    assert device.profile() == profile and cache.stat().st_mtime_ns == stamp  # not probed again
    import torch

    if not torch.cuda.is_available():
        t = profile["timings"]["nf4"]
        faster = "bfloat16" if t["bfloat16"] <= device.BF16_MARGIN * t["float32"] else "float32"
        assert device.plan("qlora").compute.dtype == faster
        assert profile["capability"] == torch.backends.cpu.get_cpu_capability()


def test_on_an_emulated_avx2_cpu_the_probe_picks_float32():
    """torch's kernels held to AVX2 (``ATEN_CPU_CAPABILITY``) and oneDNN's too: bfloat16
    products are emulated there, as on the AVX2 laptops of the issue. The probe's timing part
    runs in such a process; the choice follows from its timings."""
    env = dict(os.environ, ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    code = ("import json; from core.finetune import device; "
            "print(json.dumps([device.capability(), device.probe_kernel('nf4')]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    capability, timings = json.loads(out.stdout.strip().splitlines()[-1])
    assert capability == "AVX2"
    assert timings["bfloat16"] > 3 * timings["float32"], timings  # emulated bfloat16 is slow
    emulated = machine(capability=capability, native_bf16=device.native_bf16())
    emulated["timings"]["nf4"] = timings
    assert device.choose("qlora", "auto", emulated).dtype == "float32"


def test_bfloat16_is_native_only_where_torch_may_use_it():
    assert device.native_bf16({"avx2", "avx512_bf16"}, "AVX512")
    assert not device.native_bf16({"avx2", "avx512_bf16"}, "AVX2")  # ATEN_CPU_CAPABILITY=avx2
    assert not device.native_bf16({"avx2", "avx512f"}, "AVX512")
