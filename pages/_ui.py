"""Small helpers every page shares: lesson list, assets, chart style, URL state, errors.

UI only (it imports streamlit); the lessons' logic lives in core/.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import threading
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
    """An expander with the source of the core functions behind the page (read once).
    Lazy: the code is sent only while the expander is open, so it costs no rerun time."""
    names = "-".join(function.__name__ for function in functions)
    box = st.expander("Show the code", key=f"_code_{names}"[:120], on_change="rerun")
    if box.open:
        with box:
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
    requested = {k: v for k, v in requested.items() if k not in APP_PARAMS}
    if not stopped:
        st.session_state[flag] = True
    ignored = []
    for key, raw in requested.items():
        if key not in st.session_state:
            ignored.append(key)
            if key in st.query_params and not stopped:
                del st.query_params[key]
        elif key not in st.query_params and not _matches(st.session_state[key], raw):
            ignored.append(key)
    if ignored:
        names = ", ".join(f"`{_plain(key)}`" for key in sorted(ignored)[:20])
        names += f" and {len(ignored) - 20} more" if len(ignored) > 20 else ""
        notice.info(
            "This link had settings this page does not know or cannot use "
            f"({names}); they were reset to their defaults.",
            icon=":material/link_off:",
        )


def _is_infinite(raw: str) -> bool:
    try:
        return math.isinf(float(raw))
    except (ValueError, OverflowError):
        return False


def _drop_infinite(requested: dict) -> None:
    """Take URL values such as ``1e400`` or ``-1e309`` out before any widget reads them:
    Streamlit 1.67 seeds an integer ``number_input`` with ``int(float(value))`` and lets the
    OverflowError through (a traceback). No control here takes an infinite value, so the
    control keeps its default and the notice names it."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    bad = [k for k, v in requested.items()
           if any(map(_is_infinite, v if isinstance(v, list) else [v]))]
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


# -- classroom: presenter mode, scenes, a link to this view, warm-up --------------------------
# app.py calls these around ``page.run()``; pages need nothing. URL flags of the app (not of a
# page's controls): ``?presenter=1&hide=quant_bits,quant_method`` and ``?scene=<slug>``.

APP_PARAMS = frozenset({"presenter", "hide", "scene"})
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ON = ("1", "true", "yes", "on")


def _plain(text: str, limit: int = 40) -> str:
    """A value from a URL made safe to show inside a markdown code span."""
    text = "".join(c for c in str(text) if c.isprintable() and c != "`")
    return text[:limit] + ("..." if len(text) > limit else "")


def presenter_mode() -> tuple[bool, tuple[str, ...]]:
    """(on, keys of the controls to hide) from ``?presenter=1&hide=a,b``, kept in the session
    so it survives page switches (``?presenter=0`` turns it off) and put back into the URL on
    every page so a reload keeps it. Keys that are not plain widget keys are dropped."""
    query = st.query_params
    if "presenter" in query:
        st.session_state["_presenter"] = query["presenter"].strip().lower() in _ON
        hide = [k.strip() for k in query.get("hide", "").split(",")[:100]]
        st.session_state["_presenter_hide"] = tuple(k for k in hide if _KEY.fullmatch(k))
    on = bool(st.session_state.get("_presenter", False))
    hide = st.session_state.get("_presenter_hide", ()) if on else ()
    if on:
        query["presenter"] = "1"
        if hide:
            query["hide"] = ",".join(hide)
    else:
        for flag in ("presenter", "hide"):
            if flag in query:
                del query[flag]
    return on, hide


PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stExpandSidebarButton"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stAppDeployButton"], [data-testid="stMainMenu"]
{ display: none !important; }
html { font-size: 22px !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem; max-width: 96%; }
"""


def presenter_style(hide: tuple[str, ...]) -> None:
    """For a projector: no sidebar, header or toolbar, larger type, and the listed controls
    hidden (Streamlit gives every keyed element the CSS class ``st-key-<key>``)."""
    hidden = ", ".join(f".st-key-{key}" for key in hide)
    css = PRESENTER_CSS + (f"{hidden} {{ display: none !important; }}\n" if hidden else "")
    st.html(css + "</style>")


@cache
def _scenes() -> dict:
    return json.loads((ASSETS / "scenes.json").read_text())


def scene_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def scenes(page_file: str) -> list[dict]:
    """The scenes of a page (assets/scenes.json: page file -> scenes in teaching order, each
    {"name", "description", "values": {widget key: value}})."""
    return list(_scenes().get(page_file, []))


def apply_scene(scene: dict) -> None:
    """Set the page's controls to a scene's values (before its widgets are drawn)."""
    for key, value in scene["values"].items():
        st.session_state[key] = value


def _menu_key(page_file: str) -> str:
    return "_scene_" + Path(page_file).stem


def _use(page_file: str, scene: dict | None) -> None:
    """Make ``scene`` the page's current scene: its values, the menu, ``?scene=`` in the URL."""
    st.session_state[_menu_key(page_file)] = scene["name"] if scene else None
    st.session_state["_scene_applied_" + page_file] = scene_slug(scene["name"]) if scene else None
    if scene is None:
        if "scene" in st.query_params:
            del st.query_params["scene"]
        return
    st.query_params["scene"] = scene_slug(scene["name"])
    apply_scene(scene)


def current_scene(page_file: str) -> dict | None:
    name = st.session_state.get(_menu_key(page_file))
    return next((s for s in scenes(page_file) if s["name"] == name), None)


def _picked(page_file: str) -> None:
    _use(page_file, current_scene(page_file))


def _step(page_file: str, by: int) -> None:
    items = scenes(page_file)
    current = current_scene(page_file)
    i = items.index(current) + by if current in items else (0 if by > 0 else len(items) - 1)
    _use(page_file, items[min(max(i, 0), len(items) - 1)])


def scene_from_url(page_file: str) -> None:
    """``?scene=<slug>``: apply that scene of the page once per session (the flag stays in the
    URL, so a reload or a copied link opens it again; the controls' own URL values, applied
    after it, override it). An unknown scene opens the page as it is, with a notice."""
    slug = st.query_params.get("scene")
    if slug is None or st.session_state.get("_scene_applied_" + page_file) == slug:
        return
    scene = next((s for s in scenes(page_file) if scene_slug(s["name"]) == slug), None)
    if scene is None:
        del st.query_params["scene"]
        st.info(
            "This link asks for a scene this page does not have; it opened as usual.",
            icon=":material/link_off:",
        )
        return
    _use(page_file, scene)


def scene_menu(page_file: str, where=st.sidebar) -> None:
    """The page's scenes as a menu, with the chosen scene's description."""
    items = scenes(page_file)
    if not items:
        return
    key = _menu_key(page_file)
    where.selectbox(
        "Scene",
        [s["name"] for s in items],
        index=None,
        placeholder="Walk through this lesson...",
        key=key,
        on_change=_picked,
        args=(page_file,),
        help="Presets of this page's controls in teaching order: the notes' worked examples "
        "first. Pick one and the controls below take its values; move them freely after.",
    )
    current = current_scene(page_file)
    if current is not None:
        where.caption(current["description"])


def presenter_bar(page_file: str | None) -> None:
    """Presenter mode's scene bar above the page: previous scene, the scene, next scene."""
    items = scenes(page_file) if page_file else []
    if not items:
        return
    current = current_scene(page_file)
    i = items.index(current) if current in items else -1
    left, mid, right = st.columns([1, 5, 1], vertical_alignment="center")
    left.button("Back", key="_scene_prev", on_click=_step, args=(page_file, -1),
                icon=":material/arrow_back:", disabled=i <= 0, help="The previous scene")
    mid.markdown(f"**Scene {i + 1} of {len(items)}: {items[i]['name']}** - "
                 f"{items[i]['description']}" if i >= 0 else f"{len(items)} scenes: press Next.")
    right.button("Next", key="_scene_next", on_click=_step, args=(page_file, 1),
                 icon=":material/arrow_forward:", disabled=i >= len(items) - 1,
                 help="The next scene")


def _url_form(value) -> list[str]:
    """A control's value as the URL carries it (Streamlit's own form for bound widgets)."""
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _url_form(item)]
    return [str(value)]


def view_link(url_path: str, page_file: str | None = None) -> str:
    """The address of this view: this page, its scene and its controls' values, without the
    presenter flags (a link for students). The URL drops a control that is back at its
    default; when a scene set it otherwise, the link names the default explicitly."""
    from urllib.parse import urlencode

    page = st.context.url or f"/{url_path}"  # scheme, host and this page's path
    params = {k: st.query_params.get_all(k) for k in st.query_params
              if k not in ("presenter", "hide")}
    scene = current_scene(page_file) if page_file else None
    for key, value in (scene or {}).get("values", {}).items():
        if key not in params and key in st.session_state and st.session_state[key] != value:
            params[key] = _url_form(st.session_state[key])
    pairs = [(k, v) for k, values in params.items() for v in values]
    return page + ("?" + urlencode(pairs) if pairs else "")


def copy_link(url_path: str, page_file: str | None, where=st.sidebar) -> None:
    """A "Copy link to this view" popover: the address, with Streamlit's copy button."""
    with where.popover("Copy link to this view", icon=":material/link:", width="stretch"):
        st.code(view_link(url_path, page_file), language=None, wrap_lines=True)
        st.caption("Students who open it see this page with these settings.")


# -- warm-up: slow first uses are paid once per server, in the background -----------------------

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
        if module.stem != "_ui":
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
