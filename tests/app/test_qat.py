"""The PTQ-against-QAT page: change its controls by key and check what it shows against
core.qat run here, in the test process (the page trains in its worker process)."""

import base64
import json
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import qat
from pages import _qat_parts as parts
from pages._ui import ROOT

PAGE = str(ROOT / "pages" / "qat.py")


@pytest.fixture(scope="module")
def base() -> qat.Baseline:
    return qat.train_float("spirals", 0.1, 0)


@pytest.fixture(scope="module")
def at() -> AppTest:
    """One page for the module: the first run trains (seconds); later reruns hit the cache."""
    return AppTest.from_file(PAGE, default_timeout=600).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(v) -> np.ndarray:
    """An array of a figure's JSON: plotly sends numpy arrays as base64 typed arrays."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def test_opens_on_spirals_at_3_bits_with_core_accuracies(at, base):
    assert not at.exception and not at.error
    at3 = qat.quantize_width(base, 3)
    shown = metrics(at)
    assert shown["float32"] == f"{base.accuracy:.1%}"
    assert shown["PTQ at 3 bits"] == f"{at3.ptq_accuracy:.1%}"
    assert shown["QAT at 3 bits"] == f"{at3.qat_accuracy:.1%}"
    assert shown["Size"] == f"{qat.model_size(base.network, 3).n_bytes:,.0f} B"  # 708 B
    accuracy = charts(at)[0]
    ptq = next(t for t in accuracy["data"] if t["name"] == "PTQ")
    assert ptq["x"] == list(qat.BITS)
    assert ptq["y"][qat.BITS.index(3)] == pytest.approx(100 * at3.ptq_accuracy)


def test_bit_width_changes_metrics_and_decision_regions(at, base):
    at.select_slider(key="qat_bits").set_value(2).run()
    at2 = qat.quantize_width(base, 2)
    shown = metrics(at)
    assert shown["PTQ at 2 bits"] == f"{at2.ptq_accuracy:.1%}"
    assert shown["QAT at 2 bits"] == f"{at2.qat_accuracy:.1%}"
    boundary = charts(at)[1]
    titles = [a["text"] for a in boundary["layout"]["annotations"]]
    assert titles[2] == f"QAT 2-bit: {at2.qat_accuracy:.1%}"
    heatmaps = [t for t in boundary["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 3
    shown_regions = values(heatmaps[2]["z"]).reshape(100, 100)
    assert np.array_equal(shown_regions, qat.decision_regions(at2.qat, base.extent, 100))


def test_layer_choice_changes_the_histogram(at, base):
    at.select_slider(key="qat_bits").set_value(3)
    at.radio(key="qat_layer").set_value(0).run()
    hist = charts(at)[2]
    expected = qat.weight_histogram(base.network.weights[0], base.network.rounded(3).weights[0])
    bars = [t for t in hist["data"] if t["type"] == "bar"]
    assert len(bars) == 4  # before and after, for PTQ and for QAT

    np.testing.assert_array_equal(values(bars[0]["y"]), expected.counts)
    np.testing.assert_array_equal(values(bars[1]["x"]), expected.levels)
    assert values(bars[1]["y"]).sum() == base.network.weights[0].size  # 64 weights, all rounded


def test_sizes_table_and_chart_per_tensor(at, base):
    table = next(m.value for m in at.markdown if "smaller than float32" in m.value)
    fp32, two = qat.model_size(base.network, None), qat.model_size(base.network, 2)
    assert f"| float32 | {fp32.weight_bytes:,.0f} |" in table  # 4,608 B of weights
    assert f"{two.n_bytes:,.0f} | {two.smaller_by:.2f}x |" in table
    sizes = charts(at)[3]
    totals = [a["text"] for a in sizes["layout"]["annotations"]]
    assert totals[0] == f"<b>{fp32.n_bytes:,.0f} B</b>"  # 4,872 B = 1,218 parameters x 4


def test_calibration_samples_change_accuracy_and_ranges(at, base):
    at.select_slider(key="qat_calib").set_value(1).run()
    cal = qat.calibration(base, 8)
    one = cal.points[0]
    assert one.n_samples == 1
    assert metrics(at)["Accuracy, ranges from 1 samples"] == f"{one.accuracy:.1%}"
    ranges = next(m.value for m in at.markdown if "range from 1 samples" in m.value)
    assert all(f"{r:.3f}" in ranges for r in one.ranges)
    at.select_slider(key="qat_calib").set_value(len(base.x_train)).run()
    label = f"Accuracy, ranges from {len(base.x_train)} samples"
    assert metrics(at)[label] == f"{cal.points[-1].accuracy:.1%}"
    at.select_slider(key="qat_act_bits").set_value(4).run()
    assert metrics(at)[label] == f"{qat.calibration(base, 4).points[-1].accuracy:.1%}"


def test_per_channel_scales_change_ptq_and_size(at, base):
    at.select_slider(key="qat_bits").set_value(3)
    at.toggle(key="qat_per_channel").set_value(True).run()  # trains this setting (seconds)
    assert not at.exception
    shown = metrics(at)
    ptq = base.network.rounded(3, per_channel=True)
    assert shown["PTQ at 3 bits"] == f"{ptq.accuracy(base.x_test, base.y_test):.1%}"
    assert shown["Size"] == f"{qat.model_size(base.network, 3, True).n_bytes:,.0f} B"  # 960 B
    at.toggle(key="qat_per_channel").set_value(False).run()


def test_links_self_check_and_code(at):
    links = " ".join(m.value for m in at.markdown)
    assert "(/qlora_memory)" in links and "(/quantization)" in links  # page links, run alone
    questions = [e for e in at.expander if e.label[:2] in {f"{i}." for i in range(1, 10)}]
    assert len(questions) >= 3
    assert any("Show the code" in e.label for e in at.expander)


def test_a_link_opens_its_state_and_bad_values_fall_back():
    at = AppTest.from_file(PAGE, default_timeout=600)
    at.query_params["qat_bits"] = "8"
    at.query_params["qat_seed"] = "abc"
    at.run()
    assert not at.exception
    assert at.select_slider(key="qat_bits").value == 8
    assert "qat_seed" in at.info[0].value


def test_first_computation_shows_progress(monkeypatch):
    """A setting not trained yet runs phase by phase under a progress bar naming the width."""

    def script():
        from pages import _qat_parts as parts

        parts.results("moons", 0.3, 42, False)

    calls = []

    def fake_width(kind, noise, seed, bits, per_channel):
        calls.append(bits)
        if bits == 4:
            raise RuntimeError("stop here")

    monkeypatch.setattr(parts, "baseline", lambda *args: None)
    monkeypatch.setattr(parts, "width", fake_width)
    at = AppTest.from_function(script).run()
    assert calls == [8, 6, 4]
    bar = at.get("progress")[0]
    assert "PTQ and QAT at 4 bits" in bar.proto.text


def test_a_dead_worker_is_an_error_message_not_a_traceback(monkeypatch):
    def broken(*args):
        raise BrokenProcessPool("the worker died")

    monkeypatch.setattr(parts, "_in_worker", broken)
    at = AppTest.from_file(PAGE, default_timeout=600)
    at.query_params["qat_seed"] = "97"  # a setting nobody has trained yet
    at.run()
    assert not at.exception
    assert "could not run" in at.error[0].value and "the worker died" in at.error[0].value
