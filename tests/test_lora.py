"""core.lora against peft: trainable counts on meta-device models, and the numpy layer's
forward pass and merge against peft's LoRA Linear."""

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

from core.lora import (
    LoRALinear,
    adapter_modules,
    adapter_shapes,
    adapter_update,
    compare_scalings,
    lora_init,
    lora_param_count,
    lora_scaling,
    model_lora_param_count,
    module_lora_counts,
    peft_report,
    random_update,
    update_from_factors,
)
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


# -- shapes, scaling rules, per-module counts, what peft reports ---------------------------


def test_adapter_shapes_4096_rank_8_are_peft_shapes():
    shapes = adapter_shapes(4096, 4096, 8)
    layer = nn.Module()
    with torch.device("meta"):
        layer.w = nn.Linear(4096, 4096, bias=False)
    lora = get_peft_model(layer, LoraConfig(r=8, target_modules=["w"])).base_model.model.w
    assert shapes.A == tuple(lora.lora_A["default"].weight.shape) == (8, 4096)
    assert shapes.B == tuple(lora.lora_B["default"].weight.shape) == (4096, 8)
    assert shapes.params == 65_536 and shapes.W0_params == 16_777_216
    assert round(100 * shapes.share, 3) == 0.391
    with pytest.raises(ValueError, match="r should be"):
        adapter_shapes(4096, 4096, 0)


@pytest.mark.parametrize("r", [1, 4, 16, 64])
@pytest.mark.parametrize("alpha", [8, 16, 32])
@pytest.mark.parametrize("rslora", [False, True])
def test_scaling_equals_peft_lora_layer(r, alpha, rslora):
    holder = nn.Module()
    holder.w = nn.Linear(128, 128, bias=False)
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=["w"], use_rslora=rslora)
    layer = get_peft_model(holder, config).base_model.model.w
    assert lora_scaling(alpha, r, use_rslora=rslora) == pytest.approx(layer.scaling["default"])


def test_three_scaling_rules_and_the_size_of_the_update():
    ranks = (1, 4, 16, 64, 256)
    c = compare_scalings(16, ranks)
    assert c.two_r == (2.0,) * 5  # alpha = 2r: nothing normalised
    assert c.fixed == tuple(16 / r for r in ranks)
    # B @ A of unit normal numbers: entries of size sqrt(r) (a sum of r products)
    for r, fixed, two, rs in zip(ranks, c.fixed_size, c.two_r_size, c.rslora_size, strict=True):
        assert rs == pytest.approx(16, rel=0.1)  # rsLoRA: level at every rank
        assert fixed == pytest.approx(16 / np.sqrt(r), rel=0.1)  # alpha/r: shrinks
        assert two == pytest.approx(2 * np.sqrt(r), rel=0.1)  # alpha = 2r: grows
    with pytest.raises(ValueError, match="alpha"):
        compare_scalings(float("nan"), ranks)
    with pytest.raises(ValueError, match="ranks is empty"):
        compare_scalings(16, ())


def _peft_counts_by_module(arch, r, targets) -> dict[str, int]:
    """peft's trainable parameters, grouped by the adapted module's name."""
    from collections import Counter

    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(arch.to_hf_config())
    model = get_peft_model(model, LoraConfig(r=r, target_modules=list(targets)))
    counts = Counter()
    for name, p in model.named_parameters():
        if p.requires_grad:
            counts[name.split(".lora_")[0].rsplit(".", 1)[1]] += p.numel()
    return dict(counts)


@pytest.mark.parametrize(
    "name, r, targets",
    [("SmolLM2-135M", 16, ALL), ("Llama-2 7B", 8, ATTN), ("Mistral 7B", 4, ["k_proj", "up_proj"])],
)
def test_module_counts_are_peft_counts_per_module(name, r, targets):
    arch = ARCHITECTURES[name]
    counts = module_lora_counts(arch, r, targets)
    by_module = _peft_counts_by_module(arch, r, targets)
    assert {m.name: m.total for m in counts if m.targeted} == by_module
    for m in counts:
        assert m.total == (model_lora_param_count(arch, r, [m.name]) if m.targeted else 0)
    assert sum(m.total for m in counts) == model_lora_param_count(arch, r, targets)
    with pytest.raises(ValueError, match="w_proj"):
        module_lora_counts(arch, r, ["w_proj"])


@pytest.mark.parametrize("name, r, targets", [("Llama-2 7B", 8, ATTN), ("Qwen2.5 0.5B", 4, ALL)])
def test_peft_report_for_llama_style_models_is_peft(name, r, targets):
    from transformers import AutoModelForCausalLM

    arch = ARCHITECTURES[name]
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(arch.to_hf_config())
    model = get_peft_model(model, LoraConfig(r=r, target_modules=list(targets)))
    report = peft_report(arch, r, targets)
    assert (report.trainable, report.all_params) == model.get_nb_trainable_parameters()
    assert report.target_modules == tuple(targets)
    assert report.share == report.trainable / report.all_params


@pytest.mark.parametrize(
    "targets, same",
    [
        (["q_proj", "v_proj"], True),
        (["k_proj", "v_proj", "o_proj"], True),
        (["q_proj"], False),
        (["q_proj", "k_proj", "v_proj"], False),
        (["o_proj", "up_proj", "down_proj"], True),
    ],
)
def test_peft_report_for_gpt_style_models_adapts_the_fused_c_attn(targets, same):
    from dataclasses import replace

    from transformers import AutoModelForCausalLM

    arch = replace(ARCHITECTURES["GPT-3 175B"], hidden_size=768, intermediate_size=3072,
                   num_layers=2, num_heads=12, num_kv_heads=12, head_dim=64)  # fmt: skip
    report = peft_report(arch, 4, targets)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(arch.to_hf_config())
    model = get_peft_model(model, LoraConfig(r=4, target_modules=list(report.target_modules)))
    assert (report.trainable, report.all_params) == model.get_nb_trainable_parameters()
    assert (report.trainable == model_lora_param_count(arch, 4, targets)) is same


# -- a trained update is low rank: a tiny real adapter -------------------------------------

TINY_TARGETS = ["q_proj", "v_proj", "down_proj"]


def _tiny_adapter(folder, r=4, alpha=8, use_rslora=False, alpha_pattern=None):
    """A peft LoRA adapter of a tiny random Llama (hidden 64, 2 layers) whose B is random,
    saved with save_pretrained; returns the peft model."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=128,
    )
    model = get_peft_model(LlamaForCausalLM(config), LoraConfig(
        r=r, lora_alpha=alpha, target_modules=TINY_TARGETS, use_rslora=use_rslora,
        alpha_pattern=alpha_pattern or {}))  # fmt: skip
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_()  # "after training": B is no longer zero
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def tiny_adapter(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adapter")
    return folder, _tiny_adapter(folder)


def _peft_delta(model, module: str) -> np.ndarray:
    layer = model.base_model.model.get_submodule(module)
    with torch.no_grad():
        return layer.get_delta_weight("default").double().numpy()


def test_adapter_modules_are_the_adapted_linear_layers(tiny_adapter):
    folder, model = tiny_adapter
    expected = [
        name.removeprefix("base_model.model.")
        for name, m in model.named_modules()
        if hasattr(m, "lora_A") and name.rsplit(".", 1)[-1] in TINY_TARGETS
    ]
    assert list(adapter_modules(folder)) == expected
    assert expected[0] == "model.layers.0.self_attn.q_proj" and len(expected) == 6


def test_trained_update_is_peft_delta_and_low_rank(tiny_adapter):
    folder, model = tiny_adapter
    for module in adapter_modules(folder):
        u = adapter_update(folder, module)
        delta = _peft_delta(model, module)
        assert u.shape == delta.shape and u.r == 4 and u.scaling == 2.0
        np.testing.assert_allclose(u.delta_W(), delta, rtol=1e-5, atol=1e-6)
        s = np.linalg.svd(delta, compute_uv=False)  # numpy on peft's matrix
        assert u.full_spectrum and len(u.singular_values) == u.n_values == min(delta.shape)
        np.testing.assert_allclose(u.singular_values[:4], s[:4], rtol=1e-5)
        assert np.all(u.singular_values[4:] < 1e-12 * u.singular_values[0])  # zero to rounding
        assert u.numerical_rank() == 4 == np.linalg.matrix_rank(delta.astype(np.float32))
        assert u.tail < 1e-12
        assert u.adapter_params == 4 * sum(delta.shape)


def test_trained_update_with_rslora_and_an_alpha_pattern(tmp_path):
    model = _tiny_adapter(tmp_path, r=4, alpha=8, use_rslora=True, alpha_pattern={"v_proj": 2})
    q = adapter_update(tmp_path, "model.layers.1.self_attn.q_proj")
    v = adapter_update(tmp_path, "model.layers.1.self_attn.v_proj")
    assert q.scaling == 8 / 2 and v.scaling == 2 / 2  # alpha / sqrt(4)
    for u in (q, v):
        np.testing.assert_allclose(u.delta_W(), _peft_delta(model, u.module), rtol=1e-5, atol=1e-6)


def test_large_matrices_get_the_r_exact_singular_values(monkeypatch):
    from core import lora

    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(5, 40)), rng.normal(size=(30, 5))
    full = update_from_factors("m", A, B, alpha=10)
    monkeypatch.setattr(lora, "FULL_SVD_MAX", 100)
    core_only = update_from_factors("m", A, B, alpha=10)
    assert not core_only.full_spectrum and len(core_only.singular_values) == 5
    np.testing.assert_allclose(core_only.singular_values, full.singular_values[:5], rtol=1e-10)
    assert core_only.tail is None and core_only.numerical_rank() == 5


def test_random_stand_in_is_rank_r():
    u = random_update(576, 576, 8, 16)
    assert u.shape == (576, 576) and u.numerical_rank() == 8 and u.scaling == 2.0


def test_bad_adapters_are_rejected(tiny_adapter, tmp_path):
    import json

    folder, _ = tiny_adapter
    with pytest.raises(ValueError, match="missing"):
        adapter_modules(tmp_path)
    with pytest.raises(ValueError, match="no LoRA adapter"):
        adapter_update(folder, "model.layers.0.mlp.up_proj")
    (tmp_path / "adapter_model.safetensors").write_bytes(
        (folder / "adapter_model.safetensors").read_bytes()
    )
    config = json.loads((folder / "adapter_config.json").read_text())
    (tmp_path / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(ValueError, match="DoRA"):
        adapter_update(tmp_path, "model.layers.0.self_attn.q_proj")
    (tmp_path / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        adapter_modules(tmp_path)
    (tmp_path / "adapter_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        adapter_update(tmp_path, "model.layers.0.self_attn.q_proj")
    with pytest.raises(ValueError, match="same r"):
        update_from_factors("m", np.ones((2, 3)), np.ones((4, 3)), 4)


def test_delta_rank_and_merge_error_of_the_numpy_layer():
    from dataclasses import replace

    rng = np.random.default_rng(2)
    lora = lora_init(rng.normal(size=(6, 8)), r=3, alpha=6, rng=rng)
    assert lora.delta_rank == 0  # B = 0
    trained = replace(lora, B=rng.normal(size=(6, 3)))
    model, layer = peft_linear(trained)
    x = rng.normal(size=(4, 8))
    with torch.no_grad():
        delta = layer.get_delta_weight("default").numpy()
    assert trained.delta_rank == np.linalg.matrix_rank(delta) == 3
    assert trained.merge_error(x) < 1e-12
