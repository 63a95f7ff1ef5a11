"""Property-based tests over every public function of every core module (found with
inspect, so a function added later is covered): random and adversarial arguments built
from the type hints - huge, tiny, NaN, infinite, empty, wrong types, enormous sizes - and
only two outcomes are accepted: a result, or a ValueError that says what was wrong.

Memory stays bounded: while a function runs, the process may not grow its address space by
more than ``HEADROOM`` (an enormous allocation fails at once with MemoryError, reported as a
missing size check), and a call that runs longer than ``CALL_SECONDS`` is a finding too.

Not called, because they load models, start processes or write files where they are told
(each has its own tests): see ``SKIPPED``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import pkgutil
import resource
import signal
import types
import typing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core

SKIPPED = {
    "core.finetune.train": "loads models and trains (tests/test_finetune_train.py)",
    "core.finetune.__main__": "the command line: starts a training run (tests/test_finetune_cli.py)",
    "core.finetune.write_json_atomic": "writes a file where it is told",
    "core.finetune.runs.write_json_atomic": "writes a file where it is told",
    "core.finetune.runs.start_run": "starts a training process",
    "core.finetune.runs.request_stop": "creates a file in a folder it is given",
    "core.finetune.runs.save_upload": "writes into the runs folder (tests/test_upload_safety.py)",
    "core.finetune.runs.active_run": "clears stale markers in the runs folder it is given",
    "core.models.resolve_model": "converts and loads a model (tests/test_models.py)",
    "core.models.atomic_folder": "creates and renames folders",
    "core.models.bundled_model_dir": "converts the bundled GGUF model on its first call",
    "core.quantization.cross_check": "imports torch and bitsandbytes (a worker process does it)",
    **dict.fromkeys(
        [f"core.finetune.classify.{n}" for n in (
            "load_classifier_base", "prepare_classifier", "make_classify_trainer",
            "evaluate_classifier", "predict", "class_probabilities", "save_classifier",
            "load_tuned_classifier", "trainable_parameters", "encode_labelled", "collator",
            "classify_lora_config", "run")],
        "loads, trains or saves a model (tests/test_classify.py)"),
    **dict.fromkeys(
        [f"core.finetune.device.{n}" for n in (
            "layer_footprint", "probe_kernel", "runtime_bytes", "measure", "profile",
            "profile_in_subprocess", "main")],
        "times or measures this machine in subprocesses (tests/test_finetune_device.py)"),
    **dict.fromkeys(
        [f"core.finetune.rundir.{n}" for n in ("write_json_atomic", "request_stop", "claim")],
        "writes a file where it is told (tests/test_finetune_runs.py)"),
}
HEADROOM = 2 * 2**30  # bytes of address space a call may add
CALL_SECONDS = 10
EXAMPLES = 25

# -- the functions -----------------------------------------------------------------------------


def core_modules() -> list[types.ModuleType]:
    names = ["core"] + [m.name for m in pkgutil.walk_packages(core.__path__, "core.")]
    return [importlib.import_module(n) for n in sorted(names) if n not in SKIPPED]


def public_functions() -> list[tuple[str, typing.Callable]]:
    """(qualified name, function) of every public function a core module defines (plain,
    ``functools.cache``d, or wrapped by ``core.checks``)."""
    found = []
    for module in core_modules():
        for name, function in vars(module).items():
            inner = inspect.unwrap(function) if callable(function) else None
            qualified = f"{module.__name__}.{name}"
            if (
                inspect.isfunction(inner)
                and inner.__module__ == module.__name__
                and not name.startswith("_")
                and qualified not in SKIPPED
            ):
                found.append((qualified, function))
    return found


FUNCTIONS = public_functions()

# -- values ------------------------------------------------------------------------------------

HUGE_INTS = [0, -1, 1, 2, 3, 7, 64, 2**31, 2**63, -(2**63), 10**12, 10**30]
ODD_FLOATS = [
    0.0,
    -0.0,
    1e-300,
    5e-324,
    -1.0,
    1.0,
    0.5,
    1e308,
    -1e308,
    math.inf,
    -math.inf,
    math.nan,
]
WRONG = [
    None,
    "",
    "x",
    [],
    {},
    (),
    object(),
    b"\x00",
    [[1, 2], [3]],
    "../../etc/passwd",
    "<script>alert(1)</script>",
]


def _constants() -> list:
    """Strings and tuples of strings the modules define (method names, presets...), so some
    calls get past the first check and reach the arithmetic."""
    pool = set()
    for module in core_modules():
        for value in vars(module).values():
            if isinstance(value, str) and len(value) < 60:
                pool.add(value)
            elif isinstance(value, (tuple, list, frozenset, set, dict)) and len(value) < 50:
                pool.update(v for v in value if isinstance(v, str) and len(v) < 60)
    return sorted(pool)


def _instances() -> dict[type, list]:
    """Dataclass instances the modules hold (the model presets), by type."""
    found: dict[type, list] = {}
    for module in core_modules():
        for value in vars(module).values():
            values = value.values() if isinstance(value, dict) else [value]
            for v in values:
                if dataclasses.is_dataclass(v) and not isinstance(v, type):
                    found.setdefault(type(v), []).append(v)
    return found


CONSTANTS = _constants()
INSTANCES = _instances()

ints = st.one_of(st.sampled_from(HUGE_INTS), st.integers(-5, 5000))
floats = st.one_of(st.sampled_from(ODD_FLOATS), st.floats(allow_nan=True, allow_infinity=True))
texts = st.one_of(
    st.sampled_from(CONSTANTS),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "1, 2, 3",
            "1 2\n3 4",
            "nan inf",
            "4-3-3-2-1",
            "1/2 0.25\n-3 x",
            "1e400",
            "[1, 2]",
            "{}",
        ]
    ),
)
vectors = st.one_of(
    st.lists(floats, max_size=40),
    st.lists(ints, max_size=10),
    st.builds(
        lambda n, seed: np.random.default_rng(seed).normal(size=n).astype(np.float32),
        st.integers(0, 3000),
        st.integers(0, 9),
    ),
    st.sampled_from(
        [
            np.array([]),
            np.zeros((2, 3)),
            np.array([np.nan, 1.0]),
            np.array([np.inf, -np.inf]),
            np.full(5, 1e38, np.float32),
            np.array(["a", "b"]),
            np.array([1, 2], dtype=object),
        ]
    ),
)
wrong = st.one_of(st.sampled_from(WRONG), st.integers(1000, 20_000).map(lambda n: "9" * n))
anything = st.one_of(ints, floats, texts, st.booleans(), vectors, wrong)


def strategy(hint) -> st.SearchStrategy:
    """Values for a parameter with this type hint: mostly of its type, some of any type."""
    return st.one_of(_typed(hint), wrong) if hint is not None else anything


def _typed(hint) -> st.SearchStrategy:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*[_typed(a) for a in args])
    if hint is type(None):
        return st.none()
    if hint is bool:
        return st.booleans()
    if hint is int:
        return ints
    if hint is float:
        return st.one_of(floats, ints)
    if hint is str:
        return texts
    if hint is bytes:
        return st.one_of(st.binary(max_size=200), st.sampled_from([b"", b"\xff\xfe", b"{}\n"]))
    if hint in (Path, typing.Any) or hint is inspect.Parameter.empty:
        return st.one_of(texts, st.sampled_from(["/nonexistent", "/etc", "/tmp"]), anything)
    if origin in (tuple, list, typing.Sequence, typing.Iterable) or hint in (tuple, list):
        inner = _typed(args[0]) if args and args[0] is not Ellipsis else anything
        return st.lists(inner, max_size=6).map(tuple if origin is tuple else list)
    if origin is dict or hint is dict:
        return st.dictionaries(texts, anything, max_size=4)
    if isinstance(hint, type) and issubclass(hint, np.ndarray):
        return vectors
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        known = INSTANCES.get(hint, [])
        fields = {
            f.name: strategy(_field_hint(hint, f)) for f in dataclasses.fields(hint) if f.init
        }
        built = st.fixed_dictionaries(fields).map(lambda kw: _build(hint, kw))
        return st.one_of(st.sampled_from(known), built) if known else built
    return anything


def _build(cls, kwargs):
    """An instance with odd fields, or the odd values themselves when the class refuses
    them (its own check is tested where it is called)."""
    try:
        return cls(**kwargs)
    except Exception:
        return kwargs


def _field_hint(cls, f):
    try:
        return typing.get_type_hints(cls).get(f.name)
    except Exception:
        return None


def arguments(function) -> st.SearchStrategy:
    try:
        hints = typing.get_type_hints(inspect.unwrap(function))
    except Exception:
        hints = {}
    params = [
        p
        for p in inspect.signature(function).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    required = {p.name: strategy(hints.get(p.name)) for p in params if p.default is p.empty}
    optional = {p.name: strategy(hints.get(p.name)) for p in params if p.default is not p.empty}
    return st.fixed_dictionaries(required, optional=optional)


# -- the property -----------------------------------------------------------------------------


class TookTooLong(Exception):
    pass


def _alarm(signum, frame):
    raise TookTooLong


def call_bounded(function, kwargs):
    """Call with the address space capped at its size now + HEADROOM, for CALL_SECONDS."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * resource.getpagesize()
    cap = size + HEADROOM if hard == resource.RLIM_INFINITY else min(hard, size + HEADROOM)
    old = signal.signal(signal.SIGALRM, _alarm)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.alarm(CALL_SECONDS)
    try:
        return function(**kwargs)
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, old)


def _short(kwargs) -> str:
    return ", ".join(f"{k}={v!r}"[:80] for k, v in kwargs.items())


CASES = [pytest.param(n, f, id=n) for n, f in FUNCTIONS]


@pytest.mark.parametrize("name,function", CASES)
def test_a_result_or_a_value_error_with_a_message(name, function, tmp_path, monkeypatch):
    if name.startswith("core.weights."):
        from core.models import bundled_model_dir

        bundled_model_dir()  # converted once, outside the memory cap (normally at set-up)
    monkeypatch.setenv("QLORA_LAB_RUNS", str(tmp_path))  # nothing reaches the real runs folder
    monkeypatch.chdir(tmp_path)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples on every run
        suppress_health_check=list(HealthCheck),
    )
    @given(arguments(function))
    def check(kwargs):
        try:
            call_bounded(function, kwargs)
        except (ValueError, FileNotFoundError) as error:  # a missing file: the documented error
            assert str(error).strip(), f"{name}({_short(kwargs)}): an error without a message"
        except TookTooLong:
            pytest.fail(f"{name}({_short(kwargs)}) ran over {CALL_SECONDS} s: bound the sizes")
        except MemoryError:
            pytest.fail(f"{name}({_short(kwargs)}) ran out of memory: bound the sizes")
        except Exception as error:
            pytest.fail(f"{name}({_short(kwargs)}) raised {type(error).__name__}: {error}"[:600])

    check()


def test_every_core_module_is_reached():
    reached = {name.rsplit(".", 1)[0] for name, _ in FUNCTIONS}
    expected = {
        m.__name__
        for m in core_modules()
        if any(inspect.isfunction(f) and f.__module__ == m.__name__ for f in vars(m).values())
        and m.__name__ != "core.checks"
    }
    assert expected <= reached, expected - reached
    assert len(FUNCTIONS) >= 60
