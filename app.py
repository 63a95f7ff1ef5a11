"""QLoRA Lab: the router. Page config, the shared sidebar, and navigation over pages/;
around the page, the classroom tools of pages/_classroom.py (presenter mode, scenes, a link
to this view) and the once-per-server warm-up of pages/_warm_up.py."""

import streamlit as st
from streamlit.runtime.scriptrunner import StopException

from pages import _classroom as classroom
from pages import _ui as ui
from pages import _warm_up

st.set_page_config(page_title="QLoRA Lab", page_icon=":material/school:", layout="wide")
_warm_up.warm_up()

home = st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)
files = {
    lesson["file"]: st.Page(f"pages/{lesson['file']}", title=lesson["title"], icon=lesson["icon"])
    for lesson in ui.available_lessons()
}
page = st.navigation({"QLoRA Lab": [home], "Lessons": list(files.values())})
page_file = next((file for file, p in files.items() if p is page), None)

presenting, hidden = classroom.presenter_mode()
if page_file:
    classroom.scene_from_url(page_file)
if presenting:
    classroom.presenter_style(hidden)
    classroom.presenter_bar(page_file)
if page_file:
    with st.sidebar:
        classroom.scene_menu(page_file)
with st.sidebar:
    st.caption("Runs fully offline: the models ship as Python packages.")


def after_page() -> None:
    """Drawn after the page, so the link carries this run's control values."""
    if page_file:
        classroom.copy_link(page.url_path, page_file, where=st if presenting else st.sidebar)


try:
    page.run()
except StopException:  # a page stopped at a bad input: keep the tools around it
    after_page()
    raise
after_page()
