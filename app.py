"""QLoRA Lab: the router. Page config, the shared sidebar, and navigation over pages/."""

import streamlit as st

from pages._ui import available_lessons

st.set_page_config(page_title="QLoRA Lab", page_icon=":material/school:", layout="wide")

home = st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)
lessons = [
    st.Page(f"pages/{lesson['file']}", title=lesson["title"], icon=lesson["icon"])
    for lesson in available_lessons()
]
page = st.navigation({"QLoRA Lab": [home], "Lessons": lessons})

with st.sidebar:
    st.caption("Runs fully offline: the models ship as Python packages.")

page.run()
