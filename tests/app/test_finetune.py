"""The fine-tune lab page: the form and its URL, the memory estimate, bad input, a busy
server, stop with a confirmation, finished runs' results and history, and a real run of the
tiny random model (tests/tiny_model.py) from the Start button."""

import functools
import hashlib
import io
import json
import os
import signal
import sys
import time
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.finetune import FinetuneConfig, device, rundir, runs
from core.finetune.data import load_dataset
from core.finetune.estimate import estimate_run_memory
from core.params import ARCHITECTURES
from pages._ui import fmt_bytes
from tests.app.page_open import page_opener
from tests.test_finetune_runs import hold_lock

ALL_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEMO = FinetuneConfig()  # the page's defaults are the demo run's


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QLORA_LAB_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


page = page_opener("finetune.py")


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def upload_name(stem: str, data: bytes) -> str:
    """The name runs.save_upload gives an upload: its stem and its content's hash."""
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.jsonl"


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


@functools.cache
def page_machine() -> dict:
    """The machine profile the page uses: the same separate process as the page's."""
    return device.profile_in_subprocess()


def expected_estimate(method="qlora", batch=DEMO.batch_size, length=DEMO.max_length, r=DEMO.r,
                      targets=ALL_TARGETS) -> str:
    config = FinetuneConfig(method=method, batch_size=batch, max_length=length, r=r,
                            target_modules=targets, output_dir="-")
    total = estimate_run_memory(config, ARCHITECTURES["SmolLM2-135M"], machine=page_machine()).total
    return fmt_bytes(total)


def test_defaults_show_the_estimate_and_the_data_without_torch(root):
    had_torch = "torch" in sys.modules
    at = page()
    assert not at.exception and not errors(at)
    assert metric(at, "Estimated training memory") == expected_estimate()
    preview = at.dataframe[0].value
    first = load_dataset("orders").train[:5]
    assert list(preview["prompt"]) == [e.prompt for e in first]
    assert list(preview["response"]) == [e.response for e in first]
    assert not at.button(key="ft_start").disabled
    assert at.slider(key="ft_steps").value == DEMO.max_steps
    assert at.select_slider(key="ft_lr").value == DEMO.learning_rate
    assert tuple(at.multiselect(key="ft_targets").value) == DEMO.target_modules == ALL_TARGETS
    assert had_torch or "torch" not in sys.modules

    reason = device.plan("qlora").compute.reason
    assert any(reason in c.value for c in at.caption)  # "this CPU: ... computing in ..."
    at.select_slider(key="ft_r").set_value(4).run()
    at.radio(key="ft_method").set_value("full").run()
    assert metric(at, "Estimated training memory") == expected_estimate("full", r=4)
    # full fine-tuning has no adapters: their settings are off
    assert at.select_slider(key="ft_r").disabled and at.multiselect(key="ft_targets").disabled
    assert not at.slider(key="ft_steps").disabled


def test_alpha_follows_2r_when_asked(root):
    at = page(ft_r="8", ft_alpha_2r="true")
    assert not at.exception and at.select_slider(key="ft_alpha").disabled
    assert any("alpha = 2 x r = 16" in c.value for c in at.caption)
    at.select_slider(key="ft_r").set_value(4).run()
    assert any("alpha = 2 x r = 8" in c.value for c in at.caption)
    at.checkbox(key="ft_alpha_2r").uncheck().run()
    assert not at.select_slider(key="ft_alpha").disabled
    assert not any("alpha = 2 x r" in c.value for c in at.caption)


def test_every_setting_has_help():
    at = page()
    keyed = [w for kind in ("text_input", "radio", "selectbox", "select_slider", "slider",
                            "multiselect", "number_input", "checkbox")
             for w in getattr(at, kind) if w.key and w.key.startswith("ft_")]
    assert len(keyed) >= 14
    assert all(w.help for w in keyed), [w.key for w in keyed if not w.help]


def test_settings_come_from_the_url(root):
    at = page(ft_r="4", ft_steps="2", ft_batch="2", ft_max_length="64", ft_lr="0.001",
              ft_method="lora")
    assert not at.exception and not at.info
    assert at.select_slider(key="ft_r").value == 4
    assert at.slider(key="ft_steps").value == 2
    assert at.select_slider(key="ft_lr").value == 0.001
    assert metric(at, "Estimated training memory") == expected_estimate("lora", 2, 64, 4)
    bad = page(ft_r="5", ft_nonsense="1")
    assert not bad.exception
    assert "ft_nonsense" in bad.info[0].value and "ft_r" in bad.info[0].value
    assert bad.select_slider(key="ft_r").value == 16


@pytest.mark.parametrize(
    ("model", "message"),
    [("/no/such/model/folder", "No model folder"),
     ("nobody/not-a-model", "the hub cannot be reached"),
     ("minilm-l6", "not a chat model"),
     ("", "Type a model")],
)
def test_a_model_that_cannot_be_used_gives_an_error_not_a_traceback(root, model, message):
    at = page()
    at.text_input(key="ft_model").set_value(model).run()
    assert not at.exception
    assert any(message in e for e in errors(at))
    assert at.button(key="ft_start").disabled


def test_a_folder_without_config_json(root, tmp_path):
    at = page()
    at.text_input(key="ft_model").set_value(str(tmp_path)).run()
    assert not at.exception and any("has no config.json" in e for e in errors(at))


def test_a_local_model_folder_is_read_from_its_config_json(root, tmp_path):
    from core.models import bundled_model_dir

    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_bytes((bundled_model_dir() / "config.json").read_bytes())
    at = page()
    at.text_input(key="ft_model").set_value(str(folder)).run()
    assert not at.exception and not errors(at)
    assert metric(at, "Estimated training memory") == expected_estimate()


def test_no_target_modules_blocks_lora(root):
    at = page()
    at.multiselect(key="ft_targets").set_value([]).run()
    assert not at.exception and any("at least one target module" in e for e in errors(at))
    assert at.button(key="ft_start").disabled


def test_uploads_are_validated_previewed_and_selected(root):
    at = page()
    at.file_uploader(key="ft_upload").set_value(
        ("bad.jsonl", b'{"prompt": "a", "response": "b"}\n{"prompt": "c"}\n', "text/plain")
    ).run()
    assert not at.exception and any(e.startswith("bad.jsonl: ") and "2" in e for e in errors(at))
    assert at.selectbox(key="ft_dataset").value == "orders"

    rows = [{"prompt": f"say {i}", "response": f"{i}!"} for i in range(20)]
    good = "\n".join(json.dumps(r) for r in rows).encode()
    at.file_uploader(key="ft_upload").set_value(("mine.jsonl", good, "text/plain")).run()
    assert not at.exception and not errors(at)
    saved = root / "uploads" / upload_name("mine", good)
    assert saved.read_bytes() == good
    assert at.selectbox(key="ft_dataset").value == str(saved)
    ds = load_dataset(str(saved))
    assert list(at.dataframe[0].value["prompt"]) == [e.prompt for e in ds.train[:5]]


def write_run(root: Path, run_id: str, state="done", method="qlora", n_steps=3, eval_=None):
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    rundir.write_json_atomic(run_dir / "config.json", {"method": method, "dataset": "orders",
                                                     "r": 4, "max_steps": n_steps})
    rundir.write_json_atomic(run_dir / "status.json", {"state": state, "step": n_steps,
                                                     "max_steps": 10, "phase": "training",
                                                     "message": "it broke"})
    with open(run_dir / "events.jsonl", "w") as f:
        for step in range(1, n_steps + 1):
            f.write(json.dumps({"step": step, "loss": 2.0 / step, "elapsed_s": 3.0 * step,
                                "tokens_per_s": 321.0, "memory_bytes": 3 * 2**30}) + "\n")
    if eval_:
        rundir.write_json_atomic(run_dir / "eval.json", eval_)
    return run_dir


def test_a_running_run_blocks_start_and_shows_live_progress(root, request):
    run_dir = write_run(root, "20260101-000000-aaaa", state="running", n_steps=4)
    holder = hold_lock(root / runs.LOCK_NAME)
    (root / runs.LOCK_NAME).write_text(json.dumps({"run_id": run_dir.name}))
    request.addfinalizer(holder.kill)
    at = page()
    assert not at.exception
    assert at.button(key="ft_start").disabled
    assert "20260101-000000-aaaa is running" in at.info[0].value
    bar = at.get("progress")[0]
    assert bar.value == 40  # step 4 of 10
    assert "about 18 s of training left" in bar.proto.text  # 3 s per step, 6 steps left
    assert metric(at, "Tokens / s") == "321"
    assert metric(at, "Memory") == "3.00 GB"
    assert metric(at, "Training loss") == "0.500"
    at.button(key="ft_stop").click().run()  # asks first: the run is everyone's
    assert not (run_dir / "STOP").exists() and "for everyone" in at.warning[0].value
    at.button(key="ft_stop_no").click().run()
    assert not (run_dir / "STOP").exists() and not at.warning
    at.button(key="ft_stop").click().run()
    at.button(key="ft_stop_yes").click().run()
    assert (run_dir / "STOP").exists()
    assert "stopping at the next step" in at.get("progress")[0].proto.text


def test_finished_runs_show_results_and_history(root):
    eval_ = {"before": {"loss": 2.5, "valid_json": 0.1, "exact_match": 0.0},
             "after": {"loss": 0.5, "valid_json": 0.96, "exact_match": 0.84},
             "peak_memory_bytes": 2**30, "estimate_bytes": 2**29, "train_seconds": 12.0,
             "samples": [{"prompt": "p", "reference": "r", "before": "b", "after": "a"}]}
    done = write_run(root, "20260102-000000-bbbb", eval_=eval_)
    (done / "adapter").mkdir()
    (done / "adapter" / "adapter_config.json").write_text("{}")
    write_run(root, "20260101-000000-aaaa", state="failed", method="lora", n_steps=2)
    at = page()
    assert not at.exception
    assert at.selectbox(key="ft_view").value == done.name
    assert metric(at, "Valid JSON") == "96%" and metric(at, "Exact match") == "84%"
    assert metric(at, "Held-out loss") == "0.500"
    assert metric(at, "Peak memory") == "1.00 GB" and metric(at, "Estimated memory") == "512.00 MB"
    assert at.get("download_button")[0].proto.label == "Download the adapter (zip)"
    history = at.dataframe[-1].value
    assert list(history["run"]) == [done.name, "20260101-000000-aaaa"]
    assert list(history["final train loss"]) == [2.0 / 3, 1.0]

    at.selectbox(key="ft_view").set_value("20260101-000000-aaaa").run()
    assert "it broke" in errors(at)
    at.multiselect(key="ft_compare").set_value([done.name, "20260101-000000-aaaa"]).run()
    assert not at.exception
    chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert [t["name"] for t in chart["data"]] == [done.name, "20260101-000000-aaaa"]
    assert chart["data"][1]["y"] == [2.0, 1.0]


def wait_for_run(at: AppTest, timeout_s: float = 180) -> runs.RunInfo:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        at.run()
        assert not at.exception
        finished = [r for r in runs.list_runs() if r.finished]
        if finished and runs.active_run() is None:
            at.run()
            return finished[0]
        time.sleep(2)
    raise AssertionError(f"the run did not finish in {timeout_s} s: {runs.list_runs()}")


@pytest.fixture
def stop_leftover_run(root):
    yield
    active = runs.active_run()
    pid = active.status.get("pid") if active else None
    if pid and rundir.pid_alive(pid):  # a failed test must not leave a training process behind
        os.killpg(pid, signal.SIGTERM)


def test_a_tiny_real_run_starts_from_the_button_and_finishes(root, stop_leftover_run,
                                                            tiny_model):
    # Twenty uploaded examples (18 train, 2 held out) keep the held-out evaluation short.
    rows = [{"prompt": f"send {n} red mugs to our Lima office",
             "response": json.dumps({"item": "mug", "quantity": n, "color": "red",
                                     "destination": "Lima"})} for n in range(1, 21)]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    at = page(ft_steps="2", ft_max_length="64", ft_batch="2", ft_r="4", ft_method="qlora",
              ft_model=tiny_model)
    at.file_uploader(key="ft_upload").set_value(("tiny.jsonl", data, "text/plain")).run()
    saved = root / "uploads" / upload_name("tiny", data)
    assert at.selectbox(key="ft_dataset").value == str(saved)
    at.button(key="ft_start").click().run()
    assert not at.exception and not errors(at)
    active = runs.active_run()
    assert active is not None and at.button(key="ft_start").disabled
    assert at.get("progress")  # the live part is on the page while it runs
    run = wait_for_run(at)
    assert run.state == "done", run.status
    assert (run.config["method"], run.config["max_steps"], run.config["r"]) == ("qlora", 2, 4)
    assert run.config["dataset"] == str(saved)
    assert [e["step"] for e in runs.read_events(run.path)] == [1, 2]
    assert at.selectbox(key="ft_view").value == run.run_id
    assert metric(at, "Held-out loss") == f"{run.eval['after']['loss']:.3f}"
    assert metric(at, "Peak memory") == fmt_bytes(run.eval["peak_memory_bytes"])
    assert not at.button(key="ft_start").disabled
    names = zipfile.ZipFile(io.BytesIO(runs.zip_adapter(run.path))).namelist()
    assert "adapter/adapter_model.safetensors" in names

    # Ask both models: the base and the fine-tuned answer, side by side.
    at.text_input(key="ft_prompt").set_value("send 2 red mugs to our Lima office")
    at.button(key="ft_ask").click().run(timeout=180)
    assert not at.exception and not errors(at)
    shown = [c.value for c in at.code if c.language == "plaintext"]
    from core.finetune.train import load_tuned
    from pages._finetune_results import NO_ANSWER

    tuned, prompt = load_tuned(run.path), ["send 2 red mugs to our Lima office"]
    expected = [tuned.answer(prompt, base=True)[0], tuned.answer(prompt)[0]]
    assert shown == [answer or NO_ANSWER for answer in expected]
    assert list(at.session_state["_ft_answers"][2:]) == expected


def test_the_classify_task_has_its_own_form_and_no_chat_model_check(root):
    at = page(ft_task="classify")
    assert not at.exception and not errors(at)
    assert at.radio(key="ft_cls_method").value == "lora"
    assert at.selectbox(key="ft_cls_dataset").value == "intents"
    assert not at.button(key="ft_start").disabled
    assert not [m for m in at.metric if m.label.startswith("Estimated training memory")]
    at.file_uploader(key="ft_cls_upload").set_value(
        ("bad.csv", b"text,label\nhello,\n", "text/plain")).run()
    assert not at.exception and any("line 2" in e for e in errors(at))


def test_a_tiny_classify_run_from_the_button_shows_accuracy_and_the_comparison(
        root, stop_leftover_run, tiny_bert):
    from tests.tiny_bert import TINY_ROWS

    data = "\n".join(json.dumps({"text": t, "label": label}) for t, label in TINY_ROWS).encode()
    at = page(ft_task="classify", ft_cls_steps="2", ft_cls_batch="4", ft_cls_model=tiny_bert)
    at.file_uploader(key="ft_cls_upload").set_value(("tiny.jsonl", data, "text/plain")).run()
    saved = root / "uploads" / "classify" / upload_name("tiny", data)
    assert at.selectbox(key="ft_cls_dataset").value == str(saved)
    at.button(key="ft_start").click().run()
    assert not at.exception and not errors(at)
    run = wait_for_run(at)
    assert run.state == "done", run.status
    assert run.config["task"] == "classify" and run.config["model"] == tiny_bert
    accuracy = f"{run.eval['after']['accuracy']:.1%}"
    assert metric(at, "Held-out accuracy") == accuracy
    assert any("LoRA against full" in h.value for h in at.header)
    assert list(at.dataframe[-1].value["accuracy"]) == [run.eval["after"]["accuracy"]]
