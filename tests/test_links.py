"""core.links: what a shared link's values mean. Links are read back with urllib's own parser
(an independent reading of the address); the pages' use of these is in tests/app."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from core import links


def test_scene_names_become_url_slugs():
    assert links.scene_slug("Rank 1 is enough") == "rank-1-is-enough"
    assert links.scene_slug("  An outlier ruins absmax!") == "an-outlier-ruins-absmax"
    assert links.scene_slug("NF4 vs. int4 (block 64)") == "nf4-vs-int4-block-64"


def test_only_plain_widget_keys_are_hidden_and_at_most_a_hundred():
    raw = "quant_bits, <script>alert(1)</script>,a b,,quant-method,../etc"
    assert links.hidden_keys(raw) == ("quant_bits", "quant-method")
    assert len(links.hidden_keys(",".join(f"k{i}" for i in range(500)))) == links.MAX_HIDDEN
    assert links.hidden_keys("x" * 65) == ()  # longer than any widget key


@pytest.mark.parametrize("raw, on", [("1", True), (" TRUE ", True), ("on", True), ("0", False),
                                     ("", False), ("presenter", False)])
def test_a_flag_is_on_for_the_usual_spellings(raw, on):
    assert links.flag_on(raw) is on


def test_a_url_value_is_shown_without_markup_breaking_characters():
    assert links.plain("a`b\x00c\n") == "abc"
    assert links.plain("x" * 50, limit=10) == "x" * 10 + "..."
    with pytest.raises(ValueError, match="limit"):
        links.plain("x", limit=0)


@pytest.mark.parametrize("current, by, expected", [
    (None, 1, 0), (None, -1, 2), (0, 1, 1), (2, 1, 2), (0, -1, 0), (1, -1, 0),
])
def test_back_and_next_stay_inside_the_scenes(current, by, expected):
    assert links.step_index(3, current, by) == expected


def test_step_index_refuses_an_index_outside_the_list():
    with pytest.raises(ValueError, match="current"):
        links.step_index(3, 3, 1)
    with pytest.raises(ValueError, match="count"):
        links.step_index(0, None, 1)


def test_values_take_the_urls_form_and_match_it_back():
    assert links.url_form(True) == ["true"]
    assert links.url_form([1, "a", False]) == ["1", "a", "false"]
    assert links.url_form(0.25) == ["0.25"]
    assert links.matches(3, "3.0") and links.matches(0.1, "0.1")
    assert links.matches(True, " True ") and not links.matches(True, "1")
    assert links.matches(["a", "b"], ["a", "b"]) and not links.matches("a", ["a", "b"])
    assert not links.matches(3, "three") and not links.matches(3, "1e400")


@pytest.mark.parametrize("raw, infinite", [("1e400", True), ("-inf", True), ("Infinity", True),
                                           ("nan", False), ("3", False), ("x", False)])
def test_infinite_url_values_are_recognised(raw, infinite):
    assert links.is_infinite(raw) is infinite


def test_a_view_link_keeps_the_controls_and_drops_the_presenter_flags():
    params = {"quant_bits": ["3"], "presenter": ["1"], "hide": ["quant_bits"],
              "pick": ["a b", "<b>&?"], "scene": ["rank-1-is-enough"]}
    url = links.view_link("http://teacher:8501/quantization", params)
    parts = urlsplit(url)
    assert parts.path == "/quantization"
    assert parse_qs(parts.query) == {"quant_bits": ["3"], "pick": ["a b", "<b>&?"],
                                     "scene": ["rank-1-is-enough"]}
    assert links.view_link("/rank", {"presenter": ["1"]}) == "/rank"
