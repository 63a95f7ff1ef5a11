"""The run directory: the one module that writes and reads a run's files.

A run directory holds (written by the training process, read by the page and the CLI):

- ``config.json``: the ``FinetuneConfig`` as JSON, written first;
- ``status.json``: ``{"state", "message", "phase", "step", "max_steps", "pid",
  "pid_created", "started", "updated"}``, replaced atomically. ``state`` is one of
  ``STATES``, ``phase`` one of ``PHASES``. ``read_status`` also notices a process that died;
- ``events.jsonl``: one line per training step ``{"step", "loss", "learning_rate",
  "tokens_per_s", "elapsed_s", "memory_bytes"}``;
- ``STOP``: created by ``request_stop``; training stops at the next step and keeps what it
  trained;
- ``adapter/``: the LoRA adapter (for ``full``, the whole model), complete or absent;
- ``eval.json``: held-out metrics before and after, memory, timings (see ``train.run``);
- ``log.txt``: what the process printed, when the page started it.

A folder is used for one run only: ``claim`` refuses a folder that already holds a run, so
a leftover ``STOP`` or ``events.jsonl`` of an earlier run can never leak into a new one.
Pure Python (psutil for process facts; no torch).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psutil

STATES = ("queued", "running", "stopping", "stopped", "failed", "done")
ACTIVE_STATES = ("queued", "running", "stopping")
FINAL_STATES = ("stopped", "failed", "done")
PHASES = ("loading", "eval-before", "training", "saving", "eval-after", "")
DIED = "The training process ended without finishing (it was killed or crashed)."
# What a launcher may leave in a folder before the training process claims it.
LAUNCH_FILES = {"status.json", "log.txt", "STOP"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path | str, value: dict) -> None:
    """Write to a temp file in the same folder, then ``os.replace``: readers never see half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(value, f, indent=2)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the page may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path | str) -> dict | None:
    """A JSON file's object, or None when it is missing, half-written or not an object."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# -- processes ------------------------------------------------------------------------------

def process_created(pid: int) -> float | None:
    """The start time of process ``pid`` (seconds since the epoch), None if there is none."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, ValueError):
        return None


def pid_alive(pid: int | None, created: float | None = None) -> bool:
    """Whether process ``pid`` runs (not ended, not a zombie) and - when ``created`` is
    known - is the same process, not a later one that reused the id."""
    if not pid:
        return False
    try:
        process = psutil.Process(int(pid))
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return created is None or abs(process.create_time() - float(created)) < 1.0
    except (psutil.Error, ValueError, TypeError):
        return False


# -- reading -------------------------------------------------------------------------------

def read_status(run_dir: Path | str) -> dict:
    """``status.json`` as it should be shown: ``{}`` while not written. A status that still
    says queued/running/stopping although its process is gone reads as ``failed`` with
    ``died: True`` and a plain message (the file itself is left as it is)."""
    status = read_json(Path(run_dir) / "status.json") or {}
    if status.get("state") in ACTIVE_STATES and status.get("pid") and \
            not pid_alive(status["pid"], status.get("pid_created")):
        status = {**status, "state": "failed", "died": True, "phase": "", "message": DIED}
    return status


def read_config(run_dir: Path | str) -> dict:
    return read_json(Path(run_dir) / "config.json") or {}


def read_eval(run_dir: Path | str) -> dict | None:
    return read_json(Path(run_dir) / "eval.json")


def read_events(run_dir: Path | str) -> list[dict]:
    """The per-step lines of ``events.jsonl``; a last line still being written is skipped."""
    try:
        lines = (Path(run_dir) / "events.jsonl").read_text().splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "step" in event:
            events.append(event)
    return events


def stop_requested(run_dir: Path | str) -> bool:
    return (Path(run_dir) / "STOP").exists()


def request_stop(run_dir: Path | str) -> None:
    """Ask a run to stop at its next step (it keeps what it trained): create ``STOP``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"No run directory {str(run_dir)!r}")
    (run_dir / "STOP").touch()


# -- writing (the training process) ---------------------------------------------------------

def claim(run_dir: Path | str) -> Path:
    """Make ``run_dir`` this run's folder: create it, or accept one that is empty or holds
    only what a launcher wrote for this run (a ``queued`` status without a process, its
    log, a Stop pressed before training began). A folder that holds another run raises
    ValueError: reusing it would mix two runs' loss curves and let a leftover ``STOP``
    stop the new run."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    names = {p.name for p in run_dir.iterdir()}
    status = read_json(run_dir / "status.json")
    launched = status is not None and status.get("state") == "queued" and not status.get("pid")
    if names - LAUNCH_FILES or ("status.json" in names and not launched) or \
            ("STOP" in names and not launched):
        raise ValueError(f"The folder {str(run_dir)!r} already holds a run; pick a new "
                         "--output-dir (or leave it out for a fresh one) or delete the folder.")
    return run_dir


class RunWriter:
    """Writes a claimed run directory's ``status.json`` and ``events.jsonl``. ``enabled``
    False (the extra processes of a multi-GPU launch) writes nothing."""

    def __init__(self, run_dir: Path, max_steps: int, enabled: bool = True):
        self.dir = Path(run_dir)
        self.enabled = enabled
        me = psutil.Process()
        self.status = {"state": "running", "message": "", "phase": "loading", "step": 0,
                       "max_steps": max_steps, "pid": me.pid, "pid_created": me.create_time(),
                       "started": now_iso(), "updated": now_iso()}
        self._events = open(self.dir / "events.jsonl", "w") if enabled else None

    def write_json(self, name: str, value: dict) -> None:
        if self.enabled:
            write_json_atomic(self.dir / name, value)

    def set(self, **changes) -> None:
        self.status.update(changes, updated=now_iso())
        self.write_json("status.json", self.status)

    def event(self, event: dict) -> None:
        if self._events is not None:
            self._events.write(json.dumps(event) + "\n")
            self._events.flush()

    def stop_requested(self) -> bool:
        return stop_requested(self.dir)

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
