"""The classroom tools app.py draws around every lesson: presenter mode, scenes, and a link to
this view. Pages need nothing for them. What a link's values mean is core/links.py.

URL flags of the app (not of a page's controls): ``?presenter=1&hide=quant_bits,quant_method``
and ``?scene=<slug>``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import streamlit as st

from core import links
from pages._ui import ASSETS, read_asset

# -- presenter mode: a projector's view -------------------------------------------------------


def presenter_mode() -> tuple[bool, tuple[str, ...]]:
    """(on, keys of the controls to hide) from ``?presenter=1&hide=a,b``, kept in the session
    so it survives page switches (``?presenter=0`` turns it off) and put back into the URL on
    every page so a reload keeps it. Keys that are not plain widget keys are dropped."""
    query = st.query_params
    if "presenter" in query:
        st.session_state["_presenter"] = links.flag_on(query["presenter"])
        st.session_state["_presenter_hide"] = links.hidden_keys(query.get("hide", ""))
    on = bool(st.session_state.get("_presenter", False))
    hide = st.session_state.get("_presenter_hide", ()) if on else ()
    if on:
        query["presenter"] = "1"
        if hide:
            query["hide"] = ",".join(hide)
    else:
        for flag in links.PRESENTER_PARAMS:
            if flag in query:
                del query[flag]
    return on, hide


def presenter_style(hide: tuple[str, ...]) -> None:
    """For a projector (assets/presenter.css): no sidebar, header or toolbar, larger type, and
    the listed controls hidden (Streamlit gives every keyed element the class ``st-key-<key>``)."""
    hidden = ", ".join(f".st-key-{key}" for key in hide)
    css = read_asset("presenter.css") + (f"{hidden} {{ display: none !important; }}\n" if hidden else "")
    st.html(f"<style>\n{css}</style>")


# -- scenes: named presets of a page's controls, in teaching order ----------------------------


@cache
def _scenes() -> dict:
    return json.loads((ASSETS / "scenes.json").read_text())


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
    slug = links.scene_slug(scene["name"]) if scene else None
    st.session_state[_menu_key(page_file)] = scene["name"] if scene else None
    st.session_state["_scene_applied_" + page_file] = slug
    if scene is None:
        if "scene" in st.query_params:
            del st.query_params["scene"]
        return
    st.query_params["scene"] = slug
    apply_scene(scene)


def current_scene(page_file: str) -> dict | None:
    name = st.session_state.get(_menu_key(page_file))
    return next((s for s in scenes(page_file) if s["name"] == name), None)


def _picked(page_file: str) -> None:
    _use(page_file, current_scene(page_file))


def _step(page_file: str, by: int) -> None:
    items = scenes(page_file)
    current = current_scene(page_file)
    i = links.step_index(len(items), items.index(current) if current in items else None, by)
    _use(page_file, items[i])


def scene_from_url(page_file: str) -> None:
    """``?scene=<slug>``: apply that scene of the page once per session (the flag stays in the
    URL, so a reload or a copied link opens it again; the controls' own URL values, applied
    after it, override it). An unknown scene opens the page as it is, with a notice."""
    slug = st.query_params.get("scene")
    if slug is None or st.session_state.get("_scene_applied_" + page_file) == slug:
        return
    scene = next((s for s in scenes(page_file) if links.scene_slug(s["name"]) == slug), None)
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
    where.selectbox(
        "Scene",
        [s["name"] for s in items],
        index=None,
        placeholder="Walk through this lesson...",
        key=_menu_key(page_file),
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


# -- a link to this view ------------------------------------------------------------------------


def view_link(url_path: str, page_file: str | None = None) -> str:
    """The address of this view: this page, its scene and its controls' values, without the
    presenter flags (a link for students). The URL drops a control that is back at its
    default; when a scene set it otherwise, the link names the default explicitly."""
    page = st.context.url or f"/{url_path}"  # scheme, host and this page's path
    params = {k: st.query_params.get_all(k) for k in st.query_params}
    scene = current_scene(page_file) if page_file else None
    for key, value in (scene or {}).get("values", {}).items():
        if key not in params and key in st.session_state and st.session_state[key] != value:
            params[key] = links.url_form(st.session_state[key])
    return links.view_link(page, params)


def copy_link(url_path: str, page_file: str | None, where=st.sidebar) -> None:
    """A "Copy link to this view" popover: the address, with Streamlit's copy button."""
    with where.popover("Copy link to this view", icon=":material/link:", width="stretch"):
        st.code(view_link(url_path, page_file), language=None, wrap_lines=True)
        st.caption("Students who open it see this page with these settings.")
