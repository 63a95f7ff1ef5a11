"""What the browser tests share besides fixtures: Chromium's flags, waiting for a page to
settle, the check that a page shows no error, and element screenshots (the README's pictures:
``make readme-pictures`` copies them into assets/screenshots/)."""

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "tests" / "e2e" / "screenshots"


def wait_until_idle(page, timeout_s: float = 90) -> None:
    """Wait for the first render and for the script to stop running."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=timeout_s * 1000)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            time.sleep(0.5)
            if page.locator('[data-testid="stStatusWidget"]').count() == 0:
                return
        time.sleep(0.3)
    raise AssertionError("the page kept running")


def assert_no_errors(page, console_errors: list) -> None:
    """No Python exception box, no st.error alert and no JavaScript error on the page."""
    assert page.locator('[data-testid="stException"]').count() == 0, page.inner_text("body")[:2000]
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()
    assert not console_errors, console_errors


PICTURES_DRAWN = """() => {
  const wide = (el) => el && el.getBoundingClientRect().width > 100;
  const shown = (sel) => [...document.querySelectorAll(sel)].filter(wide);  // not in a closed tab
  const charts = shown('[data-testid="stPlotlyChart"]'), tables = shown('[data-testid="stDataFrame"]');
  return !document.querySelector('[data-testid="stSkeleton"]')  // elements still loading
    && charts.every(c => wide(c.querySelector('.main-svg')) && c.querySelector('.main-svg path'))
    && tables.every(t => wide(t.querySelector('canvas')));
}"""


def wait_for_pictures(page, timeout_s: float = 60) -> None:
    """Wait until no element is still loading and every plotly chart and table on the page has
    drawn at its width."""
    page.wait_for_function(PICTURES_DRAWN, timeout=timeout_s * 1000)
    page.wait_for_timeout(1000)  # their last layout pass


def shot(page, key: str, name: str) -> None:
    """A screenshot of the element with widget/chart key ``key``, as screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    element = page.locator(f".st-key-{key}")
    element.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # plotly finishes its transition
    element.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
