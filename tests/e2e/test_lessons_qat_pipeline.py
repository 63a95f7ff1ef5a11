"""The PTQ-against-QAT and "Where fine-tuning sits" lessons in a real browser: their pictures
render, their controls work, a self-check answer opens on click, and the links lead on."""

import re
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.browser_utils import SCREENSHOTS, assert_no_errors, shot, wait_until_idle

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]  # one server, one browser


def test_qat_page_trains_draws_and_answers(open_page):
    page = open_page("qat?qat_bits=2", height=1200)  # the first visit trains (seconds)
    assert_no_errors(page, page.console_errors)
    main = page.locator('[data-testid="stMainBlockContainer"]')
    page.get_by_text("QAT at 2 bits").wait_for(timeout=60000)  # the fragment with the width
    assert "PTQ at 2 bits" in main.inner_text() and "QAT at 2 bits" in main.inner_text()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    charts.nth(4).wait_for(timeout=60000)  # plotly's code loads after the page
    assert charts.count() == 5  # accuracy, boundaries, histograms, sizes, calibration
    boundary = charts.nth(1)
    boundary.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    assert boundary.locator("g.hm image").count() == 3  # the three decision-region panels
    assert "QAT 2-bit" in boundary.inner_text()
    shot(page, "qat_accuracy_chart", "qat_accuracy")
    shot(page, "qat_boundary", "qat_boundary")

    page.get_by_text("2 → 32 (input layer)").click()  # the histogram's layer, in a fragment
    wait_until_idle(page)
    assert_no_errors(page, page.console_errors)
    query = parse_qs(urlparse(page.url).query)
    assert query["qat_layer"] == ["2 → 32 (input layer)"]  # the choice is in the address bar

    question = page.get_by_text(re.compile(r"^1\. What is the difference between PTQ and QAT"))
    question.scroll_into_view_if_needed()
    assert "trains in full precision, then rounds" not in main.inner_text()
    question.click()
    page.get_by_text(re.compile("trains in full precision, then rounds")).wait_for(timeout=30000)
    assert_no_errors(page, page.console_errors)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "qat_2bit.png"), full_page=True)


def test_pipeline_diagram_stage_choice_and_links(open_page):
    page = open_page("pipeline", height=1200)
    assert_no_errors(page, page.console_errors)
    diagram = page.locator('[data-testid="stPlotlyChart"]').first
    diagram.locator(".annotation").first.wait_for(timeout=60000)  # plotly's code loads late
    text = diagram.inner_text()
    assert "Pretraining" in text and "Preference tuning" in text and "DPO" in text
    main = page.locator('[data-testid="stMainBlockContainer"]')
    assert "2. SFT / instruction tuning: supervised" in main.inner_text()
    shot(page, "pipe_diagram", "pipeline_diagram")

    page.locator("button", has_text="3. Preference tuning (RLHF, DPO)").click()
    wait_until_idle(page)
    assert parse_qs(urlparse(page.url).query)["pipe_stage"] == ["3. Preference tuning (RLHF, DPO)"]
    assert "3. Preference tuning (RLHF, DPO): from human preferences" in main.inner_text()
    assert "chat assistant" in diagram.inner_text()
    assert "LoRA." in main.inner_text()  # the guide's verdict for Llama-2 7B on 24 GB
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "pipeline.png"), full_page=True)

    link = page.locator('[data-testid="stPageLink"] a', has_text="LoRA: B = 0 and the frozen W₀")
    link.scroll_into_view_if_needed()
    link.click()
    page.wait_for_url(re.compile(r"/lora"), timeout=30000)
    wait_until_idle(page)
    assert page.locator('[data-testid="stMainBlockContainer"] h1').first.inner_text() == "LoRA"
    assert_no_errors(page, page.console_errors)


def test_home_lists_every_section_in_order(open_page):
    page = open_page("")
    titles = page.locator('[data-testid="stMainBlockContainer"] h3').all_inner_texts()
    sections = [t.split()[0] for t in titles if t.startswith("§")]
    assert sections == ["§1", "§2", "§2b", "§3", "§4", "§5", "§6", "§7"]
