"""``python -m core.finetune`` as the page runs it: ``--help``, a bad flag, a folder that holds
a run, a run stopped with the STOP file, and a run whose process is killed (SIGKILL) mid-way.
The runs train the tiny random model (tests/tiny_model.py)."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest

from core.finetune import FinetuneConfig
from core.finetune.rundir import read_status

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "core.finetune", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=120, **kwargs)


def start(run_dir: Path, data: Path, max_steps: int, model: str) -> subprocess.Popen:
    args = ["--model", model, "--method", "qlora", "--dataset", str(data), "--r", "4",
            "--batch-size", "2",
            "--max-length", "64", "--max-steps", str(max_steps), "--output-dir", str(run_dir)]
    return subprocess.Popen([sys.executable, "-m", "core.finetune", *args], cwd=REPO, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def events(run_dir: Path) -> list[dict]:
    path = run_dir / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for_step(proc, run_dir: Path, step: int, timeout: float = 400) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(events(run_dir)) >= step:
            return
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    pytest.fail(f"no step {step} within {timeout}s")


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "pairs.jsonl"
    rows = [{"prompt": f"What is {a} plus {a}?", "response": str(2 * a)} for a in range(12)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_help_documents_every_config_field():
    result = cli("--help")
    assert result.returncode == 0
    for f in fields(FinetuneConfig):
        assert "--" + f.name.replace("_", "-") in result.stdout
    assert "qlora" in result.stdout and "default: 16" in result.stdout


def test_bad_flag_fails_with_its_name_and_tells_the_run_dir(tmp_path):
    result = cli("--method", "qlora4", "--output-dir", str(tmp_path / "run"))
    assert result.returncode == 2 and "method should be one of" in result.stderr
    status = read_status(tmp_path / "run")
    assert status["state"] == "failed" and "qlora4" in status["message"]


def test_a_folder_that_holds_a_run_is_refused_untouched(tmp_path):
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")
    (run_dir / "events.jsonl").write_text('{"step": 1, "loss": 2.0}\n')
    (run_dir / "STOP").touch()
    result = cli("--output-dir", str(run_dir))
    assert result.returncode == 2 and "already holds a run" in result.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == ["STOP", "config.json", "events.jsonl"]
    bad = cli("--method", "qlora4", "--output-dir", str(run_dir))  # a bad flag leaves it alone too
    assert bad.returncode == 2 and not (run_dir / "status.json").exists()


def test_stop_file_stops_and_keeps_what_was_trained(tmp_path, data, tiny_model):
    run_dir = tmp_path / "run"
    proc = start(run_dir, data, max_steps=400, model=tiny_model)
    wait_for_step(proc, run_dir, 1)
    (run_dir / "STOP").touch()
    assert proc.wait(timeout=300) == 0
    status = read_status(run_dir)
    steps = [e["step"] for e in events(run_dir)]
    assert status["state"] == "stopped" and "Stopped after step" in status["message"]
    assert 1 <= len(steps) < 400 and steps == list(range(1, len(steps) + 1))
    assert status["step"] == steps[-1]
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((run_dir / "eval.json").read_text())["steps"] == steps[-1]


def test_killed_run_reads_as_died_with_its_events_and_no_adapter(tmp_path, data, tiny_model):
    run_dir = tmp_path / "run"
    proc = start(run_dir, data, max_steps=100_000, model=tiny_model)
    wait_for_step(proc, run_dir, 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    on_disk = json.loads((run_dir / "status.json").read_text())
    assert on_disk["state"] == "running" and on_disk["pid"] == proc.pid  # it had no last word
    status = read_status(run_dir)
    assert status["state"] == "failed" and status["died"] and "killed" in status["message"]
    assert len(events(run_dir)) >= 2
    assert not (run_dir / "adapter").exists()
    assert not (run_dir / "eval.json").exists()
