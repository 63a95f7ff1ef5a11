"""The self-check questions at the end of every lesson: each lesson has some, and an answer
stays hidden (not even sent to the browser) until its question is clicked."""

import json

from streamlit.testing.v1 import AppTest

from pages._ui import ASSETS, ROOT, available_lessons

QUESTIONS = json.loads((ASSETS / "self_check.json").read_text())

PAGE = """
from pages._ui import self_check
self_check("rank")
"""


def test_every_lesson_has_questions_with_answers():
    lessons = [lesson["file"].removesuffix(".py") for lesson in available_lessons()]
    assert len(lessons) == 8
    assert set(QUESTIONS) == set(lessons)
    for lesson in lessons:
        assert len(QUESTIONS[lesson]) >= 3, lesson
        assert all(
            item["q"].strip().endswith("?") and item["a"].strip() for item in QUESTIONS[lesson]
        )


def test_every_lesson_page_ends_with_its_self_check():
    for lesson in available_lessons():
        source = (ROOT / "pages" / lesson["file"]).read_text().rstrip().splitlines()
        assert source[-1] == f'self_check("{lesson["file"].removesuffix(".py")}")', lesson["file"]


def test_answers_are_hidden_until_their_question_is_opened():
    at = AppTest.from_string(PAGE).run()
    assert not at.exception
    items = QUESTIONS["rank"]
    labels = [e.label for e in at.expander]
    assert labels == [f"{i}. {item['q']}" for i, item in enumerate(items, start=1)]
    shown = " ".join(m.value for m in at.markdown)
    assert not any(item["a"] in shown for item in items)  # no answer on the page yet
    at.session_state["rank_check_2"] = True  # what a click on question 2 does
    at.run()
    shown = [m.value for m in at.markdown]
    assert items[1]["a"] in shown
    assert items[0]["a"] not in shown and items[2]["a"] not in shown
    at.session_state["rank_check_2"] = False
    at.run()
    assert items[1]["a"] not in [m.value for m in at.markdown]


def test_a_lesson_page_shows_its_questions_at_the_end():
    at = AppTest.from_file(str(ROOT / "pages" / "rank.py"), default_timeout=120).run()
    assert not at.exception
    assert at.header[-1].value == "Check yourself"
    assert [e.label for e in at.expander][-len(QUESTIONS["rank"]) :] == [
        f"{i}. {item['q']}" for i, item in enumerate(QUESTIONS["rank"], start=1)
    ]
