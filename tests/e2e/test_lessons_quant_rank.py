"""The quantization and matrix-rank lessons in a real browser: their pictures render, the
step controls move them, nothing shows an error. Element screenshots of the pictures are
saved in tests/e2e/screenshots/ (the README's come from there)."""

import re

import pytest

from tests.e2e.browser_utils import assert_no_errors, shot, wait_until_idle

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]  # one server, one browser


def charts_drawn(page, count: int, timeout_s: float = 90) -> None:
    """Wait until at least ``count`` plotly charts have drawn their SVG."""
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {count}",
        timeout=timeout_s * 1000,
    )


def shows(page, key: str, text: str, timeout_s: float = 90) -> None:
    """Wait until the element with this key shows ``text`` (a chart has drawn it)."""
    page.wait_for_function(
        f"(document.querySelector('.st-key-{key}')?.innerText ?? '').includes({text!r})",
        timeout=timeout_s * 1000,
    )


def click(page, name: str) -> None:
    page.get_by_role("button", name=re.compile(name)).click()
    wait_until_idle(page)


def test_quantization_number_line_and_steps(open_page):
    page = open_page("quantization")
    charts_drawn(page, 5)
    assert_no_errors(page, page.console_errors)
    shows(page, "quant_number_line", "x[1] = 250 -> code 64")  # Example A, in the legend
    shows(page, "quant_number_line", "256 codes")
    click(page, "Next step")
    page.get_by_text("Step 1 of 6, x / scale:").wait_for()
    shows(page, "quant_number_line", "x / scale = 63.75")  # the ring moved onto the grid
    page.get_by_text("Zoom on the chosen value").click()
    wait_until_idle(page)
    charts_drawn(page, 5)
    shot(page, "quant_number_line", "quant_number_line")
    assert_no_errors(page, page.console_errors)


def test_quantization_outliers_blocks_nf4_and_double_quantization(open_page):
    page = open_page(
        "quantization?quant_source=Generate&quant_dist=normal+with+outliers&quant_method=NF4"
        "&quant_dq=true&quant_view=The+bulk+%281st-99th+percentile%29"
    )
    charts_drawn(page, 5)
    assert_no_errors(page, page.console_errors)
    shows(page, "quant_number_line", "uneven NF4 spacing")
    assert page.locator('[data-testid="stGraphVizChart"] svg, .stGraphVizChart svg').count() >= 1
    for key in ("quant_nf4_chart", "quant_blocks_chart", "quant_dq_chart", "quant_grid_chart"):
        assert page.locator(f".st-key-{key} .js-plotly-plot").count() == 1, key
        shot(page, key, key)


def test_rank_outer_product_and_layers(open_page):
    page = open_page("rank?rank_preset=Outer+product")
    charts_drawn(page, 5)
    assert_no_errors(page, page.console_errors)
    shows(page, "rank_outer_chart", "row i is c_i times the row")
    shot(page, "rank_outer_chart", "rank_outer_product")
    page.goto(page.url.split("/rank")[0] + "/rank")
    wait_until_idle(page)
    charts_drawn(page, 5)
    shows(page, "rank_layers_chart", "the first 1 of 3 layers added")
    page.locator(".st-key-rank_r_more button").first.click()
    wait_until_idle(page)
    shows(page, "rank_layers_chart", "the first 2 of 3 layers added")
    shot(page, "rank_layers_chart", "rank_layers")
    shot(page, "rank_error_chart", "rank_error")
    page.locator(".st-key-rank_picture_r_more button").first.click()
    wait_until_idle(page)
    page.get_by_text("Layer 11 alone").wait_for()
    assert_no_errors(page, page.console_errors)
