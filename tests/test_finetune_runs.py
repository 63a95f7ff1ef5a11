"""Run management: one run at a time (the lock its process holds), dead and reused process
ids, stop, listing, adapter zip.

The real trainer is exercised in tests/test_finetune_cli.py and the page's AppTest; here a
small stand-in process writes the run files the same way (status, events, STOP, adapter),
so these tests take seconds and check the bookkeeping exactly.
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from core.finetune import rundir, runs

# A stand-in trainer: argv = run_dir, max_steps, mode ("steps" | "crash").
FAKE_TRAINER = r"""
import json, os, sys, time
from pathlib import Path
run_dir, max_steps, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def status(state, step):
    tmp = run_dir / ".status.tmp"
    tmp.write_text(json.dumps({"state": state, "message": "", "phase": "training",
        "step": step, "max_steps": max_steps, "pid": os.getpid()}))
    os.replace(tmp, run_dir / "status.json")
(run_dir / "config.json").write_text(json.dumps({"method": "qlora", "max_steps": max_steps}))
status("running", 0)
if mode == "crash":
    print("boom: out of cheese", flush=True)
    os._exit(3)
with open(run_dir / "events.jsonl", "a") as f:
    for step in range(1, max_steps + 1):
        if (run_dir / "STOP").exists():
            status("stopped", step - 1)
            break
        f.write(json.dumps({"step": step, "loss": 3.0 / step, "elapsed_s": 0.05 * step,
                            "tokens_per_s": 100.0, "memory_bytes": 1000}) + "\n")
        f.flush()
        status("running", step)
        time.sleep(0.05)
    else:
        (run_dir / "adapter").mkdir()
        (run_dir / "adapter" / "adapter_config.json").write_text("{}")
        status("done", max_steps)
"""


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QLORA_LAB_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def fake(mode="steps"):
    def command(args, run_dir):
        max_steps = args[args.index("--max-steps") + 1]
        return [sys.executable, "-c", FAKE_TRAINER, str(run_dir), max_steps, mode]

    return command


def wait_for(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_runs_root_comes_from_the_environment(root, monkeypatch):
    assert runs.runs_root() == root
    monkeypatch.delenv("QLORA_LAB_RUNS")
    assert runs.runs_root() == runs.REPO_ROOT / "runs"


def test_cli_args_name_every_setting_as_a_flag():
    args = runs.cli_args(
        {
            "method": "qlora",
            "max_steps": 60,
            "learning_rate": 0.0002,
            "target_modules": ["q_proj", "v_proj"],
        }
    )
    assert args == [
        "--method",
        "qlora",
        "--target-modules",
        "q_proj,v_proj",
        "--learning-rate",
        "0.0002",
        "--max-steps",
        "60",
    ]
    with pytest.raises(ValueError, match="max_step"):
        runs.cli_args({"max_step": 3})
    with pytest.raises(ValueError, match="target_modules"):
        runs.cli_args({"target_modules": []})


def test_one_run_at_a_time_then_stop(root, monkeypatch):
    monkeypatch.setattr(runs, "command", fake())
    run = runs.start_run({"max_steps": 10_000})
    assert json.loads((root / runs.LOCK_NAME).read_text())["run_id"] == run.run_id
    assert wait_for(lambda: runs.read_status(run.path).get("state") == "running")
    # A second page sees the running one and cannot start another.
    assert runs.active_run().run_id == run.run_id
    with pytest.raises(runs.RunInProgress, match=run.run_id):
        runs.start_run({"max_steps": 5})
    assert [r.run_id for r in runs.list_runs()] == [run.run_id]

    assert wait_for(lambda: len(runs.read_events(run.path)) >= 2)
    runs.request_stop(run.path)
    assert runs.stop_requested(run.path)
    assert wait_for(lambda: runs.active_run() is None)
    status = runs.read_status(run.path)
    events = runs.read_events(run.path)
    assert status["state"] == "stopped"
    assert 2 <= len(events) < 10_000 and status["step"] == events[-1]["step"]
    assert runs.active_run() is None  # the lock went with the process
    assert not (run.path / "adapter").exists()

    # The server is free again: the next run starts and finishes.
    second = runs.start_run({"max_steps": 3})
    assert second.run_id != run.run_id
    assert wait_for(lambda: runs.active_run() is None)
    assert runs.read_status(second.path)["state"] == "done"
    assert [r.run_id for r in runs.list_runs()] == sorted([run.run_id, second.run_id], reverse=True)


def test_a_process_that_dies_leaves_a_failed_status_and_frees_the_server(root, monkeypatch):
    monkeypatch.setattr(runs, "command", fake("crash"))
    run = runs.start_run({"max_steps": 5})
    assert wait_for(lambda: runs.active_run() is None)
    assert runs.read_status(run.path)["state"] == "failed"
    status = runs.read_run(run.path).status  # as the page shows it: with the last output
    assert status["state"] == "failed"
    assert "ended without finishing" in status["message"]
    assert "boom: out of cheese" in status["message"]
    assert runs.start_run({"max_steps": 1}).run_id != run.run_id  # the server is free


HOLDER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def hold_lock(lock: Path) -> subprocess.Popen:
    """A process holding the server's run lock, as a training process does."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_lock_file_left_behind_holds_nothing(root):
    run_dir = root / "20260101-000000-abcd"
    run_dir.mkdir(parents=True)
    rundir.write_json_atomic(run_dir / "status.json", {"state": "done", "message": "ok"})
    (root / runs.LOCK_NAME).write_text(json.dumps({"run_id": run_dir.name}))
    assert runs.active_run() is None
    assert runs.read_status(run_dir) == {"state": "done", "message": "ok"}


def test_the_server_is_held_exactly_as_long_as_the_lock_holder_lives(root):
    run_dir = root / "20260101-000000-abcd"
    run_dir.mkdir(parents=True)
    rundir.write_json_atomic(run_dir / "status.json", {"state": "running", "step": 4,
                                                       "max_steps": 60})
    lock = root / runs.LOCK_NAME
    holder = hold_lock(lock)
    lock.write_text(json.dumps({"run_id": run_dir.name}))
    try:
        assert runs.active_run().run_id == run_dir.name
        with pytest.raises(runs.RunInProgress, match=run_dir.name):
            runs.start_run({"max_steps": 2})
    finally:
        holder.kill()
        holder.wait()
    assert runs.active_run() is None  # the OS freed the lock with the process


def test_a_reused_process_id_is_not_the_run(root):
    run_dir = root / "20260101-000000-abcd"
    run_dir.mkdir(parents=True)
    me = os.getpid()
    written = {"state": "running", "step": 2, "max_steps": 9, "pid": me,
               "pid_created": rundir.process_created(me)}
    rundir.write_json_atomic(run_dir / "status.json", written)
    assert runs.read_status(run_dir)["state"] == "running"
    # Same id, another start time: the id was reused by an unrelated process.
    rundir.write_json_atomic(run_dir / "status.json", {**written, "pid_created": 1.0})
    status = runs.read_status(run_dir)
    assert status["state"] == "failed" and status["died"]


def test_a_run_still_launching_blocks_start_and_one_whose_launch_died_is_failed(root):
    run_dir = root / "20260101-000000-abcd"
    run_dir.mkdir(parents=True)
    rundir.write_json_atomic(run_dir / "status.json", {"state": "queued", "pid": None,
                                                       "max_steps": 5})
    lock = root / runs.LOCK_NAME
    holder = hold_lock(lock)
    lock.write_text(json.dumps({"run_id": run_dir.name}))
    try:
        assert runs.active_run().state == "queued"
        with pytest.raises(runs.RunInProgress):
            runs.start_run({"max_steps": 2})
    finally:
        holder.kill()
        holder.wait()
    # No lock and no process: the launch died before the trainer said a word.
    run = runs.list_runs()[0]
    assert run.state == "failed" and run.finished and "ended without finishing" in \
        run.status["message"]


def test_listing_reads_settings_metrics_and_skips_a_half_written_event(root):
    old, new = root / "20260101-000000-aaaa", root / "20260102-000000-bbbb"
    for d in (old, new, root / "uploads", root / "empty-folder"):
        d.mkdir(parents=True)
    for d, method in ((old, "lora"), (new, "qlora")):
        rundir.write_json_atomic(
            d / "config.json", {"method": method, "dataset": "orders", "r": 8, "max_steps": 3}
        )
        rundir.write_json_atomic(d / "status.json", {"state": "done", "step": 3, "max_steps": 3})
    rundir.write_json_atomic(
        new / "eval.json",
        {
            "before": {"loss": 2.5, "valid_json": 0.0, "exact_match": 0.0},
            "after": {"loss": 0.4, "valid_json": 0.96, "exact_match": 0.84},
        },
    )
    (new / "events.jsonl").write_text(
        '{"step": 1, "loss": 2.0, "elapsed_s": 1.0}\n{"step": 2, "loss": 1.0, "elapsed_s": 2.0}\n'
        '{"step": 3, "lo'
    )
    listed = runs.list_runs()
    assert [r.run_id for r in listed] == [new.name, old.name]
    assert listed[0].finished and listed[0].eval["after"]["exact_match"] == 0.84
    row = runs.summary(listed[0])
    assert row["method"] == "qlora" and row["r"] == 8
    assert row["steps done"] == 2 and row["final train loss"] == 1.0
    assert (row["valid JSON"], row["exact match"], row["held-out loss"]) == (0.96, 0.84, 0.4)
    assert runs.summary(listed[1])["steps done"] == 0


def test_progress_and_eta():
    events = [
        {
            "step": s,
            "loss": 1.0 / s,
            "elapsed_s": 2.0 * s,
            "tokens_per_s": 50.0,
            "memory_bytes": 123,
        }
        for s in (1, 2, 3, 4)
    ]
    p = runs.progress({"max_steps": 10, "step": 4}, events)
    assert (p.step, p.max_steps, p.fraction) == (4, 10, 0.4)
    assert p.eta_s == pytest.approx(12.0)  # 2 s per step, 6 steps left
    assert (p.tokens_per_s, p.memory_bytes, p.loss) == (50.0, 123, 0.25)
    empty = runs.progress({"max_steps": 10}, [])
    assert (empty.step, empty.fraction, empty.eta_s) == (0, 0.0, None)


def test_zip_adapter_round_trips_the_files(tmp_path):
    adapter = tmp_path / "run" / "adapter"
    adapter.mkdir(parents=True)
    files = {"adapter_config.json": b'{"r": 4}', "adapter_model.safetensors": os.urandom(4096)}
    for name, data in files.items():
        (adapter / name).write_bytes(data)
    with zipfile.ZipFile(io.BytesIO(runs.zip_adapter(tmp_path / "run"))) as zf:
        assert sorted(zf.namelist()) == [f"adapter/{n}" for n in sorted(files)]
        for name, data in files.items():
            assert zf.read(f"adapter/{name}") == data
    with pytest.raises(ValueError, match="no saved adapter"):
        runs.zip_adapter(tmp_path / "missing")


def test_stop_needs_an_existing_run(tmp_path):
    with pytest.raises(ValueError, match="No run directory"):
        runs.request_stop(tmp_path / "nope")


def test_uploads_are_validated_and_saved_under_the_runs_root(root):
    pytest.importorskip("core.finetune.data")
    data = b'{"prompt": "hi", "response": "hello"}\n{"prompt": "bye", "response": "ciao"}\n'
    path, examples = runs.save_upload(data, "my data!.jsonl")
    digest = hashlib.sha256(data).hexdigest()[:8]
    assert path == root / "uploads" / f"my-data-{digest}.jsonl" and path.read_bytes() == data
    assert runs.save_upload(data, "my data!.jsonl")[0] == path  # the same file: one copy
    assert [(e.prompt, e.response) for e in examples] == [("hi", "hello"), ("bye", "ciao")]
    assert runs.list_uploads() == [path]
    with pytest.raises(ValueError):
        runs.save_upload(b'{"prompt": "hi"}\n', "bad.jsonl")
    assert runs.list_uploads() == [path]
    assert Path(path).parent.name == "uploads"


def test_a_status_whose_process_is_gone_reads_as_failed_without_a_marker(root):
    # e.g. a run started from the command line into the runs root, then killed
    run_dir = root / "20260101-000000-abcd"
    run_dir.mkdir(parents=True)
    written = {"state": "running", "step": 7, "max_steps": 60, "pid": dead_pid()}
    rundir.write_json_atomic(run_dir / "status.json", written)
    status = runs.read_status(run_dir)
    assert (status["state"], status["died"], status["step"]) == ("failed", True, 7)
    assert status["message"] == rundir.DIED
    assert json.loads((run_dir / "status.json").read_text()) == written
    assert runs.list_runs()[0].finished
    rundir.write_json_atomic(run_dir / "status.json", {**written, "pid": os.getpid()})
    assert runs.read_status(run_dir)["state"] == "running"
