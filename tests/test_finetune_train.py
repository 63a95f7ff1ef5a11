"""The fine-tune core: each method trains and writes its run directory; a run folder is used
once; QLoRA's LoRA gradients match a full-precision copy holding bitsandbytes' dequantized
weights (also after generating), in each compute dtype the code can choose; a saved adapter
reloads with peft and gives the logits it had at the end of training; the base model answers
through ``disable_adapter``; ``eval.json``'s memory estimate is the estimate function's for
the run's own recorded inputs.

Plumbing runs on the tiny random model (tests/tiny_model.py); the real SmolLM2 trains in one
test (a short QLoRA run) and in the gradient check. Tiny settings throughout (2 steps,
max_length 64, batch 2, r 4) on a small dataset of our own.
"""

import json

import pytest

torch = pytest.importorskip("torch")

from core.finetune import FinetuneConfig  # noqa: E402
from core.finetune.rundir import read_status  # noqa: E402

ORDERS = [
    ("send 3 red mugs to Lima", "mug", 3, "red", "Lima"),
    ("two blue pens for the Oslo office", "pen", 2, "blue", "Oslo"),
    ("please ship 5 chairs to Cairo", "chair", 5, None, "Cairo"),
    ("Accra needs four green lamps", "lamp", 4, "green", "Accra"),
    ("order 7 black bags for Quito", "bag", 7, "black", "Quito"),
    ("10 white cups to Riga, thanks", "cup", 10, "white", "Riga"),
    ("one desk for our Lagos office", "desk", 1, None, "Lagos"),
    ("six grey mats to Lima please", "mat", 6, "grey", "Lima"),
    ("deliver 8 pink cards to Rome", "card", 8, "pink", "Rome"),
    ("Paris asks for 9 brown boxes", "box", 9, "brown", "Paris"),
]


def write_dataset(path):
    lines = [json.dumps({"prompt": p, "response": json.dumps(
        {"item": i, "quantity": q, "color": c, "destination": d})}) for p, i, q, c, d in ORDERS]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def tiny_config(tmp_path, method, model, **changes):
    settings = dict(model=model, method=method, dataset=write_dataset(tmp_path / "orders.jsonl"),
                    r=4, alpha=8, max_steps=2, batch_size=2, max_length=64, learning_rate=1e-3,
                    output_dir=str(tmp_path / f"run-{method}"))
    return FinetuneConfig(**{**settings, **changes})


def test_config_validates_and_round_trips():
    config = FinetuneConfig(target_modules="q_proj, v_proj", output_dir="runs/x")
    assert config.target_modules == ("q_proj", "v_proj")
    assert FinetuneConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    for bad, word in [({"method": "qlora4"}, "method"), ({"r": 0}, "r"),
                      ({"dropout": 1.0}, "dropout"), ({"learning_rate": -1.0}, "learning_rate"),
                      ({"target_modules": ""}, "target_modules"), ({"batch_size": 2.5}, "batch_size"),
                      ({"compute_dtype": "float8"}, "compute_dtype"), ({"task": "tts"}, "task")]:
        with pytest.raises(ValueError, match=word):
            FinetuneConfig(**bad)


def test_loss_only_on_response_tokens():
    from core.finetune.train import IGNORE, encode_example, load_tokenizer
    from core.models import resolve_model

    tokenizer = load_tokenizer(resolve_model("smollm2-135m-instruct"))
    example = encode_example(tokenizer, "send 3 red mugs to Lima", '{"item": "mug"}', "JSON:", 64)
    learned = [t for t, label in zip(example["input_ids"], example["labels"], strict=True)
               if label != IGNORE]
    assert tokenizer.decode(learned) == '{"item": "mug"}<|im_end|>\n'
    assert tokenizer.decode(example["input_ids"]).endswith(
        '<|im_start|>assistant\n{"item": "mug"}<|im_end|>\n')
    # too short to hold any response token: rejected, not silently trained on nothing
    assert encode_example(tokenizer, "send 3 red mugs to Lima", "x", "JSON:", 16) is None


@pytest.mark.parametrize("method", ["qlora", "lora", "full"])
def test_each_method_trains_and_writes_the_run_dir(tmp_path, method, tiny_model):
    from core.finetune.device import plan
    from core.finetune.estimate import estimate_run_memory
    from core.finetune.train import run

    config = tiny_config(tmp_path, method, tiny_model)
    assert run(config) == "done"
    run_dir = tmp_path / f"run-{method}"
    assert json.loads((run_dir / "config.json").read_text()) == config.to_json()
    status = read_status(run_dir)
    assert status["state"] == "done" and status["step"] == 2 and status["max_steps"] == 2
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events] == [1, 2]
    for e in events:
        assert set(e) == {"step", "loss", "learning_rate", "tokens_per_s", "elapsed_s", "memory_bytes"}
        assert e["loss"] > 0 and e["tokens_per_s"] > 0 and e["memory_bytes"] > 100e6
    weights = "model.safetensors" if method == "full" else "adapter_model.safetensors"
    assert (run_dir / "adapter" / weights).is_file()
    report = json.loads((run_dir / "eval.json").read_text())
    for part in ("before", "after"):
        assert report[part]["n"] == 1 and report[part]["loss"] > 0
        assert "valid_json" not in report[part]  # an upload is scored by its loss only
    assert report["peak_memory_bytes"] > 100e6 and report["train_seconds"] > 0
    assert report["samples"][0]["prompt"] in [o[0] for o in ORDERS]
    # the choice of arithmetic and the estimate are recorded, and are what the core says
    assert report["compute"] == plan(method).compute.to_json()
    assert status["compute"] == report["compute"]
    again = estimate_run_memory(FinetuneConfig.from_json(config.to_json()), seq_len=report["seq_len"])
    assert report["estimate"] == again.to_json() and report["estimate_bytes"] == again.total
    lengths = sorted(len(f["input_ids"]) for f in _features(config))
    # 2 steps x 2 examples, padding not counted
    assert 4 * lengths[0] <= report["tokens_trained"] <= 4 * lengths[-1]
    # LoRA r=4 per layer: q, o 4*(64+64); k, v 4*(64+32); gate, up, down 4*(64+128); 2 layers
    by_hand = 2 * (2 * 4 * 128 + 2 * 4 * 96 + 3 * 4 * 192)
    assert report["trainable_parameters"] == (_param_count(tiny_model) if method == "full"
                                              else by_hand)


def _features(config):
    from core.finetune.data import load_dataset
    from core.finetune.train import encode_examples, instruction_for, load_tokenizer
    from core.models import resolve_model

    dataset = load_dataset(config.dataset, seed=config.seed)
    tokenizer = load_tokenizer(resolve_model(config.model))
    return encode_examples(tokenizer, dataset.train, instruction_for(dataset.kind),
                           config.max_length)


def _param_count(model_dir) -> int:
    from transformers import AutoModelForCausalLM

    return sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(model_dir).parameters())


def test_qlora_model_is_4bit_with_trainable_lora_only(tmp_path, tiny_model):
    import bitsandbytes as bnb

    from core.finetune.train import prepare_model

    model, _ = prepare_model(tiny_config(tmp_path, "qlora", tiny_model))
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    assert isinstance(layer.base_layer, bnb.nn.Linear4bit)
    assert layer.base_layer.weight.quant_state.quant_type == "nf4"
    assert layer.base_layer.weight.quant_state.nested  # double quantization
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    # 2 layers x 7 modules x (A, B)
    assert len(trainable) == 2 * 7 * 2


def _lora_grads(model, batch) -> dict:
    model.zero_grad(set_to_none=True)
    model(**batch).loss.backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


# In bfloat16 (8 significant bits, 2**-8 = 0.4% per rounding) against a float32 reference, over
# SmolLM2's 30 layers of rounded products the LoRA gradients stayed within 5% overall (measured
# 2.5%) and 15% for the worst tensor (measured 7%, the first layers'). In float32 they agree to
# float32 rounding. The real model is checked in the dtype this machine chooses (fast here by
# construction); the tiny model in every dtype the code can choose.
TOLERANCES = {"bfloat16": (5e-2, 0.15), "float32": (1e-4, 1e-3)}


@pytest.mark.parametrize(("which", "dtype"), [("real", "auto"), ("tiny", "float32"),
                                              ("tiny", "bfloat16")])
def test_qlora_gradients_match_dequantized_full_precision_copy(tmp_path, tiny_model, which, dtype):
    """LoRA gradients of the 4-bit model == those of a float32 model whose base weights are
    ``bitsandbytes.functional.dequantize_4bit`` of the 4-bit ones (same adapters), within
    the compute dtype's tolerance; and again after the 4-bit model generated text."""
    import bitsandbytes.functional as bnbF
    from peft import get_peft_model

    from core.finetune.train import (
        collate,
        encode_example,
        generate,
        load_base,
        lora_config,
        prepare_model,
        run_plan,
    )
    from core.models import resolve_model

    model_name = "smollm2-135m-instruct" if which == "real" else tiny_model
    config = tiny_config(tmp_path, "qlora", model_name, dropout=0.0, compute_dtype=dtype)
    overall_tol, worst_tol = TOLERANCES[run_plan(config).compute.dtype]
    model, tokenizer = prepare_model(config)
    layers = model.config.num_hidden_layers
    torch.manual_seed(1)
    with torch.no_grad():  # B starts at zero, which would zero A's gradient: make it random
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    reference = load_base(resolve_model(config.model), "lora")
    quantized = dict(model.base_model.model.named_modules())
    with torch.no_grad():
        for name, module in reference.named_modules():
            if isinstance(module, torch.nn.Linear) and name.endswith("proj"):
                weight = quantized[name].base_layer.weight if hasattr(quantized[name], "base_layer") \
                    else quantized[name].weight
                module.weight.copy_(bnbF.dequantize_4bit(weight.data, weight.quant_state).float())
    reference = get_peft_model(reference, lora_config(config))
    lora_state = {n: p.detach() for n, p in model.named_parameters() if "lora_" in n}
    with torch.no_grad():
        for name, p in reference.named_parameters():
            if "lora_" in name:
                p.copy_(lora_state[name])
    batch = collate([encode_example(tokenizer, p, "{}", "JSON:", 64) for p, *_ in ORDERS[:2]],
                    tokenizer.pad_token_id)

    def relative_errors(grads, ref) -> tuple[float, float]:
        """(||g - g_ref|| / ||g_ref|| over all LoRA gradients, the worst single tensor's)."""
        assert grads.keys() == ref.keys() and len(ref) == layers * 7 * 2
        diff = sum(float((grads[n] - ref[n]).norm() ** 2) for n in ref) ** 0.5
        size = sum(float(ref[n].norm() ** 2) for n in ref) ** 0.5
        return diff / size, max(float((grads[n] - ref[n]).norm() / ref[n].norm()) for n in ref)

    ref_grads = _lora_grads(reference, batch)
    before = _lora_grads(model, batch)
    overall, worst = relative_errors(before, ref_grads)
    assert overall < overall_tol and worst < worst_tol, (overall, worst)
    generate(model, tokenizer, ["send 3 red mugs to Lima"], max_new_tokens=4)
    after = _lora_grads(model, batch)
    overall, worst = relative_errors(after, ref_grads)
    assert overall < overall_tol and worst < worst_tol, (overall, worst)
    assert relative_errors(after, before)[1] < 1e-5  # generating changed nothing


def test_saved_adapter_reloads_with_the_same_logits(tmp_path, tiny_model):
    from peft import PeftModel

    from core.finetune.data import Example
    from core.finetune.train import (
        collate,
        encode_examples,
        load_base,
        make_trainer,
        prepare_model,
        run_plan,
        save_atomic,
    )
    from core.models import resolve_model

    config = tiny_config(tmp_path, "qlora", tiny_model, learning_rate=1e-2)
    model, tokenizer = prepare_model(config)
    examples = [Example(p, json.dumps({"item": i})) for p, i, *_ in ORDERS]
    features = encode_examples(tokenizer, examples, "JSON:", 64)
    trainer = make_trainer(model, tokenizer, config, features, str(tmp_path / "scratch"))
    trainer.train()
    batch = collate(features[:3], tokenizer.pad_token_id)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    model.eval()
    with torch.no_grad():
        trained = model(**inputs).logits
        with model.disable_adapter():
            base_logits = model(**inputs).logits
    assert (trained - base_logits).abs().max() > 1e-3  # training moved the model
    save_atomic(model, tokenizer, tmp_path / "adapter")
    assert not list(tmp_path.glob(".adapter-*"))  # the temp folder was renamed away
    dtype = getattr(torch, run_plan(config).compute.dtype)
    reloaded = PeftModel.from_pretrained(load_base(resolve_model(config.model), "qlora", dtype),
                                         tmp_path / "adapter").eval()
    with torch.no_grad():
        again = reloaded(**inputs).logits
    torch.testing.assert_close(again, trained, atol=1e-4, rtol=1e-4)


def test_load_tuned_answers_like_training_and_as_the_base(tmp_path, tiny_model):
    from core.finetune.train import generate, load_base, load_tuned, run, run_plan
    from core.models import resolve_model

    config = tiny_config(tmp_path, "lora", tiny_model, max_steps=1, learning_rate=0.5)
    run(config)
    tuned = load_tuned(config.output_dir)
    assert tuned.tokenizer.finetune_instruction is None  # an upload keeps the model's own prompt
    prompt = ["send 3 red mugs to Lima"]
    answers = tuned.answer(prompt, max_new_tokens=3)
    assert len(answers) == 1 and isinstance(answers[0], str)
    # the base's answer, through disable_adapter, is a freshly loaded base model's answer
    base = load_base(resolve_model(tiny_model), "lora",
                     getattr(torch, run_plan(config).compute.dtype)).eval()
    expected = generate(base, tuned.tokenizer, prompt, max_new_tokens=5)
    assert tuned.answer(prompt, base=True, max_new_tokens=5) == expected
    with pytest.raises(ValueError, match="config.json"):
        load_tuned(tmp_path)  # not a run directory


def test_a_folder_holding_a_run_is_refused_and_default_folders_are_unique(tmp_path, tiny_model):
    from core.finetune.train import run

    config = tiny_config(tmp_path, "qlora", tiny_model, max_steps=1)
    assert run(config) == "done"
    run_dir = tmp_path / "run-qlora"
    (run_dir / "STOP").touch()  # a leftover stop, and a loss curve, that must not leak
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    with pytest.raises(ValueError, match="already holds a run"):
        run(config)
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before
    assert len({FinetuneConfig().output_dir for _ in range(50)}) == 50
    # a folder that exists but is empty is fine
    (tmp_path / "empty").mkdir()
    assert run(tiny_config(tmp_path, "qlora", tiny_model, max_steps=1,
                           output_dir=str(tmp_path / "empty"))) == "done"


def test_a_real_smollm2_qlora_run_learns(tmp_path):
    """The one real-model run: QLoRA on SmolLM2 for a few steps lowers the held-out loss."""
    from core.finetune.train import run

    config = tiny_config(tmp_path, "qlora", "smollm2-135m-instruct", max_steps=4,
                         learning_rate=5e-3, batch_size=4)
    assert run(config) == "done"
    report = json.loads((tmp_path / "run-qlora" / "eval.json").read_text())
    assert report["after"]["loss"] < report["before"]["loss"]
    adapter = json.loads((tmp_path / "run-qlora" / "adapter" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_evaluating_with_weights_dequantized_once_changes_no_number(tmp_path, tiny_model, dtype):
    from core.finetune.train import (
        collate,
        dequantized_once,
        encode_examples,
        generate,
        prepare_model,
    )

    config = tiny_config(tmp_path, "qlora", tiny_model, compute_dtype=dtype)
    model, tokenizer = prepare_model(config)
    model.eval()
    from core.finetune.data import Example

    features = encode_examples(tokenizer, [Example(p, "{}") for p, *_ in ORDERS[:3]], "JSON:", 64)
    batch = collate(features, tokenizer.pad_token_id)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    prompts = [p for p, *_ in ORDERS[:4]]
    with torch.no_grad():
        logits = model(**inputs).logits
        answers = generate(model, tokenizer, prompts, max_new_tokens=6)
        with dequantized_once(model):
            assert torch.equal(model(**inputs).logits, logits)
            assert generate(model, tokenizer, prompts, max_new_tokens=6) == answers
        assert torch.equal(model(**inputs).logits, logits)  # and the 4-bit path is back
