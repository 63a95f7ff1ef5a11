"""Shared test set-up: never reach a network, find GPU-only tests, and the tiny model that the
tests of plumbing train (``tiny_model``, saved once per test session)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


def pytest_sessionstart(session):
    """Before any test (and before parallel workers start): this machine's probe and the
    bundled model's conversion, each done once and cached on disk, so two workers never
    measure or convert at the same time (the page and a test then read one profile)."""
    if hasattr(session.config, "workerinput"):
        return  # a worker: the controller has done it
    import subprocess
    import sys
    from pathlib import Path

    code = ("from core.models import bundled_model_dir; bundled_model_dir(); "
            "from core.finetune.device import profile; profile()")
    subprocess.run([sys.executable, "-c", code], check=True,
                   cwd=Path(__file__).resolve().parents[1])


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """The folder of a tiny random model of SmolLM2's architecture (tests/tiny_model.py)."""
    from tests.tiny_model import save_tiny_model

    return str(save_tiny_model(tmp_path_factory.mktemp("tiny-model")))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A 2-layer BERT with hidden size 32 and random weights, with MiniLM's tokenizer
    (tests/tiny_bert.py)."""
    from tests.tiny_bert import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
