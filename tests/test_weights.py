"""Rows of the bundled SmolLM2's weights, read with numpy, against transformers' own loading."""

import subprocess
import sys

import numpy as np
import pytest

from core import weights


def test_matrix_names_are_the_2d_weights():
    shapes = weights.matrix_shapes()
    assert shapes["model.embed_tokens.weight"] == (49152, 576)
    assert shapes["model.layers.0.self_attn.q_proj.weight"] == (576, 576)
    assert shapes["model.layers.0.self_attn.k_proj.weight"] == (192, 576)  # 3 kv heads of 64
    assert shapes["model.layers.29.mlp.down_proj.weight"] == (576, 1536)
    assert all(len(s) == 2 for s in shapes.values())
    assert "model.norm.weight" not in shapes  # 1-D
    assert weights.matrix_names() == list(shapes)
    assert len(shapes) == 1 + 30 * 7


def test_rows_equal_the_safetensors_torch_loader():
    from safetensors.torch import load_file

    name = "model.layers.2.mlp.up_proj.weight"
    got = weights.load_rows(name, start=10, count=3)
    assert got.rows.dtype == np.float32 and got.rows.shape == (3, 576)
    assert got.shape == (1536, 576)
    reference = load_file(weights.weights_file())[name][10:13].numpy()
    np.testing.assert_array_equal(got.rows, reference)


def test_loading_rows_does_not_import_torch():
    code = (
        "import sys; from core.weights import load_rows; "
        "r = load_rows('model.layers.0.self_attn.v_proj.weight'); "
        "print(r.rows.shape, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(1, 576) False"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="model.nope.weight"), "No weight named"),
        (dict(name="model.norm.weight"), "expected a 2-D"),
        (dict(name="model.layers.0.self_attn.k_proj.weight", start=190, count=5), "has 192 rows"),
        (dict(name="model.layers.0.self_attn.k_proj.weight", start=-1), "got -1"),
        (dict(name="model.layers.0.self_attn.k_proj.weight", count=0), "got 0"),
    ],
)
def test_bad_requests_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        weights.load_rows(**kwargs)


def test_missing_model_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model.safetensors"):
        weights.matrix_names(tmp_path)
