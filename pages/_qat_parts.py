"""Pieces of the PTQ-against-QAT page: training in a worker process, cached per setting, and
the tables. The figures are pages/_qat_figures.py."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

import streamlit as st

from core import qat

LAYER_NAMES = ("2 → 32 (input layer)", "32 → 32 (hidden layer)", "32 → 2 (output layer)")


@st.cache_resource
def _trainer():
    """One worker process for training. torch loads there, never in the app's server: its
    first import holds the interpreter for seconds (the browser would report a lost
    connection), and a training loop would hold it for every other student too.

    A spawned child first re-runs ``__main__.__file__``, and Streamlit installs the running
    script as ``__main__``: a bare module stands in while the child starts, so the child
    only imports what the work needs."""
    import multiprocessing
    import sys
    import types
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    script, sys.modules["__main__"] = sys.modules["__main__"], types.ModuleType("__main__")
    try:
        pool.submit(int).result(timeout=120)  # starts the child now
    finally:
        sys.modules["__main__"] = script
    return pool


def _in_worker(function, *args):
    try:
        return _trainer().submit(function, *args).result(timeout=900)
    except BrokenProcessPool:
        _trainer.clear()  # the worker died (e.g. out of memory): a fresh one next time
        raise


@st.cache_data(show_spinner=False, max_entries=64)
def baseline(kind: str, noise: float, seed: int) -> qat.Baseline:
    return _in_worker(qat.train_float, kind, noise, seed)


@st.cache_data(show_spinner=False, max_entries=640)
def width(kind: str, noise: float, seed: int, bits: int, per_channel: bool) -> qat.Width:
    return _in_worker(qat.quantize_width, baseline(kind, noise, seed), bits, per_channel)


@st.cache_data(show_spinner=False, max_entries=256)
def summary(kind: str, noise: float, seed: int, per_channel: bool) -> dict:
    """What the page prints for a setting, small enough to copy on every rerun: ``rows``
    (bits, fp32, ptq, qat) and ``qat_seconds`` (bits, seconds) per width of ``qat.BITS``;
    the float32 training's ``steps``, ``seconds`` and CPU ``threads``."""
    base = baseline(kind, noise, seed)
    widths = [width(kind, noise, seed, bits, per_channel) for bits in qat.BITS]
    return {
        "rows": tuple((w.bits, w.fp32_accuracy, w.ptq_accuracy, w.qat_accuracy) for w in widths),
        "qat_seconds": tuple((w.bits, w.qat_seconds) for w in widths),
        "qat_steps": widths[0].qat_steps,
        "steps": base.steps,
        "seconds": base.seconds,
        "threads": base.threads,
    }


@st.cache_resource
def _computed() -> set:
    return set()  # the settings already trained in this server: no progress bar for those


def results(kind: str, noise: float, seed: int, per_channel: bool) -> dict:
    """``summary`` of a setting. The first time, the float32 training and PTQ + QAT at each
    width run one by one (each a cached call into the worker) under a progress bar."""
    setting = (kind, noise, seed, per_channel)
    if setting not in _computed():
        bar = st.progress(0.0, "Training the float32 network ...")
        baseline(kind, noise, seed)
        for i, bits in enumerate(qat.BITS):
            bar.progress(0.15 + 0.85 * i / len(qat.BITS), f"PTQ and QAT at {bits} bits ...")
            width(kind, noise, seed, bits, per_channel)
        bar.empty()
        _computed().add(setting)
    return summary(kind, noise, seed, per_channel)


@st.cache_data(show_spinner=False, max_entries=64)
def sizes(kind, noise, seed, per_channel: bool) -> tuple[qat.ModelSize, ...]:
    """The network's size in float32, then at each width of ``qat.BITS``."""
    network = baseline(kind, noise, seed).network
    return (qat.model_size(network, None),) + tuple(
        qat.model_size(network, b, per_channel) for b in qat.BITS
    )


@st.cache_data(show_spinner=False, max_entries=256)
def calibration(kind, noise, seed, act_bits: int) -> qat.Calibration:
    return qat.calibration(baseline(kind, noise, seed), act_bits)


def size_table(sizes: tuple[qat.ModelSize, ...]) -> dict:
    return {
        "width": [s.label for s in sizes],
        "weights (B)": [f"{s.weight_bytes:,.0f}" for s in sizes],
        "biases (B)": [f"{s.bias_bytes:,.0f}" for s in sizes],
        "scales": [s.n_scales for s in sizes],
        "total (B)": [f"{s.n_bytes:,.0f}" for s in sizes],
        "smaller than float32": [f"{s.smaller_by:.2f}x" for s in sizes],
    }


def ranges_table(cal: qat.Calibration, n_samples: int) -> dict:
    point = next(p for p in cal.points if p.n_samples == n_samples)
    return {
        "layer input": ["x (the 2-D point)", "h1 (after layer 1)", "h2 (after layer 2)"],
        f"range from {n_samples} samples": [f"{r:.3f}" for r in point.ranges],
        "largest absolute value in the held-out data": [f"{r:.3f}" for r in cal.needed],
    }
