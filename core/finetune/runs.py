"""Run management for the fine-tune lab: start, watch, stop, list and package runs.

A run is a separate process, ``python -m core.finetune ... --output-dir <runs root>/<id>``,
started in its own session so that closing the browser tab or reloading the page does not
stop it. It writes its run directory (``core.finetune.rundir`` owns those files); this
module starts it and reads what it wrote, plus:

- one run at a time per server: ``start_run`` takes an exclusive ``fcntl.flock`` on
  ``<runs root>/active-run.lock`` and hands the open file to the training process, which
  holds it for as long as it lives. The operating system frees the lock when that process
  ends however it ends (finished, crashed, killed), so there is no stale marker to clear;
  the lock file's text names the run it belongs to.
- stop: a file ``STOP`` in the run directory (``rundir.request_stop``); the training loop
  stops at its next step and keeps what it trained.

Pure Python (no streamlit, no torch). Runs root: ``$QLORA_LAB_RUNS``, else ``<repo>/runs``.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import psutil

from core.finetune import new_run_id
from core.finetune.rundir import (
    ACTIVE_STATES,
    DIED,
    FINAL_STATES,
    now_iso,
    read_config,
    read_eval,
    read_events,
    read_json,
    read_status,
    request_stop,
    stop_requested,
    write_json_atomic,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_NAME = "active-run.lock"
TRAINING_NICENESS = 10  # a started run yields the CPU to the app server's reruns
UPLOADS = "uploads"
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")  # a run folder's name, never a path
# The FinetuneConfig fields the page may set, in the order the CLI documents them.
SETTINGS = (
    "task",
    "model",
    "method",
    "dataset",
    "r",
    "alpha",
    "dropout",
    "target_modules",
    "learning_rate",
    "max_steps",
    "batch_size",
    "max_length",
    "seed",
    "compute_dtype",
)

_children: dict[int, subprocess.Popen] = {}  # processes started here, reaped when they end
__all__ = ["ACTIVE_STATES", "FINAL_STATES", "read_events", "read_status", "request_stop",
           "stop_requested"]


class RunInProgress(ValueError):
    """Start was pressed while another run holds the server."""


@dataclass(frozen=True)
class RunInfo:
    """One run directory as read from disk (``config``/``status``/``eval`` are its JSON
    files; ``{}`` or ``None`` while they are not written yet)."""

    run_id: str
    path: Path
    config: dict
    status: dict
    eval: dict | None

    @property
    def state(self) -> str:
        return self.status.get("state", "queued")

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class Progress:
    """Where a run is: ``fraction = step / max_steps``; ``eta_s`` = seconds per step so far
    times the steps left (None before the first step)."""

    step: int
    max_steps: int
    fraction: float
    elapsed_s: float
    eta_s: float | None
    tokens_per_s: float | None
    memory_bytes: int | None
    loss: float | None


def runs_root() -> Path:
    """``$QLORA_LAB_RUNS`` if set, else ``<repo>/runs``."""
    return Path(os.environ.get("QLORA_LAB_RUNS") or REPO_ROOT / "runs")


def _root(root: Path | str | None) -> Path:
    return Path(root) if root is not None else runs_root()


# -- reading the files a run writes ------------------------------------------------------


def read_run(run_dir: Path | str, launching: bool = False) -> RunInfo:
    """One run directory as the page shows it. A run whose process died says so with the
    last lines it printed; one still ``queued`` with no process is failed too, unless it is
    ``launching`` (it holds the server's lock: its process is starting)."""
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    if status.get("state") == "queued" and not status.get("pid") and not launching:
        status = {**status, "state": "failed", "died": True, "message": DIED}
    if status.get("died"):
        log = run_dir / "log.txt"
        tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
        if tail:
            status["message"] += " Last output: " + " | ".join(tail)
    return RunInfo(run_dir.name, run_dir, read_config(run_dir), status, read_eval(run_dir))


def progress(status: dict, events: list[dict]) -> Progress:
    """Progress of a run from its status and events (see ``Progress``)."""
    max_steps = int(status.get("max_steps") or 0)
    last = events[-1] if events else {}
    step = int(last.get("step", status.get("step", 0)) or 0)
    elapsed = float(last.get("elapsed_s", 0.0) or 0.0)
    fraction = min(1.0, step / max_steps) if max_steps > 0 else 0.0
    eta = elapsed / step * (max_steps - step) if step > 0 and max_steps >= step else None
    return Progress(
        step=step,
        max_steps=max_steps,
        fraction=fraction,
        elapsed_s=elapsed,
        eta_s=eta,
        tokens_per_s=last.get("tokens_per_s"),
        memory_bytes=last.get("memory_bytes"),
        loss=last.get("loss"),
    )


def list_runs(root: Path | str | None = None) -> list[RunInfo]:
    """Every run directory under the root (one holding config.json or status.json), newest
    first."""
    root = _root(root)
    if not root.is_dir():
        return []
    dirs = [
        d
        for d in root.iterdir()
        if d.is_dir() and ((d / "config.json").exists() or (d / "status.json").exists())
    ]
    active = active_run(root)
    return [active if active is not None and d.name == active.run_id else read_run(d)
            for d in sorted(dirs, key=lambda d: d.name, reverse=True)]


def summary(run: RunInfo) -> dict:
    """One history row: the settings and the final metrics of a run."""
    config, after = run.config, (run.eval or {}).get("after", {})
    events = read_events(run.path)
    return {
        "run": run.run_id,
        "state": run.state,
        **{
            key: config.get(key)
            for key in (
                "task",
                "method",
                "dataset",
                "r",
                "alpha",
                "learning_rate",
                "max_steps",
                "batch_size",
                "max_length",
            )
        },
        "steps done": events[-1]["step"] if events else 0,
        "final train loss": events[-1].get("loss") if events else None,
        "held-out loss": after.get("loss"),
        "valid JSON": after.get("valid_json"),
        "exact match": after.get("exact_match"),
        "accuracy": after.get("accuracy"),
    }


# -- start, stop ---------------------------------------------------------------------------


def cli_args(settings: dict) -> list[str]:
    """The ``python -m core.finetune`` flags for these settings (``max_steps`` ->
    ``--max-steps 60``; ``target_modules`` -> ``--target-modules q_proj,v_proj``)."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(f"Unknown run settings {unknown}; expected some of {list(SETTINGS)}")
    args = []
    for key in SETTINGS:
        if key not in settings:
            continue
        value = settings[key]
        if key == "target_modules":
            if isinstance(value, str):
                value = [value]
            if not value:
                raise ValueError("target_modules is empty; pick at least one module for LoRA")
            value = ",".join(value)
        args += ["--" + key.replace("_", "-"), str(value)]
    return args


def command(args: list[str], run_dir: Path) -> list[str]:
    """The process a run is: the fine-tune CLI with these flags, writing into ``run_dir``."""
    return [sys.executable, "-m", "core.finetune", *args, "--output-dir", str(run_dir)]


def _lock_path(root: Path) -> Path:
    return root / LOCK_NAME


def _reap() -> None:
    """Collect the exit status of runs started here that have ended (no zombies)."""
    for pid, child in list(_children.items()):
        if child.poll() is not None:
            _children.pop(pid, None)


def active_run(root: Path | str | None = None) -> RunInfo | None:
    """The run holding the server (its process holds the lock), or None."""
    _reap()
    lock = _lock_path(_root(root))
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a training process is alive
            run_id = (read_json(lock) or {}).get("run_id", "")
            return read_run(_root(root) / run_id, launching=True) if RUN_ID.match(str(run_id)) \
                else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _take_lock(lock: Path) -> int:
    """An open descriptor holding the exclusive lock, or RunInProgress. A page that is just
    looking (``active_run``'s brief shared lock) is waited for, not mistaken for a run."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    for _ in range(20):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            time.sleep(0.01)
    os.close(fd)
    running = read_json(lock) or {}
    raise RunInProgress(f"Run {running.get('run_id', '?')} is still going; one run at a time "
                        "per server - watch it, or stop it first.")


def start_run(settings: dict, root: Path | str | None = None) -> RunInfo:
    """Start ``python -m core.finetune`` for these settings in a new run directory, as a
    separate process in its own session (it outlives the page), holding the server's run
    lock for as long as it lives. Raises ``RunInProgress`` when another run holds the
    server, ``ValueError`` for unknown settings."""
    root = _root(root)
    args = cli_args(settings)
    root.mkdir(parents=True, exist_ok=True)
    fd = _take_lock(_lock_path(root))
    try:
        run_id = new_run_id()
        run_dir = root / run_id
        run_dir.mkdir()
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"run_id": run_id, "started": now_iso()}).encode(), 0)
        write_json_atomic(run_dir / "status.json", {
            "state": "queued", "message": "Starting the training process.", "phase": "",
            "step": 0, "max_steps": int(settings.get("max_steps", 0)), "pid": None,
            "started": now_iso(), "updated": now_iso()})
        env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        with open(run_dir / "log.txt", "wb") as log:
            proc = subprocess.Popen(command(args, run_dir), cwd=REPO_ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, pass_fds=(fd,))
    finally:
        os.close(fd)  # the training process holds the lock now (or nobody does, on an error)
    _children[proc.pid] = proc
    try:  # the app server answers the class first; training takes the CPU time left over
        psutil.Process(proc.pid).nice(TRAINING_NICENESS)
    except (psutil.Error, OSError):
        pass
    return read_run(run_dir, launching=True)


# -- results -------------------------------------------------------------------------------


def zip_adapter(run_dir: Path | str) -> bytes:
    """The run's ``adapter/`` folder as zip bytes (entries ``adapter/<file>``), ready for
    ``peft.PeftModel.from_pretrained`` after unzipping."""
    adapter = Path(run_dir) / "adapter"
    files = sorted(p for p in adapter.rglob("*") if p.is_file()) if adapter.is_dir() else []
    if not files:
        raise ValueError(f"Run {Path(run_dir).name!r} has no saved adapter (yet)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            zf.write(path, Path("adapter") / path.relative_to(adapter))
    return buffer.getvalue()


def _upload_folder(root: Path | str | None, task: str) -> Path:
    """Where a task's uploads live: ``uploads/`` (prompt/response pairs for chat) and
    ``uploads/classify/`` (text/label rows): each task lists only files it can read."""
    folder = _root(root) / UPLOADS
    return folder / "classify" if task == "classify" else folder


def save_upload(data: bytes, filename: str, root: Path | str | None = None,
                task: str = "chat") -> tuple[Path, list]:
    """Validate an uploaded JSONL/CSV file (``core.finetune.data.parse_upload`` for chat,
    ``core.finetune.classify.parse_labelled_upload`` for classify; both raise ValueError
    naming the bad line) and save it under the task's upload folder so the CLI can read it.
    The saved name keeps only letters, digits, ``_ . -`` of the uploaded one (at most 80 of
    them), so it cannot leave that folder, plus the first 8 hex digits of the content's
    SHA-256: the same file saved twice is one file, two files of one name (two students'
    ``data.jsonl``) are two. Returns (saved path, parsed examples)."""
    if task == "classify":
        from core.finetune.classify import parse_labelled_upload as parse
    else:
        from core.finetune.data import parse_upload as parse

    examples = parse(data, filename)
    stem, suffix = Path(filename).stem, Path(filename).suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise ValueError(f"Upload {filename!r} must end in .jsonl or .csv")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem)[:80].strip(".-") or "upload"
    folder = _upload_folder(root, task)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}{suffix}"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path, examples


def list_uploads(root: Path | str | None = None, task: str = "chat") -> list[Path]:
    folder = _upload_folder(root, task)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".jsonl", ".csv"))


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
