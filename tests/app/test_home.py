"""The home page and the shared URL-state helper."""

from streamlit.testing.v1 import AppTest

from pages._ui import ROOT, available_lessons


def test_home_lists_existing_lessons_in_curriculum_order():
    at = AppTest.from_file(str(ROOT / "app.py")).run()
    assert not at.exception
    titles = [s.value for s in at.subheader]
    expected = [f"§{x['section']} {x['title']}" for x in available_lessons()]
    assert titles == expected
    sections = [x["section"] for x in available_lessons()]  # "2b" follows "2" and precedes "3"
    assert sections == sorted(sections, key=lambda s: (int(s.rstrip("abcdefgh")), s))
    assert sections == ["1", "2", "2b", "3", "4", "5", "6", "7"]  # CURRICULUM.md's sections


PAGE = """
import streamlit as st
from pages._ui import shareable_state
with shareable_state("demo"):
    bits = st.slider("bits", 2, 8, 8, key="demo_bits", bind="query-params")
    method = st.selectbox("method", ["absmax", "minmax"], key="demo_method", bind="query-params")
st.text(f"{bits} {method}")
"""


def test_link_state_opens_that_state():
    at = AppTest.from_string(PAGE)
    at.query_params["demo_bits"] = "4"
    at.query_params["demo_method"] = "minmax"
    at.run()
    assert at.text[0].value == "4 minmax"
    assert len(at.info) == 0


def test_bad_link_values_fall_back_to_defaults_with_a_notice():
    at = AppTest.from_string(PAGE)
    at.query_params["demo_bits"] = "99"
    at.query_params["demo_method"] = "bogus"
    at.query_params["unknown"] = "1"
    at.run()
    assert not at.exception
    assert at.text[0].value == "8 absmax"
    assert len(at.info) == 1
    notice = at.info[0].value
    assert "demo_bits" in notice and "demo_method" in notice and "unknown" in notice
    at.slider(key="demo_bits").set_value(3).run()
    assert at.text[0].value == "3 absmax"
    assert len(at.info) == 0  # the notice is shown once, on opening the link
