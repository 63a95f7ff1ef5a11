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
    q_max = 2 ** (bits - 1) - 1
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
    q_min, q_max = 0, 2**bits - 1
    x_min = min(x.min(), np.float32(0))  # 1.
    x_max = max(x.max(), np.float32(0))
    scale = max((x_max - x_min) / np.float32(q_max - q_min), np.finfo(np.float32).eps)  # 2.
    zero_point = int(np.clip(q_min - np.rint(x_min / scale), q_min, q_max))  # 3.
    inv_scale = np.float32(1) / scale
    fused = (x.astype(np.float64) * np.float64(inv_scale) + zero_point).astype(np.float32)
    q = np.clip(np.rint(fused), q_min, q_max).astype(np.int32)  # 4.
    return Quantized(q, float(scale), zero_point, bits)


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
    q_max = 2 ** (bits - 1) - 1
    blocks = _padded_blocks(x, blocksize)  # (n_blocks, blocksize)
    absmax = np.abs(blocks).max(axis=1)  # (n_blocks,)
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
    blocks = _padded_blocks(x, blocksize)  # (n_blocks, blocksize)
    absmax = np.abs(blocks).max(axis=1)  # (n_blocks,)
    safe = np.maximum(absmax, np.float32(1e-38))  # an all-zero block: codes land on 0.0
    scaled = blocks * (np.float32(1) / safe)[:, None]
    rest = x.size % blocksize
    if rest:  # the shorter last block is divided, not multiplied by the reciprocal
        scaled[-1, :rest] = x[-rest:] / safe[-1]
    unit = np.clip(scaled.ravel()[: x.size], -1, 1)  # (n,) in [-1, 1]
    q = np.searchsorted(_NF4_MIDPOINTS, unit, side="left").astype(np.int32)
    return Quantized(q, absmax.astype(np.float32), 0, 4, blocksize=blocksize, code=NF4_CODE)


def quantize_ternary(x) -> Quantized:
    """BitNet b1.58 (Ma et al. 2024): weights in {-1, 0, +1} with one scale.

        scale = mean|x|   (the "absmean"),   q = clamp(round(x / scale), -1, 1)
        x_hat = q * scale

    The paper adds a tiny epsilon to the scale; here an all-zero x simply gives scale 0.
    """
    x = as_vector(x)
    scale = np.abs(x).mean(dtype=np.float32)
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


def bits_per_parameter(
    bits: float,
    blocksize: int | None = None,
    double_quant: bool = False,
    dq_blocksize: int = 256,
    dq_bits: int = 8,
) -> float:
    """Storage per weight including the scale constants.

        per tensor:      bits                                  (one constant: negligible)
        per block:       bits + 32 / blocksize                 (one FP32 absmax per block)
        double quant.:   bits + dq_bits / blocksize + 32 / (blocksize * dq_blocksize)

    NF4 in blocks of 64: 4 + 0.5 = 4.5 bits; with double quantization 4 + 0.127.
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
    absmax per ``blocksize`` weights; NF4 + double quantization; ternary log2(3) bits.
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
        ("Ternary (BitNet b1.58)", TERNARY_BITS),
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


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
