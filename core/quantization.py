"""Quantization: map float weights onto a small grid of integers and back.

Every scheme returns a ``Quantized`` (integer codes + the constants needed to undo them).
The arithmetic is done in float32, in the same order as the reference libraries, so the
integer codes are identical to theirs (tests/test_quantization.py checks this):

- ``quantize_minmax``: PyTorch's ``MinMaxObserver`` + ``quantize_per_tensor`` (quint8).
- ``quantize_absmax``, ``quantize_blockwise``: LLM.int8() absmax, per tensor or per block;
  bitsandbytes' ``int8_vectorwise_quant`` at 8 bits (a row per block).
- ``quantize_nf4``: QLoRA's NormalFloat4, bitsandbytes' ``quantize_4bit(quant_type="nf4")``.
- ``quantize_ternary``: BitNet b1.58 (Ma et al. 2024), absmean scale and {-1, 0, +1}.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

# NormalFloat4 (Dettmers et al. 2023, QLoRA, section 3): 16 levels at quantiles of N(0, 1),
# normalized to [-1, 1], with an exact zero. Copied from bitsandbytes (backends/utils.py).
NF4_CODE = np.array(
    [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ],
    dtype=np.float32,
)  # fmt: skip
# bitsandbytes rounds to the nearest level by bucketing against the midpoints.
_NF4_MIDPOINTS = (NF4_CODE[:-1] + NF4_CODE[1:]) / np.float32(2)

MIN_BITS, MAX_BITS = 2, 8
TERNARY_BITS = math.log2(3)  # 1.58 bits of information per weight
# How ternary codes are really stored: the information, log2(3), is a floor, not a format.
TERNARY_PACKINGS = {
    "2 bits": 2.0,  # 4 codes per byte (BitNet's I2_S kernels)
    "5 per byte": 8 / 5,  # 3^5 = 243 <= 256 patterns of 5 codes fit one byte
}
FP32_BITS = 32  # one stored constant (scale, absmax, offset)


@dataclass(frozen=True)
class Quantized:
    """Integer codes and the constants that turn them back into floats.

    ``q``: integer codes, shape (n,). ``scale``: a float, or one per block (n_blocks,).
    ``zero_point``: an int, or one per block. ``bits``: bits per code.
    ``blocksize``: values per block when the constants are per block, else None.
    ``code``: for NF4, the 16 levels ``q`` indexes into; None for a linear integer grid.
    """

    q: np.ndarray
    scale: float | np.ndarray
    zero_point: int | np.ndarray
    bits: float
    blocksize: int | None = None
    code: np.ndarray | None = None

    def dequantize(self) -> np.ndarray:
        """x_hat = (q - zero_point) * scale, or code[q] * absmax for NF4; float32, shape (n,)."""
        n = self.q.size
        scale, zero = np.float32(self.scale), self.zero_point
        if self.blocksize is not None:  # one constant per block -> one per value
            scale = np.repeat(np.asarray(self.scale, dtype=np.float32), self.blocksize)[:n]
            if np.ndim(zero):
                zero = np.repeat(np.asarray(zero), self.blocksize)[:n]
        levels = self.code[self.q] if self.code is not None else (self.q - zero).astype(np.float32)
        return (levels * scale).astype(np.float32)


@dataclass(frozen=True)
class Errors:
    """How far x_hat is from x: mean squared error, largest |error|, and the
    signal-to-quantization-noise ratio SQNR = 10 log10(sum x^2 / sum (x - x_hat)^2) in dB."""

    mse: float
    max_abs: float
    sqnr_db: float


@dataclass(frozen=True)
class DoubleQuantized:
    """Block constants quantized again (QLoRA's double quantization): the constants minus
    their mean ``offset``, quantized to ``inner.bits`` bits in blocks of ``inner.blocksize``."""

    offset: float
    inner: Quantized

    def dequantize(self) -> np.ndarray:
        return (self.inner.dequantize() + np.float32(self.offset)).astype(np.float32)


@dataclass(frozen=True)
class FormatSize:
    """One row of the units-and-datatypes table: a format, its bits per parameter (with
    its scale constants) and the size of a model of ``n_params`` parameters in bytes."""

    name: str
    bits_per_param: float
    n_bytes: float

    @property
    def bytes_per_param(self) -> float:
        return self.bits_per_param / 8

    @property
    def gb(self) -> float:
        """Decimal gigabytes, 1 GB = 10^9 bytes (model cards, the QLoRA paper)."""
        return self.n_bytes / 1e9

    @property
    def gib(self) -> float:
        """Binary gigabytes, 1 GiB = 2^30 bytes (the notes' "1 GB = 1024 MB")."""
        return self.n_bytes / 2**30


# --- validation -----------------------------------------------------------------------


def as_vector(x) -> np.ndarray:
    """x as a float32 vector (n,); raises ValueError for empty, non-numeric or non-finite
    input, naming the first bad value and its index."""
    try:
        x64 = np.asarray(x, dtype=np.float64).ravel()
    except (TypeError, ValueError) as err:
        raise ValueError(f"Expected numbers, got {x!r}") from err
    if x64.size == 0:
        raise ValueError("The vector is empty; expected at least one number.")
    bad = ~np.isfinite(x64) | (np.abs(x64) > np.finfo(np.float32).max)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"x[{i}] = {x64[i]} is not a finite float32 number.")
    return x64.astype(np.float32)


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise ValueError(f"bits must be an integer from {MIN_BITS} to {MAX_BITS}, got {bits!r}")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits must be from {MIN_BITS} to {MAX_BITS}, got {bits}")
    return int(bits)


def _check_blocksize(blocksize) -> int:
    if isinstance(blocksize, bool) or not isinstance(blocksize, (int, np.integer)) or blocksize < 1:
        raise ValueError(f"blocksize must be a positive integer, got {blocksize!r}")
    if blocksize > 65_536:  # the last block is padded to its full size
        raise ValueError(f"blocksize must be at most 65,536, got {blocksize:,}")
    return int(blocksize)


def _padded_blocks(x: np.ndarray, blocksize: int) -> np.ndarray:
    """x cut into rows of ``blocksize`` values, (n_blocks, blocksize); the last row is padded
    with zeros, which changes no block's absmax."""
    n_blocks = -(-x.size // blocksize)
    padded = np.zeros(n_blocks * blocksize, dtype=np.float32)
    padded[: x.size] = x
    return padded.reshape(n_blocks, blocksize)


# --- the schemes -------------------------------------------------------------------------


def quantize_absmax(x, bits: int = 8, clip: float | None = None) -> Quantized:
    """Symmetric (signed) absmax quantization, the LLM.int8() convention.

        q_max = 2^(bits-1) - 1                  (127 at 8 bits)
        scale = max|x| / q_max
        q     = round(x * (q_max / max|x|))     in [-q_max, q_max], zero_point = 0
        x_hat = q * scale

    Computed in float32 exactly as bitsandbytes' ``int8_vectorwise_quant`` does per row
    (``round(A * (127 / absmax))``, round half to even). An all-zero x gives scale 0, q 0.

    ``clip`` (calibration): use this threshold instead of max|x|; values beyond it are
    clamped to +-q_max. A finer grid for the many, a clipping error for the few.
    """
    x = as_vector(x)
    bits = _check_bits(bits)
    q_max = code_range("absmax", bits)[1]
    if clip is None:
        absmax = np.abs(x).max()
    elif isinstance(clip, (int, float, np.number)) and math.isfinite(clip) and clip >= 0:
        absmax = np.float32(clip)
    else:
        raise ValueError(f"clip must be a finite threshold >= 0 or None, got {clip!r}")
    if absmax == 0:
        return Quantized(np.zeros(x.size, dtype=np.int32), 0.0, 0, bits)
    q = np.clip(np.rint(x * (np.float32(q_max) / absmax)), -q_max, q_max).astype(np.int32)
    return Quantized(q, float(absmax / np.float32(q_max)), 0, bits)


def percentile_clip(x, percentile: float) -> float:
    """The calibration threshold: the ``percentile``-th percentile of |x| (numpy's linear
    interpolation); 100 gives max|x|, i.e. no clipping."""
    x = as_vector(x)
    if not (isinstance(percentile, (int, float, np.number)) and 0 < percentile <= 100):
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    return float(np.percentile(np.abs(x), percentile))


def quantize_minmax(x, bits: int = 8) -> Quantized:
    """Asymmetric (unsigned) min-max quantization with a zero point, onto [0, 2^bits - 1].

        1. x_min = min(min x, 0), x_max = max(max x, 0)   (the range always holds 0)
        2. scale = (x_max - x_min) / (q_max - q_min)       (at least float32 eps)
        3. zero_point = clamp(q_min - round(x_min / scale), q_min, q_max)
        4. q = clamp(round(x / scale) + zero_point, q_min, q_max)
        x_hat = (q - zero_point) * scale

    Steps 1-3 are PyTorch's ``MinMaxObserver.calculate_qparams`` (per-tensor affine,
    quint8 at 8 bits); step 4 is ``torch.quantize_per_tensor``, whose kernel computes
    ``zero_point + x * (1 / scale)`` as one fused multiply-add in float32 before rounding
    half to even - done here the same way so the codes match it exactly.
    """
    x = as_vector(x)
    bits = _check_bits(bits)
    q_min, q_max = code_range("min-max", bits)
    x_min, x_max = minmax_range(x)  # 1.
    scale = max((x_max - x_min) / np.float32(q_max - q_min), np.finfo(np.float32).eps)  # 2.
    zero_point = int(np.clip(q_min - np.rint(x_min / scale), q_min, q_max))  # 3.
    fused = _minmax_fused(x, scale, zero_point)
    q = np.clip(np.rint(fused), q_min, q_max).astype(np.int32)  # 4.
    return Quantized(q, float(scale), zero_point, bits)


def minmax_range(x) -> tuple[float, float]:
    """Min-max's range (x_min, x_max) = (min(min x, 0), max(max x, 0)), float32: widened to
    hold 0, so that 0.0 is exactly representable (PyTorch's ``MinMaxObserver``).
    Raises ValueError when x_max - x_min does not fit a float32 (beyond 3.4e38)."""
    x = as_vector(x)
    x_min, x_max = min(x.min(), np.float32(0)), max(x.max(), np.float32(0))
    with np.errstate(over="ignore"):
        if not np.isfinite(x_max - x_min):
            raise ValueError(
                f"The range {x_min:.3g} .. {x_max:.3g} is wider than a float32 can hold "
                f"({np.finfo(np.float32).max:.3g}): scale the values down."
            )
    return x_min, x_max


@dataclass(frozen=True)
class MinMaxParams:
    """Min-max's constants with the numbers that make them, for a filled-in formula:
    scale = (x_max - x_min) / (q_max - q_min) = width / (q_max - q_min),
    zero_point = round(-x_min / scale) (clamped to the codes)."""

    x_min: float
    x_max: float
    width: float
    q_min: int
    q_max: int
    scale: float
    zero_point: int


def minmax_params(x, bits: int = 8) -> MinMaxParams:
    """The numbers of ``quantize_minmax``'s steps 1-3 for x (float32, as it computes them)."""
    x_min, x_max = minmax_range(x)
    result = quantize_minmax(x, bits)
    q_min, q_max = code_range("min-max", bits)
    width = float(np.float32(x_max - x_min))
    return MinMaxParams(
        float(x_min), float(x_max), width, q_min, q_max, result.scale, result.zero_point
    )


def _minmax_fused(x: np.ndarray, scale, zero_point: int) -> np.ndarray:
    """zero_point + x * (1 / scale) as torch's kernel computes it (one fused multiply-add
    in float32), the number min-max rounds; float32 (n,)."""
    inv_scale = np.float32(1) / np.float32(scale)
    return (x.astype(np.float64) * np.float64(inv_scale) + zero_point).astype(np.float32)


def quantize_blockwise(x, blocksize: int = 64, bits: int = 8) -> Quantized:
    """Absmax quantization with one scale per block of ``blocksize`` consecutive values.

        scale_b = max|x_b| / (2^(bits-1) - 1) for each block b,  q = round(x / scale_b)

    One outlier then stretches only its own block's scale (Dettmers et al. 2022, 8-bit
    optimizers via block-wise quantization). The last block may be shorter; it gets its
    own scale, as in bitsandbytes. ``scale`` has shape (n_blocks,), ``zero_point`` is 0.
    """
    x = as_vector(x)
    bits = _check_bits(bits)
    blocksize = _check_blocksize(blocksize)
    q_max = code_range("block-wise absmax", bits)[1]
    blocks = _padded_blocks(x, blocksize)  # (n_blocks, blocksize)
    absmax = block_absmax(x, blocksize)  # (n_blocks,)
    safe = np.where(absmax > 0, absmax, np.float32(1))  # an all-zero block: q = 0, scale 0
    q = np.rint(blocks * (np.float32(q_max) / safe)[:, None]).astype(np.int32).ravel()[: x.size]
    scale = (absmax / np.float32(q_max)).astype(np.float32)  # (n_blocks,)
    return Quantized(q, scale, 0, bits, blocksize=blocksize)


def quantize_nf4(x, blocksize: int = 64) -> Quantized:
    """NormalFloat4 with one absmax per block (QLoRA, Dettmers et al. 2023).

        absmax_b = max|x_b|,   q = argmin_i |NF4_CODE[i] - x / absmax_b|   (codes 0..15)
        x_hat = NF4_CODE[q] * absmax_b

    As bitsandbytes' ``quantize_4bit(quant_type="nf4")`` on CPU: full blocks are scaled
    by ``x * (1 / absmax)``, a shorter last block by ``x / absmax``, clamped to [-1, 1],
    then bucketed at the midpoints between levels (a value on a midpoint goes down).
    ``q`` holds code indices (bitsandbytes packs two per byte, the first in the high
    nibble); ``scale`` is the per-block absmax, shape (n_blocks,).
    """
    x = as_vector(x)
    blocksize = _check_blocksize(blocksize)
    absmax = block_absmax(x, blocksize)  # (n_blocks,)
    unit = np.clip(nf4_scaled(x, blocksize), -1, 1)  # (n,) in [-1, 1]
    q = np.searchsorted(_NF4_MIDPOINTS, unit, side="left").astype(np.int32)
    return Quantized(q, absmax, 0, 4, blocksize=blocksize, code=NF4_CODE)


def block_absmax(x, blocksize: int = 64) -> np.ndarray:
    """max|x_b| of each block of ``blocksize`` consecutive values, float32 (n_blocks,);
    the last block may be shorter."""
    x = as_vector(x)
    return np.abs(_padded_blocks(x, _check_blocksize(blocksize))).max(axis=1)


def nf4_scaled(x, blocksize: int = 64) -> np.ndarray:
    """x / absmax of its block, float32 (n,), before NF4 clamps it to [-1, 1] and picks a
    level. As bitsandbytes on CPU: ``x * (1 / absmax)`` in full blocks, ``x / absmax`` in
    a shorter last block; an all-zero block gives 0 (its absmax is taken as 1e-38)."""
    x = as_vector(x)
    blocksize = _check_blocksize(blocksize)
    blocks = _padded_blocks(x, blocksize)  # (n_blocks, blocksize)
    safe = np.maximum(block_absmax(x, blocksize), np.float32(1e-38))
    scaled = blocks * (np.float32(1) / safe)[:, None]
    rest = x.size % blocksize
    if rest:  # the shorter last block is divided, not multiplied by the reciprocal
        scaled[-1, :rest] = x[-rest:] / safe[-1]
    return scaled.ravel()[: x.size]


def quantize_ternary(x) -> Quantized:
    """BitNet b1.58 (Ma et al. 2024): weights in {-1, 0, +1} with one scale.

        scale = mean|x|   (the "absmean"),   q = clamp(round(x / scale), -1, 1)
        x_hat = q * scale

    The paper adds a tiny epsilon to the scale; here an all-zero x simply gives scale 0.
    """
    x = as_vector(x)
    scale = np.float32(np.abs(x).mean(dtype=np.float64))  # a float32 sum could overflow
    if scale == 0:
        return Quantized(np.zeros(x.size, dtype=np.int32), 0.0, 0, TERNARY_BITS)
    q = np.clip(np.rint(x / scale), -1, 1).astype(np.int32)
    return Quantized(q, float(scale), 0, TERNARY_BITS)


def double_quantize(constants, blocksize: int = 256, bits: int = 8) -> DoubleQuantized:
    """Quantize block constants (e.g. NF4's per-block absmax) a second time.

        offset = mean(c);   c - offset  ->  ``quantize_blockwise(c - offset, blocksize, bits)``

    QLoRA quantizes the absmax values to 8 bits in blocks of 256 after subtracting their
    mean. (bitsandbytes uses its 8-bit dynamic float map for this step; this lesson uses the
    linear absmax grid, which costs the same bits.)
    """
    c = as_vector(constants)
    offset = c.mean(dtype=np.float32)
    return DoubleQuantized(float(offset), quantize_blockwise(c - offset, blocksize, bits))


# --- measuring the result -----------------------------------------------------------------


def errors(x, x_hat) -> Errors:
    """MSE, max |x - x_hat| and SQNR in dB (inf when there is no error at all)."""
    x, x_hat = as_vector(x).astype(np.float64), as_vector(x_hat).astype(np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x has {x.size} values but x_hat has {x_hat.size}")
    err = x - x_hat
    noise, signal = float(np.sum(err**2)), float(np.sum(x**2))
    sqnr = (
        math.inf if noise == 0 else (-math.inf if signal == 0 else 10 * math.log10(signal / noise))
    )
    return Errors(float(np.mean(err**2)), float(np.max(np.abs(err))), sqnr)


def residual(x, result: Quantized) -> np.ndarray:
    """x - x_hat for every value, float32 (n,): the rounding (or clipping) error of each."""
    x = as_vector(x)
    if x.size != result.q.size:
        raise ValueError(f"x has {x.size} values but the codes have {result.q.size}")
    return (x - result.dequantize()).astype(np.float32)


def bits_per_parameter(
    bits: float,
    blocksize: int | None = None,
    double_quant: bool = False,
    dq_blocksize: int = 256,
    dq_bits: int = 8,
) -> float:
    """Storage per weight including the scale constants, for a large matrix.

        per tensor:      bits                                  (one constant: negligible)
        per block:       bits + 32 / blocksize                 (one FP32 absmax per block)
        double quant.:   bits + dq_bits / blocksize + 32 / (blocksize * dq_blocksize)

    NF4 in blocks of 64: 4 + 0.5 = 4.5 bits; with double quantization 4 + 0.127.
    ``storage`` counts every constant of a vector of a given length exactly.
    """
    if blocksize is None:
        return float(bits)
    blocksize = _check_blocksize(blocksize)
    if not double_quant:
        return bits + FP32_BITS / blocksize
    return bits + dq_bits / blocksize + FP32_BITS / (blocksize * _check_blocksize(dq_blocksize))


def model_sizes(n_params: float, blocksize: int = 64) -> tuple[FormatSize, ...]:
    """The size of a model of ``n_params`` parameters in each format (bytes = bits / 8).

    FP32 4 B, FP16/BF16 2 B, INT8/FP8 1 B per parameter; INT4 and NF4 0.5 B plus one FP32
    absmax per ``blocksize`` weights; NF4 + double quantization; ternary as it is packed
    (2 bits, or 5 codes per byte: 1.6 bits; log2(3) = 1.58 is only its information).
    A model's matrices are large, so one scale per matrix adds nothing visible here.
    """
    if not (
        isinstance(n_params, (int, float, np.number)) and math.isfinite(n_params) and n_params > 0
    ):
        raise ValueError(f"n_params must be a positive number, got {n_params!r}")
    formats = [
        ("FP32", 32.0),
        ("FP16 / BF16", 16.0),
        ("INT8 / FP8", 8.0),
        (f"INT4 (absmax per {blocksize})", bits_per_parameter(4, blocksize)),
        (f"NF4 (absmax per {blocksize})", bits_per_parameter(4, blocksize)),
        ("NF4 + double quantization", bits_per_parameter(4, blocksize, double_quant=True)),
        ("Ternary, 2 bits each (4 per byte)", TERNARY_PACKINGS["2 bits"]),
        ("Ternary, 5 per byte (3^5 = 243 <= 256)", TERNARY_PACKINGS["5 per byte"]),
    ]
    return tuple(FormatSize(name, b, n_params * b / 8) for name, b in formats)


# --- inputs --------------------------------------------------------------------------------

MAX_VALUES = 65_536
DISTRIBUTIONS = ("normal", "uniform", "normal with outliers")
WEIGHT_STD = 0.02  # the spread of a typical trained weight matrix


def parse_vector(text: str) -> np.ndarray:
    """Numbers separated by commas, spaces, semicolons or new lines -> float32 vector (n,).

    Raises ValueError naming the first bad token and its position, e.g.
    "'abc' is not a number (item 3)".
    """
    tokens = [t for t in re.split(r"[,;\s]+", text.strip()) if t]
    if not tokens:
        raise ValueError(
            "The vector is empty: type numbers separated by commas, spaces or new lines."
        )
    if len(tokens) > MAX_VALUES:
        raise ValueError(f"{len(tokens):,} numbers is too many; at most {MAX_VALUES:,}.")
    values = []
    for i, token in enumerate(tokens, start=1):
        try:
            value = float(token)
        except ValueError:
            raise ValueError(f"'{token}' is not a number (item {i})") from None
        if not math.isfinite(value) or abs(value) > float(np.finfo(np.float32).max):
            raise ValueError(f"'{token}' is not a finite float32 number (item {i})")
        values.append(value)
    return np.array(values, dtype=np.float32)


def sample_weights(kind: str, n: int, seed: int, std: float = WEIGHT_STD) -> np.ndarray:
    """n weight-like values, float32 (n,), from ``np.random.default_rng(seed)``.

    "normal": N(0, std^2), the shape trained weights roughly have. "uniform": the same
    spread, U(-sqrt(3) std, sqrt(3) std). "normal with outliers": normal, then 1% of the
    values (at least one) replaced by +-20 std, as in LLM.int8()'s outlier features.
    """
    if kind not in DISTRIBUTIONS:
        raise ValueError(f"Unknown distribution {kind!r}; expected one of {DISTRIBUTIONS}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_VALUES:
        raise ValueError(f"n must be an integer from 1 to {MAX_VALUES:,}, got {n!r}")
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        half_width = math.sqrt(3) * std
        return rng.uniform(-half_width, half_width, n).astype(np.float32)
    x = rng.normal(0, std, n)
    if kind == "normal with outliers":
        where = rng.choice(n, size=max(1, n // 100), replace=False)
        x[where] = rng.choice([-20 * std, 20 * std], size=where.size)
    return x.astype(np.float32)


# --- one entry point for the page ----------------------------------------------------------

METHODS = ("absmax", "min-max", "block-wise absmax", "NF4", "ternary")


def quantize(
    method: str, x, bits: int = 8, blocksize: int = 64, clip_percentile: float = 100.0
) -> Quantized:
    """Dispatch to the scheme named ``method`` (one of METHODS); NF4 is always 4 bits and
    ternary 1.58, so they ignore ``bits``; only the block-wise schemes use ``blocksize``;
    absmax clips at ``clip_percentile`` of |x| when it is below 100."""
    if method == "absmax":
        clip = percentile_clip(x, clip_percentile) if clip_percentile < 100 else None
        return quantize_absmax(x, bits, clip)
    if method == "min-max":
        return quantize_minmax(x, bits)
    if method == "block-wise absmax":
        return quantize_blockwise(x, blocksize, bits)
    if method == "NF4":
        return quantize_nf4(x, blocksize)
    if method == "ternary":
        return quantize_ternary(x)
    raise ValueError(f"Unknown method {method!r}; expected one of {METHODS}")


# --- the live cross-check against torch and bitsandbytes ---------------------------------

BNB_4BIT_BLOCKSIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)


@dataclass(frozen=True)
class CrossCheck:
    """How many of our ``total`` integer codes equal a reference library's (``same``), and
    what else was compared (``note``). ``total`` is 0 when no library implements the case."""

    reference: str
    same: int
    total: int
    note: str = ""

    @property
    def agrees(self) -> bool:
        return self.total > 0 and self.same == self.total

    def __str__(self) -> str:
        if self.total == 0:
            return f"{self.reference}: {self.note}"
        return f"{self.reference}: {self.same} of {self.total} codes identical" + (
            f"; {self.note}" if self.note else ""
        )


def cross_check(
    method: str, x, bits: int = 8, blocksize: int = 64, clip_percentile: float = 100.0
) -> CrossCheck:
    """Quantize x with our code and with torch or bitsandbytes, and count identical codes.

    min-max: torch ``MinMaxObserver`` (scale, zero point) and ``quantize_per_tensor`` at
    8 bits, ``fake_quantize_per_tensor_affine`` below. absmax and block-wise absmax at
    8 bits: bitsandbytes' ``int8_vectorwise_quant`` (a block is a row). NF4: bitsandbytes'
    ``quantize_4bit``, codes unpacked from the high then low nibble. Imports torch.
    """
    x = as_vector(x)
    if method == "absmax" and clip_percentile < 100:
        return CrossCheck(
            "bitsandbytes int8 row-wise", 0, 0, "it never clips; set the percentile to 100"
        )
    ours = quantize(method, x, bits, blocksize)
    import torch

    if method == "min-max":
        return _check_minmax(torch, x, ours)
    if method == "ternary":
        return CrossCheck("BitNet b1.58", 0, 0, "neither torch nor bitsandbytes implements it")
    import bitsandbytes.functional as F

    if method in ("absmax", "block-wise absmax"):
        name = "bitsandbytes int8 row-wise (LLM.int8())"
        if bits != 8:
            return CrossCheck(name, 0, 0, f"implemented at 8 bits only (now {bits})")
        rows = x[None, :] if method == "absmax" else _padded_blocks(x, blocksize)
        codes, row_absmax, _ = F.int8_vectorwise_quant(torch.from_numpy(rows.copy()))
        scales = np.atleast_1d(np.float32(ours.scale))
        same_scale = np.array_equal(row_absmax.numpy() / np.float32(127), scales)
        same = int(np.sum(codes.numpy().ravel()[: x.size] == ours.q))
        return CrossCheck(name, same, x.size, "scales identical" if same_scale else "scales differ")
    name = "bitsandbytes NF4 (quantize_4bit)"
    if blocksize not in BNB_4BIT_BLOCKSIZES:
        return CrossCheck(
            name, 0, 0, f"block size must be one of {BNB_4BIT_BLOCKSIZES}, not {blocksize}"
        )
    packed, state = F.quantize_4bit(torch.from_numpy(x), blocksize=blocksize, quant_type="nf4")
    byte = packed.numpy().ravel()
    codes = np.stack([byte >> 4, byte & 0x0F], axis=1).ravel()[: x.size]  # high nibble first
    same_absmax = np.array_equal(state.absmax.numpy(), ours.scale)
    note = "per-block absmax identical" if same_absmax else "per-block absmax differ"
    return CrossCheck(name, int(np.sum(codes == ours.q)), x.size, note)


def _check_minmax(torch, x: np.ndarray, ours: Quantized) -> CrossCheck:
    import warnings

    from torch.ao.quantization.observer import MinMaxObserver

    q_max = 2**ours.bits - 1
    t = torch.from_numpy(x)
    observer = MinMaxObserver(dtype=torch.quint8, quant_min=0, quant_max=q_max)
    observer(t)
    scale, zero_point = (v.item() for v in observer.calculate_qparams())
    same_params = (scale, zero_point) == (ours.scale, ours.zero_point)
    note = (
        "scale and zero point identical"
        if same_params
        else f"torch: scale {scale}, zero point {zero_point}"
    )
    if ours.bits == 8:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantized dtypes are deprecated, still the reference
            codes = torch.quantize_per_tensor(t, scale, zero_point, torch.quint8).int_repr().numpy()
        name = "torch MinMaxObserver + quantize_per_tensor"
    else:
        x_hat = torch.fake_quantize_per_tensor_affine(t, scale, zero_point, 0, q_max).numpy()
        codes = np.rint(x_hat / np.float32(scale)) + zero_point
        name = f"torch MinMaxObserver + fake_quantize (0..{q_max})"
    return CrossCheck(name, int(np.sum(codes == ours.q)), x.size, note)


# --- what the pictures draw: the grid, one value step by step, honest storage --------------

SIGNED = ("absmax", "block-wise absmax")


def code_range(method: str, bits: int = 8) -> tuple[int, int]:
    """The integer codes a method emits, (q_min, q_max).

    absmax and block-wise absmax (symmetric, signed): (-(2^(bits-1) - 1), 2^(bits-1) - 1),
    -127..127 at 8 bits (LLM.int8() leaves -128 unused so the grid is symmetric);
    min-max (asymmetric, unsigned): (0, 2^bits - 1), 0..255 at 8 bits;
    NF4: (0, 15), indices into NF4_CODE; ternary: (-1, 1). NF4 and ternary ignore ``bits``.
    """
    if method == "NF4":
        return 0, NF4_CODE.size - 1
    if method == "ternary":
        return -1, 1
    bits = _check_bits(bits)
    if method in SIGNED:
        return -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
    if method == "min-max":
        return 0, 2**bits - 1
    raise ValueError(f"Unknown method {method!r}; expected one of {METHODS}")


@dataclass(frozen=True)
class Grid:
    """Every level one block of a quantized vector can take, on the value axis.

    codes (k,): the integer codes, ascending; values (k,): what each dequantizes to,
    float32, ascending; zero_code: the code whose value is exactly 0.0 (the zero point);
    step: the spacing between neighbouring levels (the scale), or None when the spacing
    is uneven (NF4: normal quantiles times the block's absmax).
    """

    codes: np.ndarray
    values: np.ndarray
    zero_code: int
    step: float | None


def grid_levels(method: str, result: Quantized, block: int = 0) -> Grid:
    """The levels of ``result`` (made by ``method``) in block ``block`` (0 for one scale):
    (code - zero_point) * scale, or NF4_CODE[code] * absmax_b; the same float32 products
    ``Quantized.dequantize`` computes."""
    q_min, q_max = code_range(method, int(result.bits) if method not in ("NF4", "ternary") else 8)
    scales = np.atleast_1d(np.asarray(result.scale, dtype=np.float32))
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)):
        raise ValueError(f"block must be an integer, got {block!r}")
    if not 0 <= block < scales.size:
        raise ValueError(f"block must be from 0 to {scales.size - 1}, got {block}")
    scale = scales[block]
    codes = np.arange(q_min, q_max + 1)
    if method == "NF4":
        return Grid(codes, (NF4_CODE * scale).astype(np.float32), 7, None)
    zero = int(result.zero_point)
    values = ((codes - zero).astype(np.float32) * scale).astype(np.float32)
    return Grid(codes, values, zero, float(scale))


def levels_used(method: str, result: Quantized) -> tuple[int, int]:
    """(how many distinct codes ``result`` uses, how many codes the grid has)."""
    q_min, q_max = code_range(method, int(result.bits) if method in SIGNED + ("min-max",) else 8)
    return int(np.unique(result.q).size), q_max - q_min + 1


def unit_levels(method: str, bits: int = 4) -> np.ndarray:
    """The levels in units of the block's absmax, in [-1, 1], float32: NF4_CODE for NF4;
    k / q_max for k = -q_max..q_max for (block-wise) absmax (15 levels at 4 bits:
    INT4's code -8 is left unused, as LLM.int8() leaves -128); -1, 0, 1 for ternary."""
    if method == "NF4":
        return NF4_CODE.copy()
    if method in SIGNED or method == "ternary":
        q_min, q_max = code_range(method, bits)
        return (np.arange(q_min, q_max + 1) / np.float32(q_max)).astype(np.float32)
    raise ValueError(f"unit_levels is for NF4, absmax and ternary, not {method!r}")


@dataclass(frozen=True)
class TraceStep:
    """One step of quantizing one value.

    name: the step ("x / scale"); value: the number after it, in the step's own units
    (grid steps for "x / scale", a code for "clamp"); position: where that number sits on
    the value axis of the number line; on_grid: drawn on the integer grid (True) or on
    the float line (False); note: the step in words.
    """

    name: str
    value: float
    position: float
    on_grid: bool
    note: str


@dataclass(frozen=True)
class ValueTrace:
    """x[i] through the quantizer: the steps, its block (None for one scale), its code,
    x_hat and whether the clamp moved it (a clipping error rather than a rounding one)."""

    i: int
    x: float
    block: int | None
    steps: tuple[TraceStep, ...]
    code: int
    x_hat: float
    clamped: bool

    @property
    def error(self) -> float:
        """x - x_hat: a rounding error, or a clipping error when ``clamped``."""
        return self.x - self.x_hat


def trace_value(
    method: str, x, i: int, bits: int = 8, blocksize: int = 64, clip_percentile: float = 100.0
) -> ValueTrace:
    """Quantize x[i] step by step, with the numbers ``quantize`` computes for it.

    linear grids:  x -> x / scale -> round -> + zero point -> clamp -> code -> x_hat
    NF4:           x -> x / absmax_b -> clamp to [-1, 1] -> nearest level -> code -> x_hat

    Min-max rounds ``x * (1 / scale) + zero_point`` as torch does, so "round" is
    ``rint(x / scale + z) - z``: the same as ``round(x / scale)`` except exactly halfway,
    where rounding half to even after the shift can land on the other neighbour.
    Invariant: the traced code and x_hat are ``quantize(...)``'s q[i] and x_hat[i].
    """
    x = as_vector(x)
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < x.size:
        raise ValueError(f"i must be an index from 0 to {x.size - 1}, got {i!r}")
    i = int(i)
    result = quantize(method, x, bits, blocksize, clip_percentile)
    x_hat = float(result.dequantize()[i])
    xi = float(x[i])
    block = i // result.blocksize if result.blocksize else None
    first = TraceStep("x", xi, xi, False, "the float value to store")
    if method == "NF4":
        steps, code, clamped = _trace_nf4(x, i, blocksize, block)
    else:
        steps, code, clamped = _trace_linear(
            method, x, i, result, _threshold(method, x, i, result, clip_percentile)
        )
    steps = (first, *steps, TraceStep("dequantized", x_hat, x_hat, False, _DEQUANT[method]))
    assert code == int(result.q[i]), (code, int(result.q[i]))
    return ValueTrace(i, xi, block, steps, code, x_hat, clamped)


_DEQUANT = {
    "min-max": "x_hat = (q - zero point) * scale",
    "absmax": "x_hat = q * scale",
    "block-wise absmax": "x_hat = q * scale of the block",
    "ternary": "x_hat = q * scale",
    "NF4": "x_hat = level * absmax of the block",
}


def _threshold(method, x, i, result, clip_percentile) -> np.float32 | None:
    """What absmax-style quantizers divide by for x[i]: max|x|, the calibration clip, or
    the block's absmax (as quantize_absmax / quantize_blockwise compute it); else None."""
    if method == "absmax":
        clip = percentile_clip(x, clip_percentile) if clip_percentile < 100 else None
        return np.abs(x).max() if clip is None else np.float32(clip)
    if method == "block-wise absmax":
        return block_absmax(x, result.blocksize)[i // result.blocksize]
    return None


def _trace_linear(method, x, i, result, absmax) -> tuple[list[TraceStep], int, bool]:
    q_min, q_max = code_range(method, int(result.bits) if method != "ternary" else 8)
    scale = np.float32(
        np.atleast_1d(result.scale)[i // result.blocksize if result.blocksize else 0]
    )
    z = int(result.zero_point)
    if method == "min-max":
        fused = float(_minmax_fused(x[i : i + 1], scale, z)[0])  # x / scale + z, float32
        u, rounded = fused - z, float(np.rint(fused)) - z
    elif scale == 0:  # an all-zero vector (or block): every code is 0
        u = rounded = 0.0
    elif method == "ternary":
        u = float(x[i] / scale)
        rounded = float(np.rint(np.float32(u)))
    else:  # absmax (maybe clipped) and block-wise: x * (q_max / absmax) in float32
        u = float(x[i] * (np.float32(q_max) / absmax))
        rounded = float(np.rint(np.float32(u)))
    code = int(np.clip(rounded + z, q_min, q_max))
    clamped = code != rounded + z
    s = float(scale)
    shift = (
        f"add the zero point {z}: 0.0 lands on code {z}"
        if method == "min-max"
        else "symmetric: the zero point is 0, 0.0 is code 0"
    )
    inside = f"keep it in {q_min}..{q_max}: " + ("outside, so clamped" if clamped else "inside")
    steps = [
        TraceStep("x / scale", u, u * s, True, f"divide by the scale {s:.6g}: x in grid steps"),
        TraceStep("round", rounded, rounded * s, True, "to the nearest whole step"),
        TraceStep("+ zero point", rounded + z, rounded * s, True, shift),
        TraceStep("clamp", code, (code - z) * s, True, inside),
        TraceStep("code", code, (code - z) * s, True, f"store the integer q = {code}"),
    ]
    return steps, code, clamped


def _trace_nf4(x, i, blocksize, block) -> tuple[list[TraceStep], int, bool]:
    absmax = float(block_absmax(x, blocksize)[block])
    u = float(nf4_scaled(x, blocksize)[i])
    inside = float(np.clip(np.float32(u), -1, 1))
    code = int(np.searchsorted(_NF4_MIDPOINTS, np.float32(inside), side="left"))
    level = float(NF4_CODE[code])
    steps = [
        TraceStep("x / absmax", u, u * absmax, True, f"divide by the block's absmax {absmax:.6g}"),
        TraceStep("clamp", inside, inside * absmax, True, "keep it in [-1, 1]"),
        TraceStep("nearest level", level, level * absmax, True, "the closest of the 16 NF4 levels"),
        TraceStep("code", code, level * absmax, True, f"store its index q = {code} (4 bits)"),
    ]
    return steps, code, inside != u


@dataclass(frozen=True)
class Storage:
    """What storing a quantized vector of ``n_values`` weights really takes.

    parts: (what, how many, bits each), codes first, then every constant needed to
    dequantize. ``bits_per_weight`` = total bits / n_values.
    """

    parts: tuple[tuple[str, int, float], ...]
    n_values: int

    @property
    def rows(self) -> tuple[tuple[str, int, float, float, float], ...]:
        """Each part as (what, how many, bits each, bits in all, bits per weight)."""
        return tuple(
            (what, count, bits, count * bits, count * bits / self.n_values)
            for what, count, bits in self.parts
        )

    @property
    def total_bits(self) -> float:
        return float(sum(count * bits for _, count, bits in self.parts))

    @property
    def bits_per_weight(self) -> float:
        return self.total_bits / self.n_values


def storage(
    method: str,
    n_values: int,
    bits: int = 8,
    blocksize: int = 64,
    double_quant: bool = False,
    dq_blocksize: int = 256,
    dq_bits: int = 8,
    ternary_packing: str = "2 bits",
) -> Storage:
    """Codes plus constants for ``n_values`` weights, counted exactly.

        absmax:      n * bits + 32 (one FP32 scale)
        min-max:     n * bits + 32 (FP32 scale) + bits (the zero point is one code of the
                     grid; ONNX stores it in the quantized type)
        per block:   n * bits + ceil(n / blocksize) * 32 (one FP32 absmax per block)
        + double q.: the block constants in ``dq_bits`` bits instead, plus one FP32 scale per
                     ``dq_blocksize`` of them and one FP32 offset (their mean), as QLoRA
        ternary:     2 bits per code (or 8 bits per 5 codes) + 32 (one FP32 scale)

    For a large matrix the per-block terms tend to ``bits_per_parameter``; on a short
    vector the per-tensor constants are not negligible, and this counts them.
    """
    if isinstance(n_values, bool) or not isinstance(n_values, (int, np.integer)) or n_values < 1:
        raise ValueError(f"n_values must be a positive integer, got {n_values!r}")
    n = int(n_values)
    scale = ("FP32 scale", 1, FP32_BITS)
    if method == "ternary":
        if ternary_packing not in TERNARY_PACKINGS:
            raise ValueError(
                f"ternary_packing must be one of {tuple(TERNARY_PACKINGS)}, got {ternary_packing!r}"
            )
        if ternary_packing == "5 per byte":
            codes = ("bytes of 5 ternary codes", -(-n // 5), 8)
        else:
            codes = ("ternary codes, 2 bits each", n, 2)
        return Storage((codes, scale), n)
    code_range(method, bits)  # a known method and, where it matters, valid bits
    q_bits = 4 if method == "NF4" else int(bits)
    codes = (f"{q_bits}-bit codes", n, q_bits)
    if method == "absmax":
        return Storage((codes, scale), n)
    if method == "min-max":
        return Storage((codes, scale, (f"zero point ({q_bits}-bit code)", 1, q_bits)), n)
    n_blocks = -(-n // _check_blocksize(blocksize))
    if not double_quant:
        return Storage((codes, ("FP32 absmax per block", n_blocks, FP32_BITS)), n)
    n_groups = -(-n_blocks // _check_blocksize(dq_blocksize))
    return Storage(
        (
            codes,
            (f"{_check_bits(dq_bits)}-bit absmax per block", n_blocks, dq_bits),
            (f"FP32 scale per {dq_blocksize} block constants", n_groups, FP32_BITS),
            ("FP32 offset (their mean)", 1, FP32_BITS),
        ),
        n,
    )


def double_quant_saving(
    n_params: float, blocksize: int = 64, dq_blocksize: int = 256, dq_bits: int = 8
) -> FormatSize:
    """What double quantization saves on a model of ``n_params`` weights:
    32 / blocksize - (dq_bits / blocksize + 32 / (blocksize * dq_blocksize)) bits each,
    0.373 bit at 64 and 256: 3.03 x 10^9 bytes on 65B (the QLoRA paper's "about 3 GB")."""
    if not (
        isinstance(n_params, (int, float, np.number)) and math.isfinite(n_params) and n_params > 0
    ):
        raise ValueError(f"n_params must be a positive number, got {n_params!r}")
    saved = bits_per_parameter(0, blocksize) - bits_per_parameter(
        0, blocksize, True, dq_blocksize, dq_bits
    )
    return FormatSize("double quantization saves", saved, n_params * saved / 8)


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
