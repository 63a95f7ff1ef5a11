"""core.finetune.classify (and the upload reader core.finetune.tables): the bundled intents set,
labelled uploads and their messages, the split, and a few-step run of each method.

Plumbing runs on a tiny random BERT (2 layers, hidden 32) saved once per session with the
bundled MiniLM tokenizer; one test uses the real MiniLM for what only it can show (its
trainable-parameter count and that a short run learns the intents).
"""

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.finetune import FinetuneConfig
from core.finetune.classify import (
    BUNDLED_LABELLED,
    CLASSIFY_DEFAULTS,
    EVAL_KEYS,
    METHOD_LEARNING_RATES,
    LabelledExample,
    classify_settings,
    load_labelled_dataset,
    load_tuned_classifier,
    parse_labelled_upload,
    predict,
    split_labelled,
)
from core.finetune.data import DATASETS_DIR, parse_upload, split_examples
from core.finetune.tables import read_rows
from tests.tiny_bert import TINY_ROWS, write_tiny_rows


def _script():
    spec = importlib.util.spec_from_file_location("make_intents", DATASETS_DIR / "make_intents.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(part):
    lines = (DATASETS_DIR / "intents" / f"{part}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


# --- the bundled intents set -------------------------------------------------------------------


def test_intents_files_are_what_the_seeded_script_writes():
    train, heldout = _script().build()
    assert _rows("train") == train and _rows("heldout") == heldout
    assert _script().build() == (train, heldout)  # reproducible


def test_intents_counts_balance_and_a_disjoint_split():
    make = _script()
    ds = load_labelled_dataset("intents")
    assert BUNDLED_LABELLED == ("intents",) and ds.name == "intents"
    assert len(ds.train) >= 600 and len(ds.heldout) >= 150
    assert ds.labels == tuple(sorted(make.LABELS)) and len(ds.labels) >= 4
    for part, n in ((ds.train, make.N_TRAIN), (ds.heldout, make.N_HELDOUT)):
        assert Counter(e.label for e in part) == dict.fromkeys(make.LABELS, n)  # balanced
    assert ds.class_counts() == dict.fromkeys(ds.labels, make.N_TRAIN)  # what the page shows
    texts = [e.text.casefold() for e in ds.train + ds.heldout]
    assert len(set(texts)) == len(texts)  # no text twice, not even in another case
    # the fixed split does not depend on the split arguments
    assert load_labelled_dataset("intents", seed=5, heldout_fraction=0.5) == ds


def test_intents_heldout_has_sentence_patterns_training_never_shows():
    make = _script()
    train_text = " ".join(r["text"].casefold() for r in _rows("train"))
    new = 0
    for row in _rows("heldout"):
        markers = [
            max(re.split(r"\{\w+\}", p), key=len).strip(" .,:").casefold()
            for p in make.HELDOUT_PATTERNS[row["label"]]
        ]
        assert all(len(m) >= 10 and m not in train_text for m in markers), markers
        new += any(m in row["text"].casefold() for m in markers)
    # every held-out-pattern message still shows its marker unless a typo hit it
    assert (
        0.8 * make.N_HELDOUT_NEW * len(make.LABELS) <= new <= make.N_HELDOUT_NEW * len(make.LABELS)
    )


def test_intents_wording_varies_in_case_typos_and_openings():
    make = _script()
    texts = [r["text"] for r in _rows("train")]
    assert sum(t == t.lower() for t in texts) > 0.1 * len(texts)
    assert sum(t == t.upper() for t in texts) > 0.03 * len(texts)
    vocabulary = set(
        re.findall(
            r"[a-z]+",
            json.dumps([make.SLOTS, make.OPENERS, make.CLOSERS, make.TRAIN_PATTERNS]).lower(),
        )
    )
    typos = [t for t in texts if set(re.findall(r"[a-z]+", t.lower())) - vocabulary]
    assert 0.08 * len(texts) < len(typos) < 0.35 * len(texts), typos[:5]
    first = Counter(t.split()[0].lower().strip(",:") for t in texts)
    assert len(first) >= 25 and first.most_common(1)[0][1] < 0.2 * len(texts)


# --- uploads -----------------------------------------------------------------------------------


def test_jsonl_and_csv_uploads_parse_alike():
    jsonl = b'{"text": "where is my parcel", "label": "track"}\n\n{"label": " refund ", "text": "money back"}\n'
    csv_file = '\ufeffLabel,TEXT\ntrack,where is my parcel\nrefund ,"money\nback"\n'.encode()
    assert parse_labelled_upload(jsonl, "a.jsonl") == [
        LabelledExample("where is my parcel", "track"),
        LabelledExample("money back", "refund"),
    ]
    assert parse_labelled_upload(csv_file, "a.CSV") == [
        LabelledExample("where is my parcel", "track"),
        LabelledExample("money\nback", "refund"),
    ]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.txt", b"text,label\nx,y\n", "unsupported file type '.txt'"),
        ("a.jsonl", b"", "the file is empty; expected text/label examples"),
        ("a.jsonl", b"\n\n", "no examples found"),
        ("a.csv", b"text,label\n", "no examples found"),
        (
            "a.jsonl",
            b'{"text": "a", "label": "x"}\n{"text": "b", "label": "y"\n',
            "line 2: malformed JSON",
        ),
        (
            "a.jsonl",
            b'["a", "x"]\n',
            'line 1: expected a JSON object with "text" and "label", got a list',
        ),
        ("a.jsonl", b'{"text": "a"}\n', "line 1: missing 'label'"),
        ("a.jsonl", b'{"text": "a", "label": "x", "id": 3}\n', "line 1: wrong keys"),
        ("a.csv", b"text,label,extra\na,b,c\n", "line 1: wrong columns"),
        ("a.csv", b"prompt,response\na,b\n", "line 1: missing 'text', 'label'"),
        ("a.csv", b"text,label\n\na,x\nb\n", "line 4: expected 2 values (text, label), found 1"),
        ("a.csv", b'text,label\na,x\n"b,y\n', "malformed CSV"),
        (
            "a.jsonl",
            b'{"text": "a", "label": "x"}\n{"text": "b", "label": 3}\n',
            'line 2: "label" must be text, got 3',
        ),
        (
            "a.jsonl",
            b'{"text": "a", "label": "x"}\n{"text": "  ", "label": "y"}\n',
            'line 2: "text" is empty',
        ),
        ("a.csv", b"text,label\na,x\nb,  \n", 'line 3: "label" is empty'),
        ("a.csv", b"text,label\na,x\n\xff,y\n", "line 3: not UTF-8 text (byte 0xff)"),
        (
            "a.jsonl",
            b'{"text": "a", "label": "x"}\n{"text": "b", "label": "x"}\n',
            "only one class ('x')",
        ),
        (
            "a.csv",
            b"text,label\nhi,x\nho,y\nhi,z\n",
            "line 4: the same text already has the label 'x' on line 2",
        ),
        (
            "a.csv",
            b"text,label\na,x\nb," + b"y" * 101 + b"\n",
            'line 3: "label" is 101 characters long',
        ),
        (
            "a.csv",
            b"text,label\n" + b"".join(b"t%d,c%d\n" % (i, i) for i in range(51)),
            "51 different labels; the limit is 50",
        ),
        (
            "a.csv",
            b"text,label\n" + b"a" * 4001 + b",x\nb,y\n",
            'line 2: "text" is 4,001 characters long',
        ),
        ("a.jsonl", b" " * 5_000_001, "the file is 5,000,001 bytes; the limit is 5,000,000 bytes"),
    ],
)
def test_bad_uploads_say_what_and_where(name, data, message):
    with pytest.raises(ValueError) as err:
        parse_labelled_upload(data, name)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b'{"prompt": "a"}\n',
        b'{"prompt": "a", "response": 1}\n',
        b'{"prompt": "a", "response": "b"}\n{"prompt": "a", "response": "b", "x": 1}\n',
        b"[1]\n",
        b'{"prompt": "a", "response": ""}\n',
        b'{"prompt": "a", "response": "b"\n',
        b"\xff\n",
    ],
)
def test_the_reader_gives_the_chat_uploads_messages_too(data):
    """read_rows is the one reader for both tasks: for prompt/response columns it accepts and
    rejects what core.finetune.data.parse_upload does, with the same words."""
    try:
        expected = [(e.prompt, e.response) for e in parse_upload(data, "f.jsonl")]
    except ValueError as err:
        with pytest.raises(ValueError) as ours:
            read_rows(data, "f.jsonl", ("prompt", "response"))
        assert str(ours.value) == str(err)
    else:
        got = read_rows(data, "f.jsonl", ("prompt", "response"))
        assert [(r["prompt"], r["response"]) for _, r in got] == expected


def test_upload_split_is_data_py_split_by_text(tmp_path):
    rows = [{"text": f"message number {i}", "label": ("a", "b", "c")[i % 3]} for i in range(60)]
    rows.append(rows[4])  # a repeated text stays on one side
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = load_labelled_dataset(str(path), seed=3)
    train_pairs, held_pairs = split_examples(
        parse_upload(
            path.read_text()
            .replace('"text"', '"prompt"')
            .replace('"label"', '"response"')
            .encode(),
            "x.jsonl",
        ),
        0.1,
        3,
    )
    assert [(e.text, e.label) for e in ds.train] == [(e.prompt, e.response) for e in train_pairs]
    assert [(e.text, e.label) for e in ds.heldout] == [(e.prompt, e.response) for e in held_pairs]
    assert ds.name == "mine.jsonl" and ds.labels == ("a", "b", "c") and len(ds.heldout) in (6, 7)
    assert not {e.text for e in ds.train} & {e.text for e in ds.heldout}
    assert load_labelled_dataset(str(path), seed=3) == ds
    assert load_labelled_dataset(str(path), seed=4).heldout != ds.heldout


def test_dataset_errors_name_the_file_or_the_class(tmp_path):
    with pytest.raises(ValueError, match="Unknown labelled dataset 'orders'"):
        load_labelled_dataset("orders")
    with pytest.raises(ValueError, match="does not exist"):
        load_labelled_dataset(str(tmp_path / "gone.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\na,x\nb\n")
    with pytest.raises(ValueError, match=r"^bad.csv: line 3: expected 2 values"):
        load_labelled_dataset(str(bad))
    # a class whose only example is held out cannot be learned: say so
    rare = tmp_path / "rare.csv"
    examples = [LabelledExample(f"text {i}", "common") for i in range(20)]
    examples.append(LabelledExample("the rare one", "rare"))
    seed = next(
        s
        for s in range(100)
        if "the rare one" in {e.text for e in split_labelled(examples, 0.1, s)[1]}
    )
    rare.write_text("text,label\n" + "".join(f"{e.text},{e.label}\n" for e in examples))
    with pytest.raises(
        ValueError, match=r"rare.csv: the label\(s\) \['rare'\] have no training example"
    ):
        load_labelled_dataset(str(rare), seed=seed)


def test_defaults_are_a_valid_run_config_with_each_methods_learning_rate():
    from core.finetune.classify import METHOD_LEARNING_RATES, classify_settings

    config = FinetuneConfig(**CLASSIFY_DEFAULTS, output_dir="runs/x")
    assert config.model == "minilm-l6" and config.method == "lora" and config.dataset == "intents"
    assert set(config.target_modules) <= {"query", "key", "value", "dense"}
    assert classify_settings() == CLASSIFY_DEFAULTS
    full = classify_settings(method="full")
    assert full == {
        **CLASSIFY_DEFAULTS,
        "method": "full",
        "learning_rate": METHOD_LEARNING_RATES["full"],
    }
    assert (
        METHOD_LEARNING_RATES["full"]
        < METHOD_LEARNING_RATES["lora"]
        == CLASSIFY_DEFAULTS["learning_rate"]
    )
    assert classify_settings(method="full", learning_rate=5e-5)["learning_rate"] == 5e-5
    FinetuneConfig(**full, output_dir="runs/x")
    with pytest.raises(ValueError, match=r"Unknown classify settings \['rank'\]"):
        classify_settings(rank=4)
    with pytest.raises(ValueError, match="method should be one of"):
        classify_settings(method="adapter")


# --- the model: a few steps of each method on a tiny random BERT -------------------------------


@pytest.fixture
def tiny_data(tmp_path):
    return write_tiny_rows(tmp_path / "tiny.jsonl")


def _config(tmp_path, model, dataset, method, **changes):
    settings = {
        **CLASSIFY_DEFAULTS,
        "model": model,
        "dataset": dataset,
        "method": method,
        "r": 4,
        "alpha": 8,
        "max_steps": 3,
        "batch_size": 4,
        "max_length": 32,
        "learning_rate": 1e-2,
        "output_dir": str(tmp_path / f"run-{method}"),
    }
    return FinetuneConfig(**{**settings, **changes})


def _head(model):
    """The classifier layer that trains: peft's trainable copy for lora/qlora."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        return model.base_model.model.classifier.modules_to_save["default"]
    return model.classifier


@pytest.mark.parametrize("method", ["lora", "qlora", "full"])
def test_each_method_trains_its_head_and_the_saved_classifier_predicts_the_same(
    tiny_bert, tiny_data, tmp_path, method
):
    import torch

    from core.finetune.classify import (
        _logits,
        encode_labelled,
        load_tuned_classifier,
        make_classify_trainer,
        predict,
        prepare_classifier,
        save_classifier,
        trainable_parameters,
    )

    config = _config(tmp_path, tiny_bert, tiny_data, method)
    ds = load_labelled_dataset(tiny_data)
    model, tokenizer = prepare_classifier(
        tiny_bert,
        method,
        ds.labels,
        config.r,
        config.alpha,
        config.dropout,
        config.target_modules,
        config.seed,
    )
    texts = [e.text for e in ds.train + ds.heldout]
    before = _logits(model, tokenizer, texts, 32)
    head0 = _head(model).weight.detach().clone()
    frozen = dict(model.named_parameters())
    frozen = {n: p.detach().clone() for n, p in frozen.items() if not p.requires_grad}
    # the count the optimizer sees, against peft's own count and a count by hand
    if method == "full":
        assert trainable_parameters(model) == model.num_parameters() and not frozen
    else:
        assert trainable_parameters(model) == model.get_nb_trainable_parameters()[0]
        lora = 2 * 3 * config.r * (32 + 32)  # layers x (query, key, value) x r(d_in + d_out)
        assert trainable_parameters(model) == lora + 3 * 32 + 3  # + the head (3 classes)
    assert _head(model).weight.requires_grad
    if method == "qlora":  # every linear layer of the encoder (6 a layer) and the pooler in 4-bit
        import bitsandbytes as bnb

        assert sum(isinstance(m, bnb.nn.Linear4bit) for m in model.modules()) == 2 * 6 + 1
        assert type(_head(model)) is torch.nn.Linear and _head(model).weight.dtype == torch.float32

    features = encode_labelled(tokenizer, ds.train, ds.labels, config.max_length)
    config = _config(tmp_path, tiny_bert, tiny_data, method, batch_size=len(features))
    trainer = make_classify_trainer(model, tokenizer, config, features, str(tmp_path / "scratch"))
    trainer.train()
    assert trainer.state.global_step == 3
    # every step saw every example: 3 x the non-padding tokens of the training set
    assert trainer.state.num_input_tokens_seen == 3 * sum(len(f["input_ids"]) for f in features)
    model = trainer.model
    assert not torch.equal(_head(model).weight.detach(), head0)  # the head trained
    for name, param in model.named_parameters():
        if name in frozen:  # the frozen base did not move
            assert torch.equal(param.detach(), frozen[name]), name

    save_classifier(model, tokenizer, ds.labels, tmp_path / "run" / "adapter")
    (tmp_path / "run" / "config.json").write_text(json.dumps(config.to_json()))
    saved = {p.name for p in (tmp_path / "run" / "adapter").iterdir()}
    assert ("model.safetensors" if method == "full" else "adapter_model.safetensors") in saved
    base, tuned, tokenizer2 = load_tuned_classifier(tmp_path / "run")
    assert predict(tuned, tokenizer2, texts) == predict(model, tokenizer, texts)
    torch.testing.assert_close(
        _logits(tuned, tokenizer2, texts, 32),
        _logits(model, tokenizer, texts, 32),
        rtol=1e-4,
        atol=1e-5,
    )
    # "before" is the untrained head from the run's seed: the same model as at the start
    torch.testing.assert_close(_logits(base, tokenizer2, texts, 32), before, rtol=1e-4, atol=1e-5)


def test_evaluate_and_predict_match_a_numpy_reference(tiny_bert, tiny_data):
    import torch

    from core.finetune.classify import evaluate_classifier, predict, prepare_classifier

    ds = load_labelled_dataset(tiny_data)
    model, tokenizer = prepare_classifier(tiny_bert, "full", ds.labels, seed=3)
    model.eval()
    texts = [e.text for e in ds.heldout]
    with torch.no_grad():
        logits = np.stack(
            [model(**tokenizer(t, return_tensors="pt")).logits[0].numpy() for t in texts]
        )  # one at a time: no padding involved
    target = np.array([ds.labels.index(e.label) for e in ds.heldout])
    predicted = logits.argmax(axis=1)
    confusion = np.zeros((3, 3), dtype=int)
    np.add.at(confusion, (target, predicted), 1)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    metrics = evaluate_classifier(model, tokenizer, ds, max_length=32)
    assert metrics["n"] == len(texts) and metrics["labels"] == list(ds.labels)
    assert metrics["accuracy"] == pytest.approx((predicted == target).mean())
    assert metrics["loss"] == pytest.approx(
        -log_softmax[np.arange(len(texts)), target].mean(), rel=1e-5
    )
    assert metrics["confusion"] == confusion.tolist()
    assert predict(model, tokenizer, texts) == [ds.labels[i] for i in predicted]
    for bad in ("one string", ["ok", "  "], [3]):
        with pytest.raises(ValueError, match="non-empty strings"):
            predict(model, tokenizer, bad)


def test_the_head_is_drawn_from_the_seed(tiny_bert):
    import torch

    from core.finetune.classify import load_classifier_base

    a, b, c = (load_classifier_base(tiny_bert, "lora", ("x", "y"), seed) for seed in (1, 1, 2))
    assert torch.equal(a.classifier.weight, b.classifier.weight)
    assert not torch.equal(a.classifier.weight, c.classifier.weight)
    assert a.config.id2label == {0: "x", 1: "y"} and a.config.label2id == {"x": 0, "y": 1}
    with pytest.raises(ValueError, match="method should be one of"):
        load_classifier_base(tiny_bert, "qlora8", ("x", "y"))
    with pytest.raises(ValueError, match="at least 2 distinct"):
        load_classifier_base(tiny_bert, "lora", ("x", "x"))


def test_load_tuned_classifier_says_what_is_missing(tmp_path):
    from core.finetune.classify import load_tuned_classifier

    with pytest.raises(ValueError, match="no readable config.json"):
        load_tuned_classifier(tmp_path)
    (tmp_path / "config.json").write_text(
        json.dumps(FinetuneConfig(**CLASSIFY_DEFAULTS, output_dir=str(tmp_path)).to_json())
    )
    with pytest.raises(ValueError, match="no saved classifier"):
        load_tuned_classifier(tmp_path)


def test_minilm_lora_counts_and_an_untrained_head_at_chance():
    """The real bundled model: peft's trainable count is LoRA's r(d_in + d_out) per adapted
    matrix plus the head, and the untrained head's loss is about ln(6) (near-uniform logits)."""
    from core.finetune.classify import evaluate_classifier, prepare_classifier, trainable_parameters
    from core.models import resolve_model

    d = CLASSIFY_DEFAULTS
    ds = load_labelled_dataset("intents")
    model, tokenizer = prepare_classifier(
        resolve_model("minilm-l6"),
        "lora",
        ds.labels,
        d["r"],
        d["alpha"],
        d["dropout"],
        d["target_modules"],
        d["seed"],
    )
    hidden, layers, classes = 384, 6, len(ds.labels)
    expected = (
        layers * len(d["target_modules"]) * d["r"] * (hidden + hidden) + classes * hidden + classes
    )
    assert trainable_parameters(model) == model.get_nb_trainable_parameters()[0] == expected
    before = evaluate_classifier(model, tokenizer, ds, d["max_length"])
    assert before["loss"] == pytest.approx(np.log(classes), abs=0.05)
    assert before["accuracy"] < 0.4


def test_eval_record_holds_the_keys_the_page_reads_and_sizes_from_disk(tmp_path):
    from core.finetune.classify import EVAL_KEYS, compare_runs, eval_record, weights_bytes

    adapter, base = tmp_path / "adapter", tmp_path / "base"
    for folder, files in (
        (adapter, {"adapter_model.safetensors": 1000, "vocab.txt": 50}),
        (base, {"model.safetensors": 40_000, "pytorch_model.bin": 7, "x.json": 3}),
    ):
        folder.mkdir()
        for name, size in files.items():
            (folder / name).write_bytes(b"\0" * size)
    assert weights_bytes(adapter) == 1000 and weights_bytes(base) == 40_007
    with pytest.raises(ValueError, match="No folder"):
        weights_bytes(tmp_path / "gone")
    before = {"accuracy": 0.2, "loss": 1.8, "n": 5, "confusion": [[1]], "labels": ["a"]}
    after = {**before, "accuracy": 0.9, "loss": 0.3}
    record = eval_record(before, after, 1234, 12.34567, 999, adapter, base, steps=30)
    assert set(record) == set(EVAL_KEYS) | {"steps"}
    assert (record["adapter_bytes"], record["base_model_bytes"]) == (1000, 40_007)
    assert record["train_seconds"] == 12.346 and record["trainable_parameters"] == 1234
    config = {**CLASSIFY_DEFAULTS, "task": "classify"}
    rows = compare_runs(
        [
            {"run_id": "a", "state": "done", "config": config, "eval": record},
            {"run_id": "b", "state": "stopped", "config": config, "eval": record},
            {"run_id": "c", "state": "done", "config": config, "eval": None},
        ]
    )
    (row,) = next(iter(rows.values()))
    assert row["run"] == "a" and row["size_fraction"] == 1000 / 40_007
    assert (row["accuracy_before"], row["accuracy_after"]) == (0.2, 0.9)
    chat = {"before": {"loss": 2.0}, "after": {"loss": 1.0, "valid_json": 0.5}}
    assert not compare_runs([{"run_id": "d", "state": "done", "config": config, "eval": chat}])


def test_a_classify_run_through_the_run_core_writes_the_run_dir(tmp_path, tiny_bert, tiny_data):
    """``train.run`` with ``task="classify"``: the phases, eval.json's keys, the adapter that
    reloads with the labels it was trained on."""
    from core.finetune.rundir import read_events, read_status
    from core.finetune.train import run

    settings = classify_settings(model=tiny_bert, dataset=tiny_data, max_steps=2, batch_size=4)
    config = FinetuneConfig(**settings, output_dir=str(tmp_path / "run"))
    assert run(config) == "done"
    status = read_status(tmp_path / "run")
    assert status["state"] == "done" and status["step"] == 2
    assert [e["step"] for e in read_events(tmp_path / "run")] == [1, 2]
    report = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert set(EVAL_KEYS) <= set(report) and "compute" in report
    assert report["after"]["labels"] == sorted({label for _, label in TINY_ROWS})
    assert report["trainable_parameters"] > 0 and report["adapter_bytes"] > 0
    assert sum(map(sum, report["after"]["confusion"])) == report["after"]["n"]
    base, tuned, tokenizer = load_tuned_classifier(tmp_path / "run")
    assert set(predict(tuned, tokenizer, ["where is my parcel 3"])) <= set(report["after"]["labels"])


def test_the_cli_takes_the_classify_defaults_under_the_given_flags(tmp_path, tiny_bert, tiny_data):
    import subprocess
    import sys

    run_dir = tmp_path / "cli"
    out = subprocess.run(
        [sys.executable, "-m", "core.finetune", "--task", "classify", "--model", tiny_bert,
         "--dataset", tiny_data, "--max-steps", "1", "--method", "full", "--output-dir",
         str(run_dir)], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
        timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "classify" and config["max_steps"] == 1
    # not given: the classify defaults, and full fine-tuning's own learning rate
    assert config["learning_rate"] == METHOD_LEARNING_RATES["full"]
    assert config["target_modules"] == list(CLASSIFY_DEFAULTS["target_modules"])
    assert config["max_length"] == CLASSIFY_DEFAULTS["max_length"]
