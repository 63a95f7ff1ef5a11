"""The parameters page: layer counter, real presets, bytes per datatype, URL state."""

from streamlit.testing.v1 import AppTest

from core.params import ARCHITECTURES, transformer_param_count
from pages._ui import ROOT

PAGE = str(ROOT / "pages" / "parameters.py")


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


COLUMNS = {"params_layer_table": "parameters", "params_size_table": "datatype"}


def _table(at, key):
    """A table by a column only it has (AppTest does not expose dataframe keys)."""
    for df in at.dataframe:
        if COLUMNS[key] in df.value.columns:
            return df.value
    raise KeyError(key)


def test_default_is_the_notes_network_with_38_parameters():
    at = AppTest.from_file(PAGE).run()
    assert not at.exception
    assert at.text_input(key="params_layers").value == "4-3-3-2-1"
    assert metric(at, "Parameters") == "38"
    rows = _table(at, "params_layer_table")
    assert list(rows["parameters"]) == [15, 12, 8, 3]
    assert any("= 38" in x.value for x in at.latex)


def test_editing_the_layer_list_recounts():
    at = AppTest.from_file(PAGE).run()
    at.text_input(key="params_layers").set_value("3-2").run()
    assert metric(at, "Parameters") == "8"
    assert "params_network" in [c.key for c in at.get("plotly_chart")]  # the diagram
    at.text_input(key="params_layers").set_value("784, 128, 10").run()
    assert metric(at, "Parameters") == f"{784 * 128 + 128 + 128 * 10 + 10:,}"
    assert "params_network" not in [c.key for c in at.get("plotly_chart")]  # too wide to draw


def test_bad_layer_list_shows_an_error_and_keeps_the_page():
    at = AppTest.from_file(PAGE).run()
    at.text_input(key="params_layers").set_value("4-three-1").run()
    assert not at.exception
    assert len(at.error) == 1 and "'three'" in at.error[0].value
    assert metric(at, "Exact count") == f"{transformer_param_count(ARCHITECTURES['Llama-2 7B']):,}"


def test_presets_show_exact_counts():
    at = AppTest.from_file(PAGE).run()
    assert metric(at, "Exact count") == "6,738,415,616"
    at.selectbox(key="params_model").set_value("Gemma 2B").run()
    assert metric(at, "Exact count") == "2,506,172,416"
    assert metric(at, "Decoder layers") == "18"


def test_gpt3_at_fp32_is_700_gb():
    at = AppTest.from_file(PAGE).run()
    sizes = _table(at, "params_size_table").set_index("datatype")
    assert sizes.loc["FP32", "size (GB, 10⁹ B)"] == "700.00"
    assert sizes.loc["FP32", "size (1 GB = 1024³ B)"] == "651.93 GB"
    assert sizes.loc["BF16", "size (GB, 10⁹ B)"] == "350.00"
    assert sizes.loc["NF4 + double quant", "bits per parameter"] == "4.12695"
    assert any("700.0" in x.value and "651.9" in x.value for x in at.latex)
    at.number_input(key="params_billions").set_value(7.0).run()
    sizes = _table(at, "params_size_table").set_index("datatype")
    assert sizes.loc["FP16", "size (GB, 10⁹ B)"] == "14.00"


def test_use_the_chosen_model_count():
    at = AppTest.from_file(PAGE).run()
    at.button(key="params_use_model").click().run()
    assert not at.exception and not at.warning
    assert at.number_input(key="params_billions").value == 6.738
    sizes = _table(at, "params_size_table").set_index("datatype")
    assert sizes.loc["FP32", "size (GB, 10⁹ B)"] == "26.95"


def test_url_state_opens_that_state():
    at = AppTest.from_file(PAGE)
    at.query_params["params_layers"] = "2-1"
    at.query_params["params_model"] = "Mistral 7B"
    at.query_params["params_billions"] = "13"
    at.run()
    assert not at.exception
    assert metric(at, "Parameters") == "3"
    assert metric(at, "Exact count") == "7,241,732,096"
    assert at.number_input(key="params_billions").value == 13.0
    assert len(at.info) == 0


def test_bad_url_values_fall_back_with_a_notice():
    at = AppTest.from_file(PAGE)
    at.query_params["params_model"] = "GPT-5"
    at.run()
    assert not at.exception
    assert metric(at, "Exact count") == "6,738,415,616"
    assert len(at.info) == 1 and "params_model" in at.info[0].value
