"""Small helpers every page shares: lesson list, assets, chart style, URL state, errors.

UI only (it imports streamlit); the lessons' logic lives in core/.
"""

from __future__ import annotations

import inspect
import json
import math
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

# Streamlit treats a folder named pages/ beside the entry script as a v1 multipage app until
# app.py has called st.navigation once in this server process. A shared link that opens a
# lesson first would then run the page alone, with every file of pages/ in the sidebar.
# Switch to app.py's navigation and rerun: the page's url path, and so its hash, is the same.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
CHART_FONT = 18  # readable from the back of a classroom on a projector


@cache
def _lessons() -> tuple[dict, ...]:
    return tuple(json.loads((ASSETS / "lessons.json").read_text()))


def available_lessons() -> list[dict]:
    """The lessons in curriculum order whose page file exists."""
    return [lesson for lesson in _lessons() if (ROOT / "pages" / lesson["file"]).exists()]


@cache
def read_asset(name: str) -> str:
    return (ASSETS / name).read_text()


def chart_layout(height: int = 420) -> dict:
    """Projector-friendly plotly layout: large fonts, transparent background (the
    streamlit theme then colours it for light and dark mode alike). Pass it to
    ``go.Figure(layout=...)`` when building a figure in one go is faster."""
    return dict(
        font=dict(size=CHART_FONT),
        title_font_size=CHART_FONT + 4,
        height=height,
        margin=dict(l=20, r=20, t=60, b=20),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend=dict(font=dict(size=CHART_FONT - 2)),
    )


def style_fig(fig, height: int = 420):
    """Apply ``chart_layout`` to a figure (an ``update_layout`` costs ~20 ms: styling inside
    a cached figure builder keeps it off the page's reruns)."""
    fig.update_layout(**chart_layout(height))
    return fig


def plot(fig, height: int = 420, key: str | None = None):
    st.plotly_chart(style_fig(fig, height), theme="streamlit", key=key)


def plot_styled(fig, key: str | None = None):
    """``plot`` for a figure already styled with ``style_fig`` (by a cached builder)."""
    st.plotly_chart(fig, theme="streamlit", key=key)


@cache
def _source(function) -> str:
    return inspect.getsource(function)


def show_code(*functions) -> None:
    """An expander with the source of the core functions behind the page (read once)."""
    with st.expander("Show the code"):
        for function in functions:
            st.code(_source(function), language="python")


def _matches(value, raw) -> bool:
    """Whether a widget value is what the URL asked for (string forms differ by type)."""
    if isinstance(raw, list):
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        return len(values) == len(raw) and all(_matches(v, r) for v, r in zip(values, raw, strict=True))
    if isinstance(value, bool):
        return raw.strip().lower() == str(value).lower()
    if isinstance(value, (int, float)):
        try:
            return math.isclose(float(raw), float(value), rel_tol=1e-9, abs_tol=1e-12)
        except ValueError:
            return False
    return str(value) == raw


@contextmanager
def shareable_state(prefix: str):
    """Wrap a page's URL-bound widgets (``bind="query-params"``, keys ``<prefix>_...``).

    On the page's first run in a session, URL values that were unknown or out of range
    (Streamlit drops the latter and uses the default) are reported in one short notice at
    the top, and unknown keys are removed from the URL.
    """
    notice = st.empty()
    flag = f"_url_checked_{prefix}"
    first_run = not st.session_state.get(flag, False)
    requested = st.query_params.to_dict() if first_run else {}
    if first_run:
        requested = {k: st.query_params.get_all(k) for k in requested}
        requested = {k: v[0] if len(v) == 1 else v for k, v in requested.items()}
    yield
    if not first_run:
        return
    st.session_state[flag] = True
    ignored = []
    for key, raw in requested.items():
        if key not in st.session_state:
            ignored.append(key)
            if key in st.query_params:
                del st.query_params[key]
        elif key not in st.query_params and not _matches(st.session_state[key], raw):
            ignored.append(key)
    if ignored:
        notice.info(
            "This link had settings this page does not know or cannot use "
            f"({', '.join(sorted(ignored))}); they were reset to their defaults.",
            icon=":material/link_off:",
        )


def fail(message: str | Exception) -> None:
    """Show a bad-input message (never a traceback) and stop the rest of the page."""
    st.error(str(message), icon=":material/error:")
    st.stop()


def fmt_bytes(n: float) -> str:
    """Binary units, as the curriculum defines them (1 KB = 1024 B)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def lesson_link(file: str, label: str, icon: str | None = None, where=st) -> None:
    """``st.page_link`` to another lesson (``file`` as in assets/lessons.json). A page run on
    its own, outside app.py's navigation (a single-page AppTest), gets a plain link instead."""
    from streamlit.errors import StreamlitPageNotFoundError

    try:
        where.page_link(f"pages/{file}", label=label, icon=icon)
    except StreamlitPageNotFoundError:
        where.markdown(f"[{label}](/{file.removesuffix('.py')})")


@cache
def _self_check() -> dict[str, list[dict]]:
    return json.loads((ASSETS / "self_check.json").read_text())


def self_check(lesson: str) -> None:
    """The lesson's quick self-check questions (assets/self_check.json, keyed by the page
    file's name), each answer hidden until its question is clicked. The answers are sent
    only then (a lazy expander), and only this section reruns (a fragment)."""

    @st.fragment
    def questions() -> None:
        st.header("Check yourself")
        st.caption("Think of your answer first, then click the question to compare.")
        for i, item in enumerate(_self_check()[lesson], start=1):
            box = st.expander(f"{i}. {item['q']}", key=f"{lesson}_check_{i}", on_change="rerun")
            if box.open:
                box.markdown(item["a"])

    questions()
