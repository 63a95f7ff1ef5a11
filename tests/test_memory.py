"""core.memory: the formulas by hand, then against reality - the bundled SmolLM2 loaded by
transformers + bitsandbytes (weights and quantization state), the tensors torch's autograd
really saves (activations), and the states torch's and bitsandbytes' optimizers allocate."""

import itertools
import math

import pytest

from core import memory
from core.memory import (
    FORMATS,
    GB,
    activation_bytes,
    estimate_training_memory,
    fitting_gpus,
    optimizer_bytes,
    training_config_code,
    weight_bytes,
)
from core.params import ARCHITECTURES, arch_from_hf_config, transformer_param_count

LLAMA7 = ARCHITECTURES["Llama-2 7B"]
SMOL = ARCHITECTURES["SmolLM2-135M"]
ALL7 = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# -- weights: formulas ------------------------------------------------------------------


def test_float_formats_are_params_times_bytes_plus_rotary_buffers():
    P = transformer_param_count(LLAMA7)
    assert P == 6_738_415_616
    rotary = 2 * 64 * 4  # inv_freq and original_inv_freq: head_dim/2 fp32 each
    assert weight_bytes(LLAMA7, "fp32") == 4 * P + rotary
    assert weight_bytes(LLAMA7, "fp16") == weight_bytes(LLAMA7, "bf16") == 2 * P + rotary


def test_gpt3_at_fp32_is_700_gb():
    gpt3 = ARCHITECTURES["GPT-3 175B"]
    assert weight_bytes(gpt3, "fp32") / 1e9 == pytest.approx(700, rel=0.01)


def test_block_constants_cost_half_a_bit_and_0_127_bit_with_double_quantization():
    Q = sum(o * i for o, i in memory.quantized_shapes(LLAMA7))
    rest = weight_bytes(LLAMA7, "fp16") - Q * 2  # the layers bitsandbytes leaves in fp16
    nf4_bits = (weight_bytes(LLAMA7, "nf4") - rest) * 8 / Q - 4
    dq_bits = (weight_bytes(LLAMA7, "nf4-dq") - rest) * 8 / Q - 4
    # CURRICULUM.md §2: 0.5 and 0.127 bit (+ a few KB of code tables per matrix)
    assert round(nf4_bits, 3) == 0.5 and nf4_bits == pytest.approx(32 / 64, abs=1e-3)
    assert round(dq_bits, 3) == 0.127 and dq_bits == pytest.approx(8 / 64 + 32 / (64 * 256), abs=1e-3)
    assert round(nf4_bits - dq_bits, 3) == 0.373


def test_llama2_7b_in_nf4_by_hand():
    # per layer: four 4096 x 4096 projections and three 4096 x 11008 ones
    def nf4(n):  # codes, fp32 absmax per 64, the 16-level table
        return n // 2 + 4 * (n // 64) + 64

    def dq(n):  # codes, 8-bit absmax, fp32 constant per 256 absmax, offset, 256-entry table
        return n // 2 + n // 64 + 4 * (n // 64 // 256) + 64 + 4 + 1024

    small, big = 4096 * 4096, 4096 * 11008
    assert (nf4(small), dq(small)) == (9_437_248, 8_655_940)
    P = 6_738_415_616
    rest = (P - 32 * (4 * small + 3 * big)) * 2 + 512  # fp16 embeddings, head, norms; rotary
    assert weight_bytes(LLAMA7, "nf4") == 32 * (4 * nf4(small) + 3 * nf4(big)) + rest
    assert weight_bytes(LLAMA7, "nf4-dq") == 32 * (4 * dq(small) + 3 * dq(big)) + rest
    assert weight_bytes(LLAMA7, "nf4-dq", keep_dtype="fp32") - weight_bytes(LLAMA7, "nf4-dq") == (
        rest - 512
    )


def test_formats_order_by_size_and_int8_counts_row_scales():
    sizes = [weight_bytes(SMOL, f) for f in FORMATS]
    assert sizes[0] > sizes[1] == sizes[2] > sizes[3] > sizes[4] > sizes[5]
    Q = sum(o * i for o, i in memory.quantized_shapes(SMOL))
    rows = sum(o for o, _ in memory.quantized_shapes(SMOL))
    assert weight_bytes(SMOL, "int8") == weight_bytes(SMOL, "fp16") - Q + 4 * rows


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(fmt="int4"), "fmt must be one of"),
        (dict(fmt="nf4", keep_dtype="int8"), "keep_dtype must be one of"),
    ],
)
def test_weight_bytes_rejects_unknown_formats(kwargs, message):
    with pytest.raises(ValueError, match=message):
        weight_bytes(SMOL, **kwargs)


# -- training: formulas -----------------------------------------------------------------


def test_full_fine_tuning_with_adamw_costs_16_bytes_per_parameter():
    P = transformer_param_count(LLAMA7)
    for dtype in ("bf16", "fp32"):  # mixed precision 2 + 2 + 12, or fp32 4 + 4 + 8
        e = estimate_training_memory(LLAMA7, "full", compute_dtype=dtype)
        states = e.weights + e.gradients + e.optimizer
        assert states / P == pytest.approx(16, abs=1e-6)
        assert e.trainable == P


def test_lora_on_llama2_7b_r8_qv_trains_4194304_parameters_in_fp32():
    e = estimate_training_memory(LLAMA7, "lora", r=8, target_modules=("q_proj", "v_proj"))
    assert e.trainable == 4_194_304
    assert e.gradients == 4 * 4_194_304
    assert e.optimizer == 8 * 4_194_304 + 4 * (2 * 2 * 32)  # m, v + one step per tensor
    assert e.weights == weight_bytes(LLAMA7, "bf16") + 4 * 4_194_304
    q = estimate_training_memory(LLAMA7, "qlora", r=8, target_modules=("q_proj", "v_proj"))
    assert q.weights == weight_bytes(LLAMA7, "nf4-dq", keep_dtype="bf16") + 4 * 4_194_304
    assert q.activations == e.activations and q.gradients == e.gradients
    assert q.total < e.total < estimate_training_memory(LLAMA7, "full").total


def test_total_and_overhead():
    e = estimate_training_memory(SMOL, "qlora", batch_size=2, seq_len=256)
    parts = e.weights + e.gradients + e.optimizer + e.activations
    assert e.overhead == 512 * 1024**2 + round(0.05 * parts)
    assert e.total == parts + e.overhead == sum(e.components().values())


def test_activations_by_hand_for_llama2_7b():
    h, i, L, V = 4096, 11008, 32, 32000
    full = 8 * h + (4 * h + 2 * h + 2 * h + 4 * i) * 2 + 4 * 32  # per token and layer, bf16
    logits = V * (2 + 4 + 4)
    assert activation_bytes(LLAMA7, 1, 512) == 512 * (L * full + logits)
    lora = 8 * h + (2 * h + 2 * h + 3 * i) * 2 + 4 * 32 + 2 * (h + 16) * 4  # q, v adapters
    assert activation_bytes(LLAMA7, 1, 512, target_modules=("q_proj", "v_proj")) == 512 * (
        L * lora + logits
    )
    ckpt = activation_bytes(LLAMA7, 1, 512, gradient_checkpointing=True)
    assert ckpt == 512 * (L * h * 2 + full + logits)


def test_activations_scale_with_batch_and_quadratically_with_eager_attention():
    one = activation_bytes(LLAMA7, 1, 1024)
    assert activation_bytes(LLAMA7, 4, 1024) == 4 * one
    assert activation_bytes(LLAMA7, 1, 1024, gradient_checkpointing=True) < one / 5
    eager = [activation_bytes(LLAMA7, 1, s, attention="eager") - activation_bytes(LLAMA7, 1, s)
             for s in (1024, 2048)]
    assert eager[1] == pytest.approx(4 * eager[0], rel=0.01)  # heads * s^2 per layer


def test_8bit_optimizers_keep_small_tensors_in_32_bit():
    assert optimizer_bytes([(4096,)], "adamw-8bit") == 2 * 4096 + 8 * 16
    assert optimizer_bytes([(4095,)], "adamw-8bit") == 8 * 4095
    assert optimizer_bytes([(4096,)], "paged-adamw-8bit") == optimizer_bytes([(4096,)], "adamw-8bit")
    assert optimizer_bytes([(10, 10)], "adamw") == 8 * 100 + 4


def test_gpus_that_fit():
    assert fitting_gpus(8 * GB) == [8, 12, 16, 24, 40, 48, 80]
    assert fitting_gpus(8 * GB + 1) == [12, 16, 24, 40, 48, 80]
    assert fitting_gpus(81 * GB) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="prefix"), "method must be one of"),
        (dict(method="lora", optimizer="sgd"), "optimizer must be one of"),
        (dict(method="lora", compute_dtype="int8"), "compute_dtype must be one of"),
        (dict(method="lora", r=0), "r must be a positive integer"),
        (dict(method="lora", batch_size=0), "batch_size must be a positive integer"),
        (dict(method="lora", seq_len=2.5), "seq_len must be a positive integer"),
        (dict(method="lora", target_modules=("w_proj",)), "target_modules must be"),
        (dict(method="qlora", target_modules=()), "target_modules must be"),
        (dict(method="full", attention="flash"), "attention must be one of"),
    ],
)
def test_estimate_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        estimate_training_memory(SMOL, **kwargs)


def test_gpt3_has_no_gate_projection_to_target():
    gpt3 = ARCHITECTURES["GPT-3 175B"]
    e = estimate_training_memory(gpt3, "lora", r=4, target_modules=("q_proj", "v_proj"))
    assert e.trainable == 96 * 2 * 4 * (12288 + 12288)  # LoRA paper setting (r=4, q and v)
    with pytest.raises(ValueError, match="gate_proj"):
        estimate_training_memory(gpt3, "lora", target_modules=("gate_proj",))


# -- the generated code -----------------------------------------------------------------


def _config_part(code: str) -> dict:
    """Run the imports and the config objects of generated code (not the model loading)."""
    head = code.split("\nmodel = ")[0]
    namespace = {}
    exec(compile(head, "<generated>", "exec"), namespace)
    return namespace


def test_generated_code_is_the_notes_configuration():
    import torch

    code = training_config_code("qlora", r=16, target_modules=("q_proj", "v_proj"),
                                compute_dtype="fp16")
    ns = _config_part(code)
    bnb = ns["bnb_config"]
    assert bnb.load_in_4bit and bnb.bnb_4bit_use_double_quant
    assert bnb.bnb_4bit_quant_type == "nf4" and bnb.bnb_4bit_compute_dtype == torch.float16
    lora = ns["lora_config"]
    assert (lora.r, lora.lora_alpha, set(lora.target_modules)) == (16, 32, {"q_proj", "v_proj"})
    assert 'optim="paged_adamw_8bit"' in code and "fp16=True" in code


def test_generated_code_follows_the_settings():
    import torch
    from transformers.training_args import OptimizerNames

    code = training_config_code("qlora", r=4, target_modules=ALL7, compute_dtype="bf16",
                                double_quant=False, optimizer="adamw-8bit", batch_size=8)
    ns = _config_part(code)
    assert ns["bnb_config"].bnb_4bit_compute_dtype == torch.bfloat16
    assert not ns["bnb_config"].bnb_4bit_use_double_quant
    assert set(ns["lora_config"].target_modules) == set(ALL7) and ns["lora_config"].lora_alpha == 8
    assert "per_device_train_batch_size=8" in code and "bf16=True" in code
    lora_only = training_config_code("lora")
    assert "BitsAndBytesConfig" not in lora_only and "LoraConfig(" in lora_only
    assert "LoraConfig" not in training_config_code("full", compute_dtype="fp32")
    for name in memory.HF_OPTIMIZERS.values():
        OptimizerNames(name)  # a name TrainingArguments accepts
    for method in memory.METHODS:
        compile(training_config_code(method), "<generated>", "exec")


# -- against reality --------------------------------------------------------------------


def _held_bytes(model) -> int:
    """Bytes of every distinct storage the model holds: parameters, buffers and the
    bitsandbytes quantization state hanging off them (absmax, code tables, the nested
    absmax with its offset and code table; int8 row scales)."""
    import torch

    storages = {}

    def add(t):
        if isinstance(t, torch.Tensor):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()

    for t in itertools.chain(model.parameters(), model.buffers()):
        add(t)
        state = getattr(t, "quant_state", None)
        while state is not None:
            for name in ("absmax", "code", "offset"):
                add(getattr(state, name, None))
            state = getattr(state, "state2", None)
        add(getattr(t, "SCB", None))
    return sum(storages.values())


@pytest.fixture(scope="module")
def smol_dir():
    from core.models import bundled_model_dir

    return bundled_model_dir()


@pytest.fixture(scope="module")
def smol_arch(smol_dir):
    from transformers import AutoConfig

    arch = arch_from_hf_config(AutoConfig.from_pretrained(smol_dir))
    assert transformer_param_count(arch) == transformer_param_count(SMOL) == 134_515_008
    return arch


def _load(smol_dir, fmt, dtype):
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = {
        "fp32": None,
        "int8": BitsAndBytesConfig(load_in_8bit=True),
        "nf4": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_compute_dtype=getattr(torch, dtype)),
        "nf4-dq": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                     bnb_4bit_use_double_quant=True,
                                     bnb_4bit_compute_dtype=getattr(torch, dtype)),
    }[fmt]
    return AutoModelForCausalLM.from_pretrained(
        smol_dir, dtype=getattr(torch, dtype), quantization_config=quant, device_map="cpu"
    )


def _saved_activation_bytes(model, batch: int, seq: int) -> int:
    """Bytes autograd saves in one training forward (distinct storages that are not
    weights), plus the logits the forward returns: what stays alive until backward."""
    import torch

    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    ids = torch.randint(0, 49152, (batch, seq), generator=torch.Generator().manual_seed(0))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(input_ids=ids, labels=ids)
    return sum(saved.values()) + out.logits.nbytes


def _without_transients(arch, batch, seq, dtype, **kw) -> int:
    """activation_bytes minus what is alive only for a moment (the fp32 copy of 16-bit
    logits) or only during backward (the layer recomputed under checkpointing)."""
    est = activation_bytes(arch, batch, seq, dtype, **kw)
    if dtype != "fp32":
        est -= batch * seq * arch.vocab_size * 4
    if kw.get("gradient_checkpointing"):
        plain = activation_bytes(arch, batch, seq, dtype, **{**kw, "gradient_checkpointing": False})
        layer = (plain - memory.logits_bytes(arch, batch, seq, dtype)) // (batch * seq * arch.num_layers)
        est -= batch * seq * layer
    return est


def test_fp32_weights_and_full_fine_tuning_activations_match_the_loaded_model(smol_dir, smol_arch):
    model = _load(smol_dir, "fp32", "float32")
    assert _held_bytes(model) == pytest.approx(weight_bytes(smol_arch, "fp32"), rel=0.02)
    model.train()
    got = _saved_activation_bytes(model, 1, 32)
    assert got == pytest.approx(_without_transients(smol_arch, 1, 32, "fp32"), rel=0.02)
    from peft import LoraConfig, get_peft_model

    for targets in [("q_proj", "v_proj"), ALL7]:
        peft_model = get_peft_model(model, LoraConfig(r=8, target_modules=list(targets)))
        got = _saved_activation_bytes(peft_model, 2, 16)
        want = _without_transients(smol_arch, 2, 16, "fp32", target_modules=targets, r=8)
        assert got == pytest.approx(want, rel=0.02), targets
        model = peft_model.unload()
    peft_model = get_peft_model(model, LoraConfig(r=8, target_modules=["o_proj", "down_proj"]))
    peft_model.gradient_checkpointing_enable()
    peft_model.enable_input_require_grads()
    got = _saved_activation_bytes(peft_model, 1, 32)
    want = _without_transients(smol_arch, 1, 32, "fp32", target_modules=("o_proj", "down_proj"),
                               r=8, gradient_checkpointing=True)
    assert got == pytest.approx(want, rel=0.02)


@pytest.mark.parametrize("fmt, dtype", [("nf4", "float16"), ("nf4-dq", "bfloat16"),
                                        ("int8", "float16")])
def test_quantized_weights_match_the_loaded_model(smol_dir, smol_arch, fmt, dtype):
    import bitsandbytes as bnb

    model = _load(smol_dir, fmt, dtype)
    kind = bnb.nn.Linear8bitLt if fmt == "int8" else bnb.nn.Linear4bit
    assert sum(isinstance(m, kind) for m in model.modules()) == 7 * 30
    keep = {"float16": "fp16", "bfloat16": "bf16"}[dtype]
    held = _held_bytes(model)
    assert held == pytest.approx(weight_bytes(smol_arch, fmt, keep_dtype=keep), rel=0.02)
    # transformers' own footprint leaves the quantization state out
    assert model.get_memory_footprint() < held
    if fmt == "nf4-dq":  # QLoRA's activations: frozen 4-bit weights, fp32 adapters
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=4, target_modules=list(ALL7)))
        model.train()
        got = _saved_activation_bytes(model, 2, 16)
        want = _without_transients(smol_arch, 2, 16, "bf16", target_modules=ALL7, r=4)
        assert got == pytest.approx(want, rel=0.02)


@pytest.mark.parametrize("name", ["adamw", "adamw-8bit", "paged-adamw-8bit"])
def test_optimizer_states_match_torch_and_bitsandbytes(name):
    import bitsandbytes as bnb
    import torch

    make = {"adamw": torch.optim.AdamW, "adamw-8bit": bnb.optim.AdamW8bit,
            "paged-adamw-8bit": bnb.optim.PagedAdamW8bit}[name]
    # LoRA-like shapes: A (r, d_in) and B (d_out, r), below and above the 8-bit threshold
    shapes = [(8, 576), (576, 8), (2, 576), (16, 1536), (4097,)]
    params = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    optimizer = make(params, lr=1e-3)
    for p in params:
        p.grad = torch.randn_like(p)
    optimizer.step()
    storages = {}
    for state in optimizer.state.values():
        for key, t in state.items():
            if isinstance(t, torch.Tensor) and not key.startswith("qmap"):  # shared maps
                storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    assert sum(storages.values()) == optimizer_bytes(shapes, name)
    assert math.prod(shapes[2]) < memory.ADAM8_MIN_SIZE <= math.prod(shapes[0])


@pytest.mark.parametrize("name", ["SmolLM2-135M", "Llama-2 7B", "Mistral 7B"])
def test_trainable_tensors_of_full_fine_tuning_are_the_models_parameters(name):
    """The per-tensor shapes behind the optimizer states (8-bit Adam treats tensors under
    4096 values differently) are those of the model transformers builds (meta device)."""
    from collections import Counter

    import torch
    from transformers import AutoModelForCausalLM

    arch = ARCHITECTURES[name]
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(arch.to_hf_config())
    real = Counter(tuple(p.shape) for p in model.parameters())
    assert Counter(memory.trainable_shapes(arch, "full", 16, ())) == real


# -- the breakdown's own fields: adapters, master copy, activation terms -------------------


def test_adapter_weights_are_their_own_field():
    e = estimate_training_memory(LLAMA7, "lora", r=8, target_modules=("q_proj", "v_proj"))
    assert e.adapter_weights == 4 * 4_194_304  # fp32 adapters (peft's count, tests/test_lora.py)
    assert e.frozen_weights == weight_bytes(LLAMA7, "bf16")
    q = estimate_training_memory(LLAMA7, "qlora", r=8, target_modules=("q_proj", "v_proj"))
    assert q.frozen_weights == weight_bytes(LLAMA7, "nf4-dq", keep_dtype="bf16")
    assert q.adapter_weights == e.adapter_weights
    full = estimate_training_memory(LLAMA7, "full")
    assert full.adapter_weights == 0 and full.frozen_weights == full.weights
    assert list(full.components()) == ["weights", "gradients", "optimizer", "activations",
                                       "overhead"]  # what the fine-tune lab reads


def test_master_copy_and_optimizer_states():
    P = transformer_param_count(LLAMA7)
    full = estimate_training_memory(LLAMA7, "full", optimizer="adamw-8bit", compute_dtype="bf16")
    assert full.master_weights == 4 * P
    shapes = memory.trainable_shapes(LLAMA7, "full", 16, ())
    assert full.optimizer_states == optimizer_bytes(shapes, "adamw-8bit")
    assert estimate_training_memory(LLAMA7, "full", compute_dtype="fp32").master_weights == 0
    lora = estimate_training_memory(LLAMA7, "lora")
    assert lora.master_weights == 0 and lora.optimizer_states == lora.optimizer


def _evaluate(tex: str) -> int:
    """A formula as the page shows it, e.g. '8 \\cdot 4096' or '32{,}896', evaluated."""
    return eval(tex.replace(r"\cdot", "*").replace("{,}", ""))  # digits and + * ( ) only


@pytest.mark.parametrize("targets", [None, ("q_proj", "v_proj"), ALL7])
@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_layer_activation_parts_add_up_and_their_numbers_are_the_formula(targets, dtype,
                                                                          attention):
    parts = memory.layer_activation_parts(LLAMA7, 512, dtype, attention, targets, 16)
    assert parts.total == memory.layer_activation_bytes(LLAMA7, 512, dtype, attention, targets, 16)
    assert sum(parts.parts().values()) == parts.total
    values = [parts.norms, parts.saved] + ([parts.adapters] if targets else []) + [parts.attention]
    assert [_evaluate(n) for n in parts.numbers] == values
    assert len(parts.symbols) == len(parts.numbers)
    assert (parts.adapters == 0) is (targets is None)


@pytest.mark.parametrize("ckpt", [False, True])
def test_activation_terms_are_activation_bytes_with_and_without_checkpointing(ckpt):
    for targets in (None, ("q_proj", "v_proj")):
        t = memory.activation_terms(LLAMA7, 2, 512, "bf16", ckpt, "sdpa", targets, 16)
        assert t.total == activation_bytes(LLAMA7, 2, 512, "bf16", ckpt, "sdpa", targets, 16)
        assert t.logits == memory.logits_bytes(LLAMA7, 2, 512, "bf16")
        if ckpt:  # each layer keeps only its input (h values in b_c) + one layer recomputed
            assert t.inputs_per_token == 32 * 4096 * 2
            assert r"(L \cdot h \cdot b_c + a_\text{layer})" in t.formula
            assert t.kept == 2 * 512 * (32 * 4096 * 2 + t.layer.total)
        else:
            assert t.inputs_per_token == 0 and t.kept == 2 * 512 * 32 * t.layer.total
            assert t.formula == r"b \cdot s \cdot L \cdot a_\text{layer} + \text{logits}"


# -- paged optimizers in a spike ---------------------------------------------------------


def test_paging_changes_nothing_in_the_steady_state():
    for method in memory.METHODS:
        plain = estimate_training_memory(LLAMA7, method, optimizer="adamw-8bit")
        paged = estimate_training_memory(LLAMA7, method, optimizer="paged-adamw-8bit")
        assert plain.components() == paged.components() and plain.total == paged.total


def test_a_spike_is_rescued_only_when_the_states_can_make_room():
    # full fine-tuning of a 7B model on an 80 GB GPU: 4096-token batch overshoots by ~12 GB,
    # less than its ~12.7 GB of 8-bit states
    plain = memory.spike_step(LLAMA7, "full", 80, 4096, "adamw-8bit", seq_len=512)
    paged = memory.spike_step(LLAMA7, "full", 80, 4096, "paged-adamw-8bit", seq_len=512)
    assert plain.usual == paged.usual and plain.spike == paged.spike  # same bytes
    assert plain.usual_fits and not plain.fits and plain.paged_out == 0
    over = paged.spike.total - 80 * GB
    assert 0 < over <= paged.spike.optimizer_states
    assert paged.paged_out == over and paged.on_gpu == 80 * GB and paged.fits
    assert paged.gpu_at_spike.total == paged.on_gpu
    assert paged.spike == estimate_training_memory(LLAMA7, "full", seq_len=4096,
                                                   optimizer="paged-adamw-8bit")
    # QLoRA's adapters have megabytes of states: nothing to gain when the spike overshoots
    q = memory.spike_step(LLAMA7, "qlora", 8, 4096, "paged-adamw-8bit", seq_len=512)
    assert q.usual_fits and not q.fits
    assert q.paged_out == q.spike.optimizer_states < 100 * 1024**2
    with pytest.raises(ValueError, match="gpu_gb"):
        memory.spike_step(LLAMA7, "qlora", 0, 4096, "paged-adamw-8bit")


# -- every memory figure of the notes ----------------------------------------------------


def test_each_notes_claim_holds_somewhere_and_every_found_setting_holds():
    for claim in memory.NOTES_CLAIMS:
        found = memory.where_claim_holds(LLAMA7, claim, r=16, target_modules=("q_proj", "v_proj"))
        assert found, claim
        for check in found:
            s = dict(check.settings)
            e = estimate_training_memory(LLAMA7, claim.method, compute_dtype=check.compute_dtype,
                                         r=16, **s)
            assert claim.low_gb <= e.total / GB <= claim.high_gb and e == check.estimate


def _holds(text, dtype, batch, seq, ckpt=False):
    claim = next(c for c in memory.NOTES_CLAIMS if c.text == text)
    e = estimate_training_memory(LLAMA7, claim.method, batch_size=batch, seq_len=seq,
                                 compute_dtype=dtype, gradient_checkpointing=ckpt)
    return claim.low_gb <= e.total / GB <= claim.high_gb


def test_the_claims_page_text_is_what_the_estimate_says():
    from core.params import ASSETS

    text = (ASSETS / "qlora_memory_claim.md").read_text()
    assert "7 billion × 4\n  bytes = 25 GB" in text and round(weight_bytes(LLAMA7, "fp32") / GB) == 25
    assert _holds("LoRA 32 GB", "fp32", 1, 512) and not _holds("LoRA 32 GB", "bf16", 1, 512)
    lora16 = estimate_training_memory(LLAMA7, "lora", compute_dtype="bf16").total
    lora32 = estimate_training_memory(LLAMA7, "lora", compute_dtype="fp32").total
    assert 0.45 < lora16 / lora32 < 0.6  # "in 16 bits LoRA needs about half"
    assert "for example 4 × 1024 tokens" in text and _holds("LoRA 64 GB", "fp32", 4, 1024)
    assert estimate_training_memory(LLAMA7, "qlora").total / GB < 12  # "well under 12 GB"
    assert "16 GB:\n  about 4 × 512 tokens; 24 GB: about 8 × 512" in text
    assert _holds("QLoRA 16 GB", "bf16", 4, 512) and _holds("QLoRA 24 GB", "bf16", 8, 512)
    assert _holds("QLoRA 12-24 GB", "bf16", 4, 512) and not _holds("QLoRA 16 GB", "bf16", 8, 512)
