"""The matrix-rank page: presets, stepping, the rank sliders, bad input and URL state.
Displayed numbers are checked against sympy (rank) and numpy (SVD)."""

import base64
import json
import re

import numpy as np
import pytest
import sympy
from streamlit.testing.v1 import AppTest

from pages._ui import ROOT
from tests.app.page_open import page_opener

load = page_opener("rank.py", timeout=120)


def latex(at) -> list[str]:
    return [x.value for x in at.latex]


def step_latex(at) -> str:
    return next(x for x in latex(at) if r"\qquad" in x)


def to_end(at) -> AppTest:
    step = at.slider(key="rank_step")
    return step.set_value(step.max).run()


def shown_rank(at) -> int:
    return int(at.metric[0].value)


def shown_matrix(at) -> sympy.Matrix:
    """The matrix of section 1 (M = ... or the product B A = ... = M), read from LaTeX."""
    tex = next(x for x in latex(at) if x.strip("$\n").startswith(("M =", r"B\,A =")))
    body = tex.split(r"\begin{bmatrix}")[-1].split(r"\end{bmatrix}")[0]
    return sympy.Matrix(
        [[sympy.Rational(c.strip()) for c in row.split("&")] for row in body.split(r"\\")]
    )


def step_text(at) -> str:
    """The explanation of the shown row-reduction step ("**Step i of n:** ...")."""
    return next(m.value for m in at.markdown if m.value.startswith("**Step "))


def chart(at, key: str) -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if key in c.proto.id).proto.spec)


def values(v) -> np.ndarray:
    """A figure's data field: Plotly's base64 typed array {dtype, bdata, shape}, or a list."""
    if isinstance(v, dict) and "bdata" in v:
        out = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return out.reshape([int(k) for k in str(v["shape"]).split(",")]) if "shape" in v else out
    return np.asarray(v, dtype=float)


def heatmap_labels(at, key: str) -> list[list[str]]:
    """The numbers printed on a heatmap's cells."""
    chart = next(c for c in at.get("plotly_chart") if key in c.proto.id)
    return json.loads(chart.proto.spec)["data"][0]["text"]


def test_curriculum_example_step_by_step():
    at = load()
    assert not at.exception and not at.error
    assert at.selectbox(key="rank_preset").value == "Curriculum example"
    assert at.slider(key="rank_step").max == 2
    assert r"\text{start}" in step_latex(at)
    at.button(key="rank_next").click().run()
    assert at.slider(key="rank_step").value == 1
    assert r"R_{3} \to R_{3} - 2\,R_{1}" in step_latex(at)
    assert (
        r"\textcolor{#e8590c}{0} & \textcolor{#e8590c}{2} & \textcolor{#e8590c}{-1}"
        in step_latex(at)
    )
    assert r"\boxed{1}" in step_latex(at)  # the pivot in row 1, column 1
    assert "make the entry in row 3, column 1 zero" in step_text(at)
    at.button(key="rank_next").click().run()
    assert r"R_{3} \to R_{3} - \tfrac{1}{2}\,R_{2}" in step_latex(at)
    assert "0 & 0 & \\textcolor{#e8590c}{\\boxed{-2}}" in step_latex(at).replace(
        "\\textcolor{#e8590c}{0}", "0"
    )
    assert shown_rank(at) == 3
    assert "pivot columns: 1, 2, 3" in at.success[0].value
    assert "transpose, reduced the same way, has rank 3" in at.success[0].value
    assert at.button(key="rank_next").disabled
    at.button(key="rank_back").click().run()
    assert at.slider(key="rank_step").value == 1 and not at.metric
    at.button(key="rank_back").click().run()
    assert at.slider(key="rank_step").value == 0 and at.button(key="rank_back").disabled


def test_reduced_form_of_the_curriculum_example_is_the_identity():
    at = load()
    at.toggle(key="rank_reduced").set_value(True).run()
    to_end(at)
    assert "in reduced row-echelon form" in at.success[0].value.lower()
    assert (
        r"\begin{bmatrix}\boxed{1} & 0 & 0 \\ 0 & \boxed{1} & 0 \\ 0 & 0 & \boxed{1}"
        in step_latex(at)
        .replace(r"\textcolor{#e8590c}{\boxed{1}}", r"\boxed{1}")
        .replace(r"\textcolor{#e8590c}{0}", "0")
    )


def test_outer_product_has_rank_one():
    at = load()
    at.selectbox(key="rank_preset").set_value("Outer product").run()
    assert shown_matrix(at) == sympy.Matrix([1, 2, 3]) * sympy.Matrix([[4, 1, 5, 6]])
    to_end(at)
    assert shown_rank(at) == 1
    at.slider(key="rank_r").set_value(1).run()
    storage = next(x for x in latex(at) if r"r\,(m + n)" in x)
    assert r"r\,(m + n) = 1 \cdot (3 + 4) = 7" in storage and r"m\,n = 3 \cdot 4 = 12" in storage
    assert r"\sqrt{0^2 + 0^2} = 0" in next(x for x in latex(at) if r"\|M - M_" in x)


def test_zero_matrix_has_rank_zero():
    at = load()
    at.selectbox(key="rank_preset").set_value("Zero matrix").run()
    at.number_input(key="rank_rows").set_value(2).run()
    at.number_input(key="rank_cols").set_value(3).run()
    assert shown_matrix(at) == sympy.zeros(2, 3)
    assert "No row operation is needed" in at.caption[0].value
    assert shown_rank(at) == 0 and "pivot columns: none" in at.success[0].value


@pytest.mark.parametrize(("m", "n", "r", "seed"), [(5, 6, 3, 0), (8, 8, 8, 4), (7, 3, 2, 11)])
def test_random_preset_has_the_chosen_rank(m, n, r, seed):
    at = load(rank_preset="Random, chosen rank")
    at.number_input(key="rank_rows").set_value(m)
    at.number_input(key="rank_cols").set_value(n)
    at.number_input(key="rank_target").set_value(r)
    at.number_input(key="rank_seed").set_value(seed).run()
    M = shown_matrix(at)
    assert M.shape == (m, n) and M.rank() == r
    to_end(at)
    assert shown_rank(at) == r


def test_random_preset_caps_the_rank_at_min_m_n():
    at = load(rank_preset="Random, chosen rank", rank_rows="2", rank_cols="3", rank_target="5")
    assert "rank at most min(m, n) = 2" in at.caption[0].value
    assert shown_matrix(at).rank() == 2


def test_product_preset_has_rank_at_most_r():
    at = load(
        rank_preset="Product B·A", rank_rows="6", rank_cols="7", rank_target="2", rank_seed="3"
    )
    B_A = next(x for x in latex(at) if x.strip("$\n").startswith(r"B\,A ="))
    B = B_A.split(r"\begin{bmatrix}")[1].split(r"\end{bmatrix}")[0]
    assert len(B.split(r"\\")) == 6 and len(B.split(r"\\")[0].split("&")) == 2  # B is 6 x 2
    M = shown_matrix(at)
    to_end(at)
    assert shown_rank(at) == M.rank() <= 2


def test_product_inner_size_starts_at_one():
    at = load(rank_preset="Product B·A", rank_target="0")
    assert at.number_input(key="rank_target").value == 2  # the default: r = 0 is refused
    assert "rank_target" in at.info[0].value


def test_own_matrix_with_fractions_and_decimals():
    at = load(rank_preset="Your own matrix")
    at.text_area(key="rank_matrix").input("1/2 0.25\n1 1/2").run()
    assert not at.error
    assert r"\tfrac{1}{2} & \tfrac{1}{4}" in step_latex(at)
    to_end(at)
    assert shown_rank(at) == 1  # row 2 = 2 * row 1


def test_a_new_matrix_starts_at_step_zero():
    at = load(rank_step="2")
    assert at.slider(key="rank_step").value == 2  # the link's step
    at.selectbox(key="rank_preset").set_value("Your own matrix").run()
    at.text_area(key="rank_matrix").input("0 2 4\n1 1/2 3\n2 1 6").run()
    assert at.slider(key="rank_step").value == 0 and at.slider(key="rank_step").max == 2
    at.button(key="rank_next").click().run()
    assert r"R_{1} \leftrightarrow R_{2}" in step_latex(at)
    assert "swap them" in step_text(at)


def test_edit_a_copy_moves_the_preset_into_the_editor():
    at = load(rank_preset="Outer product")
    at.button(key="rank_edit").click().run()
    assert at.selectbox(key="rank_preset").value == "Your own matrix"
    assert at.text_area(key="rank_matrix").value == "4 1 5 6\n8 2 10 12\n12 3 15 18"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("1 2 3\n4 5", "row 2 has 2 entries but row 1 has 3"),
        ("1 2\n3 x", "cell (row 2, column 2) is 'x'"),
        ("1 nan", "cell (row 1, column 2) is 'nan': expected a finite number"),
        ("inf 1", "expected a finite number"),
        ("1 1/0", "cell (row 1, column 2) is '1/0'"),
        ("1e999999999 1", "expected an exponent between -30 and 30"),
        ("\n".join(["1 " * 9] * 9), "9 x 9: the step-by-step view takes at most 8 x 8"),
    ],
)
def test_bad_input_shows_an_error_and_the_page_stays_usable(text, message):
    at = load(rank_preset="Your own matrix")
    at.text_area(key="rank_matrix").input(text).run()
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value
    at.slider(key="rank_picture_r").set_value(20).run()  # the rest of the page still works
    assert not at.exception and "Rank 20" in at.get("image")[1].proto.imgs[0].caption
    at.text_area(key="rank_matrix").input("1 2\n2 4").run()
    assert not at.error
    to_end(at)
    assert shown_rank(at) == 1


def test_rank_slider_gives_the_eckart_young_error():
    at = load()
    M = np.array([[1, 2, 3], [0, 4, 2], [2, 6, 5]], dtype=float)
    s = np.linalg.svd(M, compute_uv=False)
    for r in (0, 1, 2, 3):
        at.slider(key="rank_r").set_value(r).run()
        error_tex = next(x for x in latex(at) if r"\|M - M_" in x)
        value = float(re.search(r"= ([-\d.e+]+)\s*\$*$", error_tex.strip()).group(1))
        assert value == pytest.approx(np.sqrt(np.sum(s[r:] ** 2)), rel=1e-3, abs=1e-9)
        assert f"= {r * 6}" in next(x for x in latex(at) if r"r\,(m + n)" in x)
        U, sv, Vt = np.linalg.svd(M)
        expected = [
            [f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) >= 5e-3 else "0" for v in row]
            for row in (U[:, :r] * sv[:r]) @ Vt[:r]
        ]
        assert heatmap_labels(at, "rank_heat_r") == expected
    assert heatmap_labels(at, "rank_heat_m") == [["1", "2", "3"], ["0", "4", "2"], ["2", "6", "5"]]


def test_picture_comes_back_as_r_grows():
    from PIL import Image

    pixels = np.asarray(Image.open(ROOT / "assets" / "rank_picture.png").convert("L"), dtype=float)
    s = np.linalg.svd(pixels, compute_uv=False)
    at = load()
    errors = []
    for r in (1, 10, 100):
        at.slider(key="rank_picture_r").set_value(r).run()
        text = next(x.value for x in at.markdown if x.value.startswith("Relative error"))
        shown = float(re.search(r"\*\*([\d.]+)%\*\*", text).group(1))
        assert shown == pytest.approx(100 * np.sqrt(np.sum(s[r:] ** 2) / np.sum(s**2)), abs=0.06)
        assert f"{r * (288 + 384) / (288 * 384):.1%}" in text
        errors.append(shown)
    assert errors == sorted(errors, reverse=True)


def test_lora_bridge_product_has_rank_r():
    at = load()
    for d, r in ((8, 3), (64, 8), (512, 1)):
        at.selectbox(key="rank_lora_d").set_value(d)
        at.slider(key="rank_lora_r").set_value(r).run()
        tex = next(x for x in latex(at) if r"\operatorname{rank}(BA)" in x)
        assert rf"\operatorname{{rank}}(BA) = {r} \le r = {r}" in tex
        storage = next(x for x in latex(at) if r"r\,(d + k)" in x)
        assert f"= {r * 2 * d:,}" in storage and f"d\\,k = {d * d:,}" in storage


def test_state_opens_from_the_url():
    at = load(rank_preset="Curriculum example", rank_step="2", rank_r="2", rank_picture_r="40")
    assert at.slider(key="rank_step").value == 2 and shown_rank(at) == 3
    assert at.slider(key="rank_r").value == 2 and at.slider(key="rank_picture_r").value == 40
    assert not at.info
    at = load(rank_preset="Your own matrix", rank_matrix="2 4\n1 2", rank_step="1")
    assert at.text_area(key="rank_matrix").value == "2 4\n1 2" and shown_rank(at) == 1


def test_bad_url_values_fall_back_with_a_notice():
    at = load(rank_preset="nonsense", rank_picture_r="100000", rank_bogus="1")
    assert not at.exception
    assert at.selectbox(key="rank_preset").value == "Curriculum example"
    notice = at.info[0].value
    assert "rank_preset" in notice and "rank_picture_r" in notice and "rank_bogus" in notice


# ---- the pictures ----------------------------------------------------------------------------


def test_outer_product_shows_the_column_times_the_row():
    at = load(rank_preset="Outer product")
    shown = [x.strip("$\n") for x in latex(at)]
    tex = next(x for x in shown if x.startswith(r"\begin{bmatrix}1 \\ 2 \\ 3\end{bmatrix}"))
    assert r"\,\begin{bmatrix}4 & 1 & 5 & 6\end{bmatrix} = \begin{bmatrix}4 & 1 & 5 & 6 \\ 8" in tex
    rows = next(x for x in shown if x.startswith(r"\begin{aligned}"))
    assert r"R_{2} = 2 \cdot \begin{bmatrix}4 & 1 & 5 & 6\end{bmatrix}" in rows
    column, row, product = chart(at, "rank_outer_chart")["data"]
    expected = np.outer([1, 2, 3], [4, 1, 5, 6])
    np.testing.assert_array_equal(values(product["z"]), expected)
    np.testing.assert_array_equal(values(column["z"]).ravel(), [1, 2, 3])
    np.testing.assert_array_equal(values(row["z"]).ravel(), [4, 1, 5, 6])
    assert any("stored as 3 + 4 = **7**" in m.value for m in at.markdown)
    assert not any(r"\begin{aligned}" in x for x in latex(load()))  # rank 3: no column x row


def test_layers_add_one_at_a_time_and_the_error_falls():
    at = load()
    M = np.array([[1, 2, 3], [0, 4, 2], [2, 6, 5]], dtype=float)
    U, s, Vt = np.linalg.svd(M)
    for r in (0, 1, 2, 3):
        at.slider(key="rank_r").set_value(r).run()
        layers = chart(at, "rank_layers_chart")["data"]
        assert [t["opacity"] for t in layers] == [1.0 if i < r else 0.2 for i in range(3)]
        for i, layer in enumerate(layers):
            np.testing.assert_allclose(
                values(layer["z"]), s[i] * np.outer(U[:, i], Vt[i]), atol=1e-9
            )
        curve, marker = chart(at, "rank_error_chart")["data"]
        direct = [np.linalg.norm(M - (U[:, :k] * s[:k]) @ Vt[:k]) for k in range(4)]
        np.testing.assert_allclose(values(curve["y"]), direct, atol=1e-9)
        assert values(marker["x"]).tolist() == [r]
    at.button(key="rank_r_less").click().run()
    assert at.slider(key="rank_r").value == 2
    at.button(key="rank_r_more").click().run()
    assert at.slider(key="rank_r").value == 3 and at.button(key="rank_r_more").disabled
    assert (
        "the first 3 of 3 layers added" in chart(at, "rank_layers_chart")["layout"]["title"]["text"]
    )


def test_picture_layers_one_at_a_time():
    from PIL import Image

    at = load(rank_picture_r="30")
    images = at.get("image")
    captions = [img.proto.imgs[0].caption for img in images]
    assert "Layer 30 alone: σ30 u30 v30ᵀ (grey = 0)" in captions
    at.button(key="rank_picture_r_more").click().run()
    assert at.slider(key="rank_picture_r").value == 31
    pixels = np.asarray(Image.open(ROOT / "assets" / "rank_picture.png").convert("L"), dtype=float)
    s = np.linalg.svd(pixels, compute_uv=False)
    curve, marker = chart(at, "rank_picture_error")["data"]
    np.testing.assert_allclose(values(curve["y"])[31], np.sqrt(np.sum(s[31:] ** 2)), rtol=1e-6)
    assert values(marker["x"]).tolist() == [31]


def test_the_notes_slips_are_pointed_out_at_their_steps():
    at = load()
    slips = [c.value for c in at.caption if "notes wrote it differently" in c.value]
    assert len(slips) == 1 and "upper triangle matrix" in slips[0]
    at.button(key="rank_next").click().run()
    M = sympy.Matrix([[1, 2, 3], [0, 4, 2], [2, 6, 5]])
    row3 = M.row(2) - 2 * M.row(0)  # the right first step, worked by sympy
    slip = next(c.value for c in at.caption if "notes wrote it differently" in c.value)
    assert f"R3 → R3 - 2*R1 makes row 3 [{', '.join(map(str, row3))}]" in slip
    assert "R2 → R2 - R1, giving [[1, 2, 3], [0, 2, -1], [0, 2, 1]]" in slip
    at.button(key="rank_next").click().run()
    row3 = row3 - sympy.Rational(1, 2) * M.row(1)
    slip = next(c.value for c in at.caption if "notes wrote it differently" in c.value)
    assert f"makes row 3 [{', '.join(map(str, row3))}]" in slip and "[0, 0, 2]]" in slip
    at.toggle(key="rank_reduced").set_value(True).run()  # the notes stop at echelon form
    assert not any("notes wrote" in c.value for c in at.caption)
    at = load(rank_preset="Outer product")
    assert not any("notes wrote" in c.value for c in at.caption)


def test_every_control_has_help():
    for preset in ("Curriculum example", "Random, chosen rank", "Product B·A", "Your own matrix"):
        at = load(rank_preset=preset)
        widgets = [*at.selectbox, *at.slider, *at.number_input, *at.toggle, *at.text_area,
                   *at.button]  # fmt: skip
        assert all(w.key.startswith("rank_") for w in widgets)
        assert all(w.help for w in widgets), [w.key for w in widgets if not w.help]
    glossary = next(e for e in at.expander if e.label.startswith("Words used here"))
    text = " ".join(m.value for m in glossary.markdown)
    assert "**Pivot**" in text and "**Frobenius norm**" in text and "**Singular value**" in text
