"""PTQ against QAT: fake quantization against core.quantization and torch's own fake
quantization, the straight-through gradient, the data, and the comparison's results."""

import numpy as np
import pytest
import torch

from core import qat
from core.params import mlp_param_count
from core.quantization import quantize_absmax


@pytest.fixture(scope="module")
def base() -> qat.Baseline:
    return qat.train_float("spirals", 0.1, 0)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return qat.compare([8, 3, 2], kind="spirals", seed=0)


def _weights(shape, seed=0, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 0.3


# --- fake_quantize ------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
def test_forward_is_quantize_absmax_then_dequantize(bits):
    x = _weights((32, 32), seed=bits)
    expected = quantize_absmax(x.numpy().ravel(), bits).dequantize().reshape(32, 32)
    out = qat.fake_quantize(x, bits)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert torch.equal(out, torch.from_numpy(expected))  # exactly, not approximately
    assert len(torch.unique(out)) <= 2**bits - 1  # -q_max..q_max


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_per_channel_is_quantize_absmax_row_by_row(bits):
    x = _weights((16, 24), seed=10 + bits)
    x[3] *= 20  # one loud row: per channel, it coarsens only its own grid
    rows = [quantize_absmax(row, bits).dequantize() for row in x.numpy()]
    out = qat.fake_quantize(x, bits, per_channel=True)
    assert torch.equal(out, torch.from_numpy(np.stack(rows)))
    assert not torch.equal(out, qat.fake_quantize(x, bits))


def test_float64_input_is_rounded_in_float32_and_returned_as_float64():
    x = _weights((8, 8), dtype=torch.float64)
    out = qat.fake_quantize(x, 4)
    expected = quantize_absmax(x.numpy().ravel(), 4).dequantize().reshape(8, 8)  # float32
    assert out.dtype == torch.float64
    assert torch.equal(out, torch.from_numpy(expected.astype(np.float64)))


def test_agrees_with_torch_fake_quantize_per_tensor_and_per_channel():
    x = _weights((32, 16), seed=3)
    q_max = 2 ** (4 - 1) - 1
    scale = float(x.abs().max()) / q_max
    reference = torch.fake_quantize_per_tensor_affine(x, scale, 0, -q_max, q_max)
    torch.testing.assert_close(qat.fake_quantize(x, 4), reference, rtol=0, atol=1e-6)
    scales = (x.abs().amax(dim=1) / q_max).to(torch.float32)
    zeros = torch.zeros(32, dtype=torch.int32)
    reference = torch.fake_quantize_per_channel_affine(x, scales, zeros, 0, -q_max, q_max)
    torch.testing.assert_close(qat.fake_quantize(x, 4, True), reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("per_channel", [False, True])
def test_gradient_is_the_identity(per_channel):
    x = _weights((12, 5), seed=4).requires_grad_()
    upstream = torch.randn(12, 5, generator=torch.Generator().manual_seed(5))
    qat.fake_quantize(x, 3, per_channel).backward(upstream)
    assert torch.equal(x.grad, upstream)


def test_straight_through_gradient_is_the_gradient_at_the_rounded_weights():
    """The STE's claim: dL/dW (latent) equals dL/dW_hat, computed by torch with W_hat as a leaf."""
    W = _weights((6, 4), seed=6).requires_grad_()
    x = torch.randn(10, 4, generator=torch.Generator().manual_seed(7))
    torch.nn.functional.linear(x, qat.fake_quantize(W, 2)).square().sum().backward()
    W_hat = torch.from_numpy(quantize_absmax(W.detach().numpy().ravel(), 2).dequantize())
    W_hat = W_hat.reshape(6, 4).requires_grad_()
    torch.nn.functional.linear(x, W_hat).square().sum().backward()
    assert torch.equal(W.grad, W_hat.grad)
    # torch's fake quantization has the same straight-through backward inside the range
    W_ref = W.detach().clone().requires_grad_()
    scale = float(W_ref.detach().abs().max())  # q_max = 1 at 2 bits
    out = torch.fake_quantize_per_tensor_affine(W_ref, scale, 0, -1, 1)
    torch.nn.functional.linear(x, out).square().sum().backward()
    torch.testing.assert_close(W_ref.grad, W.grad)


@pytest.mark.parametrize(
    ("x", "bits", "per_channel", "message"),
    [
        ([1.0, 2.0], 4, False, "torch.Tensor"),
        (torch.arange(4), 4, False, "floating-point"),
        (torch.ones(3, 3), 1, False, "bits"),
        (torch.ones(3, 3), 9, False, "bits"),
        (torch.ones(3, 3), 4.0, False, "bits"),
        (torch.ones(4), 4, True, "2-D"),
        (torch.tensor([1.0, float("nan")]), 4, False, "finite"),
        (torch.ones(0), 4, False, "empty"),
    ],
)
def test_bad_input_raises_value_error(x, bits, per_channel, message):
    with pytest.raises(ValueError, match=message):
        qat.fake_quantize(x, bits, per_channel)


# --- the data -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", qat.KINDS)
def test_dataset_shapes_balance_and_seed(kind):
    X, y = qat.make_dataset(kind, n=301, noise=0.05, seed=3)
    assert X.shape == (301, 2) and X.dtype == np.float32
    assert y.shape == (301,) and np.issubdtype(y.dtype, np.integer)
    assert set(np.unique(y)) == {0, 1} and abs(int(y.sum()) - 150) <= 1
    X2, y2 = qat.make_dataset(kind, n=301, noise=0.05, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, qat.make_dataset(kind, n=301, noise=0.05, seed=4)[0])


def test_rings_without_noise_lie_on_their_radii_and_noise_spreads_them():
    X, y = qat.make_dataset("rings", n=200, noise=0.0, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 0.4, atol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.9, atol=1e-6)
    noisy = np.hypot(*qat.make_dataset("rings", n=200, noise=0.1, seed=0)[0].T)
    assert 0.05 < np.std(noisy[y == 0] - 0.4) < 0.2


def test_spiral_arms_are_half_a_turn_apart():
    X, y = qat.make_dataset("spirals", n=400, noise=0.0, seed=1)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius.max() <= 1 + 1e-6
    t = radius * 2 * np.pi * qat.SPIRAL_TURNS  # angle along the arm
    angle = np.arctan2(X[:, 1], X[:, 0])
    offset = np.angle(np.exp(1j * (angle - t)))  # 0 for arm 0, +-pi for arm 1
    np.testing.assert_allclose(np.abs(offset[y == 0]), 0, atol=1e-4)
    np.testing.assert_allclose(np.abs(offset[y == 1]), np.pi, atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "circles"}, "Unknown dataset"),
        ({"n": 5}, "n must be"),
        ({"n": 10**6}, "n must be"),
        ({"noise": -0.1}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"noise": "a"}, "noise"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_dataset_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        qat.make_dataset(**kwargs)


# --- training, PTQ and QAT ------------------------------------------------------------------


def test_qat_beats_ptq_at_low_widths_and_ptq8_keeps_float32(rows):
    by_bits = {row["bits"]: row for row in rows}
    assert [row["bits"] for row in rows] == [8, 3, 2]
    assert all(set(row) == {"bits", "fp32", "ptq", "qat"} for row in rows)
    assert all(0 <= row[k] <= 1 for row in rows for k in ("fp32", "ptq", "qat"))
    assert by_bits[8]["fp32"] > 0.9  # the float32 network has learned the spirals
    assert abs(by_bits[8]["ptq"] - by_bits[8]["fp32"]) <= 0.01
    assert by_bits[3]["qat"] >= by_bits[3]["ptq"]
    assert by_bits[2]["qat"] >= by_bits[2]["ptq"]
    assert by_bits[2]["qat"] > by_bits[2]["ptq"] + 0.1  # not a tie: QAT recovers at 2 bits


def test_training_is_deterministic_and_restores_the_thread_count(base, rows):
    """compare() trained its own float32 network; the same setting here gives the same results."""
    threads = torch.get_num_threads()
    result = qat.quantize_width(base, 2)
    assert torch.get_num_threads() == threads
    assert result.threads == base.threads == qat.TRAIN_THREADS == 1  # trained on one thread
    assert (result.ptq_accuracy, result.qat_accuracy) == (rows[2]["ptq"], rows[2]["qat"])
    assert base.accuracy == rows[2]["fp32"]
    for W in result.qat.weights:  # QAT ships weights on the 2-bit grid: {-s, 0, s}
        assert len(np.unique(W)) <= 3


def test_numpy_inference_matches_torch(base):
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 2),
    )  # fmt: skip
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for layer, W, b in zip(linears, base.network.weights, base.network.biases, strict=True):
            layer.weight.copy_(torch.from_numpy(W))
            layer.bias.copy_(torch.from_numpy(b))
        logits = net(torch.from_numpy(base.x_test))
    ours = base.network.inputs(base.x_test)[-1]
    np.testing.assert_allclose(ours, logits.numpy(), rtol=1e-5, atol=1e-5)
    expected = float((logits.argmax(1).numpy() == base.y_test).mean())
    assert base.accuracy == pytest.approx(expected, abs=1 / len(base.y_test))
    grid = qat.decision_regions(base.network, base.extent, size=50)
    xs, ys = qat.grid_axes(base.extent, size=50)
    with torch.no_grad():
        point = torch.tensor([[xs[7], ys[41]]])
        assert grid[41, 7] == int(net(point).argmax())
    assert grid.shape == (50, 50) and set(np.unique(grid)) == {0, 1}


def test_ptq_network_rounds_weights_and_keeps_biases(base):
    ptq = base.network.rounded(4, per_channel=True)
    for W, W_hat in zip(base.network.weights, ptq.weights, strict=True):
        expected = np.stack([quantize_absmax(row, 4).dequantize() for row in W])
        assert np.array_equal(W_hat, expected)
    assert all(b is b2 for b, b2 in zip(base.network.biases, ptq.biases, strict=True))


# --- sizes, histograms, calibration ----------------------------------------------------------


def test_model_size_counts_weights_biases_and_scales(base):
    fp32 = qat.model_size(base.network, None)
    assert fp32.n_weights + fp32.n_biases == mlp_param_count(qat.LAYERS)  # 1218
    assert fp32.n_bytes == 4 * mlp_param_count(qat.LAYERS)
    per_tensor = qat.model_size(base.network, 2)
    # 1152 weights x 2 bits + (66 biases + 3 scales) x 32 bits
    assert per_tensor.n_bytes == (1152 * 2 + (66 + 3) * 32) / 8
    per_channel = qat.model_size(base.network, 2, per_channel=True)
    rows_of_w = sum(quantize_absmax(row, 2).q.size > 0 for W in base.network.weights for row in W)
    assert per_channel.n_scales == rows_of_w == 66
    with pytest.raises(ValueError, match="bits"):
        qat.model_size(base.network, 1)


def test_weight_histogram_counts_every_weight_and_the_grid_levels(base):
    W = base.network.weights[1]
    hist = qat.weight_histogram(W, qat.round_weights(W, 3))
    assert hist.counts.sum() == hist.level_counts.sum() == W.size
    assert len(hist.levels) <= 7  # 3 bits: -3..3 times the scale
    scale = np.abs(W).max() / 3
    np.testing.assert_allclose(hist.levels / scale, np.rint(hist.levels / scale), atol=1e-4)


def test_calibration_needs_enough_samples(base):
    cal = qat.calibration(base, act_bits=8)
    sizes = [p.n_samples for p in cal.points]
    assert sizes == [*qat.CALIBRATION_SIZES, len(base.x_train)]
    for earlier, later in zip(cal.points, cal.points[1:], strict=False):  # ranges only grow
        assert all(a <= b for a, b in zip(earlier.ranges, later.ranges, strict=True))
    # the whole training set: the ranges are the largest |input| of each layer (torch forward)
    x = torch.from_numpy(base.x_train)
    W = [torch.from_numpy(w) for w in base.network.weights]
    b = [torch.from_numpy(v) for v in base.network.biases]
    h1 = torch.relu(x @ W[0].T + b[0])
    h2 = torch.relu(h1 @ W[1].T + b[1])
    expected = [float(t.abs().max()) for t in (x, h1, h2)]
    np.testing.assert_allclose(cal.points[-1].ranges, expected, rtol=1e-5)
    assert abs(cal.points[-1].accuracy - base.accuracy) <= 0.02  # 8-bit activations: harmless
    assert cal.points[0].accuracy < base.accuracy - 0.2  # one sample: most inputs clipped


def test_bad_widths_raise():
    for bits in ([], [1], [9], "8", 8, [8.0]):
        with pytest.raises(ValueError, match="bits"):
            qat.compare(bits)
