"""core.params against torch (dense layers) and transformers models built on the meta device."""

import pytest
import torch
from torch import nn

from core.params import (
    ARCHITECTURES,
    arch_from_hf_config,
    dense_layers,
    linear_shapes,
    mlp_param_count,
    model_size,
    param_breakdown,
    parse_layer_sizes,
    transformer_param_count,
)

# Totals as published on the model cards / counted from the released checkpoints.
PUBLISHED = {
    "Llama-2 7B": 6_738_415_616,
    "Llama-2 13B": 13_015_864_320,
    "Llama-2 70B": 68_976_648_192,
    "Llama-3.1 8B": 8_030_261_248,
    "Mistral 7B": 7_241_732_096,
    "Gemma 2B": 2_506_172_416,
    "Qwen2.5 0.5B": 494_032_768,
    "Qwen2.5 7B": 7_615_616_512,
    "SmolLM2-135M": 134_515_008,
}


def torch_mlp(sizes):
    return nn.Sequential(*[nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)])


@pytest.mark.parametrize(
    "sizes, expected",
    [((3, 1), 4), ((3, 2), 8), ((2, 1), 3), ((4, 3, 3, 2, 1), 38), ((784, 128, 64, 10), 109_386)],
)
def test_mlp_param_count_matches_curriculum_and_torch(sizes, expected):
    assert mlp_param_count(sizes) == expected
    assert sum(p.numel() for p in torch_mlp(sizes).parameters()) == expected


def test_dense_layers_split_weights_and_biases():
    layers = dense_layers((4, 3, 3, 2, 1))
    assert [(x.weights, x.biases) for x in layers] == [(12, 3), (9, 3), (6, 2), (2, 1)]


@pytest.mark.parametrize(
    "text, sizes", [("4-3-3-2-1", (4, 3, 3, 2, 1)), (" 4, 3 ,2 ", (4, 3, 2)), ("10 1", (10, 1))]
)
def test_parse_layer_sizes(text, sizes):
    assert parse_layer_sizes(text) == sizes


@pytest.mark.parametrize(
    "text, word",
    [
        ("", "empty"),
        ("4-x-1", "'x'"),
        ("4", "at least two"),
        ("4-0-1", "positive"),
        ("4-2.5-1", "'2.5'"),
        ("4-²-1", "'²'"),
    ],
)
def test_parse_layer_sizes_rejects_bad_lists(text, word):
    with pytest.raises(ValueError, match=word):
        parse_layer_sizes(text)


def meta_model(arch):
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(arch.to_hf_config())


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_transformer_param_count_equals_instantiated_model(name):
    arch = ARCHITECTURES[name]
    model = meta_model(arch)
    assert transformer_param_count(arch) == sum(p.numel() for p in model.parameters())
    assert transformer_param_count(arch) == PUBLISHED.get(name, transformer_param_count(arch))
    # the breakdown's pieces are the model's own modules
    b = param_breakdown(arch)
    named = dict(model.named_parameters())
    embed = sum(
        p.numel()
        for n, p in named.items()
        if "embed_tokens" in n or n.endswith(("wte.weight", "wpe.weight"))
    )
    assert b.embeddings == embed
    assert b.lm_head == (0 if arch.tie_embeddings else named["lm_head.weight"].numel())
    # one decoder layer's linear shapes are what linear_shapes says
    layer0 = {
        n.split(".")[-2]: tuple(p.shape)
        for n, p in named.items()
        if ".0." in n and n.endswith("weight") and p.dim() == 2
    }
    if arch.model_type == "gpt2":  # Conv1D stores (d_in, d_out); q, k, v fused in c_attn
        d = arch.hidden_size
        assert layer0["c_attn"] == (d, 3 * d) and layer0["c_fc"] == (d, arch.intermediate_size)
    else:
        assert layer0 == linear_shapes(arch)


def test_gpt3_is_about_175_billion():
    n = transformer_param_count(ARCHITECTURES["GPT-3 175B"])
    assert n == 174_604_259_328
    assert abs(n - 175e9) / 175e9 < 0.003


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_arch_from_hf_config_round_trips(name):
    arch = ARCHITECTURES[name]
    assert arch_from_hf_config(arch.to_hf_config(), name=name) == arch


def test_smollm2_preset_matches_the_bundled_model_config():
    from transformers import AutoConfig

    from core.models import bundled_model_dir

    config = AutoConfig.from_pretrained(bundled_model_dir())
    arch = arch_from_hf_config(config, name="SmolLM2-135M")
    preset = ARCHITECTURES["SmolLM2-135M"]
    fields = (
        "hidden_size",
        "intermediate_size",
        "num_layers",
        "num_heads",
        "num_kv_heads",
        "head_dim",
        "vocab_size",
        "tie_embeddings",
        "attention_bias",
        "mlp_bias",
    )
    assert {f: getattr(arch, f) for f in fields} == {f: getattr(preset, f) for f in fields}


def test_arch_rejects_bad_values():
    with pytest.raises(ValueError, match="model_type"):
        arch_from_hf_config(type("C", (), {"model_type": "t5"})())
    from dataclasses import replace

    with pytest.raises(ValueError, match="hidden_size"):
        replace(ARCHITECTURES["Llama-2 7B"], hidden_size=0)


def test_model_size_gpt3_fp32_is_700_gb():
    size = model_size(175e9, "FP32")
    assert size.bytes == 700e9 == 175e9 * torch.finfo(torch.float32).bits / 8
    assert size.gb == pytest.approx(700.0)
    assert round(size.gib, 1) == 651.9
    assert model_size(175e9, "BF16").bytes == 175e9 * torch.finfo(torch.bfloat16).bits / 8
    assert model_size(7e9, "INT4 / NF4").bytes == 3.5e9
    assert model_size(1, "INT8").bytes_per_param == torch.empty(0, dtype=torch.int8).element_size()
    with pytest.raises(ValueError, match="dtype"):
        model_size(1, "FP64")
    with pytest.raises(ValueError, match="parameter count"):
        model_size(float("nan"), "FP32")


def test_block_constants_cost_half_a_bit_and_0127_with_double_quant():
    from core.params import ABSMAX_BITS, BITS_PER_PARAM, DOUBLE_QUANT_BITS

    assert ABSMAX_BITS == 0.5
    assert round(DOUBLE_QUANT_BITS, 3) == 0.127
    assert round(ABSMAX_BITS - DOUBLE_QUANT_BITS, 3) == 0.373
    assert BITS_PER_PARAM["NF4 + double quant"] == 4 + DOUBLE_QUANT_BITS
    # about 3 GB saved on a 65B model
    assert round(65e9 * (ABSMAX_BITS - DOUBLE_QUANT_BITS) / 8 / 1e9, 1) == 3.0


def test_biased_llama_and_plain_gpt2_match_transformers():
    from dataclasses import replace

    from transformers import GPT2Config

    small = replace(
        ARCHITECTURES["SmolLM2-135M"], attention_bias=True, mlp_bias=True, tie_embeddings=False
    )
    assert transformer_param_count(small) == sum(p.numel() for p in meta_model(small).parameters())
    gpt2 = arch_from_hf_config(GPT2Config())  # GPT-2 small: 124,439,808 parameters
    assert transformer_param_count(gpt2) == 124_439_808
    assert transformer_param_count(gpt2) == sum(p.numel() for p in meta_model(gpt2).parameters())
