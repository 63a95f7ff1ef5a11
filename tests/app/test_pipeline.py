"""The "Where fine-tuning sits" page: the diagram follows the chosen stage, the promises and
the decision guide show core's numbers, and every risk links to the lesson that shows it."""

import json

from streamlit.testing.v1 import AppTest

from core import memory, pipeline
from core.lora import model_lora_param_count
from core.params import ARCHITECTURES
from pages import _pipeline_parts as parts
from pages._ui import ROOT
from tests.app.page_open import page_opener

page = page_opener("pipeline.py", timeout=120)


def filled_stages(at: AppTest) -> list[str]:
    """The stages whose box in the pipeline picture (the first chart) is highlighted."""
    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    boxes = {(round(b["x0"], 2), round(b["y0"], 2)): b["fillcolor"] for b in layout["shapes"]}
    return [k for k, (x0, _) in parts.STAGE_BOXES.items() if boxes[(x0, 1.4)] == parts.HIGHLIGHT]


def labels(at: AppTest) -> str:
    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    return " ".join(a["text"] for a in layout["annotations"])


def test_the_diagram_highlights_the_chosen_stage():
    at = page()
    assert not at.exception
    assert filled_stages(at) == ["sft"]
    assert "foundation<br>model" in labels(at) and "LoRA / QLoRA" in labels(at)
    assert at.subheader[0].value.startswith("2. SFT / instruction tuning")
    at.segmented_control(key="pipe_stage").set_value("preference").run()
    assert filled_stages(at) == ["preference"]
    cards = " ".join(m.value for m in at.markdown)
    assert "DPO" in cards and "PPO" in cards and "reward model" in cards


def test_promises_show_peft_counts_and_memory():
    at = page()
    shown = {m.label: m.value for m in at.metric}
    arch = ARCHITECTURES["Llama-2 7B"]
    assert shown["Fewer trainable parameters"] == "4,194,304"  # CURRICULUM.md, peft's count
    assert model_lora_param_count(arch, 8, ("q_proj", "v_proj")) == 4_194_304
    qlora = memory.estimate_training_memory(arch, "qlora", r=8, target_modules=("q_proj", "v_proj"))
    assert shown["Less memory (QLoRA)"] == f"{qlora.total / memory.GB:,.1f} GB"
    assert shown["Less storage per task"] == "16.00 MB"  # 4,194,304 fp32 values
    at.selectbox(key="pipe_model").set_value("SmolLM2-135M").run()
    smol = ARCHITECTURES["SmolLM2-135M"]
    trainable = model_lora_param_count(smol, 8, ("q_proj", "v_proj"))
    assert {m.label: m.value for m in at.metric}["Fewer trainable parameters"] == f"{trainable:,}"


def test_decision_guide_follows_gpu_data_and_goal():
    at = page()
    assert at.success[0].value.startswith("**LoRA.**")  # Llama-2 7B, 24 GB, hundreds of pairs
    table = next(m.value for m in at.markdown if "fits in 24 GB" in m.value)
    rec = pipeline.recommend(ARCHITECTURES["Llama-2 7B"], 24, "hundreds", "format")
    assert f"| LoRA | {rec.totals['lora'] / memory.GB:,.1f} GB | yes |" in table
    assert f"| Full fine-tuning | {rec.totals['full'] / memory.GB:,.1f} GB | no |" in table
    at.select_slider(key="pipe_gpu").set_value(8).run()
    assert at.success[0].value.startswith("**QLoRA.**")
    at.radio(key="pipe_data").set_value("none").run()
    assert at.success[0].value.startswith("**Prompting (no training).**")
    at.radio(key="pipe_data").set_value("many")
    at.radio(key="pipe_goal").set_value("facts").run()
    assert at.success[0].value.startswith("**Prompting (no training).**")
    at.radio(key="pipe_goal").set_value("reasoning")
    at.selectbox(key="pipe_model").set_value("SmolLM2-135M").run()
    assert at.success[0].value.startswith("**Full fine-tuning.**")


def test_risks_and_promises_link_to_their_lessons_in_the_app():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/pipeline.py").run()
    assert not at.exception
    links = {link.proto.label: link.proto.page for link in at.get("page_link")}
    for risk in parts.risks():  # each risk, to the page that shows it
        assert links[risk["link"]] == risk["file"].removesuffix(".py")
    assert {links[label] for _, label in parts.PROMISE_LINKS} == {
        "lora",
        "qlora_memory",
        "finetune",
    }
    risks = [m.value for m in at.markdown if m.value.startswith("**")]
    for name in ("Forgetting", "Hallucination", "Prompt injection"):
        assert any(r.startswith(f"**{name}.**") for r in risks)


def test_a_bad_link_value_falls_back_with_a_notice():
    at = page(pipe_gpu="7", pipe_stage="nonsense")
    assert not at.exception
    assert "pipe_gpu" in at.info[0].value and "pipe_stage" in at.info[0].value
    assert at.success[0].value.startswith("**LoRA.**")
