"""Page latency benchmark: how long a script rerun takes after a control changes.

For each page: load it in AppTest, then repeatedly change one control (cycling through the
values listed in INTERACTIONS) and time ``.run()``. Prints median and p95 per page next to a
blank page's, then the app's cold start (a fresh `streamlit run` until the first page has
rendered in headless Chromium) and whether the home page imported torch.

    .venv/bin/python bench/bench_pages.py [--reruns 60]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

# page file -> list of (widget kind, key, values to cycle through). Each lesson adds its own.
INTERACTIONS: dict[str, list[tuple[str, str, list]]] = {
    "blank": [],
    "rank.py": [("slider", "rank_step", [1, 2, 0]), ("slider", "rank_r", [2, 3, 1]),
                ("slider", "rank_picture_r", [20, 50, 10]), ("slider", "rank_lora_r", [2, 8, 4]),
                ("selectbox", "rank_preset", ["Outer product", "Random, chosen rank",
                                              "Curriculum example"]),
                ("toggle", "rank_reduced", [True, False])],
    "parameters.py": [("text_input", "params_layers", ["4-3-3-2-1", "784-128-10", "2-1"]),
                      ("selectbox", "params_model", ["GPT-3 175B", "Gemma 2B", "Llama-2 7B"]),
                      ("number_input", "params_billions", [7.0, 70.0, 175.0])],
    "lora.py": [("select_slider", "lora_rank", [1, 16, 256, 8]),
                ("slider", "lora_demo_rank", [1, 4, 2]),
                ("toggle", "lora_trained", [True, False]),
                ("selectbox", "lora_model", ["GPT-3 175B", "SmolLM2-135M", "Llama-2 7B"]),
                ("checkbox", "lora_t_up", [True, False]),
                ("number_input", "lora_alpha", [32, 8, 16]),
                ("select_slider", "lora_alpha_r", [64, 8]),
                ("number_input", "lora_demo_alpha", [8, 4]),
                ("select_slider", "lora_model_rank", [16, 8])],
    "finetune.py": [("select_slider", "ft_r", [4, 8, 16]), ("slider", "ft_steps", [30, 60, 90]),
                    ("radio", "ft_method", ["lora", "full", "qlora"])],
    "quantization.py": [("selectbox", "quant_source", ["Generate"]),
                        ("number_input", "quant_seed", [1, 2, 3]),
                        ("selectbox", "quant_method", ["NF4", "block-wise absmax"]),
                        ("select_slider", "quant_block", [32, 128, 64]),
                        ("selectbox", "quant_method", ["absmax"]),
                        ("slider", "quant_clip", [99.0, 99.5, 100.0]),
                        ("slider", "quant_bits", [4, 6, 8]),
                        ("number_input", "quant_index", [0, 2, 1]),
                        ("slider", "quant_stage", [1, 3, 0]),
                        ("radio", "quant_view", ["Zoom on the chosen value",
                                                 "The bulk (1st-99th percentile)", "Whole range"])],
    "qlora_memory.py": [("select_slider", "mem_batch", [4, 16, 1]),
                        ("select_slider", "mem_seq", [2048, 128, 512]),
                        ("radio", "mem_method", ["LoRA", "Full fine-tuning", "QLoRA"]),
                        ("selectbox", "mem_preset", ["Mistral 7B", "SmolLM2-135M", "Llama-2 7B"]),
                        ("toggle", "mem_ckpt", [True, False]),
                        ("selectbox", "mem_optimizer", ["Paged AdamW 8-bit", "AdamW (32-bit)"]),
                        ("radio", "mem_spike_method", ["QLoRA", "Full fine-tuning"]),
                        ("select_slider", "mem_gpu", [24, 80]),
                        ("select_slider", "mem_spike", [2048, 4096]),
                        ("selectbox", "mem_claim_model", ["Llama-2 13B", "Llama-2 7B"])],
    "qat.py": [("select_slider", "qat_bits", [2, 8, 3]), ("radio", "qat_layer", [0, 2, 1]),
               ("select_slider", "qat_act_bits", [4, 6, 8]),
               ("select_slider", "qat_calib", [1, 64, 4])],
    "pipeline.py": [("segmented_control", "pipe_stage", ["pretraining", "preference", "sft"]),
                    ("select_slider", "pipe_gpu", [8, 80, 24]),
                    ("radio", "pipe_data", ["many", "none", "hundreds"]),
                    ("radio", "pipe_goal", ["facts", "reasoning", "format"]),
                    ("selectbox", "pipe_model", ["SmolLM2-135M", "Llama-2 70B", "Llama-2 7B"])],
}

BLANK = "import streamlit as st\nst.title('blank')\nst.slider('x', 0, 10, key='x')\n"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_page(at: AppTest, controls, reruns: int) -> list[float]:
    at.run(timeout=120)
    cycle = itertools.cycle(
        [(kind, key, value) for kind, key, values in controls for value in values]
        or [("slider", "x", v) for v in (1, 2, 3)]
    )
    times = []
    for _ in range(reruns):
        kind, key, value = next(cycle)
        getattr(at, kind)(key=key).set_value(value)
        start = time.perf_counter()
        at.run(timeout=120)
        times.append(time.perf_counter() - start)
        if at.exception:
            raise RuntimeError(f"{key}={value!r}: {at.exception[0].message}")
    return times


def cold_start() -> tuple[float, bool]:
    """Seconds from `streamlit run` to the home page's first render, and whether the
    server process had imported torch by then."""
    import socket

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    probe = ROOT / "bench" / ".torch_probe.py"
    probe.write_text(
        "import sys, runpy\n"
        "import streamlit.web.cli as cli\n"
        "sys.argv = ['streamlit', 'run', 'app.py', '--server.headless', 'true',"
        f" '--server.port', '{port}', '--browser.gatherUsageStats', 'false']\n"
        "import atexit\n"
        "atexit.register(lambda: open('bench/.torch_loaded', 'w').write(str('torch' in sys.modules)))\n"
        "cli.main()\n"
    )
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(probe)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            for _ in range(200):
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:
                    time.sleep(0.1)
            page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=60000)
            elapsed = time.perf_counter() - start
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    flag = ROOT / "bench" / ".torch_loaded"
    loaded = (flag.read_text() == "True") if flag.exists() else "unknown"
    flag.unlink(missing_ok=True)
    probe.unlink(missing_ok=True)
    return elapsed, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=60)
    args = parser.parse_args()
    rows = [("blank page", time_page(AppTest.from_string(BLANK), [], args.reruns))]
    for page, controls in INTERACTIONS.items():
        if page == "blank":
            continue
        at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=120)
        rows.append((page, time_page(at, controls, args.reruns)))
    print(f"{'page':<24}{'median ms':>12}{'p95 ms':>10}{'reruns':>8}")
    for name, times in rows:
        print(f"{name:<24}{statistics.median(times) * 1000:>12.1f}"
              f"{_percentile(times, 0.95) * 1000:>10.1f}{len(times):>8}")
    seconds, torch_loaded = cold_start()
    print(f"cold start to first rendered page: {seconds:.2f} s; torch imported: {torch_loaded}")


if __name__ == "__main__":
    main()
