"""What a shared link's values mean: the app's own URL flags, scene names as URL slugs, a
control's value in the form the URL carries it, and whether a URL value is what a control
holds. Pure (no streamlit): pages/_ui.py and pages/_classroom.py use it around the widgets.

A lesson's controls are bound to the URL (Streamlit's ``bind="query-params"``), so a link such
as ``/quantization?quant_bits=3&scene=an-outlier-ruins-absmax&presenter=1&hide=quant_bits``
opens a view. Everything here is read from a string a stranger may have typed.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlencode

# Flags of the app, not of a page's controls: ``?presenter=1&hide=a,b`` and ``?scene=<slug>``.
APP_PARAMS = frozenset({"presenter", "hide", "scene"})
PRESENTER_PARAMS = ("presenter", "hide")  # left out of a link for students
WIDGET_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_HIDDEN = 100  # keys read from ``hide=``; the rest is ignored
ON = ("1", "true", "yes", "on")


def plain(text: str, limit: int = 40) -> str:
    """``text`` (from a URL) made safe to show inside a markdown code span: printable
    characters only, no backtick, at most ``limit`` characters and an ellipsis."""
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit should be a positive integer, but the value passed is {limit!r}")
    text = "".join(c for c in str(text) if c.isprintable() and c != "`")
    return text[:limit] + ("..." if len(text) > limit else "")


def flag_on(raw: str) -> bool:
    """Whether a URL flag such as ``presenter=`` is on: 1, true, yes or on, in any case."""
    return str(raw).strip().lower() in ON


def hidden_keys(raw: str) -> tuple[str, ...]:
    """The widget keys of ``hide=a,b,c``: at most ``MAX_HIDDEN``, and only plain keys (letters,
    digits, ``_`` and ``-``; anything else, such as markup, is dropped)."""
    keys = (k.strip() for k in str(raw).split(",")[:MAX_HIDDEN])
    return tuple(k for k in keys if WIDGET_KEY.fullmatch(k))


def scene_slug(name: str) -> str:
    """A scene's name as it appears in ``?scene=``: lower case, runs of other characters as
    one ``-`` ("Rank 1 is enough" -> ``rank-1-is-enough``)."""
    if not isinstance(name, str):
        raise ValueError(f"a scene name should be text, but the value passed is {name!r:.60}")
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def step_index(count: int, current: int | None, by: int) -> int:
    """The scene ``by`` steps from scene ``current`` (None: none chosen yet, so Next gives the
    first and Back the last) of ``count``, kept inside the list."""
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count should be a positive integer, but the value passed is {count!r}")
    if current is not None and not (isinstance(current, int) and 0 <= current < count):
        raise ValueError(f"current should be None or an index below {count}, not {current!r}")
    i = current + by if current is not None else (0 if by > 0 else count - 1)
    return min(max(i, 0), count - 1)


def url_form(value) -> list[str]:
    """A control's value as the URL carries it, one string per item (Streamlit's own form
    for bound widgets: ``true``/``false`` for a checkbox, one entry per chosen option)."""
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in url_form(item)]
    return [str(value)]


def matches(value, raw) -> bool:
    """Whether a control's value is what the URL asked for (``raw``: one string, or a list of
    them for a multiselect); numbers compare as numbers (``3`` and ``3.0`` are one value)."""
    if isinstance(raw, list):
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        return len(values) == len(raw) and all(map(matches, values, raw))
    if not isinstance(raw, str):
        raise ValueError(f"a URL value is text, not {raw!r:.60}")
    if isinstance(value, bool):
        return raw.strip().lower() == str(value).lower()
    if isinstance(value, (int, float)):
        try:
            return math.isclose(float(raw), float(value), rel_tol=1e-9, abs_tol=1e-12)
        except (ValueError, OverflowError):
            return False
    return str(value) == raw


def is_infinite(raw: str) -> bool:
    """Whether a URL value reads as an infinite number (``inf``, ``-1e309``): no control takes
    one, and Streamlit 1.67 lets ``int(float("1e400"))`` raise while seeding a number box."""
    try:
        return math.isinf(float(raw))
    except (ValueError, OverflowError, TypeError):
        return False


def view_link(page: str, params: dict[str, list[str]]) -> str:
    """The address of a view: ``page`` (scheme, host and path) and the URL values of its
    controls and scene, without the presenter's flags (a link for students)."""
    if not isinstance(page, str) or not isinstance(params, dict):
        raise ValueError("view_link needs a page address (text) and {name: [values]}")
    pairs = [(str(k), str(v)) for k, values in params.items() if k not in PRESENTER_PARAMS
             for v in ([values] if isinstance(values, str) else values)]
    return page + ("?" + urlencode(pairs) if pairs else "")


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
