"""Hostile links and malformed input, for every lesson in assets/lessons.json (a page added
later is covered without touching this file).

For each page, every control bound to the URL (``bind="query-params"``, found in Streamlit's
own registry of bound widgets after a run) is opened with values it cannot use: not a
number, NaN, infinities, empty, 10**400, markup, a path, a very long string, two values.
The page must open without an exception; a control that is not a text box keeps its
default and is named in the page's notice; a text box may take the text, and the page then
shows an error or a result, never a traceback. Controls that appear only for some choices
(the quantization page's "Generate" controls, the rank page's custom matrix) are reached by
first opening the page with each of its scenes (assets/scenes.json) as URL values.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Widget

from core.links import matches, url_form
from pages._classroom import scenes
from pages._ui import available_lessons
from tests.app.page_open import open_page

# The fine-tune lab is the lead's: its model box lets an OSError through for a name too long
# for the disk (pages/_finetune_parts.py model_architecture: Path(model).exists()).
LESSONS = [lesson["file"] for lesson in available_lessons()]
HOSTILE = {  # each also "not a number" for a number and "not an option" for a choice
    "nan": "nan",
    "infinite": "-1e309",
    "empty": "",
    "10**400": "1" + "0" * 400,
    "markup": "<script>alert(1)</script>[x](javascript:alert(1))",
    "a long path": "../" * 3000 + "etc/passwd",
    "two values": ["1", "2"],
}
TEXT_KINDS = ("text_input", "text_area")
NOTICE = "This link had settings"


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("QLORA_LAB_RUNS", str(tmp_path / "runs"))  # the fine-tune lab's runs


def widgets(at: AppTest) -> dict[str, Widget]:
    """The page's widgets by key."""
    return {node.key: node for node in at._tree if isinstance(node, Widget) and node.key}


def bound_keys(at: AppTest) -> set[str]:
    """Keys of the controls bound to the URL in the last run (Streamlit's registry behind
    ``bind="query-params"``; AppTest has no public view of it)."""
    return set(at.session_state._state._state.query_params._bindings_by_param)


def contexts(file: str) -> list[tuple[str, dict, AppTest]]:
    """(name, URL values, page opened with them) for the default view and each scene that
    shows a bound control not seen before."""
    found, seen = [], set()
    for name, values in [("default", {})] + [(s["name"], s["values"]) for s in scenes(file)]:
        params = {
            k: url_form(v) if isinstance(v, list) else url_form(v)[0] for k, v in values.items()
        }
        at = open_page(file, params, timeout=120)
        assert not at.exception, (name, at.exception[0].message)
        keys = bound_keys(at)
        if keys - seen:
            found.append((name, params, at))
            seen |= keys
    return found


@pytest.mark.parametrize("file", LESSONS)
def test_every_url_control_survives_hostile_values(file):
    checked = set()
    for context, params, baseline in contexts(file):
        before = widgets(baseline)
        keys = bound_keys(baseline) - set(params)
        assert keys, f"{file} ({context}): no URL-bound control found"
        for label, value in HOSTILE.items():
            at = open_page(file, {**params, **{key: value for key in keys}}, timeout=120)
            where = f"{file} ({context}) with every control = {label}"
            assert not at.exception, (where, at.exception[0].message)
            after = widgets(at)
            notice = " ".join(i.value for i in at.info if NOTICE in i.value)
            for key in keys:
                widget, default = after.get(key), before[key].value
                if widget is None:  # gone with another control reset: reported as unusable
                    assert f"`{key}`" in notice, (where, key, notice)
                    continue
                given = value if isinstance(value, list) else [value]
                if widget.type in TEXT_KINDS:  # any text is a value; the page judges it
                    assert widget.value in (default, *given), (where, key)
                elif label == "two values":  # Streamlit may keep one of them if it is valid
                    assert widget.value == default or any(
                        matches(widget.value, g) for g in given
                    ), (where, key, widget.value)
                elif label == "empty" and widget.value in ([], None):  # a control that may be
                    pass  # empty (a multiselect) takes the empty value: the page judges it
                else:
                    assert widget.value == default, (where, key, widget.value)
                    assert f"`{key}`" in notice, (where, key, notice)
            assert "<script>" not in " ".join(m.value for m in at.markdown)
            checked |= keys
    assert checked


MALFORMED_TEXT = [
    "",
    "seven",
    "nan, inf",
    "1e400 1/0",
    "[[1, 2], [3]]",
    "<b>x</b>\x00",
    "../../etc/passwd",
    "9" * 5000,
]
UNUSABLE = ("", "seven", "[[1, 2], [3]]", "<b>x</b>\x00", "../../etc/passwd")


def _text_boxes(at: AppTest) -> list:
    return [w for w in widgets(at).values() if w.type in TEXT_KINDS]


@pytest.mark.parametrize("file", LESSONS)
def test_every_text_box_shows_an_error_not_an_exception(file):
    """Every text box of every page (in every scene's view) fed malformed text: no exception;
    where the text cannot be used, an error message."""
    for context, params, at in contexts(file):
        for box in _text_boxes(at):
            for text in MALFORMED_TEXT:
                at = open_page(file, params, timeout=120)
                widgets(at)[box.key].set_value(text)
                at.run()
                where = (file, context, box.key, text[:20])
                assert not at.exception, (where, at.exception[0].message)
                shown = [e.value for e in at.error] + [w.value for w in at.warning]
                if text in UNUSABLE and box.key != "ft_prompt":  # a prompt may be any text
                    assert shown, where
