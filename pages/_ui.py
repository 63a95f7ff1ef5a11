"""Small helpers every page shares: lesson list, assets, URL state, errors, glossary, tables.

UI only (it imports streamlit); the lessons' logic lives in core/.
"""

from __future__ import annotations

import inspect
import json
import threading
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from core import links

# Streamlit treats a folder named pages/ beside the entry script as a v1 multipage app until
# app.py has called st.navigation once in this server process. A shared link that opens a
# lesson first would then run the page alone, with every file of pages/ in the sidebar.
# Switch to app.py's navigation and rerun: the page's url path, and so its hash, is the same.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"


@cache
def _lessons() -> tuple[dict, ...]:
    return tuple(json.loads((ASSETS / "lessons.json").read_text()))


def available_lessons() -> list[dict]:
    """The lessons in curriculum order whose page file exists."""
    return [lesson for lesson in _lessons() if (ROOT / "pages" / lesson["file"]).exists()]


@cache
def read_asset(name: str) -> str:
    return (ASSETS / name).read_text()


@cache
def _source(function) -> str:
    return inspect.getsource(function)


def show_code(*functions) -> None:
    """An expander with the source of the core functions behind the page (read once).
    Lazy: the code is sent only while the expander is open, so it costs no rerun time."""
    names = "-".join(function.__name__ for function in functions)
    box = st.expander("Show the code", key=f"_code_{names}"[:120], on_change="rerun")
    if box.open:
        with box:
            for function in functions:
                st.code(_source(function), language="python")


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
        _drop_infinite(requested)
    if first_run:  # ``fail`` reports before it stops the page
        _PENDING.reports = [*getattr(_PENDING, "reports", []),
                            lambda: _report_ignored(notice, flag, requested, stopped=True)]
    try:
        yield
    finally:
        if first_run:
            _PENDING.reports.pop()
    if first_run:
        _report_ignored(notice, flag, requested)


_PENDING = threading.local()  # each session's script runs in its own thread


def _report_ignored(notice, flag: str, requested: dict, stopped: bool = False) -> None:
    """The notice of ``shareable_state``: URL values the page did not take. After an early
    stop, the controls the page did not reach keep their URL values and the next run
    checks again."""
    requested = {k: v for k, v in requested.items() if k not in links.APP_PARAMS}
    if not stopped:
        st.session_state[flag] = True
    ignored = []
    for key, raw in requested.items():
        if key not in st.session_state:
            ignored.append(key)
            if key in st.query_params and not stopped:
                del st.query_params[key]
        elif key not in st.query_params and not links.matches(st.session_state[key], raw):
            ignored.append(key)
    if ignored:
        names = ", ".join(f"`{links.plain(key)}`" for key in sorted(ignored)[:20])
        names += f" and {len(ignored) - 20} more" if len(ignored) > 20 else ""
        notice.info(
            "This link had settings this page does not know or cannot use "
            f"({names}); they were reset to their defaults.",
            icon=":material/link_off:",
        )


def _drop_infinite(requested: dict) -> None:
    """Take URL values such as ``1e400`` or ``-1e309`` out before any widget reads them:
    Streamlit 1.67 seeds an integer ``number_input`` with ``int(float(value))`` and lets the
    OverflowError through (a traceback). No control here takes an infinite value, so the
    control keeps its default and the notice names it."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    bad = [k for k, v in requested.items()
           if any(map(links.is_infinite, v if isinstance(v, list) else [v]))]
    ctx = get_script_run_ctx()
    if not bad or ctx is None:
        return
    initial = ctx.session_state._state.query_params._initial_query_params  # what widgets read
    for key in bad:
        initial.pop(key, None)
        if key in st.query_params:
            del st.query_params[key]


def fail(message: str | Exception) -> None:
    """Show a bad-input message (never a traceback) and stop the rest of the page."""
    st.error(str(message), icon=":material/error:")
    for report in getattr(_PENDING, "reports", []):  # a link's unused settings, named first
        report()
    st.stop()


def fmt_bytes(n: float) -> str:
    """Binary units, as the curriculum defines them (1 KB = 1024 B)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


@cache
def _glossary() -> dict[str, str]:
    """assets/glossary.md as {term: entry}; an entry is a paragraph starting **Term**."""
    entries = {}
    for paragraph in read_asset("glossary.md").split("\n\n"):
        text = " ".join(paragraph.split())
        if text.startswith("**"):
            entries[text[2 : text.index("**", 2)]] = text
    return entries


def glossary(*terms: str) -> None:
    """An expander with the glossary entries of the words a page uses."""
    entries = _glossary()
    missing = [t for t in terms if t not in entries]
    if missing:
        raise KeyError(f"not in assets/glossary.md: {missing}")
    with st.expander(f"Words used here: {', '.join(terms)}", icon=":material/menu_book:"):
        st.markdown("\n\n".join(entries[t] for t in terms))


def notes_slip(right: str, notes: str) -> None:
    """One line where the lecture notes slip: the right value first, then what they wrote."""
    st.caption(f":material/edit_note: {right} *The notes wrote it differently: {notes}*")


def md_table(columns: dict) -> str:
    """A markdown table from {header: [values]} (a fraction of st.dataframe's cost)."""
    rows = [list(columns), ["---"] * len(columns)]
    rows += [list(map(str, row)) for row in zip(*columns.values(), strict=True)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


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
