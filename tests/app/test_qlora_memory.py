"""The QLoRA-and-memory page: controls by key, the displayed numbers equal core.memory's
estimate for those settings, the pictures' data, the notes' claims and code, bad input and
link state."""

import json

import pytest

from core import memory
from core.memory import GB, estimate_training_memory, weight_bytes
from core.params import ARCHITECTURES
from tests.app.page_open import page_opener

DEFAULTS = dict(batch_size=1, seq_len=512, r=16, target_modules=("q_proj", "v_proj"),
                optimizer="adamw", gradient_checkpointing=False, compute_dtype="fp16",
                double_quant=True)


_page = page_opener("qlora_memory.py")


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _table(at, first_header: str) -> dict:
    """The markdown table whose first column is ``first_header``, as {header: [cells]}."""
    text = next(m.value for m in at.markdown if m.value.startswith(f"| {first_header} |"))
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()]
    return {header: [row[i] for row in rows[2:]] for i, header in enumerate(rows[0])}


def _chart(at, key: str) -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if key in c.proto.id).proto.spec)


def _gb(name: str, method: str, **settings) -> str:
    e = estimate_training_memory(ARCHITECTURES[name], method, **{**DEFAULTS, **settings})
    return f"{e.total / GB:,.2f} GB"


def test_opens_on_qlora_of_a_7b_model_with_the_notes_configuration():
    at = _page()
    assert not at.exception and not at.error
    assert _metric(at, "Estimated peak memory") == _gb("Llama-2 7B", "qlora") == "7.21 GB"
    assert _metric(at, "Trainable parameters") == "8,388,608"
    assert _metric(at, "Smallest common GPU that fits") == "8 GB"
    code = at.code[0].value
    for line in ("load_in_4bit=True", "bnb_4bit_use_double_quant=True",
                 'bnb_4bit_quant_type="nf4"', "bnb_4bit_compute_dtype=torch.float16",
                 "r=16", "lora_alpha=32", 'target_modules=["q_proj", "v_proj"]'):
        assert line in code
    latex = " ".join(x.value for x in at.latex)
    assert r"1 \cdot 512 \cdot 32 \cdot 164{,}608" in latex and r"\textbf{total} = 7.21" in latex
    # a_layer for q, v adapters in fp16: 8h + (2q + 2kv + 3i)*2 + 2*(4096 + 16)*4 + 4*heads
    assert (r"8 \cdot 4096 + (8192 + 8192 + 33024) \cdot 2 + 32{,}896 + 4 \cdot 32 = 164{,}608"
            in latex)
    assert 8 * 4096 + (8192 + 8192 + 33024) * 2 + 2 * (4096 + 16) * 4 + 4 * 32 == 164_608
    assert r"\text{activations} = b \cdot s \cdot L \cdot a_\text{layer} + \text{logits}" in latex


def test_controls_change_the_numbers_to_the_core_estimate():
    at = _page()
    at.select_slider(key="mem_batch").set_value(4).run()
    assert _metric(at, "Estimated peak memory") == _gb("Llama-2 7B", "qlora", batch_size=4)
    at.toggle(key="mem_ckpt").set_value(True).run()
    at.select_slider(key="mem_seq").set_value(2048).run()
    at.selectbox(key="mem_optimizer").set_value("Paged AdamW 8-bit").run()
    settings = dict(batch_size=4, gradient_checkpointing=True, seq_len=2048,
                    optimizer="paged-adamw-8bit")
    assert _metric(at, "Estimated peak memory") == _gb("Llama-2 7B", "qlora", **settings)
    assert 'optim="paged_adamw_8bit"' in at.code[0].value
    assert "use_gradient_checkpointing=True" in at.code[0].value
    at.radio(key="mem_method").set_value("Full fine-tuning").run()
    assert _metric(at, "Estimated peak memory") == _gb("Llama-2 7B", "full", **settings)
    assert _metric(at, "Smallest common GPU that fits") == "80 GB"  # 8-bit states: 6 B/param
    at.selectbox(key="mem_optimizer").set_value("AdamW (32-bit)").run()
    settings["optimizer"] = "adamw"
    assert _metric(at, "Estimated peak memory") == _gb("Llama-2 7B", "full", **settings)
    assert _metric(at, "Smallest common GPU that fits") == "none (over 80 GB)"
    assert "LoraConfig" not in at.code[0].value
    at.radio(key="mem_method").set_value("LoRA").run()
    at.selectbox(key="mem_preset").set_value("SmolLM2-135M").run()
    at.select_slider(key="mem_rank").set_value(8).run()
    at.multiselect(key="mem_targets").set_value(["q_proj", "k_proj", "v_proj", "o_proj"]).run()
    settings.update(r=8, target_modules=("q_proj", "k_proj", "v_proj", "o_proj"))
    assert 'optim="adamw_torch"' in at.code[0].value
    assert _metric(at, "Estimated peak memory") == _gb("SmolLM2-135M", "lora", **settings)
    assert '"HuggingFaceTB/SmolLM2-135M",' in at.code[0].value


def test_compute_dtype_and_double_quantization_reach_the_code_and_the_weights():
    at = _page()
    at.selectbox(key="mem_dtype").set_value("bf16").run()
    at.toggle(key="mem_dq").set_value(False).run()
    assert "bnb_4bit_compute_dtype=torch.bfloat16" in at.code[0].value
    assert "bnb_4bit_use_double_quant=False" in at.code[0].value
    assert "bf16=True" in at.code[0].value
    assert _metric(at, "Estimated peak memory") == _gb(
        "Llama-2 7B", "qlora", compute_dtype="bf16", double_quant=False)
    assert any(r"\text{frozen}_{\text{nf4}}" in x.value for x in at.latex)


def test_gpu_table_and_the_weights_per_format():
    at = _page()
    gpus = _table(at, "GPU memory")
    assert gpus["GPU memory"] == ["8 GB", "12 GB", "16 GB", "24 GB", "40 GB", "48 GB", "80 GB"]
    fits = ":green[**fits**]"
    assert gpus["QLoRA"] == [fits] * 7
    assert gpus["Full fine-tuning"] == ["—"] * 7  # 108 GB
    assert gpus["LoRA"] == ["—", "—", "—"] + [fits] * 4  # 16.6 GB
    formats = _table(at, "format")
    assert formats["format"] == ["fp32", "fp16", "bf16", "int8", "nf4", "nf4-dq"]
    assert formats["GB"][-1] == "3.60" and formats["bits per parameter"][-1] == "4.590"
    bars = _chart(at, "mem_format_chart")["data"][0]
    arch = ARCHITECTURES["Llama-2 7B"]
    assert bars["y"] == pytest.approx([weight_bytes(arch, f) / GB for f in memory.FORMATS])
    at.selectbox(key="mem_preset").set_value("Mistral 7B").run()
    assert _table(at, "format")["GB"][0] == f"{weight_bytes(ARCHITECTURES['Mistral 7B'], 'fp32') / GB:,.2f}"


def test_every_memory_figure_of_the_notes_is_checked():
    at = _page()
    claims = _table(at, "the notes say")
    assert claims["the notes say"] == ["LoRA 32 GB", "LoRA 64 GB", "QLoRA 12-24 GB", "QLoRA 16 GB",
                                       "QLoRA 24 GB"]
    assert claims["estimate here (GB)"][:3] == ["31.1 / 16.6 (fp32 / 16-bit)"] * 2 + ["7.2"]
    assert claims["holds here"] == [":green[**yes**]"] + [":red[no]"] * 4
    assert claims["holds, for example, at"][3].startswith("fp16, batch 4 × 512 tokens (15.6 GB)")
    assert claims["holds, for example, at"][4].startswith("fp16, batch 8 × 512 tokens (26.8 GB)")
    lines = {t["name"]: t["y"] for t in _chart(at, "mem_claims_chart")["data"]}
    arch = ARCHITECTURES["Llama-2 7B"]
    expected = [estimate_training_memory(arch, "qlora", **{**DEFAULTS, "batch_size": b}).total / GB
                for b in (1, 2, 4, 8, 16)]
    assert lines["QLoRA, 16-bit"] == pytest.approx(expected)
    at.select_slider(key="mem_batch").set_value(4).run()
    holds = _table(at, "the notes say")["holds here"]
    assert holds == [":red[no]", ":red[no]", ":green[**yes**]", ":green[**yes**]", ":red[no]"]
    at.selectbox(key="mem_claim_model").set_value("Llama-2 13B").run()
    assert _table(at, "the notes say")["holds here"][0] == ":red[no]"  # 13B in fp32: 76.9


@pytest.mark.parametrize("preset, targets", [("Llama-2 7B", []), ("GPT-3 175B", ["gate_proj"])])
def test_bad_target_modules_show_an_error_not_a_traceback(preset, targets):
    at = _page()
    at.selectbox(key="mem_preset").set_value(preset).run()
    at.multiselect(key="mem_targets").set_value(targets).run()
    assert not at.exception
    assert len(at.error) == 1 and "target module" in at.error[0].value
    at.multiselect(key="mem_targets").set_value(["q_proj"]).run()
    assert not at.error and not at.exception


def test_link_opens_that_state_and_bad_values_fall_back():
    at = _page(mem_preset="Mistral 7B", mem_method="LoRA", mem_batch="8", mem_ckpt="true")
    assert not at.exception and len(at.info) == 0
    assert _metric(at, "Estimated peak memory") == _gb(
        "Mistral 7B", "lora", batch_size=8, gradient_checkpointing=True)
    at = _page(mem_batch="3", mem_method="prefix")
    assert not at.exception
    assert len(at.info) == 1
    assert "mem_batch" in at.info[0].value and "mem_method" in at.info[0].value
    assert _metric(at, "Estimated peak memory") == _gb("Llama-2 7B", "qlora")


def test_link_carries_the_target_modules_and_the_method_label():
    targets = ["q_proj", "k_proj", "down_proj"]
    at = _page(mem_targets=targets, mem_method="LoRA", mem_rank="8")
    assert not at.exception and len(at.info) == 0
    assert at.multiselect(key="mem_targets").value == targets
    assert _metric(at, "Estimated peak memory") == _gb(
        "Llama-2 7B", "lora", r=8, target_modules=tuple(targets))
    assert _metric(at, "Trainable parameters") == f"{32 * 8 * (2 * (4096 + 4096) + (11008 + 4096)):,}"


def test_the_adapter_term_and_the_checkpointing_formula_come_from_core():
    at = _page()
    arch = ARCHITECTURES["Llama-2 7B"]
    e = estimate_training_memory(arch, "qlora", **DEFAULTS)
    bars = {t["name"]: t["y"] for t in _chart(at, "mem_chart")["data"]}
    assert bars["adapters"][2] == pytest.approx(e.adapter_weights / GB)
    assert bars["frozen weights"][2] == pytest.approx(e.frozen_weights / GB)
    latex = " ".join(x.value for x in at.latex)
    assert rf"{e.frozen_weights / GB:,.2f} + 4 \cdot 8{{,}}388{{,}}608" in latex
    at.toggle(key="mem_ckpt").set_value(True).run()
    latex = " ".join(x.value for x in at.latex)
    assert (r"\text{activations} = b \cdot s \cdot (L \cdot h \cdot b_c + a_\text{layer}) + "
            r"\text{logits} = 1 \cdot 512 \cdot (32 \cdot 4096 \cdot 2 + 164{,}608)") in latex
    ckpt = estimate_training_memory(arch, "qlora", **{**DEFAULTS, "gradient_checkpointing": True})
    assert f"= {ckpt.activations / GB:,.2f}" in latex


def test_paged_and_plain_8bit_bars_are_identical_and_the_page_says_why():
    at = _page()
    at.selectbox(key="mem_optimizer").set_value("AdamW 8-bit").run()
    plain = _chart(at, "mem_chart")["data"]
    assert not at.info
    at.selectbox(key="mem_optimizer").set_value("Paged AdamW 8-bit").run()
    assert _chart(at, "mem_chart")["data"] == plain
    assert len(at.info) == 1 and "exactly the bytes of AdamW 8-bit" in at.info[0].value


def test_the_data_flow_shows_the_nf4_and_adapter_bytes():
    at = _page()
    labels = " ".join(a.get("text", "") for a in _chart(at, "mem_flow")["layout"]["annotations"])
    arch = ARCHITECTURES["Llama-2 7B"]
    assert f"{weight_bytes(arch, 'nf4-dq') / GB:.2f} GB (16-bit: 12.55 GB)" in labels
    e = estimate_training_memory(arch, "qlora", **DEFAULTS)
    assert f"adapters: {e.adapter_weights / 1024**2:,.1f} MB" in labels
    assert f"{e.optimizer_states / 1024**2:,.1f} MB, for A and B only" in labels
    at.toggle(key="mem_dq").set_value(False).run()
    labels = " ".join(a.get("text", "") for a in _chart(at, "mem_flow")["layout"]["annotations"])
    assert f"{weight_bytes(arch, 'nf4') / GB:.2f} GB (16-bit" in labels


def test_a_spike_with_and_without_a_paged_optimizer():
    at = _page()
    arch = ARCHITECTURES["Llama-2 7B"]
    usual = {k: v for k, v in DEFAULTS.items() if k != "optimizer"}
    paged = memory.spike_step(arch, "full", 80, 4096, "paged-adamw-8bit", **usual)
    assert paged.fits and paged.paged_out > 0  # the default shows a rescue
    spec = _chart(at, "mem_spike_chart")
    cpu = next(t for t in spec["data"] if t["name"] == "optimizer states in CPU RAM")
    assert cpu["y"] == pytest.approx([paged.paged_out / GB])
    text = next(m.value for m in at.markdown if "the usual step" in m.value)
    assert f"moves **{paged.paged_out / GB:,.2f} GB**" in text and "the step runs" in text
    at.radio(key="mem_spike_method").set_value("QLoRA").run()
    at.select_slider(key="mem_gpu").set_value(8).run()
    text = next(m.value for m in at.markdown if "the usual step" in m.value)
    assert "out of memory either way" in text
    at.select_slider(key="mem_gpu").set_value(12).run()
    at.select_slider(key="mem_spike").set_value(1024).run()  # 9.96 GB
    text = next(m.value for m in at.markdown if "the usual step" in m.value)
    assert "fits without paging" in text


def test_every_control_has_help_and_a_page_key():
    at = _page()
    kinds = ("selectbox", "select_slider", "slider", "number_input", "toggle", "checkbox",
             "radio", "multiselect")
    widgets = [w for kind in kinds for w in getattr(at, kind)]
    assert len(widgets) == 14
    for w in widgets:
        assert w.key.startswith("mem_") and len(w.help or "") > 30, w.key
