"""The fine-tune lab in a real browser: both tasks' forms from a link, the machine's choice of
arithmetic and the run's memory estimate on the chat task, the classify form on the other."""

import pytest

from tests.e2e.browser_utils import SCREENSHOTS, assert_no_errors

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]  # one server, one browser


def test_the_chat_task_shows_the_machines_arithmetic_and_the_estimate(open_page):
    page = open_page("finetune?ft_r=8&ft_method=lora")
    page.wait_for_selector("text=Estimated training memory", timeout=120_000)
    assert_no_errors(page, page.console_errors)
    body = page.inner_text("body")
    assert "this CPU:" in body and "computing in" in body
    assert "Will it fit?" in body
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "finetune-chat.png"), full_page=True)


def test_the_classify_task_opens_from_a_link(open_page):
    page = open_page("finetune?ft_task=classify&ft_cls_method=full")
    page.wait_for_selector("text=Labelled data", timeout=60_000)
    assert_no_errors(page, page.console_errors)
    body = page.inner_text("body")
    assert "intents" in body and "Estimated training memory" not in body
    page.screenshot(path=str(SCREENSHOTS / "finetune-classify.png"), full_page=True)
