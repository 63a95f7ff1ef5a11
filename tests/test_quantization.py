"""Our quantizers against the references: torch's MinMaxObserver + quantize_per_tensor,
bitsandbytes' row-wise int8 and NF4, and the curriculum's worked examples."""

import math

import numpy as np
import pytest
import torch

from core import quantization as Q

pytestmark = pytest.mark.filterwarnings("ignore:.*quantize_per_tensor:UserWarning")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Thousands of tiny tensors: one thread is faster; the rest of the suite keeps its own."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_vectors(seed: int, count: int, max_len: int = 2000, ties: bool = True):
    """Normal, uniform, with outliers, all-positive, and (if ``ties``) on a coarse lattice,
    where many values fall exactly halfway between two grid points."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        n = int(rng.integers(1, max_len))
        scale = float(rng.uniform(1e-3, 1e3))
        kind = i % (5 if ties else 4)
        if kind == 0:
            x = rng.standard_normal(n) * scale
        elif kind == 1:
            x = rng.uniform(-scale, scale, n)
        elif kind == 2:
            x = rng.standard_normal(n) * 0.02
            x[rng.integers(0, n, max(1, n // 100))] *= 100
        elif kind == 3:
            x = rng.uniform(0, scale, n)
        else:
            x = np.round(rng.standard_normal(n) * 8) / 4
        yield x.astype(np.float32)


# --- the curriculum's worked examples ----------------------------------------------------


def test_example_a_0_to_1000_onto_uint8():
    x = np.array([0, 250, 1000], dtype=np.float32)
    result = Q.quantize_minmax(x, bits=8)
    assert round(result.scale, 2) == 3.92
    assert result.scale == pytest.approx(1000 / 255, rel=1e-6)
    assert result.zero_point == 0
    assert result.q.tolist() == [0, 64, 255]


def test_example_b_asymmetric_minus_20_to_1000():
    result = Q.quantize_minmax([-20.0, 1000.0], bits=8)
    assert result.scale == 4.0
    assert result.zero_point == 5
    assert result.q.tolist() == [0, 255]
    np.testing.assert_array_equal(result.dequantize(), [-20.0, 1000.0])


def test_double_quantization_arithmetic():
    assert Q.bits_per_parameter(4, 64) - 4 == 0.5
    overhead = Q.bits_per_parameter(4, 64, double_quant=True) - 4
    assert overhead == 8 / 64 + 32 / (64 * 256)
    assert round(overhead, 3) == 0.127
    assert round(0.5 - overhead, 3) == 0.373


def test_model_sizes_use_bytes_per_parameter():
    sizes = {row.name: row for row in Q.model_sizes(175e9)}
    assert sizes["FP32"].n_bytes == 700e9  # GPT-3 at FP32: 700 GB = 651.9 GiB
    assert round(sizes["FP32"].n_bytes / 1024**3, 1) == 651.9
    assert sizes["FP16 / BF16"].n_bytes == 350e9
    assert sizes["INT8 / FP8"].n_bytes == 175e9
    assert sizes["NF4 (absmax per 64)"].bits_per_param == 4.5
    assert sizes["NF4 + double quantization"].n_bytes == pytest.approx(175e9 * 4.126953125 / 8)


# --- min-max against torch ----------------------------------------------------------------


def test_minmax_matches_torch_minmaxobserver_and_quantize_per_tensor():
    from torch.ao.quantization.observer import MinMaxObserver

    checked = 0
    for x in random_vectors(seed=1, count=150):
        ours = Q.quantize_minmax(x, bits=8)
        observer = MinMaxObserver(dtype=torch.quint8)
        observer(torch.from_numpy(x))
        scale, zero_point = observer.calculate_qparams()
        assert ours.scale == scale.item()
        assert ours.zero_point == zero_point.item()
        ref = torch.quantize_per_tensor(
            torch.from_numpy(x), scale.item(), int(zero_point), torch.quint8
        )
        np.testing.assert_array_equal(ours.q, ref.int_repr().numpy())
        np.testing.assert_allclose(
            ours.dequantize(), ref.dequantize().numpy(), rtol=1e-6, atol=1e-6 * ours.scale
        )
        checked += x.size
    assert checked > 100_000


@pytest.mark.parametrize("bits", [2, 3, 4, 6])
def test_minmax_low_bits_matches_torch_observer_and_fake_quantize(bits):
    from torch.ao.quantization.observer import MinMaxObserver

    q_max = 2**bits - 1
    for x in random_vectors(seed=bits, count=40, ties=False):
        ours = Q.quantize_minmax(x, bits=bits)
        observer = MinMaxObserver(dtype=torch.quint8, quant_min=0, quant_max=q_max)
        observer(torch.from_numpy(x))
        scale, zero_point = observer.calculate_qparams()
        assert (ours.scale, ours.zero_point) == (scale.item(), zero_point.item())
        ref = torch.fake_quantize_per_tensor_affine(
            torch.from_numpy(x), scale.item(), int(zero_point), 0, q_max
        )
        codes = np.rint(ref.numpy() / ours.scale) + ours.zero_point
        assert ours.q.min() >= 0 and ours.q.max() <= q_max
        # fake_quantize rounds x * (1/scale) before adding the zero point, so exact ties
        # (none in these inputs, barring float32 accidents) could round differently
        assert np.mean(ours.q != codes) < 1e-3


def test_minmax_constant_and_zero_vectors_do_not_divide_by_zero():
    zeros = Q.quantize_minmax([0.0, 0.0, 0.0])
    assert zeros.scale == np.finfo(np.float32).eps  # torch's floor for the scale
    assert zeros.q.tolist() == [0, 0, 0]
    np.testing.assert_array_equal(zeros.dequantize(), [0, 0, 0])
    fives = Q.quantize_minmax([5.0, 5.0])
    assert fives.zero_point == 0 and fives.q.tolist() == [255, 255]
    np.testing.assert_allclose(fives.dequantize(), [5.0, 5.0], rtol=1e-6)


# --- absmax against bitsandbytes -----------------------------------------------------------


def test_absmax_int8_matches_bitsandbytes_rowwise_int8():
    import bitsandbytes.functional as F

    rng = np.random.default_rng(7)
    for trial in range(20):
        rows, cols = int(rng.integers(1, 40)), int(rng.integers(1, 700))
        W = rng.standard_normal((rows, cols)) * rng.uniform(1e-3, 10)  # (rows, cols)
        W = W.astype(np.float32)
        if trial % 2:
            W[rng.integers(0, rows), rng.integers(0, cols)] *= 50  # an outlier
        q_ref, row_stats, _ = F.int8_vectorwise_quant(torch.from_numpy(W.copy()))
        for i in range(rows):
            ours = Q.quantize_absmax(W[i], bits=8)
            np.testing.assert_array_equal(ours.q, q_ref[i].numpy())
            assert ours.scale * 127 == pytest.approx(row_stats[i].item(), rel=1e-6)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_absmax_grid_is_symmetric_and_error_bounded(bits):
    q_max = 2 ** (bits - 1) - 1
    for x in random_vectors(seed=10 + bits, count=20):
        result = Q.quantize_absmax(x, bits)
        assert np.abs(result.q).max() == q_max  # the largest |x| lands on the end of the grid
        assert result.scale == pytest.approx(np.abs(x).max() / q_max, rel=1e-6)
        err = np.abs(result.dequantize() - x)
        assert err.max() <= result.scale / 2 * (1 + 1e-5)


def test_blockwise_is_absmax_per_block():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(300).astype(np.float32)
    x[5] = 40.0  # one outlier in block 0
    result = Q.quantize_blockwise(x, blocksize=64, bits=4)
    assert result.scale.shape == (5,)  # 4 full blocks + a block of 44
    for b, start in enumerate(range(0, 300, 64)):
        block = Q.quantize_absmax(x[start : start + 64], bits=4)
        np.testing.assert_array_equal(result.q[start : start + 64], block.q)
        assert result.scale[b] == np.float32(block.scale)
    whole = Q.quantize_absmax(x, bits=4)
    rest = slice(64, None)  # the blocks without the outlier
    blocks_err = Q.errors(x[rest], result.dequantize()[rest])
    whole_err = Q.errors(x[rest], whole.dequantize()[rest])
    assert blocks_err.mse < whole_err.mse / 10  # the outlier only hurts its own block


# --- NF4 against bitsandbytes --------------------------------------------------------------


def test_nf4_code_is_bitsandbytes_code():
    from bitsandbytes.functional import get_4bit_type

    np.testing.assert_array_equal(Q.NF4_CODE, get_4bit_type("nf4", device="cpu").numpy())


def unpack_nibbles(packed: torch.Tensor, n: int) -> np.ndarray:
    """bitsandbytes stores two 4-bit codes per byte, the first element in the high nibble."""
    byte = packed.numpy().ravel()
    return np.stack([byte >> 4, byte & 0x0F], axis=1).ravel()[:n]


@pytest.mark.parametrize("blocksize", [32, 64, 128, 256])
def test_nf4_matches_bitsandbytes_quantize_4bit(blocksize):
    import bitsandbytes.functional as F

    checked = dequantized = 0
    for x in random_vectors(seed=blocksize, count=40):
        ours = Q.quantize_nf4(x, blocksize=blocksize)
        packed, state = F.quantize_4bit(torch.from_numpy(x), blocksize=blocksize, quant_type="nf4")
        np.testing.assert_array_equal(ours.q, unpack_nibbles(packed, x.size))
        np.testing.assert_array_equal(ours.scale, state.absmax.numpy())
        if x.size % 2 == 0:  # bitsandbytes' CPU kernel; odd lengths go to a torch.compile path
            ref = F.dequantize_4bit(packed, state).numpy().ravel()
            np.testing.assert_allclose(ours.dequantize(), ref, rtol=1e-6, atol=0)
            dequantized += x.size
        checked += x.size
    assert dequantized > 10_000
    assert checked > 20_000


def test_nf4_beats_int4_on_normal_weights():
    x = np.random.default_rng(0).standard_normal(64 * 200).astype(np.float32)
    nf4 = Q.errors(x, Q.quantize_nf4(x, 64).dequantize())
    int4 = Q.errors(x, Q.quantize_blockwise(x, 64, bits=4).dequantize())
    assert nf4.mse < int4.mse


def test_double_quantize_keeps_the_constants_close():
    absmax = np.abs(np.random.default_rng(1).standard_normal(1000)).astype(np.float32) + 1
    dq = Q.double_quantize(absmax, blocksize=256, bits=8)
    assert dq.offset == pytest.approx(absmax.mean(), rel=1e-6)
    assert dq.inner.scale.shape == (4,)
    err = np.abs(dq.dequantize() - absmax)
    assert err.max() <= dq.inner.scale.max() / 2 * (1 + 1e-5)


# --- ternary, metrics, validation ------------------------------------------------------------


def test_ternary_is_absmean_and_three_levels():
    x = np.array([0.1, -0.5, 0.02, 0.9, -0.08], dtype=np.float32)
    result = Q.quantize_ternary(x)
    gamma = np.abs(x).mean()
    assert result.scale == pytest.approx(gamma)
    assert (
        result.q.tolist()
        == np.clip(np.rint(x / gamma), -1, 1).astype(int).tolist()
        == [0, -1, 0, 1, 0]
    )
    np.testing.assert_allclose(result.dequantize(), result.q * gamma, rtol=1e-6)
    assert round(result.bits, 2) == 1.58
    assert Q.quantize_ternary([0, 0]).q.tolist() == [0, 0]


def test_errors_against_numpy():
    x = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    x_hat = np.array([1.5, -2.0, 2.0], dtype=np.float32)
    e = Q.errors(x, x_hat)
    assert e.mse == pytest.approx(np.mean((x - x_hat) ** 2))
    assert e.max_abs == 1.0
    assert e.sqnr_db == pytest.approx(10 * math.log10(14 / 1.25))
    assert Q.errors(x, x).sqnr_db == math.inf


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: Q.quantize_absmax([]), "empty"),
        (lambda: Q.quantize_minmax([1.0, float("nan")]), "x[1] = nan"),
        (lambda: Q.quantize_nf4([float("inf")]), "x[0] = inf"),
        (lambda: Q.quantize_ternary([1e39]), "not a finite float32"),
        (lambda: Q.quantize_absmax([1.0], bits=1), "got 1"),
        (lambda: Q.quantize_minmax([1.0], bits=9), "got 9"),
        (lambda: Q.quantize_blockwise([1.0], bits=4.5), "got 4.5"),
        (lambda: Q.quantize_blockwise([1.0], blocksize=0), "got 0"),
        (lambda: Q.quantize_nf4([1.0], blocksize=-3), "got -3"),
        (lambda: Q.quantize_absmax(["a", "b"]), "Expected numbers"),
        (lambda: Q.model_sizes(-1), "got -1"),
    ],
)
def test_invalid_input_raises_value_error_naming_the_value(call, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        call()


# --- inputs and the page's entry points ------------------------------------------------------


def test_parse_vector_accepts_commas_spaces_and_new_lines():
    np.testing.assert_array_equal(Q.parse_vector(" 1, -2.5\n3e2;4  5 "), [1, -2.5, 300, 4, 5])


@pytest.mark.parametrize(
    "text, message",
    [
        ("1, 2, abc", "'abc' is not a number (item 3)"),
        ("1 nan", "'nan' is not a finite float32 number (item 2)"),
        ("1e40", "'1e40' is not a finite float32 number (item 1)"),
        (" , \n", "empty"),
    ],
)
def test_parse_vector_names_the_bad_token(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Q.parse_vector(text)


def test_sample_weights_are_seeded_and_shaped():
    a = Q.sample_weights("normal", 5000, seed=3)
    np.testing.assert_array_equal(a, Q.sample_weights("normal", 5000, seed=3))
    assert a.dtype == np.float32 and abs(a.std() - Q.WEIGHT_STD) < 0.001
    u = Q.sample_weights("uniform", 5000, seed=3)
    assert np.abs(u).max() <= math.sqrt(3) * Q.WEIGHT_STD and abs(u.std() - Q.WEIGHT_STD) < 0.001
    o = Q.sample_weights("normal with outliers", 1000, seed=3)
    assert np.sum(np.abs(o) == np.float32(20 * Q.WEIGHT_STD)) == 10
    with pytest.raises(ValueError, match="'cauchy'"):
        Q.sample_weights("cauchy", 10, 0)


def test_quantize_dispatches_by_method_name():
    x = Q.sample_weights("normal", 300, seed=0)
    np.testing.assert_array_equal(Q.quantize("min-max", x, 4).q, Q.quantize_minmax(x, 4).q)
    np.testing.assert_array_equal(Q.quantize("NF4", x, 8, 32).q, Q.quantize_nf4(x, 32).q)
    assert Q.quantize("block-wise absmax", x, 3, 16).scale.shape == (19,)
    with pytest.raises(ValueError, match="'int3'"):
        Q.quantize("int3", x)


@pytest.mark.parametrize(
    "method, bits, blocksize, expected",
    [
        (
            "min-max",
            8,
            64,
            "torch MinMaxObserver + quantize_per_tensor: 1000 of 1000 codes identical",
        ),
        ("min-max", 4, 64, "torch MinMaxObserver + fake_quantize (0..15): 1000 of 1000 codes"),
        ("absmax", 8, 64, "bitsandbytes int8 row-wise (LLM.int8()): 1000 of 1000 codes identical"),
        ("block-wise absmax", 8, 64, "1000 of 1000 codes identical; scales identical"),
        ("NF4", 4, 64, "bitsandbytes NF4 (quantize_4bit): 1000 of 1000 codes identical"),
    ],
)
def test_cross_check_reports_agreement(method, bits, blocksize, expected):
    x = Q.sample_weights("normal with outliers", 1000, seed=5)
    check = Q.cross_check(method, x, bits, blocksize)
    assert check.agrees and expected in str(check)


def test_cross_check_says_when_there_is_no_reference():
    x = Q.sample_weights("normal", 100, seed=5)
    assert Q.cross_check("absmax", x, 4).total == 0
    assert "8 bits only" in str(Q.cross_check("block-wise absmax", x, 4))
    assert "block size must be one of" in str(Q.cross_check("NF4", x, 4, 16))
    assert not Q.cross_check("ternary", x).agrees


# --- calibration ------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [4, 8])
def test_clipped_absmax_matches_torch_fake_quantize(bits):
    q_max = 2 ** (bits - 1) - 1
    for x in random_vectors(seed=20 + bits, count=30, ties=False):
        clip = Q.percentile_clip(x, 95.0)
        assert clip == pytest.approx(np.percentile(np.abs(x), 95.0), rel=1e-6)
        ours = Q.quantize_absmax(x, bits, clip=clip)
        if ours.scale == 0:
            continue
        ref = torch.fake_quantize_per_tensor_affine(
            torch.from_numpy(x), ours.scale, 0, -q_max, q_max
        ).numpy()
        assert np.abs(ours.q).max() <= q_max
        assert np.mean(~np.isclose(ours.dequantize(), ref, rtol=1e-5, atol=0)) < 1e-3


def test_clipping_trades_a_few_big_errors_for_a_finer_grid():
    x = Q.sample_weights("normal with outliers", 4096, seed=1)
    ordinary = np.abs(x) < 10 * Q.WEIGHT_STD
    full = Q.quantize("absmax", x, 4).dequantize()
    clipped = Q.quantize("absmax", x, 4, clip_percentile=99.0).dequantize()
    assert (
        Q.errors(x[ordinary], clipped[ordinary]).mse
        < Q.errors(x[ordinary], full[ordinary]).mse / 10
    )
    assert Q.errors(x, clipped).max_abs > Q.errors(x, full).max_abs  # the outliers pay
    np.testing.assert_array_equal(
        Q.quantize("absmax", x, 8, clip_percentile=100).q, Q.quantize_absmax(x, 8).q
    )
    with pytest.raises(ValueError, match="got 0"):
        Q.percentile_clip(x, 0)
    with pytest.raises(ValueError, match="got -1"):
        Q.quantize_absmax(x, 4, clip=-1.0)
    assert "never clips" in str(Q.cross_check("absmax", x, 8, clip_percentile=99.0))


# --- the pictures' numbers: one value step by step, the grid, honest storage ------------------


@pytest.mark.parametrize("method", Q.METHODS)
def test_trace_value_ends_where_quantize_does(method):
    for x in random_vectors(seed=hash(method) % 1000, count=12, max_len=300):
        result = Q.quantize(method, x, 4, 32)
        x_hat = result.dequantize()
        for i in {0, x.size // 2, x.size - 1}:
            trace = Q.trace_value(method, x, i, 4, 32)
            assert (trace.code, trace.x_hat) == (int(result.q[i]), float(x_hat[i]))
            assert trace.steps[0].value == x[i] and trace.steps[-1].value == x_hat[i]
            assert trace.error == pytest.approx(float(x[i]) - float(x_hat[i]))
            grid = Q.grid_levels(method, result, trace.block or 0)
            assert grid.values[np.searchsorted(grid.codes, trace.code)] == np.float32(x_hat[i])


def test_trace_of_minmax_is_torch_step_by_step():
    """x / scale, round, + zero point and clamp against torch's own scale and zero point."""
    from torch.ao.quantization.observer import MinMaxObserver

    for x in random_vectors(seed=5, count=30, max_len=400, ties=False):
        observer = MinMaxObserver(dtype=torch.quint8)
        observer(torch.from_numpy(x))
        scale, zero_point = (v.item() for v in observer.calculate_qparams())
        codes = torch.quantize_per_tensor(torch.from_numpy(x), scale, zero_point, torch.quint8)
        for i in (0, x.size - 1):
            steps = {s.name: s.value for s in Q.trace_value("min-max", x, i).steps}
            assert steps["x / scale"] == pytest.approx(x[i] / scale, rel=1e-5, abs=1e-4)
            assert steps["+ zero point"] == steps["round"] + zero_point
            assert steps["code"] == codes.int_repr()[i].item()


def test_trace_shows_the_clamp_of_a_clipped_value():
    x = np.array([0.1, -0.2, 0.05, 3.0], dtype=np.float32)  # 3.0 beyond the 50th percentile
    trace = Q.trace_value("absmax", x, 3, bits=4, clip_percentile=50.0)
    steps = {s.name: s.value for s in trace.steps}
    clip = np.percentile(np.abs(x), 50)
    assert steps["x / scale"] == pytest.approx(3.0 / (clip / 7), rel=1e-5)  # far past 7
    assert steps["clamp"] == 7 == trace.code and trace.clamped
    assert not Q.trace_value("absmax", x, 0, bits=4, clip_percentile=50.0).clamped


def test_trace_of_example_a_is_the_notes_working():
    steps = [(s.name, s.value) for s in Q.trace_value("min-max", [0, 250, 1000], 1).steps]
    assert [name for name, _ in steps] == [
        "x", "x / scale", "round", "+ zero point", "clamp", "code", "dequantized",
    ]  # fmt: skip
    assert steps[1][1] == pytest.approx(250 / (1000 / 255), rel=1e-6)  # 63.75
    assert [v for _, v in steps[2:6]] == [64, 64, 64, 64]
    nf4 = [s.name for s in Q.trace_value("NF4", [0, 250, 1000], 1).steps]
    assert nf4 == ["x", "x / absmax", "clamp", "nearest level", "code", "dequantized"]


def test_grid_levels_are_what_torch_dequantizes_each_code_to():
    x = np.array([-20.0, 1000.0, 0.0, 500.0], dtype=np.float32)
    grid = Q.grid_levels("min-max", Q.quantize_minmax(x))
    ref = torch._make_per_tensor_quantized_tensor(
        torch.arange(256, dtype=torch.uint8), 4.0, 5
    ).dequantize()
    np.testing.assert_array_equal(grid.values, ref.numpy())
    assert (grid.zero_code, grid.step) == (5, 4.0) and grid.values[grid.zero_code] == 0
    nf4 = Q.grid_levels("NF4", Q.quantize_nf4(x, 2), block=1)  # block [0, 500]
    np.testing.assert_allclose(nf4.values, Q.NF4_CODE * 500, rtol=1e-6)
    assert nf4.step is None and nf4.values[nf4.zero_code] == 0
    with pytest.raises(ValueError, match="block must be from 0 to 1"):
        Q.grid_levels("NF4", Q.quantize_nf4(x, 2), block=2)


def test_code_ranges_and_unit_levels():
    assert Q.code_range("absmax", 8) == (-127, 127) and Q.code_range("min-max", 8) == (0, 255)
    assert Q.code_range("NF4") == (0, 15) and Q.code_range("ternary") == (-1, 1)
    assert Q.code_range("block-wise absmax", 4) == (-7, 7)
    from bitsandbytes.functional import get_4bit_type

    np.testing.assert_array_equal(Q.unit_levels("NF4"), get_4bit_type("nf4", device="cpu").numpy())
    np.testing.assert_allclose(Q.unit_levels("block-wise absmax", 4), np.arange(-7, 8) / 7)
    with pytest.raises(ValueError, match="Unknown method 'int3'"):
        Q.code_range("int3")
    x = np.array([1.0, 1.0, 2.0], dtype=np.float32)
    assert Q.levels_used("min-max", Q.quantize_minmax(x)) == (2, 256)


def test_storage_counts_every_constant():
    assert Q.storage("absmax", 64, 8).bits_per_weight == (64 * 8 + 32) / 64
    assert Q.storage("min-max", 5, 8).total_bits == 5 * 8 + 32 + 8
    nf4 = Q.storage("NF4", 4096 * 4096, 4, 64)
    assert nf4.bits_per_weight == 4.5 == Q.bits_per_parameter(4, 64)
    dq = Q.storage("NF4", 4096 * 4096, 4, 64, double_quant=True)
    # 262,144 block constants of 8 bits, 1,024 FP32 scales, one FP32 offset
    assert [count for _, count, _ in dq.parts] == [4096 * 4096, 262_144, 1024, 1]
    assert round(dq.bits_per_weight, 3) == 0.127 + 4  # the QLoRA paper's 0.127
    short = Q.storage("NF4", 100, 4, 64, double_quant=True)  # 2 blocks, 1 group, 1 offset
    assert short.total_bits == 100 * 4 + 2 * 8 + 32 + 32
    assert Q.storage("ternary", 10).bits_per_weight == (10 * 2 + 32) / 10
    assert Q.storage("ternary", 10, ternary_packing="5 per byte").total_bits == 2 * 8 + 32
    assert 3**5 <= 2**8 and Q.TERNARY_PACKINGS["5 per byte"] >= Q.TERNARY_BITS
    with pytest.raises(ValueError, match="n_values must be a positive integer"):
        Q.storage("absmax", 0)


def test_double_quantization_saves_about_3_gb_on_65b():
    saving = Q.double_quant_saving(65e9)
    assert round(saving.bits_per_param, 3) == 0.373
    assert 2.9e9 < saving.n_bytes < 3.1e9  # the QLoRA paper: "about 3 GB" (decimal)
    assert saving.gb == pytest.approx(3.03, abs=0.005)
    assert saving.gib == pytest.approx(saving.n_bytes / 1024**3) == pytest.approx(2.82, abs=0.005)


def test_model_sizes_label_gb_and_gib_and_pack_ternary():
    sizes = {row.name: row for row in Q.model_sizes(175e9)}
    assert (sizes["FP32"].gb, round(sizes["FP32"].gib, 1)) == (700, 651.9)  # the curriculum
    assert sizes["Ternary, 2 bits each (4 per byte)"].bytes_per_param == 0.25
    assert sizes["Ternary, 5 per byte (3^5 = 243 <= 256)"].bits_per_param == 1.6


def test_minmax_params_and_residual():
    p = Q.minmax_params([-20.0, -10.0, 0.0, -50.0, 100.0])  # the notes' [-50, 100] example
    assert (p.x_min, p.x_max, p.width, p.q_max) == (-50, 100, 150, 255)
    assert p.scale == pytest.approx(150 / 255, rel=1e-6) and p.zero_point == 85
    x = np.array([0.0, 250.0, 1000.0], dtype=np.float32)  # Example A: 250 -> 64 -> 250.98
    expected = [0, 250 - 64 * 1000 / 255, 0]
    np.testing.assert_allclose(Q.residual(x, Q.quantize_minmax(x)), expected, atol=1e-4)
    np.testing.assert_array_equal(Q.block_absmax([1, -5, 2, 0.5, -3], 2), [5, 2, 3])


def test_a_range_wider_than_float32_is_refused_and_ternary_does_not_overflow():
    with pytest.raises(ValueError, match="wider than a float32 can hold"):
        Q.quantize_minmax([3e38, -3e38])
    result = Q.quantize_ternary([3e38, 3e38, 1.0])  # a float32 sum of |x| would overflow
    assert result.scale == pytest.approx((3e38 + 3e38 + 1) / 3, rel=1e-6)
    assert np.isfinite(result.dequantize()).all()
