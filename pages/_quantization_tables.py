"""The quantization page's comparison tables and filled-in formulas (the page's other
pieces are in ``pages/_quantization_parts.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import quantization as Q
from pages._quantization_parts import num


@st.cache_data(show_spinner=False, max_entries=64)
def comparison(x: np.ndarray, bits: int, blocksize: int, clip: float = 100.0) -> pd.DataFrame:
    """Every method on the same input: the outlier story, calibration, INT4 against NF4.
    Bits per weight count every constant stored for this vector (``core.storage``)."""
    n = x.size
    clipped = []
    if clip < 100:
        name = f"absmax INT{bits}, clipped at the {clip:g}th percentile"
        clipped = [(name, Q.quantize("absmax", x, bits, clip_percentile=clip), ("absmax", bits))]
    rows = [
        (f"absmax INT{bits}, one scale", Q.quantize_absmax(x, bits), ("absmax", bits)),
        *clipped,
        (
            f"min-max UINT{bits}, one scale + zero point",
            Q.quantize_minmax(x, bits),
            ("min-max", bits),
        ),
        (
            f"block-wise absmax INT{bits}, blocks of {blocksize}",
            Q.quantize_blockwise(x, blocksize, bits),
            ("block-wise absmax", bits),
        ),
        (
            f"INT4 block-wise absmax, blocks of {blocksize}",
            Q.quantize_blockwise(x, blocksize, 4),
            ("block-wise absmax", 4),
        ),
        (f"NF4, blocks of {blocksize}", Q.quantize_nf4(x, blocksize), ("NF4", 4)),
        ("ternary {-1, 0, +1} x mean|x|, 2-bit codes", Q.quantize_ternary(x), ("ternary", 2)),
    ]
    out = []
    for name, result, (method, b) in rows:
        e = Q.errors(x, result.dequantize())
        stored = Q.storage(method, n, b, blocksize)
        out.append(
            {
                "method": name,
                "bits / weight": round(stored.bits_per_weight, 3),
                "MSE": e.mse,
                "max |error|": e.max_abs,
                "SQNR dB": round(e.sqnr_db, 2),
            }
        )
    return pd.DataFrame(out)


def sizes_table(n_params: float, blocksize: int) -> pd.DataFrame:
    """Bytes of a model in each format, in decimal GB and binary GiB, each column labelled."""
    rows = Q.model_sizes(n_params, blocksize)
    return pd.DataFrame(
        {
            "format": [r.name for r in rows],
            "bits / parameter": [round(r.bits_per_param, 3) for r in rows],
            "bytes / parameter": [round(r.bytes_per_param, 4) for r in rows],
            "GB (10^9 bytes)": [round(r.gb, 2) for r in rows],
            "GiB (2^30 bytes)": [round(r.gib, 2) for r in rows],
        }
    )


def formulas(method: str, x: np.ndarray, result: Q.Quantized, i: int, clip: float = 100.0):
    """The method's formulas in LaTeX, filled in with this input's numbers for x[i]."""
    xi, qi, x_hat = num(x[i]), int(result.q[i]), num(result.dequantize()[i])
    if method == "min-max":
        p = Q.minmax_params(x, result.bits)
        s, z = num(p.scale), p.zero_point
        return [
            rf"\text{{scale}} = \frac{{x_{{max}} - x_{{min}}}}{{q_{{max}} - q_{{min}}}}"
            rf" = \frac{{{num(p.x_max)} - ({num(p.x_min)})}}{{{p.q_max} - {p.q_min}}} = {s}",
            rf"\text{{zero point}} = \mathrm{{round}}\left(\frac{{-x_{{min}}}}{{\text{{scale}}}}\right)"
            rf" = \mathrm{{round}}\left(\frac{{-({num(p.x_min)})}}{{{s}}}\right) = {z}",
            rf"q = \mathrm{{clamp}}\left(\mathrm{{round}}\left(\frac{{{xi}}}{{{s}}}\right) + {z}\right) = {qi}"
            rf"\qquad \hat x = ({qi} - {z}) \cdot {s} = {x_hat}",
        ]
    if method == "ternary":
        s = num(result.scale)
        return [
            rf"\text{{scale}} = \mathrm{{mean}}\,|x| = {s}",
            rf"q = \mathrm{{clamp}}\left(\mathrm{{round}}\left(\frac{{{xi}}}{{{s}}}\right), -1, 1\right) = {qi}"
            rf"\qquad \hat x = {qi} \cdot {s} = {x_hat}",
        ]
    block = i // result.blocksize if result.blocksize else 0
    absmax = num(Q.block_absmax(x, result.blocksize or x.size)[block])  # one block: max|x|
    where = rf"\text{{ (block {block})}}" if result.blocksize else ""
    if method == "NF4":
        s = num(np.asarray(result.scale)[block])
        unit = num(Q.nf4_scaled(x, result.blocksize)[i])
        return [
            rf"\text{{absmax}} = \max |x_b| = {s}{where}",
            rf"\frac{{{xi}}}{{{s}}} = {unit} \;\to\; \text{{nearest NF4 level}}"
            rf" = {num(Q.NF4_CODE[qi])} \;(q = {qi})",
            rf"\hat x = {num(Q.NF4_CODE[qi])} \cdot {s} = {x_hat}",
        ]
    q_max = Q.code_range(method, result.bits)[1]
    s = num(np.asarray(result.scale).ravel()[block])
    if clip < 100:  # calibrated absmax: the threshold replaces max|x|
        return [
            rf"\text{{clip}} = P_{{{clip:g}}}(|x|) = {num(Q.percentile_clip(x, clip))}"
            rf"\quad (\max|x| = {absmax})",
            rf"\text{{scale}} = \frac{{\text{{clip}}}}{{{q_max}}} = {s}",
            rf"q = \mathrm{{clamp}}\left(\mathrm{{round}}\left(\frac{{{xi}}}{{{s}}}\right),"
            rf" -{q_max}, {q_max}\right) = {qi}\qquad \hat x = {qi} \cdot {s} = {x_hat}",
        ]
    return [
        rf"\text{{scale}} = \frac{{\max |x|}}{{2^{{{result.bits}-1}} - 1}} = \frac{{{absmax}}}{{{q_max}}} = {s}{where}",
        rf"q = \mathrm{{round}}\left(\frac{{{xi}}}{{{s}}}\right) = {qi}"
        rf"\qquad \hat x = {qi} \cdot {s} = {x_hat}",
    ]
