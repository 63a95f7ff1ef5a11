"""The LoRA page: the adapter path drawn to scale, the three alpha rules, the small worked
matrix, the block diagram's counts, and a lab run's trained update (a tiny real adapter)."""

import json

import numpy as np
import pytest

from core.lora import (
    adapter_update,
    lora_scaling,
    model_lora_param_count,
    peft_report,
    random_update,
)
from core.params import ARCHITECTURES
from tests.app.page_open import page_opener

ALL7 = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(autouse=True)
def no_runs(tmp_path, monkeypatch):
    """An empty runs folder unless a test fills it."""
    monkeypatch.setenv("QLORA_LAB_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


page = page_opener("lora.py")


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def chart(at, key) -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if key in c.proto.id).proto.spec)


def shape(spec, name) -> dict:
    return next(s for s in spec["layout"]["shapes"] if s.get("name") == name)


def texts(spec) -> str:
    return " ".join(a.get("text", "") for a in spec["layout"]["annotations"])


def test_defaults_4096_square_rank_8_and_the_adapter_path():
    at = page()
    assert not at.exception
    assert metric(at, "Full matrix d·k") == "16,777,216"
    assert metric(at, "LoRA r·(d + k)") == "65,536"
    spec = chart(at, "lora_path")
    labels = texts(spec)
    assert "<b>A</b> (r × k) = 8 × 4,096<br>32,768" in labels
    assert "<b>B</b> (d × r) = 4,096 × 8<br>32,768" in labels and "starts at 0" in labels
    assert "4,096 × 4,096<br>16,777,216" in labels
    assert "65,536 trainable" in spec["layout"]["title"]["text"]
    W0, A, B = (shape(spec, n) for n in ("W0", "A", "B"))
    assert W0["x1"] - W0["x0"] == pytest.approx(W0["y1"] - W0["y0"])  # square: d = k
    assert A["x1"] - A["x0"] == pytest.approx(W0["x1"] - W0["x0"])  # A is k wide
    assert B["y1"] - B["y0"] == pytest.approx(W0["y1"] - W0["y0"])  # B is d tall
    assert B["fillcolor"] == "rgba(0,0,0,0)" and B["line"]["dash"] == "dash"  # B = 0: empty
    # Llama-2 7B, r = 8, q and v: what peft reports
    assert metric(at, "Trainable at r = 8") == "4,194,304"
    assert metric(at, "Model parameters") == "6,738,415,616"
    report = peft_report(ARCHITECTURES["Llama-2 7B"], 8, ["q_proj", "v_proj"])
    assert metric(at, "peft's trainable%") == f"{report.share:.4%}"


def test_the_path_is_drawn_to_scale_for_a_wide_matrix_and_a_big_rank():
    at = page()
    at.number_input(key="lora_d").set_value(4096).run()
    at.number_input(key="lora_k").set_value(11008).run()
    at.select_slider(key="lora_rank").set_value(256).run()
    spec = chart(at, "lora_path")
    W0, A, B = (shape(spec, n) for n in ("W0", "A", "B"))
    width, height = W0["x1"] - W0["x0"], W0["y1"] - W0["y0"]
    assert width / height == pytest.approx(11008 / 4096)
    assert (A["y1"] - A["y0"]) / width == pytest.approx(256 / 11008)  # r rows against k
    assert (B["x1"] - B["x0"]) / height == pytest.approx(256 / 4096)
    assert metric(at, "LoRA r·(d + k)") == f"{256 * (4096 + 11008):,}"


def test_rank_1_gives_8192():
    at = page()
    at.select_slider(key="lora_rank").set_value(1).run()
    assert metric(at, "LoRA r·(d + k)") == "8,192"
    assert metric(at, "LoRA / full") == "0.049%"
    at.select_slider(key="lora_rank").set_value(16).run()
    assert metric(at, "LoRA r·(d + k)") == "131,072"


def test_shape_and_large_rank_warning():
    at = page()
    at.number_input(key="lora_d").set_value(300).run()
    at.number_input(key="lora_k").set_value(200).run()
    at.select_slider(key="lora_rank").set_value(128).run()
    assert metric(at, "LoRA r·(d + k)") == f"{128 * 500:,}"
    assert sum("no longer much smaller" in w.value for w in at.warning) == 1


def test_three_alpha_rules_side_by_side():
    at = page()
    at.number_input(key="lora_alpha").set_value(32).run()
    at.select_slider(key="lora_alpha_r").set_value(16).run()
    tex = " ".join(x.value for x in at.latex)
    assert r"\frac{32}{16} = 2" in tex and r"\frac{2r}{r} = 2" in tex
    assert rf"\frac{{32}}{{\sqrt{{16}}}} = {lora_scaling(32, 16, use_rslora=True):.4g}" in tex
    spec = chart(at, "lora_alpha_chart")
    scalings = {t["name"]: t["y"] for t in spec["data"] if t.get("xaxis", "x") == "x"}
    ranks = [int(x) for x in spec["data"][0]["x"]]
    assert scalings["rsLoRA: α/√r"] == pytest.approx([32 / np.sqrt(r) for r in ranks])
    assert scalings["α fixed: α/r"] == pytest.approx([32 / r for r in ranks])
    assert scalings["α = 2r: always 2"] == [2.0] * len(ranks)


def test_b_zero_means_unchanged_then_random_b_says_so():
    at = page()
    assert any("rank of ΔW = **0**" in m.value for m in at.markdown)
    at.toggle(key="lora_trained").set_value(True).run()
    at.slider(key="lora_demo_rank").set_value(3).run()
    line = next(m.value for m in at.markdown if "rank of ΔW" in m.value)
    assert "rank of ΔW = **3**" in line and "random numbers" in line
    assert "random" in at.toggle(key="lora_trained").label
    merge = next(x.value for x in at.latex if "difference" in x.value)
    assert float(merge.rsplit("=", 1)[1].strip("$\n ")) < 1e-12
    at.number_input(key="lora_demo_alpha").set_value(12).run()
    assert any("α = 12, α/r = 4;" in m.value for m in at.markdown)


def test_block_diagram_counts_are_the_core_counts_per_module():
    at = page()
    at.selectbox(key="lora_model").set_value("SmolLM2-135M").run()
    for t in ("k", "o", "gate", "up", "down"):
        at.checkbox(key=f"lora_t_{t}").check()
    at.select_slider(key="lora_model_rank").set_value(16).run()
    arch = ARCHITECTURES["SmolLM2-135M"]
    spec = chart(at, "lora_block")
    labels = [a["text"] for a in spec["layout"]["annotations"]]
    for module in ALL7:
        assert shape(spec, module)["fillcolor"].endswith("55")  # highlighted
        per_layer = next(
            int(t.split("+")[1].split(" ")[0].replace(",", ""))
            for t in labels
            if t.startswith(f"<b>{module}</b>")
        )
        assert per_layer * arch.num_layers == model_lora_param_count(arch, 16, [module])
    expected = model_lora_param_count(arch, 16, ALL7)
    assert f"= {expected:,} trainable at r = 16" in spec["layout"]["title"]["text"]
    assert metric(at, "Trainable at r = 16") == f"{expected:,}"
    assert "'gate_proj'" in at.code[0].value and "r=16" in at.code[0].value
    at.checkbox(key="lora_t_gate").uncheck().run()
    spec = chart(at, "lora_block")
    assert shape(spec, "gate_proj")["fillcolor"].endswith("22")  # not targeted: grey
    assert not any(
        t.startswith("<b>gate_proj</b>") and "+" in t
        for t in (a["text"] for a in spec["layout"]["annotations"])
    )


def test_gpt3_names_the_fused_c_attn_and_what_peft_reports():
    at = page(lora_model="GPT-3 175B", lora_model_rank="4")
    assert not at.exception and len(at.info) == 1  # the no-run notice only
    # the LoRA paper's setting: r = 4 on W_q and W_v of GPT-3
    assert metric(at, "Trainable at r = 4") == "18,874,368"
    caption = next(c.value for c in at.caption if "c_attn" in c.value)
    assert "the same count" in caption  # q + v: 2 * r(d + d) = r(d + 3d)
    assert "['c_attn']" in at.code[0].value
    at.checkbox(key="lora_t_k").check().run()
    caption = next(c.value for c in at.caption if "c_attn" in c.value)
    assert (
        f"{peft_report(ARCHITECTURES['GPT-3 175B'], 4, ['q_proj', 'k_proj', 'v_proj']).trainable:,}"
        in caption
    )


def test_no_target_module_is_an_error_not_a_traceback():
    at = page()
    at.checkbox(key="lora_t_q").uncheck()
    at.checkbox(key="lora_t_v").uncheck().run()
    assert not at.exception
    assert len(at.error) == 1 and "empty" in at.error[0].value
    assert metric(at, "LoRA r·(d + k)") == "65,536"  # the rest of the page still works


def test_without_a_run_the_stand_in_is_labelled_random():
    at = page()
    assert "No finished lab run" in at.info[0].value
    assert any("random numbers" in w.value for w in at.warning)
    stand_in = random_update(576, 576, 8, 16)
    spec = chart(at, "lora_spectrum")
    assert "Random stand-in" in spec["layout"]["title"]["text"]
    assert spec["data"][0]["y"][:8] == pytest.approx(stand_in.singular_values[:8].tolist())
    assert metric(at, "Numerical rank of ΔW") == "8"


@pytest.fixture
def lab_run(no_runs, tmp_path):
    """A finished lab run whose adapter is a tiny real one (tests/test_lora.py's)."""
    from tests.test_lora import _tiny_adapter

    run = no_runs / "20260101-000000-abcd"
    (run / "adapter").mkdir(parents=True)
    _tiny_adapter(run / "adapter")
    (run / "config.json").write_text(json.dumps({"method": "qlora", "dataset": "orders", "r": 4}))
    (run / "status.json").write_text(json.dumps({"state": "done"}))
    return run


def test_a_lab_runs_adapter_is_taken_apart(lab_run):
    at = page()
    assert not at.exception and not at.info
    assert at.selectbox(key="lora_run").value.startswith("20260101-000000-abcd · qlora")
    assert at.selectbox(key="lora_module").value == "model.layers.0.self_attn.q_proj"
    at.selectbox(key="lora_module").set_value("model.layers.1.mlp.down_proj").run()
    u = adapter_update(lab_run / "adapter", "model.layers.1.mlp.down_proj")
    spec = chart(at, "lora_spectrum")
    shown = spec["data"][0]["y"]
    assert shown[:4] == pytest.approx(u.singular_values[:4].tolist())
    assert max(shown[4:]) < 1e-12 * shown[0]  # beyond r: rounding
    assert metric(at, "Numerical rank of ΔW") == "4"
    assert metric(at, "ΔW has d·k = 64 × 128") == f"{64 * 128:,}"
    assert metric(at, "A and B store r·(d + k)") == f"{4 * (64 + 128):,}"


def test_url_state_opens_that_state():
    at = page(lora_rank="4", lora_model="GPT-3 175B", lora_model_rank="4")
    assert not at.exception
    assert metric(at, "LoRA r·(d + k)") == f"{4 * 8192:,}"
    assert metric(at, "Trainable at r = 4") == "18,874,368"


def test_bad_url_rank_falls_back_with_a_notice():
    at = page(lora_rank="3")
    assert not at.exception
    assert metric(at, "LoRA r·(d + k)") == "65,536"
    notices = [i.value for i in at.info if "lora_rank" in i.value]
    assert len(notices) == 1


WIDGETS = (
    "selectbox",
    "select_slider",
    "slider",
    "number_input",
    "toggle",
    "checkbox",
    "radio",
    "multiselect",
)


def test_every_control_has_help_and_a_page_key(lab_run):
    at = page()
    widgets = [w for kind in WIDGETS for w in getattr(at, kind)]
    assert len(widgets) >= 17  # sections 1-6, the run's two boxes included
    for w in widgets:
        assert w.key.startswith("lora_") and len(w.help or "") > 30, w.key
