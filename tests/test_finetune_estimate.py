"""One memory estimate for a run: the lesson's textbook terms for the plan the run will really
use, plus what a process on a CPU adds (the libraries, the loss's backward); on a GPU the
textbook as it is. Checked by hand against core.memory's terms and the model's numbers."""

import pytest

from core.finetune import ALL_LINEAR, FinetuneConfig
from core.finetune.estimate import architecture, estimate_run_memory
from core.memory import estimate_training_memory
from core.params import ARCHITECTURES

SMOL = ARCHITECTURES["SmolLM2-135M"]
CPU = {"cpu": "test", "capability": "AVX2", "native_bf16": False, "threads": 2, "gpu": None,
       "gpu_bf16": False, "runtime_bytes": 400 * 2**20,
       "layer_footprint": {"qlora": 1.9, "lora": 1.85, "full": 1.2},
       "timings": {k: {"float32": 0.03, "bfloat16": 1.5} for k in ("nf4", "dense")}}
GPU = {**CPU, "gpu": "NVIDIA A100", "gpu_bf16": True, "timings": {}}


def config(**changes) -> FinetuneConfig:
    return FinetuneConfig(output_dir="runs/x", **changes)


@pytest.mark.parametrize("method", ["qlora", "lora", "full"])
def test_cpu_estimate_is_the_textbook_for_the_real_plan_plus_the_process(method):
    est = estimate_run_memory(config(method=method), SMOL, seq_len=90, machine=CPU)
    book = estimate_training_memory(SMOL, method, 8, 90, 16,
                                    ALL_LINEAR if method != "full" else ("q_proj",),
                                    "adamw", False, "fp32")  # float32, no checkpointing, AdamW
    parts = est.components
    assert list(parts) == ["Python and libraries", "weights", "gradients", "optimizer",
                           "activations", "layer temporaries", "loss backward"]
    assert parts["Python and libraries"] == 400 * 2**20
    for key in ("weights", "gradients", "optimizer", "activations"):
        assert parts[key] == getattr(book, key)
    assert parts["loss backward"] == 2 * 8 * 90 * 49152 * 4  # two float32 (b, s, V) tensors
    # the layers' share of the activations (all but the loss's b*s*V*(4+4)), times 0.9 / 0.85 / 0.2
    layers = book.activations - 8 * 90 * 49152 * 8
    assert parts["layer temporaries"] == round((CPU["layer_footprint"][method] - 1) * layers)
    assert est.total == sum(parts.values()) and est.textbook_total == book.total
    assert (est.compute_dtype, est.gradient_checkpointing, est.optimizer) == ("float32", False,
                                                                             "adamw")
    assert any("No CUDA context" in n for n in est.notes)


def test_methods_order_and_the_default_length_is_the_longest_a_batch_holds():
    totals = [estimate_run_memory(config(method=m), SMOL, machine=CPU).total
              for m in ("qlora", "lora", "full")]
    assert totals[0] < totals[1] < totals[2]
    assert estimate_run_memory(config(), SMOL, machine=CPU).seq_len == 96
    with pytest.raises(ValueError, match="seq_len"):
        estimate_run_memory(config(), SMOL, seq_len=0, machine=CPU)


def test_gpu_estimate_is_the_textbook_with_checkpointing_and_paged_adamw():
    est = estimate_run_memory(config(), SMOL, seq_len=90, machine=GPU)
    book = estimate_training_memory(SMOL, "qlora", 8, 90, 16, ALL_LINEAR, "paged-adamw-8bit",
                                    True, "bf16")
    assert est.components == book.components() and est.total == book.total
    assert (est.device, est.compute_dtype, est.gradient_checkpointing) == ("cuda", "bfloat16", True)


def test_architecture_reads_config_json_only(tmp_path):
    assert architecture("smollm2-135m-instruct") == SMOL
    with pytest.raises(ValueError, match="not a chat model"):
        architecture("minilm-l6")
    with pytest.raises(ValueError, match="no config.json"):
        architecture(str(tmp_path))
    with pytest.raises(ValueError, match="No model folder"):
        architecture(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="cannot be reached"):
        architecture("nobody/no-such-model")
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a JSON object"):
        architecture(str(tmp_path))
