"""Browser-test fixtures shared by every file in tests/e2e: one running app server and one
headless Chromium per test session, and ``open_page`` to load a path and wait for it."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.browser_utils import CHROMIUM, CHROMIUM_ARGS, ROOT, wait_until_idle


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def e2e_runs_dir(tmp_path_factory):
    """The runs folder of the test server (``$QLORA_LAB_RUNS``)."""
    return tmp_path_factory.mktemp("e2e-runs")


@pytest.fixture(scope="session")
def app_url(e2e_runs_dir, tmp_path_factory):
    """The test server's address. Its output goes to a file (an unread pipe fills up and
    blocks the server's logging, and with it the server) whose tail a failed start shows."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("e2e-server") / "server.log"
    log = log_path.open("wb")
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        QLORA_LAB_RUNS=str(e2e_runs_dir),
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


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
