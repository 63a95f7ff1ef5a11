"""Run management for the fine-tune lab: start, watch, stop, list and package runs.

A run is a separate process, ``python -m core.finetune ... --output-dir <runs root>/<id>``,
started in its own session so that closing the browser tab or reloading the page does not
stop it. It writes its progress into its run directory (``config.json``, ``status.json``,
``events.jsonl``, ``eval.json``, ``adapter/``); this module only reads those files, plus:

- one run at a time per server: a marker file ``active-run.json`` in the runs root holds the
  run id and the process id. It is created with ``O_CREAT | O_EXCL``, so two pages pressing
  Start together cannot both win. A marker whose process has ended is stale and is cleared by
  the next look (``active_run``); if that run's status still says it was running, it is
  marked ``failed`` with a plain-language message (the process died without a word).
- stop: a file ``STOP`` in the run directory; the training loop stops at its next step and
  keeps what it trained.

Pure Python (no streamlit, no torch). Runs root: ``$QLORA_LAB_RUNS``, else ``<repo>/runs``.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_NAME = "active-run.json"
UPLOADS = "uploads"
ACTIVE_STATES = ("queued", "running", "stopping")
FINAL_STATES = ("stopped", "failed", "done")
# The FinetuneConfig fields the page may set, in the order the CLI documents them.
SETTINGS = (
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
)
DIED = "The training process ended without finishing (it was killed or crashed)."
UNCLAIMED_LOCK_S = 120  # a marker that never got a process id is stale after this long

_children: dict[int, subprocess.Popen] = {}  # processes started here, so they can be reaped


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


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    """``YYYYMMDD-HHMMSS-xxxx`` (UTC time + 4 random hex digits): sorts by start time."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


# -- reading the files a run writes ------------------------------------------------------


def _read_json(path: Path) -> dict | None:
    """A JSON file's object, or None when it is missing or half-written."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json_atomic(path: Path, value: dict) -> None:
    """Write to a temp file in the same folder, then ``os.replace``: readers never see half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(value, f, indent=2)
    os.replace(tmp, path)


def read_status(run_dir: Path | str) -> dict:
    """``status.json`` as it should be shown: ``{}`` while not written; a status that still
    says queued/running/stopping although its process (``pid``) is gone reads as
    ``failed`` with ``died: True`` (the file itself is left as it is)."""
    status = _read_json(Path(run_dir) / "status.json") or {}
    if status.get("state") in ACTIVE_STATES and status.get("pid") and not pid_alive(status["pid"]):
        status = {**status, "state": "failed", "died": True, "phase": "", "message": DIED}
    return status


def read_config(run_dir: Path | str) -> dict:
    return _read_json(Path(run_dir) / "config.json") or {}


def read_eval(run_dir: Path | str) -> dict | None:
    return _read_json(Path(run_dir) / "eval.json")


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


def read_run(run_dir: Path | str) -> RunInfo:
    run_dir = Path(run_dir)
    return RunInfo(
        run_dir.name, run_dir, read_config(run_dir), read_status(run_dir), read_eval(run_dir)
    )


def stop_requested(run_dir: Path | str) -> bool:
    return (Path(run_dir) / "STOP").exists()


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
    return [read_run(d) for d in sorted(dirs, key=lambda d: d.name, reverse=True)]


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
    }


# -- the one-run-at-a-time marker ------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks) from /proc, or None where there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 onwards
    return fields[0], fields[19]


def pid_alive(pid: int | None, start_time: str | None = None) -> bool:
    """Whether process ``pid`` is still running (not ended, not a zombie, and - when
    ``start_time`` is known - not a new process that reused the id)."""
    if not pid:
        return False
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    return state not in ("Z", "X") and (start_time is None or started == start_time)


def _lock_path(root: Path) -> Path:
    return root / LOCK_NAME


def _mark_died(run_dir: Path) -> None:
    """A run whose process is gone but whose status file still says it is running: say so
    in the file, with the last lines the process printed."""
    status = _read_json(run_dir / "status.json") or {}
    if not run_dir.is_dir() or status.get("state", "queued") not in ACTIVE_STATES:
        return
    log = run_dir / "log.txt"
    tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
    status.update(
        state="failed",
        phase="",
        updated=now_iso(),
        message=DIED + (" Last output: " + " | ".join(tail) if tail else ""),
    )
    write_json_atomic(run_dir / "status.json", status)


def active_run(root: Path | str | None = None) -> RunInfo | None:
    """The run holding the server, or None. Clears a stale marker (its process has ended, or
    it never got a process id within ``UNCLAIMED_LOCK_S``) and marks such a run failed if its
    status was left saying it was still running."""
    root = _root(root)
    lock = _lock_path(root)
    marker = _read_json(lock)
    if marker is None:
        if lock.exists():  # unreadable: written by hand or half-written long ago
            age = time.time() - lock.stat().st_mtime
            if age < 5:
                return None
            lock.unlink(missing_ok=True)
        return None
    run_dir = root / str(marker.get("run_id", ""))
    pid = marker.get("pid")
    if pid is None:
        alive = time.time() - float(marker.get("created", 0)) < UNCLAIMED_LOCK_S
    else:
        alive = pid_alive(int(pid), marker.get("pid_start"))
    if alive:
        return read_run(run_dir)
    _mark_died(run_dir)
    lock.unlink(missing_ok=True)
    return None


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


def start_run(settings: dict, root: Path | str | None = None) -> RunInfo:
    """Start ``python -m core.finetune`` for these settings in a new run directory, as a
    separate process in its own session (it outlives the page). Raises ``RunInProgress``
    when another run holds the server, ``ValueError`` for unknown settings."""
    root = _root(root)
    args = cli_args(settings)
    root.mkdir(parents=True, exist_ok=True)
    running = active_run(root)
    if running is not None:
        raise RunInProgress(
            f"Run {running.run_id} is still {running.state}; one run at a "
            "time per server - watch it, or stop it first."
        )
    run_id = new_run_id()
    run_dir = root / run_id
    lock = _lock_path(root)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise RunInProgress(
            "Another run was started a moment ago; one run at a time per server - watch it instead."
        ) from None
    with os.fdopen(fd, "w") as f:
        json.dump({"run_id": run_id, "pid": None, "created": time.time()}, f)
    try:
        run_dir.mkdir()
        write_json_atomic(
            run_dir / "status.json",
            {
                "state": "queued",
                "message": "Starting the training process.",
                "phase": "",
                "step": 0,
                "max_steps": int(settings.get("max_steps", 0)),
                "pid": None,
                "started": now_iso(),
                "updated": now_iso(),
            },
        )
        env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        with open(run_dir / "log.txt", "wb") as log:
            proc = subprocess.Popen(
                command(args, run_dir),
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except BaseException:
        lock.unlink(missing_ok=True)
        raise
    _children[proc.pid] = proc
    stat = _proc_stat(proc.pid)
    write_json_atomic(
        lock,
        {
            "run_id": run_id,
            "pid": proc.pid,
            "created": time.time(),
            "pid_start": stat[1] if stat else None,
        },
    )
    return read_run(run_dir)


def request_stop(run_dir: Path | str) -> None:
    """Ask a run to stop at its next step (it keeps what it trained): create ``STOP``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"No run directory {str(run_dir)!r}")
    (run_dir / "STOP").touch()


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


def save_upload(data: bytes, filename: str, root: Path | str | None = None) -> tuple[Path, list]:
    """Validate an uploaded JSONL/CSV file (``core.finetune.data.parse_upload``, which raises
    ValueError naming the bad line) and save it under ``<runs root>/uploads/`` so the CLI
    can read it. Returns (saved path, parsed examples)."""
    from core.finetune.data import parse_upload

    examples = parse_upload(data, filename)
    stem, suffix = Path(filename).stem, Path(filename).suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise ValueError(f"Upload {filename!r} must end in .jsonl or .csv")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip(".-") or "upload"
    folder = _root(root) / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}{suffix}"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path, examples


def list_uploads(root: Path | str | None = None) -> list[Path]:
    folder = _root(root) / UPLOADS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".jsonl", ".csv"))
