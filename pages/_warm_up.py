"""Slow first uses are paid once per server, in the background, not by the first student:
app.py calls ``warm_up()`` on every run; a ``pages/_*`` module registers a slow first use
(a worker that imports torch, a model conversion) with ``@warm_up_task``."""

from __future__ import annotations

import streamlit as st

from pages._ui import ROOT

_WARM_UPS: list = []


def warm_up_task(function):
    """Register a slow first use (a worker that imports torch, a big file read) to run once per
    server in the background; decorate a no-argument function in a ``pages/_*`` module."""
    _WARM_UPS.append(function)
    return function


@warm_up_task
def _convert_bundled_model() -> None:
    """The bundled chat model is converted from GGUF once per machine (``make app`` does it
    too); in its own process, so transformers and torch never load in the server."""
    import subprocess
    import sys

    code = "from core.models import bundled_model_dir; bundled_model_dir()"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=3600, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _import_page_modules() -> None:
    """Import every ``pages/_*`` module (so their warm-up tasks are registered). Done in the
    first run, not in the warm-up thread: Streamlit looks modules such as pandas up in
    sys.modules, and a half-imported one there breaks a student's page."""
    import importlib
    import logging

    for module in sorted((ROOT / "pages").glob("_*.py")):
        if module.stem not in ("_ui", "_warm_up"):
            try:
                importlib.import_module(f"pages.{module.stem}")
            except Exception:  # a page that cannot import shows that itself when opened
                logging.getLogger(__name__).exception("warm-up import of %s", module.stem)


def _warm() -> None:
    import logging

    for task in list(_WARM_UPS):
        try:
            task()
        except Exception:
            logging.getLogger(__name__).exception("warm-up task %s", task.__name__)


@st.cache_resource(show_spinner=False)
def warm_up():
    """Once per server process (app.py calls this on every run): import the page modules,
    then run their slow first uses in a background thread."""
    import threading

    from streamlit import runtime

    thread = threading.Thread(target=_warm, name="qlora-lab-warm-up", daemon=True)
    # Only in a real server: not in AppTest (its runtime is a stand-in), and not in a worker
    # process, which multiprocessing's "spawn" starts by running app.py again, bare.
    if runtime.exists() and type(runtime.get_instance()) is runtime.Runtime:
        _import_page_modules()
        thread.start()
    return thread
