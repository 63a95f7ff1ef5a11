"""core.lora against peft: trainable counts on meta-device models, and the numpy layer's
forward pass and merge against peft's LoRA Linear."""

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

from core.lora import LoRALinear, lora_init, lora_param_count, model_lora_param_count
from core.params import ARCHITECTURES, transformer_param_count

ATTN = ["q_proj", "v_proj"]
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def peft_trainable(arch, r, targets) -> int:
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(arch.to_hf_config())
    model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(targets)))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_llama2_7b_r8_q_v_is_4194304():
    from transformers import AutoModelForCausalLM

    arch = ARCHITECTURES["Llama-2 7B"]
    assert model_lora_param_count(arch, 8, ATTN) == 4_194_304 == peft_trainable(arch, 8, ATTN)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(arch.to_hf_config())
    model = get_peft_model(model, LoraConfig(r=8, target_modules=ATTN))
    # what print_trainable_parameters() prints: trainable and all (adapters included)
    assert model.get_nb_trainable_parameters() == (4_194_304, 6_738_415_616 + 4_194_304)


@pytest.mark.parametrize(
    "name, r, targets",
    [
        ("Llama-2 13B", 16, ATTN),
        ("Llama-2 70B", 4, ["q_proj", "k_proj", "v_proj", "o_proj"]),
        ("Llama-3.1 8B", 16, ALL),
        ("Mistral 7B", 8, ["k_proj", "down_proj"]),
        ("Gemma 2B", 32, ALL),
        ("Qwen2.5 0.5B", 1, ["v_proj", "gate_proj"]),
        ("Qwen2.5 7B", 64, ["o_proj", "up_proj"]),
        ("SmolLM2-135M", 8, ALL),
        ("SmolLM2-135M", 256, ATTN),
    ],
)
def test_model_lora_param_count_equals_peft(name, r, targets):
    arch = ARCHITECTURES[name]
    assert model_lora_param_count(arch, r, targets) == peft_trainable(arch, r, targets)


@pytest.mark.parametrize("r, expected", [(1, 8_192), (8, 65_536), (16, 131_072)])
def test_lora_param_count_4096_matches_curriculum_and_peft(r, expected):
    assert lora_param_count(4096, 4096, r) == expected
    layer = nn.Module()
    with torch.device("meta"):
        layer.w = nn.Linear(4096, 4096, bias=False)
    peft_model = get_peft_model(layer, LoraConfig(r=r, target_modules=["w"]))
    assert sum(p.numel() for p in peft_model.parameters() if p.requires_grad) == expected


def test_lora_paper_gpt3_claims():
    # Hu et al.: r = 4 on W_q and W_v of GPT-3 175B; ~10,000x fewer trainable parameters,
    # a 350 GB checkpoint shrinks to ~35 MB (16-bit weights).
    arch = ARCHITECTURES["GPT-3 175B"]
    n = model_lora_param_count(arch, 4, ATTN)
    assert n == 96 * 2 * 4 * (12288 + 12288) == 18_874_368
    assert 9_000 < transformer_param_count(arch) / n < 10_000
    assert round(n * 2 / 2**20) == 36  # MiB at 16 bit


@pytest.mark.parametrize(
    "bad, match", [(0, "r should be a positive"), (2.5, "r should be"), (True, "r should be")]
)
def test_bad_rank_is_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        lora_param_count(4096, 4096, bad)
    with pytest.raises(ValueError, match=match):
        model_lora_param_count(ARCHITECTURES["Llama-2 7B"], bad, ATTN)


def test_bad_targets_are_rejected():
    arch = ARCHITECTURES["GPT-3 175B"]
    with pytest.raises(ValueError, match="gate_proj"):
        model_lora_param_count(arch, 8, ["gate_proj"])
    with pytest.raises(ValueError, match="empty"):
        model_lora_param_count(arch, 8, [])


def peft_linear(lora: LoRALinear):
    """A peft LoRA Linear holding the same W0, A, B and alpha."""
    d_out, d_in = lora.W0.shape
    holder = nn.Module()
    holder.w = nn.Linear(d_in, d_out, bias=False, dtype=torch.float64)
    holder.w.weight.data = torch.from_numpy(lora.W0.copy())
    model = get_peft_model(
        holder, LoraConfig(r=lora.r, lora_alpha=lora.alpha, target_modules=["w"])
    )
    layer = model.base_model.model.w
    layer.lora_A["default"].weight.data = torch.from_numpy(lora.A.copy())
    layer.lora_B["default"].weight.data = torch.from_numpy(lora.B.copy())
    return model, layer


def test_numpy_lora_matches_peft_forward_and_merge():
    rng = np.random.default_rng(0)
    W0 = rng.normal(size=(6, 5))
    lora = lora_init(W0, r=2, alpha=4, rng=rng)
    assert lora.A.shape == (2, 5) and lora.B.shape == (6, 2) and lora.scaling == 2.0
    x = rng.normal(size=(3, 5))
    # at the start B = 0: the adapted layer is exactly the pretrained one
    np.testing.assert_array_equal(lora.forward(x), x @ W0.T)
    np.testing.assert_array_equal(lora.merged(), W0)
    # after "training": any B
    from dataclasses import replace

    trained = replace(lora, B=rng.normal(size=(6, 2)))
    model, layer = peft_linear(trained)
    assert layer.scaling["default"] == trained.scaling
    with torch.no_grad():
        y_peft = layer(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(trained.forward(x), y_peft, rtol=1e-12)
    merged = model.merge_and_unload().w.weight.detach().numpy()
    np.testing.assert_allclose(trained.merged(), merged, rtol=1e-12)
    np.testing.assert_allclose(trained.forward(x), x @ trained.merged().T, rtol=1e-12)
    assert np.linalg.matrix_rank(trained.delta_W) == 2


def test_init_follows_peft_distribution():
    rng = np.random.default_rng(1)
    d_in = 400
    lora = lora_init(np.zeros((300, d_in)), r=16, alpha=32, rng=rng)
    holder = nn.Module()
    holder.w = nn.Linear(d_in, 300, bias=False)
    layer = get_peft_model(
        holder, LoraConfig(r=16, lora_alpha=32, target_modules=["w"])
    ).base_model.model.w
    A_peft = layer.lora_A["default"].weight.detach().numpy()
    assert np.all(layer.lora_B["default"].weight.detach().numpy() == 0) and np.all(lora.B == 0)
    bound = 1 / np.sqrt(d_in)
    assert np.abs(A_peft).max() <= bound + 1e-7 and np.abs(lora.A).max() <= bound
    assert np.abs(lora.A).max() > 0.95 * bound and np.abs(A_peft).max() > 0.95 * bound


@pytest.mark.parametrize(
    "W0, r, alpha, match",
    [
        ([], 2, 4, "non-empty 2-D"),
        ([[1.0, float("nan")]], 1, 2, "NaN"),
        ([[1.0, 2.0]], 0, 2, "r should be"),
        ([[1.0, 2.0]], 1, -1, "alpha"),
    ],
)
def test_lora_init_rejects_bad_input(W0, r, alpha, match):
    with pytest.raises(ValueError, match=match):
        lora_init(W0, r, alpha, np.random.default_rng(0))


def test_gpt_style_fused_c_attn_in_peft():
    # what the page says about GPT-2/GPT-3 in peft: c_attn is one (3d x d) matrix
    from dataclasses import replace

    arch = replace(ARCHITECTURES["GPT-3 175B"], hidden_size=768, intermediate_size=3072,
                   num_layers=2, num_heads=12, num_kv_heads=12, head_dim=64)  # fmt: skip
    d = arch.hidden_size
    assert peft_trainable(arch, 4, ["c_attn"]) == 2 * 4 * (d + 3 * d)
    assert peft_trainable(arch, 4, ["c_fc"]) == model_lora_param_count(arch, 4, ["up_proj"])
