"""A real browser (Debian's headless Chromium, driven by Playwright) opens every page of
the running app and finds no exception and no error element."""

import pytest

from pages._ui import available_lessons
from tests.e2e.browser_utils import SCREENSHOTS, assert_no_errors, wait_for_pictures

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]  # one server, one browser

# A lesson first: a shared link that opens a lesson on a freshly started server must get the
# app's navigation, not Streamlit's pages/-folder listing.
PAGES = [lesson["file"].removesuffix(".py") for lesson in available_lessons()] + [""]
NAV_TITLES = {"Home"} | {lesson["title"] for lesson in available_lessons()}


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p or "home")
def test_page_opens_without_errors(open_page, path):
    page = open_page(path)
    assert_no_errors(page, page.console_errors)
    nav = page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]')
    labels = [text.strip().splitlines()[-1].strip() for text in nav.all_inner_texts()]
    assert sorted(labels) == sorted(NAV_TITLES), labels  # the icon's name precedes the title
    wait_for_pictures(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{path or 'home'}.png"), full_page=True)
