"""core.finetune.data: bundled datasets, upload validation, the held-out split, order scoring."""

import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from core.finetune.data import (
    BUNDLED_DATASETS,
    DATASETS_DIR,
    ORDER_KEYS,
    Example,
    load_dataset,
    parse_order,
    parse_upload,
    score_orders,
    split_examples,
)


def _script(name):
    spec = importlib.util.spec_from_file_location(name, DATASETS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(dataset, part):
    lines = (DATASETS_DIR / dataset / f"{part}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


# --- bundled datasets ------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLED_DATASETS)
def test_bundled_files_parse_with_disjoint_unique_prompts(name):
    ds = load_dataset(name)
    assert ds.name == name and ds.kind == {"orders": "orders", "course-qa": "qa"}[name]
    for part in (ds.train, ds.heldout):
        assert all(isinstance(e, Example) and e.prompt.strip() and e.response.strip() for e in part)
        assert len({e.prompt for e in part}) == len(part)  # no repeated prompt
    assert not {e.prompt for e in ds.train} & {e.prompt for e in ds.heldout}
    # the bundled split is fixed: the split arguments do not change it
    assert load_dataset(name, heldout_fraction=0.5, seed=7) == ds


def test_bundled_counts_meet_the_minimums():
    orders, qa = load_dataset("orders"), load_dataset("course-qa")
    assert len(orders.train) >= 400 and len(orders.heldout) >= 50
    assert len(qa.train) + len(qa.heldout) >= 250 and len(qa.heldout) >= 30


@pytest.mark.parametrize(
    ("name", "script"), [("orders", "make_orders"), ("course-qa", "make_course_qa")]
)
def test_bundled_files_are_what_the_seeded_script_writes(name, script):
    train, heldout = _script(script).build()
    assert _rows(name, "train") == train
    assert _rows(name, "heldout") == heldout
    assert _script(script).build() == (train, heldout)  # reproducible


def test_order_responses_follow_the_schema_and_match_their_request():
    make = _script("make_orders")
    plural = dict(make.ITEMS)
    spoken = {v: k for k, v in make.WORD_OF.items()} | {"a dozen": 12}
    for row in _rows("orders", "train") + _rows("orders", "heldout"):
        prompt, order = row["prompt"], parse_order(row["response"])
        assert order is not None and row["response"] == json.dumps(order)
        assert list(order) == list(ORDER_KEYS)
        item, n, color, city = (order[k] for k in ORDER_KEYS)
        assert item == item.lower() and item in plural
        assert re.search(rf"\b{re.escape(item if n == 1 else plural[item])}\b", prompt), prompt
        assert city in prompt and city == city.title()
        colors_named = [c for c in make.COLORS if re.search(rf"\b{c}\b", prompt)]
        assert colors_named == ([color] if color else []), prompt
        numbers = [int(d) for d in re.findall(r"\b\d+\b", prompt)]
        numbers += [v for w, v in spoken.items() if re.search(rf"\b{w}\b", prompt, re.IGNORECASE)]
        if n == 1 and not numbers:
            assert re.search(rf"\b(a|an) ({color} )?{re.escape(item)}\b", prompt, re.IGNORECASE), (
                prompt
            )
        else:
            assert numbers == [n], prompt


def test_orders_heldout_mostly_reuses_training_values_with_some_new_phrasings():
    make = _script("make_orders")
    train = [parse_order(r["response"]) for r in _rows("orders", "train")]
    held_rows = _rows("orders", "heldout")
    held = [parse_order(r["response"]) for r in held_rows]
    for key in ("item", "color"):
        assert {o[key] for o in held} <= {o[key] for o in train}
    assert len({o["item"] for o in train}) >= 30 and len({o["destination"] for o in train}) >= 50
    seen = sum(o["destination"] in {t["destination"] for t in train} for o in held)
    assert seen / len(held) >= 0.9
    assert any(o["color"] is None for o in held) and any(o["quantity"] == 1 for o in held)
    # the held-out-only sentence patterns: never in training, about a third of held-out
    markers = [max(re.split(r"\{\w+\}", p), key=len).strip(" .") for p in make.HELDOUT_PATTERNS]
    assert all(len(m) >= 8 for m in markers), markers
    assert not any(
        m.lower() in r["prompt"].lower() for m in markers for r in _rows("orders", "train")
    )
    new = sum(any(m.lower() in r["prompt"].lower() for m in markers) for r in held_rows)
    assert 15 <= new <= 30


def test_orders_wording_is_varied():
    prompts = [r["prompt"] for r in _rows("orders", "train")]
    first_words = Counter(p.split()[0].strip(",.!:") for p in prompts)
    assert len(first_words) >= 15 and first_words.most_common(1)[0][1] < 0.2 * len(prompts)
    assert sum(bool(re.search(r"\b\d+\b", p)) for p in prompts) > 150  # digits
    assert sum(bool(re.search(r"\b(two|five|ten|twelve|twenty)\b", p, re.I)) for p in prompts) > 20


def test_course_qa_answers_are_short_and_the_numbers_add_up():
    rows = _rows("course-qa", "train") + _rows("course-qa", "heldout")
    for row in rows:
        sentences = re.findall(r"[.!?](?:\s|$)", row["response"])
        assert 1 <= len(sentences) <= 3 and len(row["response"]) <= 300, row
        assert row["prompt"].endswith(("?", ".")), row
    answers = " ".join(r["response"] for r in rows)
    # the worked examples, recomputed independently
    assert f"{4 * 3 + 3 + 3 * 3 + 3 + 3 * 2 + 2 + 2 * 1 + 1} parameters" in answers  # 38
    assert f"{4096 * 4096:,} parameters" in answers
    assert f"{2 * 4096:,} parameters, {100 * 2 * 4096 / 4096**2:.3f}%" in answers
    assert f"rank 8 gives {8 * 8192:,}" in answers and f"rank 16 gives {16 * 8192:,}" in answers
    assert f"{175e9 * 4 / 1e9:.0f} GB, which is {175e9 * 4 / 2**30:.1f} GiB" in answers
    assert f"{8 / 64 + 32 / (64 * 256):.3f} bit" in answers and f"{0.5 - 0.127:.3f} bit" in answers
    assert f"round(250/3.92) = {round(250 / 3.92)}" in answers
    assert (
        f"scale = 1020/255 = {1020 / 255:.1f} and zero point = round(20/4) = {round(20 / 4)}"
        in answers
    )
    assert f"32/64 = {32 / 64} bit" in answers


# --- upload validation -----------------------------------------------------------------------


def _jsonl(*rows):
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


GOOD = {"prompt": "2+2?", "response": "4"}


def test_parse_jsonl_reads_every_row_and_skips_blank_lines():
    data = _jsonl(GOOD, "", {"response": "Paris", "prompt": "Capital of France?"}, "   ")
    assert parse_upload(data, "mine.jsonl") == [
        Example("2+2?", "4"),
        Example("Capital of France?", "Paris"),
    ]


def test_parse_csv_header_any_order_quoted_multiline_and_bom():
    data = '\ufeffResponse , PROMPT\n"line one\nline two","a, b"\n\nok,q\n'.encode()
    assert parse_upload(data, "mine.CSV") == [
        Example("a, b", "line one\nline two"),
        Example("q", "ok"),
    ]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "x.jsonl", "the file is empty"),
        (b"\n \n", "x.jsonl", "no examples found"),
        (b"prompt,response\n\n", "x.csv", "no examples found"),
        (_jsonl(GOOD, GOOD, '{"prompt": "a", "response": }'), "x.jsonl", "line 3: malformed JSON"),
        (_jsonl(GOOD, '["a", "b"]'), "x.jsonl", "line 2: expected a JSON object"),
        (_jsonl(GOOD, {"response": "b"}), "x.jsonl", "line 2: missing 'prompt'"),
        (_jsonl({"prompt": "a"}), "x.jsonl", "line 1: missing 'response'"),
        (_jsonl(GOOD, {"prompt": "a", "response": "  "}), "x.jsonl", 'line 2: "response" is empty'),
        (_jsonl({"prompt": "", "response": "b"}), "x.jsonl", 'line 1: "prompt" is empty'),
        (
            _jsonl({"prompt": "a", "response": 4}),
            "x.jsonl",
            'line 1: "response" must be text, got 4',
        ),
        (_jsonl({"prompt": None, "response": "b"}), "x.jsonl", '"prompt" must be text, got null'),
        (_jsonl({"prompt": "a", "response": "b", "id": 1}), "x.jsonl", "line 1: wrong keys"),
        (b"question,answer\na,b\n", "x.csv", "line 1: missing 'prompt', 'response'"),
        (b"prompt,response,id\na,b,1\n", "x.csv", "line 1: wrong columns"),
        (b"prompt,prompt,response\na,b,c\n", "x.csv", "line 1: wrong columns"),
        (b"prompt,response\na,b\nc,d,e\n", "x.csv", "line 3: expected 2 values"),
        (b'prompt,response\n"a\nb",c\nd\n', "x.csv", "line 4: expected 2 values"),
        (b"prompt,response\na,\n", "x.csv", 'line 2: "response" is empty'),
        (b'prompt,response\na,"b\n', "x.csv", "line 2: malformed CSV"),
        (
            _jsonl(GOOD) + b'{"prompt": "caf\xe9", "response": "b"}\n',
            "x.jsonl",
            "line 2: not UTF-8",
        ),
        (b"prompt,response\na,b\nc,\xff\n", "x.csv", "line 3: not UTF-8"),
        (_jsonl(GOOD), "x.txt", "unsupported file type '.txt'"),
        (_jsonl(GOOD), "data", "unsupported file type '(none)'"),
    ],
)
def test_parse_upload_rejects_bad_files_naming_the_line(data, filename, message):
    with pytest.raises(ValueError) as err:
        parse_upload(data, filename)
    assert message in str(err.value)
    assert "line " in str(err.value) or message.startswith(
        ("the file", "no examples", "unsupported")
    )


def test_parse_upload_limits_file_and_field_size():
    big = _jsonl(*[GOOD] * 100)
    assert len(parse_upload(big, "x.jsonl", max_bytes=len(big))) == 100
    with pytest.raises(ValueError, match=f"the file is {len(big):,} bytes; the limit is 100 bytes"):
        parse_upload(big, "x.jsonl", max_bytes=100)
    long_row = _jsonl(GOOD, {"prompt": "a", "response": "b" * 51})
    with pytest.raises(
        ValueError, match='line 2: "response" is 51 characters long; the limit is 50'
    ):
        parse_upload(long_row, "x.jsonl", max_field_chars=50)
    assert parse_upload(long_row, "x.jsonl", max_field_chars=51)[1].response == "b" * 51
    with pytest.raises(ValueError, match='line 2: "prompt" is 5,000 characters'):
        parse_upload(f"prompt,response\n{'p' * 5000},r\n".encode(), "x.csv")
    with pytest.raises(ValueError, match="must be positive"):
        parse_upload(big, "x.jsonl", max_bytes=0)


def test_default_limits_reject_an_oversized_file():
    data = _jsonl(*[{"prompt": "p" * 1000, "response": "r" * 1000}] * 2600)  # ~5.2 MB
    with pytest.raises(ValueError, match="the limit is 5,000,000 bytes"):
        parse_upload(data, "x.jsonl")


# --- split -----------------------------------------------------------------------------------


def _examples(n):
    return [Example(f"q{i}", f"a{i}") for i in range(n)]


def test_split_is_deterministic_disjoint_and_complete():
    examples = _examples(100)
    train, heldout = split_examples(examples, 0.2, seed=3)
    assert (train, heldout) == split_examples(examples, 0.2, seed=3)
    assert heldout != split_examples(examples, 0.2, seed=4)[1]
    assert len(heldout) == 20 and len(train) == 80
    assert sorted(train + heldout, key=examples.index) == examples
    assert list(train) == sorted(train, key=examples.index)  # input order kept
    assert not {e.prompt for e in train} & {e.prompt for e in heldout}


def test_split_keeps_examples_with_the_same_prompt_together():
    examples = [Example(f"q{i % 10}", f"a{i}") for i in range(40)]  # each prompt 4 times
    for seed in range(5):
        train, heldout = split_examples(examples, 0.1, seed)
        assert not {e.prompt for e in train} & {e.prompt for e in heldout}
        assert len(heldout) == 4 and len(train) == 36


def test_split_small_sets_and_bad_arguments():
    train, heldout = split_examples(_examples(2), 0.1)
    assert len(train) == 1 and len(heldout) == 1
    assert len(split_examples(_examples(3), 0.9)[0]) == 1  # one prompt always stays in training
    with pytest.raises(ValueError, match="at least 2 examples with different prompts"):
        split_examples([Example("q", "a"), Example("q", "b")])
    for fraction in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError, match="heldout_fraction must be between 0 and 1"):
            split_examples(_examples(10), fraction)


def test_load_dataset_from_an_upload_path(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("prompt,response\n" + "".join(f"q{i},a{i}\n" for i in range(20)))
    ds = load_dataset(str(path), heldout_fraction=0.25, seed=1)
    assert (ds.name, ds.kind, len(ds.train), len(ds.heldout)) == ("mine.csv", "upload", 15, 5)
    assert (ds.train, ds.heldout) == split_examples(
        parse_upload(path.read_bytes(), "mine.csv"), 0.25, 1
    )
    with pytest.raises(ValueError, match="Unknown dataset 'recipes'"):
        load_dataset("recipes")
    with pytest.raises(ValueError, match="does not exist"):
        load_dataset(str(tmp_path / "missing.jsonl"))
    (tmp_path / "bad.jsonl").write_bytes(b'{"prompt": "a"}\n')
    with pytest.raises(ValueError, match="bad.jsonl: line 1: missing 'response'"):
        load_dataset(str(tmp_path / "bad.jsonl"))


# --- order parsing and scoring ---------------------------------------------------------------

REF = '{"item": "mug", "quantity": 3, "color": "red", "destination": "Lima"}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (REF, {"item": "mug", "quantity": 3, "color": "red", "destination": "Lima"}),
        (
            'Sure! Here it is: ```json\n{"destination": "Lima", "color": null, "item": "pen", '
            '"quantity": 1}\n``` Anything else?',
            {"item": "pen", "quantity": 1, "color": None, "destination": "Lima"},
        ),
        (
            '{oops} then {"item": "mug", "quantity": 3, "color": "red", "destination": "Lima"}',
            {"item": "mug", "quantity": 3, "color": "red", "destination": "Lima"},
        ),
        ('{"item": "mug", "quantity": "3", "color": "red", "destination": "Lima"}', None),
        ('{"item": "mug", "quantity": 3.0, "color": "red", "destination": "Lima"}', None),
        ('{"item": "mug", "quantity": 0, "color": "red", "destination": "Lima"}', None),
        ('{"item": "mug", "quantity": true, "color": "red", "destination": "Lima"}', None),
        ('{"item": "mug", "quantity": 3, "color": "", "destination": "Lima"}', None),
        ('{"item": "", "quantity": 3, "color": "red", "destination": "Lima"}', None),
        ('{"item": "mug", "quantity": 3, "destination": "Lima"}', None),
        ('{"item": "mug", "quantity": 3, "color": "red", "destination": "Lima", "x": 1}', None),
        ('{"item": "mug", "quantity": 3, "color": "red", "destination": "Lima"', None),
        ("item: mug, quantity: 3", None),
        ("", None),
    ],
)
def test_parse_order(text, expected):
    got = parse_order(text)
    assert got == expected
    if got is not None:
        assert list(got) == list(ORDER_KEYS)


def test_score_orders_on_hand_made_cases():
    refs = [REF] * 5
    predictions = [
        REF,  # exact
        'The order: {"item": "mug", "quantity": 3, "color": "red", "destination": "Lima"}.',  # exact
        '{"item": "mug", "quantity": 4, "color": "red", "destination": "Lima"}',  # valid, wrong
        '{"item": "mug", "quantity": 3, "color": "red", "destination": "lima"}',  # case matters
        "Sending 3 red mugs to Lima!",  # no JSON
    ]
    assert score_orders(predictions, refs) == {"valid_json": 4 / 5, "exact_match": 2 / 5, "n": 5}
    assert score_orders([REF], [REF]) == {"valid_json": 1.0, "exact_match": 1.0, "n": 1}
    assert score_orders(["{}"], [REF]) == {"valid_json": 0.0, "exact_match": 0.0, "n": 1}


def test_score_orders_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Got 1 predictions for 2 references"):
        score_orders([REF], [REF, REF])
    with pytest.raises(ValueError, match="Nothing to score"):
        score_orders([], [])
    with pytest.raises(ValueError, match="Reference 1 is not a valid order"):
        score_orders([REF, REF], [REF, "mug"])


def test_bundled_references_score_perfectly_against_themselves():
    refs = [e.response for e in load_dataset("orders").heldout]
    assert score_orders(refs, refs) == {"valid_json": 1.0, "exact_match": 1.0, "n": len(refs)}


def test_data_module_does_not_import_torch():
    code = "import sys, core.finetune.data; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=DATASETS_DIR.parents[1],
    )
    assert out.stdout.split() == ["False", "False"]


def test_orders_tokenize_short_with_the_bundled_tokenizer():
    """Short sequences keep the demo run fast; answers fit generate()'s 64 new tokens."""
    from transformers import AutoTokenizer

    from core.models import bundled_model_dir

    tokenizer = AutoTokenizer.from_pretrained(bundled_model_dir())
    ds = load_dataset("orders")
    examples = ds.train + ds.heldout
    prompt_tokens = [len(tokenizer(e.prompt)["input_ids"]) for e in examples]
    response_tokens = [len(tokenizer(e.response)["input_ids"]) for e in examples]
    assert max(prompt_tokens) < 64 and max(response_tokens) < 48


def test_csv_value_beyond_the_csv_module_limit_is_reported_as_too_long():
    import csv

    data = f'prompt,response\nq,"{"r" * (csv.field_size_limit() + 10)}"\n'.encode()
    with pytest.raises(ValueError, match="line 2: a value is longer than"):
        parse_upload(data, "x.csv")
