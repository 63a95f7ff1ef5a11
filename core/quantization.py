"""Quantization: map float weights onto a small grid of integers and back.

Every scheme returns a ``Quantized`` (integer codes + the constants needed to undo them).
The arithmetic is done in float32, in the same order as the reference libraries, so the
integer codes are identical to theirs (tests/test_quantization.py checks this):

- ``quantize_minmax``: PyTorch's ``MinMaxObserver`` + ``quantize_per_tensor`` (quint8).
- ``quantize_absmax``: LLM.int8() absmax, bitsandbytes' ``int8_vectorwise_quant`` at 8 bits.
- ``quantize_nf4``: QLoRA's NormalFloat4, bitsandbytes' ``quantize_4bit(quant_type="nf4")``.
- ``quantize_ternary``: BitNet b1.58 (Ma et al. 2024), absmean scale and {-1, 0, +1}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# NormalFloat4 (Dettmers et al. 2023, QLoRA, appendix E): 16 levels at quantiles of N(0, 1),
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
    return int(blocksize)


def _blocks(x: np.ndarray, blocksize: int) -> list[np.ndarray]:
    """Consecutive blocks of ``blocksize`` values; the last one may be shorter."""
    return [x[i : i + blocksize] for i in range(0, x.size, blocksize)]


# --- the schemes -------------------------------------------------------------------------


def quantize_absmax(x, bits: int = 8) -> Quantized:
    """Symmetric (signed) absmax quantization, the LLM.int8() convention.

        q_max = 2^(bits-1) - 1                  (127 at 8 bits)
        scale = max|x| / q_max
        q     = round(x * (q_max / max|x|))     in [-q_max, q_max], zero_point = 0
        x_hat = q * scale

    Computed in float32 exactly as bitsandbytes' ``int8_vectorwise_quant`` does per row
    (``round(A * (127 / absmax))``, round half to even). An all-zero x gives scale 0, q 0.
    """
    x = as_vector(x)
    bits = _check_bits(bits)
    q_max = 2 ** (bits - 1) - 1
    absmax = np.abs(x).max()
    if absmax == 0:
        return Quantized(np.zeros(x.size, dtype=np.int32), 0.0, 0, bits)
    q = np.rint(x * (np.float32(q_max) / absmax)).astype(np.int32)
    assert np.abs(q).max() <= q_max
    return Quantized(q, float(absmax / np.float32(q_max)), 0, bits)


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
    parts = [quantize_absmax(block, bits) for block in _blocks(x, blocksize)]
    q = np.concatenate([p.q for p in parts])  # (n,)
    scale = np.array([p.scale for p in parts], dtype=np.float32)  # (n_blocks,)
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
    tiny = np.float32(1e-38)  # an all-zero block: no division by zero, codes land on 0.0
    scaled, absmax = [], []
    for block in _blocks(x, blocksize):
        m = np.abs(block).max()
        absmax.append(m)
        if block.size == blocksize:
            scaled.append(block * (np.float32(1) / max(m, tiny)))
        else:
            scaled.append(block / max(m, tiny))
    unit = np.clip(np.concatenate(scaled), -1, 1)  # (n,) in [-1, 1]
    q = np.searchsorted(_NF4_MIDPOINTS, unit, side="left").astype(np.int32)
    return Quantized(
        q, np.array(absmax, dtype=np.float32), 0, 4, blocksize=blocksize, code=NF4_CODE
    )


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
