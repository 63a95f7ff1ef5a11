"""Opening a lesson page in AppTest the way a shared link opens it: its URL values first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[2] / "pages"


def open_page(file: str, query: dict, timeout: float = 60) -> AppTest:
    """``pages/<file>`` run once with ``query`` as its URL values (``{key: value or [values]}``)."""
    at = AppTest.from_file(str(PAGES / file), default_timeout=timeout)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def page_opener(file: str, timeout: float = 60) -> Callable[..., AppTest]:
    """``page(**query)`` for one page's tests: ``page(quant_bits=3)``."""

    def page(**query) -> AppTest:
        return open_page(file, query, timeout)

    return page
