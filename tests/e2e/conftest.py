"""Browser-test fixtures shared by every file in tests/e2e: one running app server and one
headless Chromium per test session, and ``open_page`` to load a path and wait for it."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.browser_utils import CHROMIUM, CHROMIUM_ARGS, wait_until_idle

# A loaded 2-core machine (the other test worker) can take more than Playwright's default 5 s
# to finish a page's first run; a page that never gets there still fails.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def e2e_runs_dir(tmp_path_factory):
    """The runs folder of the test server (``$QLORA_LAB_RUNS``)."""
    return tmp_path_factory.mktemp("e2e-runs")


@pytest.fixture(scope="session")
def app_url(e2e_runs_dir, tmp_path_factory):
    """The test server's address. Its output goes to a file (an unread pipe fills up and
    blocks the server's logging, and with it the server) whose tail a failed start shows."""
    from bench.bench_load import start_server

    log_path = tmp_path_factory.mktemp("e2e-server") / "server.log"
    with log_path.open("wb") as log:
        try:
            proc, url = start_server(e2e_runs_dir, log=log)
        except RuntimeError as error:
            raise RuntimeError(f"{error}: {log_path.read_text()[-2000:]}") from None
        try:
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, app_url):
    """``open_page("quantization?quant_bits=4")`` -> a loaded, idle Playwright page with
    ``page.console_errors`` collecting JavaScript errors; closed after the test."""
    pages = []

    def _open(path: str, width: int = 1600, height: int = 1000):
        page = browser.new_page(viewport={"width": width, "height": height})
        page.console_errors = []
        page.on("pageerror", lambda e: page.console_errors.append(str(e)))
        page.goto(f"{app_url}/{path}")
        wait_until_idle(page)
        pages.append(page)
        return page

    yield _open
    for page in pages:
        page.close()
