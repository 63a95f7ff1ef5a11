"""Charts and diagrams for a projector: plotly layouts with large type that Streamlit's theme
colours for light and dark mode, figures built once by a cached builder, and diagrams drawn
from plotly shapes (boxes, arrows, labels)."""

from __future__ import annotations

from functools import cache

import streamlit as st

CHART_FONT = 18  # readable from the back of a classroom on a projector


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
