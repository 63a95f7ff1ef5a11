"""§2b PTQ against QAT: round a trained network's weights after training, or train with the
rounding in the loop; the decision boundaries, weights and sizes at each width; calibration."""

import streamlit as st

from core import qat
from pages import _qat_figures as figures
from pages import _qat_parts as parts
from pages._charts import plot_styled
from pages._memory_parts import md_table
from pages._ui import fail, lesson_link, read_asset, self_check, shareable_state, show_code

NOISES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)

st.title("PTQ against QAT")
st.markdown(read_asset("qat.md"))


@st.fragment
def up_close(kind: str, noise: float, seed: int, per_channel: bool, rows) -> None:
    st.header("2. One width up close")
    bits = st.select_slider(
        "Bit width", sorted(qat.BITS), value=3, key="qat_bits", bind="query-params",
        help="The width the pictures below show (8 is nearly float32; 3 and 2 are where PTQ "
        "breaks and QAT recovers). Watch the middle and right pictures.",
    )  # fmt: skip
    _, fp32, ptq, qat_ = rows[qat.BITS.index(bits)]
    size = parts.sizes(kind, noise, seed, per_channel)[qat.BITS.index(bits) + 1]
    m = st.columns(4)
    m[0].metric("float32", f"{fp32:.1%}")
    m[1].metric(f"PTQ at {bits} bits", f"{ptq:.1%}")
    m[2].metric(f"QAT at {bits} bits", f"{qat_:.1%}")
    m[3].metric(
        "Size", f"{size.n_bytes:,.0f} B", help=f"{size.smaller_by:.2f}x smaller than float32"
    )
    plot_styled(figures.boundary_figure(kind, noise, seed, bits, per_channel), key="qat_boundary")
    st.caption("Each picture colours every point of the plane by the class its network predicts; "
               "the dots are the held-out points, coloured by their true class.")  # fmt: skip
    layer = st.radio(
        "Layer", range(len(parts.LAYER_NAMES)), index=1, key="qat_layer", bind="query-params",
        format_func=parts.LAYER_NAMES.__getitem__, horizontal=True,
        help="Whose weights the histograms show. The 32 → 32 layer holds most of them.",
    )  # fmt: skip
    plot_styled(
        figures.histogram_figure(kind, noise, seed, bits, per_channel, layer), key="qat_histogram"
    )
    st.markdown(read_asset("qat_why.md"))


@st.fragment
def activations(kind: str, noise: float, seed: int) -> None:
    st.header("5. Calibration: PTQ of activations needs data")
    st.markdown(read_asset("qat_calibration.md"))
    c1, c2 = st.columns(2)
    act_bits = c1.select_slider(
        "Activation bits", list(range(2, 9)), value=8, key="qat_act_bits", bind="query-params",
        help="The width every layer input is rounded to (weights stay float32). 8 is the usual "
        "choice for activations; below it, watch the whole curve drop.",
    )  # fmt: skip
    cal = parts.calibration(kind, noise, seed, act_bits)
    n_samples = c2.select_slider(
        "Calibration samples", [p.n_samples for p in cal.points], value=4, key="qat_calib",
        bind="query-params",
        help="How many training points are run through the network to find each layer input's "
        "range. 1-4 is too few (watch the curve and the range table); the last is all of them.",
    )  # fmt: skip
    point = next(p for p in cal.points if p.n_samples == n_samples)
    m1, m2 = st.columns(2)
    m1.metric(f"Accuracy, ranges from {n_samples} samples", f"{point.accuracy:.1%}")
    m2.metric("float32, nothing rounded", f"{cal.fp32_accuracy:.1%}")
    plot_styled(
        figures.calibration_figure(kind, noise, seed, act_bits, n_samples), key="qat_calib_chart"
    )
    st.markdown(md_table(parts.ranges_table(cal, n_samples)))


with shareable_state("qat"):
    c1, c2, c3, c4 = st.columns(4)
    kind = c1.selectbox(
        "Dataset", qat.KINDS, key="qat_kind", bind="query-params",
        help="Which two classes of 2-D points the network learns. Spirals are the hardest: "
        "low bit widths break them first.",
    )  # fmt: skip
    noise = c2.select_slider(
        "Noise", NOISES, value=0.1, key="qat_noise", bind="query-params",
        help="Standard deviation of the jitter added to every point (0.1 is the default; 0.3 "
        "blurs the classes into each other, so even float32 cannot be perfect).",
    )  # fmt: skip
    seed = c3.number_input(
        "Seed", 0, 99, 0, key="qat_seed", bind="query-params",
        help="Draws a different dataset and starting network. A new setting trains for a few "
        "seconds the first time; then it is cached for everyone.",
    )  # fmt: skip
    per_channel = c4.toggle(
        "One scale per output channel", key="qat_per_channel", bind="query-params",
        help="Off: one absmax scale per weight matrix. On: one per row of W (PyTorch's default "
        "for weights). Watch PTQ at 3 and 2 bits.",
    )  # fmt: skip
    try:
        done = parts.results(kind, noise, int(seed), per_channel)
    except ValueError as error:
        fail(error)
    except Exception as error:  # training runs in a worker process
        fail(f"The training could not run: {error!r}")

    st.header("1. Accuracy at each bit width")
    plot_styled(figures.accuracy_figure(done["rows"]), key="qat_accuracy_chart")
    st.caption(
        f"On this machine ({done['threads']} CPU thread(s)): float32 training "
        f"{done['steps']} steps in {done['seconds']:.1f} s; QAT {done['qat_steps']} steps per width, "
        + ", ".join(f"{bits} bits {s:.1f} s" for bits, s in done["qat_seconds"])
        + "."
    )
    up_close(kind, noise, int(seed), per_channel, done["rows"])

    st.header("3. The model's size at each width")
    plot_styled(figures.size_figure(kind, noise, int(seed), per_channel), key="qat_size_chart")
    st.markdown(md_table(parts.size_table(parts.sizes(kind, noise, int(seed), per_channel))))

    st.header("4. How QAT trains through the rounding")
    st.latex(
        r"\text{forward: } \hat w = s\cdot\mathrm{clamp}\!\left(\mathrm{round}\!\left(\tfrac{w}{s}"
        r"\right), -q_{\max}, q_{\max}\right),\; s = \frac{\max|w|}{q_{\max}} \qquad "
        r"\text{backward: } \frac{\partial L}{\partial w} := \frac{\partial L}{\partial \hat w}"
    )
    st.markdown(read_asset("qat_ste.md"))
    activations(kind, noise, int(seed))

st.header("6. PTQ and QAT in the rest of the course")
st.markdown(read_asset("qat_links.md"))
c1, c2 = st.columns(2)
lesson_link("qlora_memory.py", "QLoRA and memory: the NF4 base", ":material/memory:", c1)
lesson_link("quantization.py", "Quantization: NF4 and ternary", ":material/grid_on:", c2)
show_code(qat.fake_quantize, qat.round_weights, qat.quantize_width, qat.calibration)
self_check("qat")
