"""The LoRA page: one matrix's counts, alpha/r, the small worked matrix, a whole model."""

from streamlit.testing.v1 import AppTest

from core.lora import model_lora_param_count
from core.params import ARCHITECTURES
from pages._ui import ROOT

PAGE = str(ROOT / "pages" / "lora.py")


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_defaults_4096_square_rank_8():
    at = AppTest.from_file(PAGE).run()
    assert not at.exception
    assert metric(at, "Full matrix d·k") == "16,777,216"
    assert metric(at, "LoRA r·(d + k)") == "65,536"
    # Llama-2 7B, r = 8, q and v: what peft reports
    assert metric(at, "Trainable at r = 8") == "4,194,304"
    assert metric(at, "Model parameters") == "6,738,415,616"
    assert metric(at, "Trainable share") == f"{4_194_304 / (6_738_415_616 + 4_194_304):.4%}"


def test_rank_1_gives_8192():
    at = AppTest.from_file(PAGE).run()
    at.select_slider(key="lora_rank").set_value(1).run()
    assert metric(at, "LoRA r·(d + k)") == "8,192"
    assert metric(at, "LoRA / full") == "0.049%"
    assert any(r"\frac{2}{1} = 2" in x.value for x in at.latex)  # alpha = 2r
    at.select_slider(key="lora_rank").set_value(16).run()
    assert metric(at, "LoRA r·(d + k)") == "131,072"


def test_shape_and_large_rank_warning():
    at = AppTest.from_file(PAGE).run()
    at.number_input(key="lora_d").set_value(300).run()
    at.number_input(key="lora_k").set_value(200).run()
    at.select_slider(key="lora_rank").set_value(128).run()
    assert metric(at, "LoRA r·(d + k)") == f"{128 * 500:,}"
    assert len(at.warning) == 1


def test_custom_alpha_scaling():
    at = AppTest.from_file(PAGE).run()
    at.toggle(key="lora_alpha_rule").set_value(False).run()
    at.number_input(key="lora_alpha").set_value(32).run()
    assert any(r"\frac{32}{8} = 4" in x.value for x in at.latex)
    assert "lora_alpha=32" in at.code[0].value


def test_b_zero_means_unchanged_then_rank_r_after_training():
    at = AppTest.from_file(PAGE).run()
    assert any("rank of ΔW = **0**" in m.value for m in at.markdown)
    at.toggle(key="lora_trained").set_value(True).run()
    at.slider(key="lora_demo_rank").set_value(3).run()
    assert any("rank of ΔW = **3**" in m.value for m in at.markdown)
    merge = next(x.value for x in at.latex if "difference" in x.value)
    assert float(merge.rsplit("=", 1)[1].strip("$\n ")) < 1e-12


def test_target_modules_and_preset_match_the_core_count():
    at = AppTest.from_file(PAGE).run()
    at.selectbox(key="lora_model").set_value("SmolLM2-135M").run()
    for t in ("k", "o", "gate", "up", "down"):
        at.checkbox(key=f"lora_t_{t}").check()
    at.select_slider(key="lora_rank").set_value(16).run()
    all7 = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    expected = model_lora_param_count(ARCHITECTURES["SmolLM2-135M"], 16, all7)
    assert metric(at, "Trainable at r = 16") == f"{expected:,}"
    assert "'gate_proj'" in at.code[0].value and "r=16" in at.code[0].value


def test_no_target_module_is_an_error_not_a_traceback():
    at = AppTest.from_file(PAGE).run()
    at.checkbox(key="lora_t_q").uncheck()
    at.checkbox(key="lora_t_v").uncheck().run()
    assert not at.exception
    assert len(at.error) == 1 and "empty" in at.error[0].value
    assert metric(at, "LoRA r·(d + k)") == "65,536"  # the rest of the page still works


def test_url_state_opens_that_state():
    at = AppTest.from_file(PAGE)
    at.query_params["lora_rank"] = "4"
    at.query_params["lora_model"] = "GPT-3 175B"
    at.run()
    assert not at.exception and len(at.info) == 0
    # the LoRA paper's setting: r = 4 on W_q and W_v of GPT-3
    assert metric(at, "Trainable at r = 4") == "18,874,368"


def test_bad_url_rank_falls_back_with_a_notice():
    at = AppTest.from_file(PAGE)
    at.query_params["lora_rank"] = "3"
    at.run()
    assert not at.exception
    assert metric(at, "LoRA r·(d + k)") == "65,536"
    assert len(at.info) == 1 and "lora_rank" in at.info[0].value
