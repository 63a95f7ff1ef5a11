"""The LoRA and QLoRA-and-memory lessons in a real browser: no error, every picture drawn,
a control from the link reaches the picture, and each section's main picture is in view
once its heading is (on a 1600 x 1000 screen, as projected)."""

import pytest

from tests.e2e.browser_utils import assert_no_errors, shot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]  # one server, one browser

# For each section heading, the first chart after it must start within the screen when the
# heading is scrolled to the top: no table or wall of text in between.
FIRST_CHART_IN_VIEW = """(title) => {
  const heading = [...document.querySelectorAll('[data-testid="stHeading"]')]
    .find(h => h.innerText.trim().startsWith(title));
  if (!heading) return 'no heading ' + title;
  heading.scrollIntoView({block: 'start'});
  const chart = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .find(c => heading.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING);
  if (!chart) return 'no chart after ' + title;
  const top = chart.getBoundingClientRect().top, bottom = window.innerHeight;
  return top < bottom - 250 ? 'ok' : `chart at ${Math.round(top)} of ${bottom}`;
}"""


def charts(page) -> int:
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    return page.locator('[data-testid="stPlotlyChart"]').count()


def test_lora_page_draws_every_picture_and_follows_the_link(open_page):
    page = open_page("lora?lora_rank=16&lora_model=SmolLM2-135M")
    assert_no_errors(page, page.console_errors)
    assert charts(page) == 6  # adapter path, counts, alpha rules, heatmaps, block, spectrum
    body = page.inner_text("body")
    assert "131,072" in body  # r = 16 on 4096 x 4096, from the link
    assert "random numbers" in body and "Open the fine-tune lab" in body  # no lab run yet
    path = page.locator('[data-testid="stPlotlyChart"]').first
    assert "16 × 4,096" in path.inner_text()  # A's shape drawn in the adapter path
    shot(page, "lora_path", "lora_path")
    for title in ("1.", "2.", "3.", "5.", "6."):
        assert page.evaluate(FIRST_CHART_IN_VIEW, title) == "ok", title


def test_memory_page_draws_every_picture_and_explains_paging(open_page):
    page = open_page("qlora_memory?mem_optimizer=Paged+AdamW+8-bit")
    assert_no_errors(page, page.console_errors)
    assert charts(page) == 5  # weights, breakdown, data flow, spike, claims
    body = page.inner_text("body")
    assert "holds exactly the bytes of AdamW 8-bit" in body
    assert "the step runs" in body  # the default spike: full fine-tuning rescued by paging
    assert "LoRA 64 GB" in body and "QLoRA 16 GB" in body
    shot(page, "mem_flow", "qlora_memory_flow")
    for title in ("1.", "2.", "3.", "4.", "5."):
        assert page.evaluate(FIRST_CHART_IN_VIEW, title) == "ok", title
