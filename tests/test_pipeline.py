"""The decision guide and PEFT's promises: against the memory lesson's estimates and peft's
parameter count."""

import pytest

from core import memory, pipeline
from core.params import ARCHITECTURES

LLAMA_7B = ARCHITECTURES["Llama-2 7B"]
SMOL = ARCHITECTURES["SmolLM2-135M"]


def test_promises_for_llama_7b():
    p = pipeline.promises(LLAMA_7B, r=8, target_modules=("q_proj", "v_proj"))
    assert p.trainable == 32 * 2 * 8 * (4096 + 4096) == 4_194_304  # CURRICULUM.md section 4
    assert p.total == 6_738_415_616  # transformers' LlamaForCausalLM on the meta device
    assert p.trainable_share == pytest.approx(0.000622, abs=1e-6)
    assert p.full_memory == memory.estimate_training_memory(LLAMA_7B, "full").total
    assert p.qlora_memory < p.full_memory / 10
    assert p.full_copy_bytes == memory.weight_bytes(LLAMA_7B, "bf16")
    assert p.full_copy_bytes == pytest.approx(2 * 6_738_415_616, abs=1024)  # bf16 (+ buffers)
    assert p.adapter_bytes == 4 * 4_194_304  # 16 MB of fp32 adapter per task


@pytest.mark.parametrize(
    ("arch", "gpu", "data", "goal", "choice"),
    [
        (LLAMA_7B, 24, "hundreds", "format", "lora"),  # 16-bit LoRA fits a 24 GB card
        (LLAMA_7B, 8, "hundreds", "format", "qlora"),  # only the 4-bit base fits 8 GB
        (LLAMA_7B, 80, "many", "domain", "lora"),  # full needs ~16 B per parameter: > 80 GB
        (SMOL, 8, "many", "reasoning", "full"),
        (SMOL, 8, "hundreds", "reasoning", "lora"),
        (LLAMA_7B, 80, "none", "format", "prompting"),
        (LLAMA_7B, 80, "few", "domain", "prompting"),
        (LLAMA_7B, 80, "many", "facts", "prompting"),
        (ARCHITECTURES["Llama-2 70B"], 8, "hundreds", "format", "none"),
    ],
)
def test_recommendation(arch, gpu, data, goal, choice):
    rec = pipeline.recommend(arch, gpu, data, goal)
    assert rec.choice == choice
    for method in memory.METHODS:  # the table's verdicts are the memory lesson's
        total = memory.estimate_training_memory(arch, method).total
        assert rec.totals[method] == total
        assert rec.fits[method] == (gpu in memory.fitting_gpus(total))


def test_settings_reach_the_memory_estimate():
    long = pipeline.recommend(LLAMA_7B, 24, "hundreds", "format", batch_size=4, seq_len=512)
    assert (
        long.totals["lora"] > pipeline.recommend(LLAMA_7B, 24, "hundreds", "format").totals["lora"]
    )
    assert long.choice == "qlora"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"goal": "fun"}, "Unknown goal"),
        ({"data": "lots"}, "Unknown amount"),
        ({"gpu_gb": 0}, "gpu_gb"),
        ({"gpu_gb": "24"}, "gpu_gb"),
    ],
)
def test_bad_choices_raise(kwargs, message):
    args = {"gpu_gb": 24, "data": "hundreds", "goal": "format"} | kwargs
    with pytest.raises(ValueError, match=message):
        pipeline.recommend(LLAMA_7B, **args)
