"""The classroom tools around every page (app.py + pages/_classroom.py): scenes from the menu and
from a link, presenter mode, the link to this view. The scenes test is generic over
assets/scenes.json, so a new page's scenes are checked too."""

from __future__ import annotations

import sys

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Widget

from core.links import scene_slug
from pages._classroom import _scenes, scenes
from pages._ui import ROOT, available_lessons

LESSONS = {lesson["file"] for lesson in available_lessons()}
SCENES = [(file, s) for file in sorted(_scenes()) if file in LESSONS for s in scenes(file)]
NOTICES = ("This link had settings", "asks for a scene")


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("QLORA_LAB_RUNS", str(tmp_path / "runs"))


def run(at: AppTest) -> AppTest:
    """``at.run()`` through app.py's navigation. AppTest forgets before every run that the app
    uses st.navigation and would run a lesson alone; pages/_ui.py, imported afresh, tells
    Streamlit again (as it does once in a real server) and reruns through app.py."""
    sys.modules.pop("pages._ui", None)
    return at.run()


def app(file: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if file:
        at.switch_page(f"pages/{file}")
    for key, value in params.items():
        at.query_params[key] = value
    return run(at)


def widgets(at: AppTest) -> dict[str, Widget]:
    return {n.key: n for n in at._tree if isinstance(n, Widget) and n.key}


def notices(at: AppTest) -> list[str]:
    return [i.value for i in at.info if any(n in i.value for n in NOTICES)]


def test_scenes_json_names_real_lessons_and_unique_scenes():
    assert set(_scenes()) <= LESSONS | {"finetune.py"}, set(_scenes()) - LESSONS
    for file, items in _scenes().items():
        slugs = [scene_slug(s["name"]) for s in items]
        assert len(slugs) == len(set(slugs)), file
        assert all(s["description"] and s["values"] for s in items), file


@pytest.mark.parametrize("file,scene", SCENES, ids=[f"{f}:{s['name']}" for f, s in SCENES])
def test_every_scene_opens_by_link_with_its_values_and_no_notice(file, scene):
    at = app(file, scene=scene_slug(scene["name"]))
    assert not at.exception, at.exception[0].message
    assert not notices(at), notices(at)
    found = widgets(at)
    for key, value in scene["values"].items():
        assert key in found, f"{scene['name']}: no control {key} on {file}"
        assert found[key].value == value, (scene["name"], key, found[key].value)
    assert at.sidebar.selectbox(key="_scene_" + file.removesuffix(".py")).value == scene["name"]


def test_the_scene_menu_walks_through_a_lesson_in_order():
    at = app("quantization.py")
    menu = at.sidebar.selectbox(key="_scene_quantization")
    assert menu.value is None and menu.options == [s["name"] for s in scenes("quantization.py")]
    run(menu.set_value("An outlier ruins absmax"))
    assert at.selectbox(key="quant_method").value == "absmax"
    assert at.slider(key="quant_bits").value == 4
    assert "40" in at.text_area(key="quant_text").value
    assert at.metric[0].value != "none"
    at.sidebar.selectbox(key="_scene_quantization").set_value("Example B: [-20, 1000] asymmetric")
    run(at)
    scale = next(m.value for m in at.metric if m.label.startswith("Scale"))
    zero = next(m.value for m in at.metric if m.label == "Zero point")
    assert (scale, zero) == ("4", "5")  # the notes' Example B: scale 1020/255, zero point 5
    assert not at.exception


def test_an_unknown_scene_opens_the_page_as_usual_with_a_notice():
    at = app("rank.py", scene="<script>alert(1)</script>")
    assert not at.exception
    assert any("asks for a scene" in n for n in notices(at))
    assert "<script>" not in " ".join(i.value for i in at.info)
    assert at.selectbox(key="rank_preset").value == "Curriculum example"


def _css(at: AppTest) -> str:
    return " ".join(n.proto.body for n in at._tree if getattr(n, "type", "") == "html")


def test_presenter_mode_hides_the_sidebar_and_the_listed_controls():
    at = app("quantization.py", presenter="1", hide="quant_bits,quant_method,x}body{y,a b")
    assert not at.exception
    css = _css(at)
    assert '[data-testid="stSidebar"]' in css and "font-size" in css
    assert ".st-key-quant_bits" in css and ".st-key-quant_method" in css
    assert "x}body" not in css and "a b" not in css  # only plain widget keys reach the CSS
    assert at.button(key="_scene_next")  # the scene bar replaces the hidden sidebar menu


def test_presenter_mode_stays_on_after_a_page_switch_and_turns_off_with_0():
    at = app("lora.py", presenter="1", hide="lora_d")
    run(at.switch_page("pages/rank.py"))
    assert ".st-key-lora_d" in _css(at) and not at.exception
    at.query_params["presenter"] = "0"
    run(at.switch_page("pages/parameters.py"))
    assert _css(at) == "" and not at.exception


def test_no_presenter_flag_means_no_presenter_style():
    for value in ("", "no", "<b>1</b>", "1" * 5000):
        at = app("lora.py", presenter=value)
        assert _css(at) == "" and not at.exception


def _link(at: AppTest) -> str:
    return next(c.value for c in at.sidebar.code)


def test_the_link_to_this_view_carries_the_scene_and_changed_controls():
    at = app("quantization.py", scene="an-outlier-ruins-absmax")
    assert _link(at) == "/quantization?scene=an-outlier-ruins-absmax"
    run(at.slider(key="quant_bits").set_value(8))  # 8 is the default: the URL drops it
    assert "scene=an-outlier-ruins-absmax" in _link(at) and "quant_bits=8" in _link(at)
    at = app("lora.py")
    assert _link(at) == "/lora"
