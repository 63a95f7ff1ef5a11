"""Real weights: rows of a weight matrix of the bundled SmolLM2 model, read without torch.

safetensors' numpy reader memory-maps the file and copies only the rows asked for, so
reading a row of a 576 x 1536 matrix takes milliseconds and never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class WeightRows:
    """``rows`` (count, n_cols) float32, copied from ``name`` (shape ``shape``) at ``start``."""

    name: str
    shape: tuple[int, int]
    start: int
    rows: np.ndarray


def weights_file(model_dir: str | Path | None = None) -> Path:
    """The safetensors file of ``model_dir``, or of the bundled SmolLM2 when None."""
    if model_dir is None:
        from core.models import bundled_model_dir

        model_dir = bundled_model_dir()
    path = Path(model_dir) / "model.safetensors"
    try:
        found = path.is_file()
    except OSError:  # e.g. a name too long for the file system
        found = False
    if not found:
        raise FileNotFoundError(f"No model.safetensors in {str(model_dir)[:200]}")
    return path


def matrix_shapes(model_dir: str | Path | None = None) -> dict[str, tuple[int, int]]:
    """Every 2-D weight in the file: name -> (rows, cols), in the file's order."""
    from safetensors import safe_open

    with safe_open(weights_file(model_dir), framework="numpy") as f:
        shapes = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    return {name: shape for name, shape in shapes.items() if len(shape) == 2}


def matrix_names(model_dir: str | Path | None = None) -> list[str]:
    """The names of the 2-D weight matrices (embeddings, attention and MLP projections)."""
    return list(matrix_shapes(model_dir))


def load_rows(
    name: str, start: int = 0, count: int = 1, model_dir: str | Path | None = None
) -> WeightRows:
    """Rows ``start .. start + count - 1`` of the 2-D weight ``name`` as float32.

    Raises ValueError for an unknown or non-2-D name, or rows outside the matrix.
    """
    from safetensors import safe_open

    with safe_open(weights_file(model_dir), framework="numpy") as f:
        if name not in f.keys():
            raise ValueError(f"No weight named {name!r} in the model")
        tensor = f.get_slice(name)
        shape = tuple(tensor.get_shape())
        if len(shape) != 2:
            raise ValueError(f"{name!r} has shape {shape}; expected a 2-D weight matrix")
        n_rows = shape[0]
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
            raise ValueError(f"start must be a row index >= 0, got {start!r}")
        if start + count > n_rows:
            raise ValueError(
                f"Rows {start}..{start + count - 1} do not exist: {name!r} has {n_rows} rows (0..{n_rows - 1})"
            )
        rows = np.asarray(tensor[start : start + count], dtype=np.float32)  # (count, n_cols)
    return WeightRows(name, shape, int(start), rows)


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
