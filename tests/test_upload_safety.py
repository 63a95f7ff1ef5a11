"""Untrusted files and names: uploads are bounded and parsed as text (nothing in them runs),
upload names and run ids stay inside their folders, and no code path loads pickles or
remote code."""

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.finetune import data, runs

ROOT = Path(__file__).resolve().parents[1]
GOOD = b'{"prompt": "Send 3 red mugs to Lima.", "response": "{\\"item\\": \\"mug\\"}"}\n'
NAMES = [
    "../../etc/passwd.jsonl",
    "..\\..\\windows\\win.ini.jsonl",
    "/abs/olute/path.jsonl",
    "a b;$(touch pwned)`id`.jsonl",
    ".jsonl",
    "...jsonl",
    "-rf.jsonl",
    "😀 émoji.jsonl",
    "CON.jsonl",
    "x.jsonl\n.csv",
]


@pytest.mark.parametrize("name", NAMES)
def test_an_upload_name_cannot_leave_the_uploads_folder(tmp_path, name):
    try:
        path, examples = runs.save_upload(GOOD, name, root=tmp_path)
    except ValueError as error:  # e.g. ".jsonl" has no name and so no file type
        assert str(error) and not (tmp_path / runs.UPLOADS).exists()
        return
    assert path.parent == tmp_path / runs.UPLOADS
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.jsonl", path.name), path.name
    assert path.read_bytes() == GOOD and len(examples) == 1
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != path.parent]
    assert outside == []
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("length", [240, 400])
def test_an_upload_name_too_long_for_the_disk_is_an_error_not_a_crash(tmp_path, length):
    try:
        path, _ = runs.save_upload(GOOD, "y" * length + ".jsonl", root=tmp_path)
    except ValueError as error:
        assert str(error)
    else:
        assert len(path.name) <= 255 and path.parent == tmp_path / runs.UPLOADS


def test_an_upload_over_the_limit_or_of_another_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="limit"):
        runs.save_upload(GOOD * (5_000_000 // len(GOOD) + 1), "big.jsonl", root=tmp_path)
    for name in ("model.pkl", "data.jsonl.py", "notes.txt", "adapter.bin", "x"):
        with pytest.raises(ValueError):
            runs.save_upload(GOOD, name, root=tmp_path)
    assert not (tmp_path / runs.UPLOADS).exists() or not any((tmp_path / runs.UPLOADS).iterdir())


class _Payload:
    def __reduce__(self):  # would create a file if anything unpickled it
        return (os.system, (f"touch {_Payload.marker}",))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_pickle_uploaded_as_data_is_rejected_and_never_run(tmp_path, suffix):
    _Payload.marker = tmp_path / "pwned"
    blob = pickle.dumps(_Payload())
    with pytest.raises(ValueError):
        data.parse_upload(blob, "data" + suffix)
    with pytest.raises(ValueError):
        runs.save_upload(blob, "data" + suffix, root=tmp_path)
    assert not _Payload.marker.exists()


def test_two_uploads_with_one_name_do_not_overwrite_each_other(tmp_path):
    first, _ = runs.save_upload(GOOD, "data.jsonl", root=tmp_path)
    second, _ = runs.save_upload(GOOD.replace(b"3 red", b"4 blue"), "data.jsonl", root=tmp_path)
    assert first != second and first.read_bytes() == GOOD


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_run_id_cannot_reach_outside_the_runs_folder(tmp_path):
    root, outside = tmp_path / "runs", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    status = {"state": "running", "pid": _dead_pid(), "step": 1, "max_steps": 2}
    (outside / "status.json").write_text(json.dumps(status))
    (root / runs.LOCK_NAME).write_text(json.dumps({"run_id": "../outside", "pid": _dead_pid()}))
    assert runs.active_run(root) is None
    assert json.loads((outside / "status.json").read_text()) == status  # untouched


def test_run_ids_the_server_makes_are_plain_names():
    for _ in range(20):
        run_id = runs.new_run_id()
        assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", run_id)
        assert Path(run_id).name == run_id


# -- no pickles, no remote code -----------------------------------------------------------------

SOURCES = [p for folder in ("core", "pages") for p in (ROOT / folder).rglob("*.py")]


def _calls(pattern: str) -> list[str]:
    """Lines of the app's code (core/, pages/, app.py) that call ``pattern`` - not inside a
    comment or a string (core.memory writes example code as text)."""
    found = []
    for path in SOURCES + [ROOT / "app.py"]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = re.search(pattern, line)
            before = line[: match.start()] if match else ""
            if match and "#" not in before and before.count('"') % 2 == 0:
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_no_code_path_trusts_remote_code():
    assert _calls(r"trust_remote_code\s*=\s*True") == []


def test_no_code_path_unpickles():
    assert (
        _calls(
            r"\bpickle\.loads?\(|\bjoblib\.load\(|\bdill\.load|\bnp\.load\([^)]*allow_pickle"
            r"\s*=\s*True"
        )
        == []
    )
    torch_loads = [c for c in _calls(r"\btorch\.load\(") if "weights_only=True" not in c]
    assert torch_loads == []


# Where a model or adapter path can come from a user (the fine-tune lab's model box, a run's
# folder), from_pretrained must read safetensors only (a .bin checkpoint is a pickle).
def test_model_weights_from_user_paths_are_loaded_as_safetensors_only():
    missing = {}
    for call in _calls(r"ModelFor\w+\.from_pretrained\("):
        file = call.split(":", 1)[0]
        path = ROOT / file
        number = int(call.split(":", 2)[1])
        window = "\n".join(path.read_text().splitlines()[number - 1 : number + 3])
        if "use_safetensors=True" not in window and "gguf_file" not in window:
            missing[file] = missing.get(file, 0) + 1
    assert missing == {}, missing
