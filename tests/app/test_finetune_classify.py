"""The classify task's page parts (pages/_finetune_classify*.py), each fed plain run data through
a small AppTest script: the form and its URL, uploads, a finished run's results, the sentence
box against the saved model, and the comparison of finished runs."""

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.finetune import FinetuneConfig
from core.finetune.classify import (
    CLASSIFY_DEFAULTS,
    METHOD_LEARNING_RATES,
    compare_runs,
    parse_labelled_upload,
    result_summary,
)

WIDGETS = {  # key -> CLASSIFY_DEFAULTS field
    "ft_cls_model": "model",
    "ft_cls_method": "method",
    "ft_cls_dataset": "dataset",
    "ft_cls_r": "r",
    "ft_cls_alpha": "alpha",
    "ft_cls_dropout": "dropout",
    "ft_cls_lr": "learning_rate",
    "ft_cls_targets": "target_modules",
    "ft_cls_steps": "max_steps",
    "ft_cls_batch": "batch_size",
    "ft_cls_max_length": "max_length",
    "ft_cls_seed": "seed",
}


def form_script(uploads, save):
    import streamlit as st

    from pages import _finetune_classify as cls
    from pages._ui import shareable_state

    with shareable_state("ft"):
        st.session_state["_settings"] = cls.settings_form(uploads, save)


def results_script(run):
    from pages import _finetune_classify_results as view

    view.results(run)


def comparison_script(runs):
    from pages import _finetune_classify_compare as compare

    compare.comparison(runs)


def find(at: AppTest, key: str):
    for kind in (
        "text_input",
        "radio",
        "selectbox",
        "select_slider",
        "slider",
        "multiselect",
        "number_input",
        "button",
    ):
        for widget in getattr(at, kind):
            if widget.key == key:
                return widget
    raise KeyError(key)


def metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label.startswith(label))


def saver(folder: Path):
    def save(data: bytes, filename: str):
        examples = parse_labelled_upload(data, filename)
        path = folder / filename
        path.write_bytes(data)
        return path, examples

    return save


def test_the_form_opens_on_the_defaults_and_every_setting_has_help(tmp_path):
    at = AppTest.from_function(form_script, args=([], saver(tmp_path)), default_timeout=30).run()
    assert not at.exception and not at.error
    settings = at.session_state["_settings"]
    assert settings == {
        **CLASSIFY_DEFAULTS,
        "target_modules": tuple(CLASSIFY_DEFAULTS["target_modules"]),
    }
    FinetuneConfig(**settings, output_dir="-")  # a valid run
    for key, field in WIDGETS.items():
        widget = find(at, key)
        value = widget.value
        expected = CLASSIFY_DEFAULTS[field]
        assert (tuple(value) if field == "target_modules" else value) == expected, key
        assert widget.proto.help.strip(), f"{key} has no help"
    assert at.get("file_uploader")[0].proto.help.strip()

    find(at, "ft_cls_method").set_value("full").run()
    find(at, "ft_cls_r").set_value(4).run()
    find(at, "ft_cls_targets").set_value(["query", "value", "dense"]).run()
    settings = at.session_state["_settings"]
    assert settings["method"] == "full" and settings["r"] == 4
    assert settings["learning_rate"] == METHOD_LEARNING_RATES["full"]  # the method's usual rate
    find(at, "ft_cls_lr").set_value(5e-5).run()
    find(at, "ft_cls_method").set_value("qlora").run()
    assert at.session_state["_settings"]["learning_rate"] == METHOD_LEARNING_RATES["qlora"]
    assert settings["target_modules"] == ("query", "value", "dense")


def test_the_settings_come_from_the_url_and_uploads_are_offered(tmp_path):
    at = AppTest.from_function(
        form_script, args=([str(tmp_path / "mine.csv")], None), default_timeout=30
    )
    at.query_params.update(
        ft_cls_r="16",
        ft_cls_steps="12",
        ft_cls_method="qlora",
        ft_cls_dataset="your file: mine.csv",  # a selectbox shares its shown label
    )
    at.run()
    assert not at.exception and not at.info
    settings = at.session_state["_settings"]
    assert (settings["r"], settings["max_steps"], settings["method"]) == (16, 12, "qlora")
    assert settings["dataset"] == str(tmp_path / "mine.csv")
    assert find(at, "ft_cls_dataset").options == ["intents", "your file: mine.csv"]
    assert not at.get("file_uploader")  # no save function: no upload box


def test_uploads_are_validated_and_selected(tmp_path):
    at = AppTest.from_function(form_script, args=([], saver(tmp_path)), default_timeout=30).run()
    at.get("file_uploader")[0].set_value(("bad.csv", b"text,label\na,x\nb\n", "text/csv")).run()
    assert not at.exception
    assert at.error[0].value == "bad.csv: line 3: expected 2 values (text, label), found 1"
    assert at.session_state["_settings"]["dataset"] == "intents"
    good = b"text,label\n" + b"".join(b"message %d,c%d\n" % (i, i % 3) for i in range(30))
    at.get("file_uploader")[0].set_value(("good.csv", good, "text/csv")).run()
    assert not at.exception and not at.error
    assert "30 examples in 3 classes" in at.success[0].value
    assert at.session_state["_settings"]["dataset"] == str(tmp_path / "good.csv")


def _eval(accuracy_before=0.15, accuracy_after=0.9, **extra):
    labels = ["cancel", "refund", "track"]
    return {
        "before": {
            "accuracy": accuracy_before,
            "loss": 1.1,
            "n": 30,
            "labels": labels,
            "confusion": [[0, 10, 0], [0, 10, 0], [0, 10, 0]],
        },
        "after": {
            "accuracy": accuracy_after,
            "loss": 0.25,
            "n": 30,
            "labels": labels,
            "confusion": [[9, 1, 0], [1, 9, 0], [0, 1, 9]],
        },
        "trainable_parameters": 1635,
        "train_seconds": 41.5,
        "peak_memory_bytes": 600 * 2**20,
        "adapter_bytes": 8 * 2**10,
        "base_model_bytes": 4 * 2**20,
        **extra,
    }


def _run(
    tmp_path, run_id="20260101-000000-aaaa", method="lora", state="done", eval_=None, **config
):
    path = tmp_path / run_id
    path.mkdir(parents=True, exist_ok=True)
    config = {**CLASSIFY_DEFAULTS, "method": method, "task": "classify", **config}
    return {
        "run_id": run_id,
        "state": state,
        "config": config,
        "path": str(path),
        "eval": _eval() if eval_ is None else eval_,
    }


def test_results_show_accuracy_loss_cost_and_the_confusion_matrices(tmp_path):
    run = _run(tmp_path)
    at = AppTest.from_function(results_script, args=(run,), default_timeout=30).run()
    assert not at.exception and not at.error
    s = result_summary(run["eval"])
    acc = metric(at, "Held-out accuracy")
    assert acc.value == "90.0%" and acc.proto.delta == f"{s['accuracy_gain'] * 100:+.1f} points"
    assert "15.0%" in acc.proto.help and "30 held-out" in acc.proto.help
    loss = metric(at, "Held-out loss")
    assert loss.value == "0.250" and loss.proto.delta == f"{s['loss_change']:+.3f}"
    assert metric(at, "Trainable parameters").value == "1,635"
    assert metric(at, "Training time").value == "42 s"
    assert "600.00 MB" in metric(at, "Training time").proto.help
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    before, after = figure["data"]
    assert before["z"] == run["eval"]["before"]["confusion"]
    assert after["z"] == run["eval"]["after"]["confusion"]
    assert after["x"] == after["y"] == run["eval"]["after"]["labels"]
    assert not [w for w in at.text_input if w.key == "ft_cls_text"]  # no adapter: no box


def test_a_run_without_results_says_so(tmp_path):
    at = AppTest.from_function(
        results_script, args=(_run(tmp_path, eval_={}),), default_timeout=30
    ).run()
    assert not at.exception and "no held-out results" in at.info[0].value


def test_the_box_classifies_with_both_saved_models(tmp_path):
    pytest.importorskip("torch")
    from core.finetune.classify import (
        class_probabilities,
        encode_labelled,
        load_labelled_dataset,
        load_tuned_classifier,
        make_classify_trainer,
        prepare_classifier,
        save_classifier,
    )
    from tests.tiny_bert import save_tiny_bert, write_tiny_rows

    model_dir = save_tiny_bert(tmp_path / "tiny-bert")
    dataset = write_tiny_rows(tmp_path / "tiny.jsonl")
    config = FinetuneConfig(
        **{
            **CLASSIFY_DEFAULTS,
            "model": model_dir,
            "dataset": dataset,
            "r": 4,
            "alpha": 8,
            "max_steps": 2,
            "batch_size": 8,
            "learning_rate": 1e-2,
            "output_dir": str(tmp_path / "run"),
        }
    )
    ds = load_labelled_dataset(dataset)
    model, tokenizer = prepare_classifier(model_dir, "lora", ds.labels, 4, 8)
    features = encode_labelled(tokenizer, ds.train, ds.labels, 32)
    make_classify_trainer(model, tokenizer, config, features, str(tmp_path / "scratch")).train()
    run_dir = tmp_path / "run"
    save_classifier(model, tokenizer, ds.labels, run_dir / "adapter")
    (run_dir / "config.json").write_text(json.dumps(config.to_json()))
    run = {
        "run_id": "run",
        "state": "done",
        "config": config.to_json(),
        "path": str(run_dir),
        "eval": _eval(),
    }

    at = AppTest.from_function(results_script, args=(run,), default_timeout=60).run()
    text = "cancel the order please"
    at.text_input(key="ft_cls_text").set_value(text).run()
    at.button(key="ft_cls_classify").click().run()
    assert not at.exception and not at.error
    base, tuned, tok = load_tuned_classifier(run_dir)
    expected = [class_probabilities(m, tok, text, config.max_length) for m in (base, tuned)]
    assert metric(at, "Before (untrained head)").value == max(expected[0], key=expected[0].get)
    assert metric(at, "After fine-tuning").value == max(expected[1], key=expected[1].get)
    bars = json.loads(at.get("plotly_chart")[-1].proto.spec)["data"]
    assert bars[1]["y"] == list(expected[1]) and bars[1]["x"] == pytest.approx(
        list(expected[1].values()), abs=1e-6
    )

    broken = tmp_path / "broken"  # another folder: the loaded models are cached by folder
    shutil.copytree(run_dir, broken)
    (broken / "adapter" / "adapter_model.safetensors").write_bytes(b"broken")
    run = {**run, "run_id": "broken", "path": str(broken)}
    at = AppTest.from_function(results_script, args=(run,), default_timeout=60).run()
    at.text_input(key="ft_cls_text").set_value(text).run()
    at.button(key="ft_cls_classify").click().run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith("Could not run the models")


def test_comparison_shows_finished_runs_on_the_same_data_and_steps(tmp_path):
    runs = [
        _run(
            tmp_path,
            "20260103-000000-cccc",
            "full",
            eval_=_eval(
                0.15,
                0.93,
                trainable_parameters=22_700_000,
                adapter_bytes=4 * 2**20,
                train_seconds=80.0,
                peak_memory_bytes=900 * 2**20,
            ),
        ),
        _run(tmp_path, "20260102-000000-bbbb", "lora"),
        _run(tmp_path, "20260101-000000-aaaa", "lora", max_steps=10),
        _run(tmp_path, "20260100-000000-dddd", "lora", state="failed"),
    ]
    at = AppTest.from_function(comparison_script, args=(runs,), default_timeout=30).run()
    assert not at.exception and not at.error
    groups = compare_runs(runs)
    assert len(groups) == 2 and len(at.selectbox(key="ft_cls_compare").options) == 2
    table = at.dataframe[0].value
    assert list(table["run"]) == ["20260103-000000-cccc", "20260102-000000-bbbb"]
    assert list(table["trainable parameters"]) == [22_700_000, 1635]
    assert list(table["of the full model"]) == pytest.approx([1.0, 2**13 / 2**22])
    assert list(table["accuracy after"]) == [0.93, 0.9]
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert bars[0]["y"] == [22_700_000, 1635]  # trainable parameters, per run
    assert bars[1]["y"] == pytest.approx([4.0, 8 / 1024])  # MB saved
    assert bars[5]["y"] == [0.93, 0.9]
    assert bars[6]["name"] == "full model" and bars[6]["y"] == [4.0, 4.0]  # the base's MB

    at.selectbox(key="ft_cls_compare").set_value(1).run()
    assert list(at.dataframe[0].value["run"]) == ["20260101-000000-aaaa"]
    empty = AppTest.from_function(comparison_script, args=([runs[-1]],), default_timeout=30).run()
    assert not empty.exception and "Finish a classify run" in empty.caption[0].value


def preview_script(name):
    from pages import _finetune_classify_data as data

    data.dataset_preview(name)


def test_the_preview_counts_the_data_and_names_a_bad_file(tmp_path):
    from core.finetune.classify import load_labelled_dataset

    at = AppTest.from_function(preview_script, args=("intents",), default_timeout=30).run()
    assert not at.exception and not at.error
    ds = load_labelled_dataset("intents")
    caption = at.caption[0].value
    assert f"{len(ds.train)} training and {len(ds.heldout)} held-out texts" in caption
    assert f"in {len(ds.labels)} classes" in caption
    for label in ds.labels:
        assert f"{label} ({sum(e.label == label for e in ds.train)})" in caption
    assert list(at.dataframe[0].value["text"]) == [e.text for e in ds.train[:5]]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n')
    at = AppTest.from_function(preview_script, args=(str(bad),), default_timeout=30).run()
    assert not at.exception and "bad.jsonl: line 2: missing 'label'" in at.error[0].value
