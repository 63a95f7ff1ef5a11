"""The quantization page's comparison tables and filled-in formulas (the page's other
pieces are in ``pages/_quantization_parts.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import quantization as Q
from pages._quantization_parts import num
from pages._ui import fmt_bytes


@st.cache_data(show_spinner=False, max_entries=64)
def comparison(x: np.ndarray, bits: int, blocksize: int, clip: float = 100.0) -> pd.DataFrame:
    """Every method on the same input: the outlier story, calibration, INT4 against NF4."""
    clipped = []
    if clip < 100:
        name = f"absmax INT{bits}, clipped at the {clip:g}th percentile"
        clipped = [(name, Q.quantize("absmax", x, bits, clip_percentile=clip), float(bits))]
    rows = [
        (f"absmax INT{bits}, one scale", Q.quantize_absmax(x, bits), Q.bits_per_parameter(bits)),
        *clipped,
        (
            f"min-max UINT{bits}, one scale + zero point",
            Q.quantize_minmax(x, bits),
            Q.bits_per_parameter(bits),
        ),
        (
            f"block-wise absmax INT{bits}, blocks of {blocksize}",
            Q.quantize_blockwise(x, blocksize, bits),
            Q.bits_per_parameter(bits, blocksize),
        ),
        (
            f"INT4 block-wise absmax, blocks of {blocksize}",
            Q.quantize_blockwise(x, blocksize, 4),
            Q.bits_per_parameter(4, blocksize),
        ),
        (
            f"NF4, blocks of {blocksize}",
            Q.quantize_nf4(x, blocksize),
            Q.bits_per_parameter(4, blocksize),
        ),
        ("ternary {-1, 0, +1} x mean|x|", Q.quantize_ternary(x), Q.TERNARY_BITS),
    ]
    out = []
    for name, result, bits_per_param in rows:
        e = Q.errors(x, result.dequantize())
        out.append(
            {
                "method": name,
                "bits / weight": round(bits_per_param, 3),
                "MSE": e.mse,
                "max |error|": e.max_abs,
                "SQNR dB": round(e.sqnr_db, 2),
            }
        )
    return pd.DataFrame(out)


def sizes_table(n_params: float, blocksize: int) -> pd.DataFrame:
    rows = Q.model_sizes(n_params, blocksize)
    return pd.DataFrame(
        {
            "format": [r.name for r in rows],
            "bits / parameter": [round(r.bits_per_param, 3) for r in rows],
            "bytes / parameter": [round(r.bits_per_param / 8, 4) for r in rows],
            "size": [fmt_bytes(r.n_bytes) for r in rows],
        }
    )


def formulas(method: str, x: np.ndarray, result: Q.Quantized, clip: float = 100.0) -> list[str]:
    """The method's formulas in LaTeX, filled in with this input's numbers (for one value)."""
    i = 1 if x.size > 1 else 0
    xi, qi, x_hat = num(x[i]), int(result.q[i]), num(result.dequantize()[i])
    if method == "min-max":
        s, z = num(result.scale), result.zero_point
        q_max = 2**result.bits - 1
        lo, hi = num(min(x.min(), 0)), num(max(x.max(), 0))
        return [
            rf"\text{{scale}} = \frac{{x_{{max}} - x_{{min}}}}{{q_{{max}} - q_{{min}}}}"
            rf" = \frac{{{hi} - ({lo})}}{{{q_max} - 0}} = {s}",
            rf"\text{{zero point}} = \mathrm{{round}}\left(\frac{{-x_{{min}}}}{{\text{{scale}}}}\right)"
            rf" = \mathrm{{round}}\left(\frac{{-({lo})}}{{{s}}}\right) = {z}",
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
    absmax = num(
        np.abs(x[block * result.blocksize : (block + 1) * result.blocksize]).max()
        if result.blocksize
        else np.abs(x).max()
    )
    where = rf"\text{{ (block {block})}}" if result.blocksize else ""
    if method == "NF4":
        s = num(np.asarray(result.scale)[block])
        return [
            rf"\text{{absmax}} = \max |x_b| = {s}{where}",
            rf"\frac{{{xi}}}{{{s}}} = {num(x[i] / float(s))} \;\to\; \text{{nearest NF4 level}}"
            rf" = {num(Q.NF4_CODE[qi])} \;(q = {qi})",
            rf"\hat x = {num(Q.NF4_CODE[qi])} \cdot {s} = {x_hat}",
        ]
    q_max = 2 ** (result.bits - 1) - 1
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

