"""Post-training quantization (PTQ) against quantization-aware training (QAT), on a toy network.

The notes' two modes of quantization (CURRICULUM.md section 2, "Modes"):

- **PTQ**: train in float32, then round the trained weights onto a b-bit grid. The weights
  need no data for this: their range, max|W|, is read from the weights themselves.
  Activations are different: their range depends on the inputs, so PTQ of activations
  *calibrates* it on sample data (``calibration``).
- **QAT**: go on training with the rounding simulated in the forward pass (fake
  quantization) while the backward pass lets the gradient through the rounding unchanged
  (the straight-through estimator, Bengio et al. 2013, "Estimating or propagating
  gradients through stochastic neurons"), so the network learns weights that survive it.

The network is a multilayer perceptron 2 -> 32 -> 32 -> 2 (ReLU) on a 2-D toy dataset,
trained full batch with Adam in float32 on one CPU thread: a few seconds. Rounding is
``core.quantization``'s absmax quantizer, per tensor or per output channel (one scale per
row of W). Biases stay in float32, as integer inference engines keep them in 32 bits.

torch is imported only by the functions that train (``train_float``, ``quantize_width``,
``fake_quantize``); everything that evaluates a trained network (accuracy, decision
regions, calibration, sizes) is numpy, so a page can show results without loading torch.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import numpy as np

from core.quantization import FP32_BITS, MAX_BITS, MIN_BITS, quantize_absmax, quantize_blockwise

KINDS = ("spirals", "moons", "rings")
BITS = (8, 6, 4, 3, 2)  # the widths the lesson compares
LAYERS = (2, 32, 32, 2)  # inputs, two hidden layers, one logit per class
HELD_OUT = 0.3  # share of the points kept for measuring accuracy
TRAIN_STEPS, TRAIN_LR = 800, 0.01  # float32 training: full batch Adam, cosine decay
QAT_STEPS, QAT_LR = 400, 0.003  # QAT fine-tuning from the float32 weights, same schedule
CALIBRATION_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # samples; the whole training set is added
TRAIN_THREADS = 1  # these matrices are tiny: a second thread only adds synchronisation
MAX_POINTS, MAX_SEED = 5000, 2**32 - 1
SPIRAL_TURNS = 1.25


# --- validation ------------------------------------------------------------------------


def _check_int(name: str, value, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not low <= value <= high
    ):
        raise ValueError(f"{name} must be a whole number from {low} to {high:,}, got {value!r}")
    return int(value)


def _check_bits(bits) -> int:
    return _check_int("bits", bits, MIN_BITS, MAX_BITS)


def _check_setting(kind, noise, seed) -> tuple[str, float, int]:
    if kind not in KINDS:
        raise ValueError(f"Unknown dataset {kind!r}; expected one of {KINDS}")
    if not (isinstance(noise, (int, float, np.number)) and not isinstance(noise, bool)):
        raise ValueError(f"noise must be a number from 0 to 1, got {noise!r}")
    if not (math.isfinite(noise) and 0 <= noise <= 1):
        raise ValueError(f"noise must be from 0 to 1, got {noise!r}")
    return kind, float(noise), _check_int("seed", seed, 0, MAX_SEED)


# --- the data ---------------------------------------------------------------------------


def make_dataset(
    kind: str = "spirals", n: int = 1000, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D two-class toy dataset: points ``X`` float32 (n, 2), labels ``y`` int64 (n,).

    Half the points in each class, shuffled, from ``np.random.default_rng(seed)``; every
    point gets Gaussian noise of standard deviation ``noise`` per coordinate.

    - "spirals": two interleaved arms of 1.25 turns, class k at angle t + k*pi, radius
      t / (2*pi*1.25) in [0, 1], t = 2*pi*1.25*sqrt(u) (even density along the arm).
    - "moons": two interleaving half circles (as scikit-learn's ``make_moons``), centred.
    - "rings": a ring of radius 0.4 inside a ring of radius 0.9.
    """
    kind, noise, seed = _check_setting(kind, noise, seed)
    n = _check_int("n", n, 10, MAX_POINTS)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2  # (n,) balanced classes
    u = rng.uniform(0, 1, n)
    if kind == "spirals":
        t = 2 * np.pi * SPIRAL_TURNS * np.sqrt(u)
        radius, angle = t / (2 * np.pi * SPIRAL_TURNS), t + np.pi * y
        X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    elif kind == "moons":
        t = np.pi * u
        outer = np.stack([np.cos(t), np.sin(t)], axis=1)
        inner = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
        X = (np.where(y[:, None] == 0, outer, inner) - [0.5, 0.25]) / 1.25
    else:
        angle = 2 * np.pi * u
        radius = np.where(y == 0, 0.4, 0.9)
        X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    X = X + rng.normal(0, noise, (n, 2))
    order = rng.permutation(n)
    return X[order].astype(np.float32), y[order].astype(np.int64)


# --- rounding the weights ---------------------------------------------------------------


def round_weights(W: np.ndarray, bits: int, per_channel: bool = False) -> np.ndarray:
    """W rounded onto the b-bit absmax grid and back (quantize, then dequantize), float32.

        per tensor:  x_hat = quantize_absmax(W, bits).dequantize()       one scale max|W| / q_max
        per channel: the same for each row of W (each output channel)     one scale per row

    Per channel is ``quantize_blockwise`` with one block per row of the row-major W, which is
    ``quantize_absmax`` applied row by row (the tests check they are identical).
    """
    W = np.asarray(W, dtype=np.float32)
    if not per_channel:
        return quantize_absmax(W.ravel(), bits).dequantize().reshape(W.shape)
    if W.ndim != 2:
        raise ValueError(
            f"per-channel rounding needs a 2-D weight (d_out, d_in), got shape {W.shape}"
        )
    d_out, d_in = W.shape
    return quantize_blockwise(W.ravel(), d_in, bits).dequantize().reshape(d_out, d_in)


@cache
def _straight_through():
    """The autograd Function behind ``fake_quantize`` (built on first use: imports torch)."""
    import torch

    class FakeQuantize(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, bits, per_channel):
            x_hat = round_weights(x.detach().cpu().numpy(), bits, per_channel)
            return torch.from_numpy(x_hat).to(device=x.device, dtype=x.dtype)

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, None, None  # straight through: d x_hat / d x taken as 1

    return FakeQuantize


def fake_quantize(x, bits: int, per_channel: bool = False):
    """Symmetric absmax quantize-then-dequantize of a tensor, with a straight-through gradient.

        forward:  x_hat = round_weights(x, bits, per_channel)
                  = core.quantization.quantize_absmax(x, bits).dequantize()   (per row when
                    per_channel; computed in float32, returned in x's dtype and shape)
        backward: dL/dx = dL/dx_hat   (the rounding is treated as the identity)

    ``x``: a floating torch tensor; (d_out, d_in) when ``per_channel``. Raises ValueError for
    anything else, for non-finite values, or bits outside 2..8.
    """
    import torch

    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(
            f"fake_quantize needs a floating-point torch.Tensor, got {type(x).__name__}"
        )
    if x.numel() == 0:
        raise ValueError("fake_quantize got an empty tensor; expected at least one value")
    if per_channel not in (True, False):
        raise ValueError(f"per_channel must be True or False, got {per_channel!r}")
    if per_channel and x.dim() != 2:
        raise ValueError(
            f"per-channel fake quantization needs a 2-D tensor, got shape {tuple(x.shape)}"
        )
    return _straight_through().apply(x, _check_bits(bits), bool(per_channel))


# --- the network --------------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    """An MLP's parameters as numpy arrays: ``weights[l]`` (d_out, d_in), ``biases[l]`` (d_out,)."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    def rounded(self, bits: int, per_channel: bool = False) -> Network:
        """The network PTQ ships at ``bits``: every weight rounded, biases kept in float32."""
        bits = _check_bits(bits)
        return Network(
            tuple(round_weights(W, bits, per_channel) for W in self.weights), self.biases
        )

    def inputs(self, X: np.ndarray, act_bits: int | None = None, ranges=None) -> list[np.ndarray]:
        """What each layer reads, [(n, d_in) per layer], and the logits (n, n_classes) last.

        a_0 = X, a_{l+1} = relu(a_l W_l^T + b_l) (no relu after the last layer). With
        ``act_bits``, every layer input a_l is first rounded with
        ``quantize_absmax(a_l, act_bits, clip=ranges[l])``: one scale per tensor, from the
        calibrated range (values beyond it are clamped).
        """
        a, reads = np.asarray(X, dtype=np.float32), []
        for layer, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if act_bits is not None:
                rounded = quantize_absmax(a.ravel(), act_bits, clip=float(ranges[layer]))
                a = rounded.dequantize().reshape(a.shape)
            reads.append(a)
            a = a @ W.T + b
            if layer < len(self.weights) - 1:
                a = np.maximum(a, 0)
        return [*reads, a]

    def predict(self, X: np.ndarray, act_bits: int | None = None, ranges=None) -> np.ndarray:
        """The class with the largest logit, int64 (n,)."""
        return self.inputs(X, act_bits, ranges)[-1].argmax(axis=1)

    def accuracy(self, X, y, act_bits: int | None = None, ranges=None) -> float:
        """Share of points classified correctly, in [0, 1]."""
        return float(np.mean(self.predict(X, act_bits, ranges) == y))

    @property
    def n_weights(self) -> int:
        return sum(W.size for W in self.weights)

    @property
    def n_biases(self) -> int:
        return sum(b.size for b in self.biases)


@dataclass(frozen=True)
class Baseline:
    """The float32 network trained on one setting, and its data.

    ``x_train`` (n_train, 2), ``y_train`` (n_train,), ``x_test``/``y_test`` the held-out
    points; ``extent`` (x_min, x_max, y_min, y_max) of all points with a margin, for
    pictures; ``accuracy`` held-out, in [0, 1]; ``seconds`` of training on this machine.
    """

    kind: str
    noise: float
    seed: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    extent: tuple[float, float, float, float]
    network: Network
    accuracy: float
    seconds: float
    steps: int
    threads: int


@dataclass(frozen=True)
class Width:
    """PTQ and QAT at one bit width.

    ``ptq``: the float32 network rounded (``Baseline.network.rounded(bits)``); ``qat_latent``:
    the float32 weights QAT ends with; ``qat``: those rounded, the network QAT ships.
    Accuracies are held-out, in [0, 1]; ``qat_seconds`` is QAT's training time here, on
    ``threads`` CPU threads.
    """

    bits: int
    per_channel: bool
    ptq: Network
    qat_latent: Network
    qat: Network
    fp32_accuracy: float
    ptq_accuracy: float
    qat_accuracy: float
    qat_seconds: float
    qat_steps: int
    threads: int


@contextmanager
def _one_thread():
    """Train on ``TRAIN_THREADS`` CPU threads: these matrices are tiny, so a second thread only
    adds synchronisation (and on a shared machine, waiting); the count is restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    try:
        yield torch
    finally:
        torch.set_num_threads(before)


def _train(torch, params, X, y, steps: int, lr: float, bits: int | None, per_channel: bool):
    """Full-batch Adam with cosine decay on cross-entropy; with ``bits``, the forward pass
    uses ``fake_quantize``d weights (QAT). Updates ``params`` [W_0, b_0, W_1, b_1, ...] in place."""
    optimizer = torch.optim.Adam(params, lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        a = X
        for layer in range(len(params) // 2):
            W, b = params[2 * layer], params[2 * layer + 1]
            W = fake_quantize(W, bits, per_channel) if bits is not None else W
            a = torch.nn.functional.linear(a, W, b)
            if layer < len(params) // 2 - 1:
                a = torch.relu(a)
        loss = torch.nn.functional.cross_entropy(a, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()


def _params(torch, network: Network) -> list:
    return [
        torch.tensor(p, requires_grad=True)
        for W, b in zip(network.weights, network.biases, strict=True)
        for p in (W, b)
    ]


def _network(params) -> Network:
    arrays = [p.detach().numpy().copy() for p in params]
    return Network(tuple(arrays[0::2]), tuple(arrays[1::2]))


def train_float(
    kind: str = "spirals", noise: float = 0.1, seed: int = 0, n: int = 1000
) -> Baseline:
    """Train the 2-32-32-2 MLP in float32 on ``make_dataset(kind, n, noise, seed)``.

    1) data: the first 70% of the shuffled points train, the rest are held out;
    2) initialise each layer U(-1/sqrt(d_in), 1/sqrt(d_in)) (torch.nn.Linear's default range)
       from ``torch.Generator().manual_seed(seed)``: no global random state is touched;
    3) ``TRAIN_STEPS`` full-batch Adam steps, lr ``TRAIN_LR`` with cosine decay.
    Deterministic for a given setting (one thread, no sampling).
    """
    kind, noise, seed = _check_setting(kind, noise, seed)
    X, y = make_dataset(kind, n, noise, seed)  # 1)
    n_train = round(len(X) * (1 - HELD_OUT))
    margin = 0.25
    extent = (
        float(X[:, 0].min() - margin),
        float(X[:, 0].max() + margin),
        float(X[:, 1].min() - margin),
        float(X[:, 1].max() + margin),
    )
    with _one_thread() as torch:
        generator = torch.Generator().manual_seed(seed)  # 2)
        params = []
        for d_in, d_out in zip(LAYERS[:-1], LAYERS[1:], strict=True):
            bound = 1 / math.sqrt(d_in)
            for shape in ((d_out, d_in), (d_out,)):
                p = torch.empty(shape).uniform_(-bound, bound, generator=generator)
                params.append(p.requires_grad_())
        start = time.perf_counter()
        x_train, y_train = torch.from_numpy(X[:n_train]), torch.from_numpy(y[:n_train])
        _train(torch, params, x_train, y_train, TRAIN_STEPS, TRAIN_LR, None, False)  # 3)
        seconds, threads = time.perf_counter() - start, torch.get_num_threads()
    network = _network(params)
    x_test, y_test = X[n_train:], y[n_train:]
    return Baseline(
        kind, noise, seed, X[:n_train], y[:n_train], x_test, y_test, extent, network,
        network.accuracy(x_test, y_test), seconds, TRAIN_STEPS, threads,
    )  # fmt: skip


def quantize_width(base: Baseline, bits: int, per_channel: bool = False) -> Width:
    """PTQ and QAT of ``base``'s network at ``bits`` bits.

    PTQ: round the trained float32 weights (no data needed). QAT: starting from the same
    float32 weights, ``QAT_STEPS`` more full-batch Adam steps (lr ``QAT_LR``, cosine decay)
    with ``fake_quantize``d weights in the forward pass, then round the result. Both are
    measured on the held-out points.
    """
    bits = _check_bits(bits)
    if per_channel not in (True, False):
        raise ValueError(f"per_channel must be True or False, got {per_channel!r}")
    ptq = base.network.rounded(bits, per_channel)
    with _one_thread() as torch:
        params = _params(torch, base.network)
        start = time.perf_counter()
        x_train, y_train = torch.from_numpy(base.x_train), torch.from_numpy(base.y_train)
        _train(torch, params, x_train, y_train, QAT_STEPS, QAT_LR, bits, per_channel)
        seconds, threads = time.perf_counter() - start, torch.get_num_threads()
    latent = _network(params)
    qat = latent.rounded(bits, per_channel)
    return Width(
        bits, bool(per_channel), ptq, latent, qat, base.accuracy,
        ptq.accuracy(base.x_test, base.y_test), qat.accuracy(base.x_test, base.y_test),
        seconds, QAT_STEPS, threads,
    )  # fmt: skip


def compare(
    bits: list[int],
    kind: str = "spirals",
    seed: int = 0,
    noise: float = 0.1,
    per_channel: bool = False,
) -> list[dict]:
    """Held-out accuracy of float32, PTQ and QAT at each width in ``bits``.

    One float32 training (``train_float``), then ``quantize_width`` per width. Returns one
    dict per width, in the order given: ``{"bits", "fp32", "ptq", "qat"}``, accuracies in [0, 1].
    """
    if isinstance(bits, (str, bytes)) or not hasattr(bits, "__iter__"):
        raise ValueError(
            f"bits must be a list of widths from {MIN_BITS} to {MAX_BITS}, got {bits!r}"
        )
    widths = [_check_bits(b) for b in bits]
    if not widths:
        raise ValueError("bits is empty; expected at least one width")
    base = train_float(kind, noise, seed)
    rows = []
    for b in widths:
        result = quantize_width(base, b, per_channel)
        rows.append(
            {
                "bits": b,
                "fp32": base.accuracy,
                "ptq": result.ptq_accuracy,
                "qat": result.qat_accuracy,
            }
        )
    return rows


# --- what the page shows ------------------------------------------------------------------


def grid_axes(extent, size: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``size`` evenly spaced x and y coordinates covering ``extent``, float32 (size,) each."""
    size = _check_int("size", size, 2, 400)
    x0, x1, y0, y1 = extent
    return (
        np.linspace(x0, x1, size, dtype=np.float32),
        np.linspace(y0, y1, size, dtype=np.float32),
    )


def decision_regions(network: Network, extent, size: int = 100) -> np.ndarray:
    """The predicted class at every point of a size x size grid over ``extent``, uint8
    (size, size), row i at y = ys[i], column j at x = xs[j] (a heatmap's layout)."""
    xs, ys = grid_axes(extent, size)
    gx, gy = np.meshgrid(xs, ys)  # (size, size) each
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (size*size, 2)
    return network.predict(points).reshape(size, size).astype(np.uint8)


@dataclass(frozen=True)
class ModelSize:
    """Storage of the network at one width, in bytes: weights at ``weight_bits`` each,
    biases in float32, one float32 scale per weight tensor or per output row.
    ``smaller_by`` = float32 size / this size."""

    label: str
    weight_bits: int
    n_weights: int
    n_biases: int
    n_scales: int
    weight_bytes: float
    bias_bytes: float
    scale_bytes: float
    n_bytes: float
    smaller_by: float


def model_size(network: Network, bits: int | None, per_channel: bool = False) -> ModelSize:
    """Bytes to store ``network`` with its weights at ``bits`` (None: float32, no scales).

        bytes = (n_weights * bits + n_biases * 32 + n_scales * 32) / 8
        n_scales = number of weight tensors (per tensor) or of output rows (per channel)

    The 2-32-32-2 network: 1152 weights, 66 biases; float32 4,872 bytes.
    """
    n_w, n_b = network.n_weights, network.n_biases
    if bits is None:
        label, bits, n_scales = "float32", FP32_BITS, 0
    else:
        bits = _check_bits(bits)
        label = f"{bits} bits"
        n_scales = sum(W.shape[0] for W in network.weights) if per_channel else len(network.weights)
    parts = (n_w * bits / 8, n_b * FP32_BITS / 8, n_scales * FP32_BITS / 8)
    total = sum(parts)
    return ModelSize(label, bits, n_w, n_b, n_scales, *parts, total, (n_w + n_b) * 4 / total)


@dataclass(frozen=True)
class Histogram:
    """Weights before rounding as ``counts`` over bins ``edges`` (bins + 1,), and after
    rounding as the distinct ``levels`` with how many weights landed on each."""

    edges: np.ndarray
    counts: np.ndarray
    levels: np.ndarray
    level_counts: np.ndarray


def weight_histogram(before: np.ndarray, after: np.ndarray, bins: int = 40) -> Histogram:
    """Histogram of ``before`` (numpy's ``histogram`` over [min, max] of both arrays) and the
    count of each distinct value of ``after`` (the grid levels the rounding used)."""
    before, after = np.ravel(before), np.ravel(after)
    low = float(min(before.min(), after.min()))
    high = float(max(before.max(), after.max()))
    counts, edges = np.histogram(before, bins=_check_int("bins", bins, 1, 1000), range=(low, high))
    levels, level_counts = np.unique(after, return_counts=True)
    return Histogram(edges, counts, levels, level_counts)


@dataclass(frozen=True)
class CalibrationPoint:
    """Activations rounded with ranges calibrated on the first ``n_samples`` training
    points: ``ranges`` (one per layer input, max |a_l| over those samples) and the held-out
    ``accuracy`` of the float32 weights with every layer input rounded at ``act_bits``."""

    n_samples: int
    ranges: tuple[float, ...]
    accuracy: float


@dataclass(frozen=True)
class Calibration:
    """``points`` for growing calibration sets (the last: the whole training set);
    ``needed`` the ranges the held-out points actually reach; ``fp32_accuracy`` with no
    rounding at all."""

    act_bits: int
    points: tuple[CalibrationPoint, ...]
    needed: tuple[float, ...]
    fp32_accuracy: float


def calibration(base: Baseline, act_bits: int = 8, sizes=CALIBRATION_SIZES) -> Calibration:
    """PTQ of activations needs data: the range of each layer's input from N samples.

        range_l(N) = max |a_l(x)| over the first N training points x      (one per layer)
        a_l -> quantize_absmax(a_l, act_bits, clip=range_l(N)).dequantize()

    Too few samples under-estimate the range, so held-out activations beyond it are
    clamped; the weights stay float32 here, to show the activations' effect alone. The
    whole training set is always added as the last point.
    """
    act_bits = _check_bits(act_bits)
    n_train = len(base.x_train)
    sizes = sorted({_check_int("calibration size", s, 1, n_train) for s in sizes} | {n_train})
    reads = base.network.inputs(base.x_train)[:-1]  # float32 inputs of each layer
    points = []
    for n in sizes:
        ranges = tuple(float(np.abs(a[:n]).max()) for a in reads)
        accuracy = base.network.accuracy(base.x_test, base.y_test, act_bits, ranges)
        points.append(CalibrationPoint(n, ranges, accuracy))
    needed = tuple(float(np.abs(a).max()) for a in base.network.inputs(base.x_test)[:-1])
    return Calibration(act_bits, tuple(points), needed, base.accuracy)


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
