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


# Streamlit's default chart colours: a figure built on ``lean_layout`` keeps them.
LEAN_COLORWAY = ["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700"]


def lean_layout(height: int = 420, **layout) -> dict:
    """``chart_layout`` merged with ``layout``, with a near-empty Plotly template and the
    font sizes set on every axis, the legend and the title.

    Plotly's default template is about nine tenths of a small figure's JSON and about
    5 ms of every ``st.plotly_chart`` call on every rerun; with theme="streamlit" the
    browser restyles the chart anyway (the colorway keeps Streamlit's colours). That
    theme also sets small tick and legend fonts unless an axis names its own size."""
    out = chart_layout(height) | dict(template=dict(layout=dict(colorway=LEAN_COLORWAY)))
    out |= layout
    size = dict(size=CHART_FONT)
    for name in ["xaxis", "yaxis", *(k for k in layout if k.startswith(("xaxis", "yaxis")))]:
        axis = dict(out.get(name, {}))
        axis["tickfont"] = size | axis.get("tickfont", {})
        title = axis.get("title", {})
        title = dict(text=title) if isinstance(title, str) else dict(title)
        axis["title"] = title | dict(font=size | title.get("font", {}))
        out[name] = axis
    out["legend"] = dict(out.get("legend", {})) | dict(font=dict(size=CHART_FONT - 2))
    title = out.get("title", {})
    title = dict(text=title) if isinstance(title, str) else dict(title)
    out["title"] = title | dict(font=dict(size=CHART_FONT + 4))
    out.pop("title_font_size", None)
    return out


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


@cache
def _frozen_figure_class():
    import plotly.graph_objects as go

    class FrozenFigure(go.Figure):
        """A figure that is built once and never changed afterwards (a cached builder's
        result): its dict form, which ``st.plotly_chart`` asks for on every rerun (a deep
        copy plus a base64 pass over the data, several ms), is computed once."""

        def to_dict(self):
            if getattr(self, "_spec", None) is None:
                self._spec = super().to_dict()
            return self._spec

    return FrozenFigure


def frozen_figure(data, layout: dict):
    """``go.Figure(data, layout)`` for a cached builder: never modify it after this."""
    return _frozen_figure_class()(data=data, layout=layout)

# -- diagrams drawn with plotly shapes (boxes, arrows, labels) -----------------------------


def diagram_box(x0, y0, x1, y1, text="", fill="rgba(76,120,168,0.25)", line="#4c78a8",
                dash="solid", size=None) -> tuple[dict, dict | None]:
    """A rectangle in data coordinates and its centred label: (shape, annotation or None)."""
    shape = dict(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, fillcolor=fill,
                 line=dict(color=line, width=2, dash=dash), layer="below")
    if not text:
        return shape, None
    label = dict(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=text, showarrow=False,
                 font=dict(size=size or CHART_FONT - 2))
    return shape, label


def diagram_arrow(x0, y0, x1, y1, color="#555", text="", dash=None) -> list[dict]:
    """An arrow from (x0, y0) to (x1, y1), as annotations (plus a dashed line shape when
    ``dash`` is given: plotly draws annotation arrows solid only)."""
    head = dict(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                showarrow=True, arrowhead=2, arrowsize=1.3, arrowwidth=2.5, arrowcolor=color,
                text="")
    items = [head]
    if dash:  # a short solid head on a dashed body
        fx = x1 - 0.15 * (x1 - x0) if x1 != x0 else x1
        fy = y1 - 0.15 * (y1 - y0) if y1 != y0 else y1
        items[0] = {**head, "ax": fx, "ay": fy}
        items.append(dict(type="line", x0=x0, y0=y0, x1=fx, y1=fy,
                          line=dict(color=color, width=2.5, dash=dash)))
    if text:
        items.append(dict(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=text, showarrow=False,
                          yshift=14, font=dict(size=CHART_FONT - 4, color=color)))
    return items


def diagram_figure(items, x_range, y_range, height: int = 420, title: str = ""):
    """A styled figure with hidden axes from shapes and annotations (the output of
    ``diagram_box`` / ``diagram_arrow``; dicts with a "type" are shapes). The y axis is
    locked to the x axis's scale, so rectangles keep their proportions."""
    import plotly.graph_objects as go

    shapes, notes = [], []
    for item in items:
        if item is None:
            continue
        (shapes if "type" in item else notes).append(item)
    axis = dict(visible=False, showgrid=False, zeroline=False, fixedrange=True)
    layout = chart_layout(height)
    layout.update(shapes=shapes, annotations=notes, showlegend=False,
                  xaxis=dict(axis, range=list(x_range)),
                  yaxis=dict(axis, range=list(y_range), scaleanchor="x", scaleratio=1),
                  margin=dict(l=10, r=10, t=50 if title else 10, b=10))
    if title:
        layout["title"] = dict(text=title)
    return go.Figure(layout=layout)


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
