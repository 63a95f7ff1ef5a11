"""Home: what the app teaches, one card per lesson in curriculum order."""

import streamlit as st

from pages._ui import available_lessons, read_asset

st.title("QLoRA Lab")
st.markdown(read_asset("home.md"))

lessons = available_lessons()
for row in range(0, len(lessons), 3):  # row by row, so cards read in curriculum order
    for column, lesson in zip(st.columns(3), lessons[row : row + 3], strict=False):
        with column.container(border=True, height="stretch"):
            st.subheader(f"§{lesson['section']} {lesson['title']}")
            st.write(lesson["summary"])
            st.page_link(f"pages/{lesson['file']}", label=f"Open {lesson['title']}", icon=lesson["icon"])

st.info(
    "Everything here works offline: the default chat model (SmolLM2-135M-Instruct) and a "
    "BERT-family model (all-MiniLM-L6-v2) are installed as Python packages, and every number "
    "on these pages is computed on this machine and checked against numpy, sympy, torch, "
    "bitsandbytes or peft in the test suite.",
    icon=":material/wifi_off:",
)
