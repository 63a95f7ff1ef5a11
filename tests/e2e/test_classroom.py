"""A class on one server: presenter mode, a scene by link and "Copy link to this view" in a
real browser; isolation between students' sessions and faults of the training process over
Streamlit's websocket protocol (bench/bench_load.py's client); the load test itself, small."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from bench import bench_load
from bench.bench_load import Session
from core.finetune import rundir, runs
from tests.e2e.browser_utils import ROOT, SCREENSHOTS, assert_no_errors, wait_until_idle
from tests.test_finetune_runs import hold_lock

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]  # one server, one browser


def _font_px(page, selector: str) -> float:
    return page.locator(selector).first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")


def _metrics(page) -> list[tuple[str, str]]:
    page.locator('[data-testid="stMetricValue"]').first.wait_for()
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return [(label.strip(), value.strip()) for label, value in zip(labels, values, strict=True)]


def test_students_see_no_deploy_button_and_the_teacher_gets_a_presenter_view(open_page):
    page = open_page("quantization")
    assert page.locator('[data-testid="stSidebar"]').is_visible()
    assert page.locator('[data-testid="stAppDeployButton"]').count() == 0  # viewer toolbar
    normal = _font_px(page, '[data-testid="stMarkdownContainer"] p')
    page = open_page("quantization?presenter=1&hide=quant_bits,quant_method")
    assert_no_errors(page, page.console_errors)
    for hidden in ("stSidebar", "stHeader", "stToolbar"):
        expect(page.locator(f'[data-testid="{hidden}"]').first).to_be_hidden()
    expect(page.locator(".st-key-quant_bits")).to_be_hidden()
    expect(page.locator(".st-key-quant_method")).to_be_hidden()
    assert page.locator(".st-key-quant_source").is_visible()  # not listed: still there
    assert _font_px(page, '[data-testid="stMarkdownContainer"] p') >= 1.25 * normal
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "presenter.png"))


def test_presenter_mode_survives_a_page_switch(open_page):
    page = open_page("?presenter=1&hide=lora_k")
    page.get_by_text("Open LoRA").click()
    page.wait_for_url("**/lora**")
    wait_until_idle(page)
    assert "presenter=1" in page.url
    expect(page.locator('[data-testid="stSidebar"]').first).to_be_hidden()
    expect(page.locator(".st-key-lora_k")).to_be_hidden()
    assert page.locator(".st-key-lora_d").is_visible()
    assert_no_errors(page, page.console_errors)


def test_a_scene_by_link_and_the_presenter_bar_walk_through_a_lesson(open_page):
    page = open_page("quantization?scene=example-b-20-1000-asymmetric")
    assert_no_errors(page, page.console_errors)
    page.locator('[data-testid="stMetricLabel"]', has_text="Zero point").first.wait_for()
    metrics = dict(_metrics(page))  # the notes' Example B
    assert (metrics["Scale"], metrics["Zero point"]) == ("4", "5")
    assert "1020/255" in page.inner_text('[data-testid="stSidebar"]')  # the scene's description
    page = open_page("quantization?presenter=1&scene=example-a-0-1000-onto-uint8")
    page.get_by_role("button", name="Next", exact=True).click()
    wait_until_idle(page)
    assert "Scene 2 of" in page.inner_text('[data-testid="stMainBlockContainer"]')
    assert "scene=example-b-20-1000-asymmetric" in page.url


def test_copy_link_to_this_view_gives_students_the_same_view(browser, app_url):
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, permissions=["clipboard-read", "clipboard-write"]
    )
    try:
        page = context.new_page()
        page.goto(f"{app_url}/lora?scene=4096-4096-at-r-16")
        wait_until_idle(page)
        page.get_by_text("Copy link to this view").click()
        code = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]')
        code.hover()
        code.locator('button[aria-label="Copy to clipboard"]').click()
        link = page.evaluate("navigator.clipboard.readText()")
        assert link.startswith(f"{app_url}/lora?") and "scene=4096-4096-at-r-16" in link
        student = context.new_page()
        student.goto(link)
        wait_until_idle(student)
        text = student.inner_text('[data-testid="stMainBlockContainer"]')
        assert "131,072" in text  # 16 · (4096 + 4096)
        assert_no_errors(student, [])
    finally:
        context.close()


# -- sessions over the websocket ------------------------------------------------------------


def _run(coroutine):
    """Run a websocket session's coroutine (in a thread: Playwright holds this one's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _in_thread(function, *args):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def test_one_students_inputs_never_appear_in_another_students_page(app_url):
    async def two_students():
        a, b = Session(app_url, random.Random(1)), Session(app_url, random.Random(2))
        await a.connect()
        await b.connect()
        try:
            await a.open("parameters")
            await b.open("parameters")
            await a.set("text_input", "params_layers", "7-5-1")
            await b.open("parameters")
            return a.texts(), b.texts()
        finally:
            await a.close()
            await b.close()

    seen_by_a, seen_by_b = _run(two_students())
    assert "46" in seen_by_a  # (7·5+5) + (5·1+1)
    assert "7-5-1" not in seen_by_b and "38" in seen_by_b


def _fake_run(root, run_id: str, pid: int) -> None:
    """A run as a training process leaves it: its folder, its status, and the lock file
    naming it (the process ``pid`` holds the lock)."""
    run = root / run_id
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"method": "qlora", "dataset": "orders"}))
    status = {
        "state": "running",
        "message": "",
        "phase": "train",
        "step": 3,
        "max_steps": 30,
        "pid": pid,
        "pid_created": rundir.process_created(pid),
        "started": "2026-01-01T00:00:00+00:00",
    }
    (run / "status.json").write_text(json.dumps(status))
    (root / runs.LOCK_NAME).write_text(json.dumps({"run_id": run_id, "pid": pid}))


def test_a_killed_training_process_never_takes_the_server_down(app_url, e2e_runs_dir):
    proc = hold_lock(e2e_runs_dir / runs.LOCK_NAME)  # holds the run lock, as training does
    run_id = "20260101-000000-dead"
    _fake_run(e2e_runs_dir, run_id, proc.pid)

    async def open_lab():
        s = Session(app_url, random.Random(0))
        await s.connect()
        try:
            await s.open("finetune")
            return s.texts(), s.exceptions()
        finally:
            await s.close()

    try:
        text, errors = _run(open_lab())
        assert f"Run {run_id} is running" in text and not errors
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    try:
        text, errors = _run(open_lab())
        assert not errors
        assert "ended without finishing" in text and f"Run {run_id} is" not in text
        assert urllib.request.urlopen(f"{app_url}/_stcore/health", timeout=10).read() == b"ok"
    finally:  # the server's other browser tests see a runs folder without this dead run
        shutil.rmtree(e2e_runs_dir / run_id, ignore_errors=True)
        (e2e_runs_dir / runs.LOCK_NAME).unlink(missing_ok=True)


def test_a_restarted_server_finds_the_runs_on_disk(e2e_runs_dir):
    run = e2e_runs_dir / "20260102-000000-beef"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"method": "lora", "dataset": "orders"}))
    (run / "status.json").write_text(json.dumps({"state": "done", "step": 30, "max_steps": 30}))
    (run / "eval.json").write_text(json.dumps({"before": {"loss": 2.0}, "after": {"loss": 0.5}}))
    env = dict(os.environ, QLORA_LAB_RUNS=str(e2e_runs_dir))
    proc, url = bench_load.start_server(e2e_runs_dir)  # a second, fresh server process
    try:

        async def open_lab():
            s = Session(url, random.Random(0))
            await s.connect()
            try:
                await s.open("finetune")
                return s.texts()
            finally:
                await s.close()

        text = _run(open_lab())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "20260102-000000-beef" in text
    listed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from core.finetune import runs; "
            "print([r.run_id + ':' + r.state for r in runs.list_runs()])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "20260102-000000-beef:done" in listed


def test_the_load_test_serves_every_session(app_url):
    report = _in_thread(
        bench_load.main,
        [
            "--url",
            app_url,
            "--sessions",
            "4",
            "--duration",
            "8",
            "--idle-moves",
            "3",
            "--ramp",
            "1",
            "--pages",
            "rank,lora",
        ],
    )
    for phase in report["phases"]:
        assert phase["served"] == phase["sessions"], phase["errors"]
        assert phase["moves"] and not phase["errors"] and not phase["exceptions"]
