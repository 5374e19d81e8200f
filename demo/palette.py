"""One colour per variant, the same in every chart of the app: Plotly's default palette has 10
colours, so with a dozen variants two would share one."""
from __future__ import annotations

from functools import cache, lru_cache

import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative

# D3's ten, then Dark2's eight: 18 colours no two of which are near each other.
PALETTE = list(dict.fromkeys(qualitative.D3 + qualitative.Dark2))


def variant_colors(names: list[str]) -> dict[str, str]:
    """Colours by sorted name, so that a variant keeps its colour whichever chart lists it."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(names))}

BETTER, WORSE = "27,120,55", "192,57,43"  # green, red (RGB)
MAX_TINT = 0.6  # strongest share of a tint: with the theme's text colour, WCAG AA in light and dark


def tint(rgb: str, strength: float) -> str:
    """CSS for a cell tinted `strength` (0-1) of the way from the theme's background towards `rgb`,
    in the theme's text colour. Capped at MAX_TINT: at 60 % the green and the red keep a contrast
    of 4.5:1 or more with the text of both Gradio themes (checked by the browser tests)."""
    share = round(100 * min(MAX_TINT, max(0.0, strength)))
    return (f"background-color: color-mix(in srgb, rgb({rgb}) {share}%, var(--background-fill-primary)); "
            "color: var(--body-text-color)")


# Plotly's toolbar sits at the top right, over a chart's title; upright along the right edge, in a
# margin kept for it, it covers neither the title nor the data.
TOOLBAR = {"orientation": "v"}
TOOLBAR_ROOM = 36  # px of right margin: the width of the upright toolbar


def toolbar_aside(layout: dict) -> dict:
    """`layout` (a Plotly layout dict) with the toolbar upright in a right margin of its own."""
    margin = dict(layout.get("margin") or {})
    margin["r"] = max(int(margin.get("r", 0)), TOOLBAR_ROOM)
    return {**layout, "modebar": TOOLBAR, "margin": margin}


@cache
def _white() -> dict:
    return pio.templates["plotly_white"].to_plotly_json()


@lru_cache(maxsize=64)
def white_template(trace_types: tuple[str, ...]) -> dict:
    """The plotly_white template with only what a chart of these trace types reads: its defaults
    for 24 trace types are 7 KB sent, copied and read with every chart otherwise. One dict per
    argument: read it, never change it."""
    full = _white()
    return {"data": {t: full["data"][t] for t in dict.fromkeys(trace_types) if t in full["data"]},
            "layout": full["layout"]}


def themed(fig: go.Figure) -> go.Figure:
    """A chart that follows the page's theme: no background of its own (the page shows through),
    and in dark mode the CSS of demo.ui (PLOT_CSS) recolours its text and grid lines. Plotly
    cannot read the page's theme, and Gradio draws the figure as sent. The template is
    plotly_white's, for the chart's own trace types. Only the margin goes back in: the whole
    layout would include the template, which Plotly validates again, key by key."""
    # assigned, not updated: an update would merge it into the default template a Figure starts with
    fig.layout.template = white_template(tuple(trace.type or "scatter" for trace in fig.data))
    fig.update_layout(paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    fig.update_layout(toolbar_aside({"margin": fig.layout.margin.to_plotly_json()}))
    return fig


# Dark mode for every Plotly chart of the app, whoever drew it: Plotly writes its colours as
# inline SVG styles, which a stylesheet's !important overrides. Gradio marks dark mode with .dark.
PLOT_CSS = """
.dark .js-plotly-plot .main-svg { background: transparent !important; }
.dark .js-plotly-plot rect.bg { fill: transparent !important; }
.dark .js-plotly-plot text { fill: var(--body-text-color) !important; }
.dark .js-plotly-plot .gridlayer path, .dark .js-plotly-plot .zerolinelayer path { stroke: rgba(255,255,255,0.14) !important; }
.dark .js-plotly-plot .legend rect.bg { stroke: transparent !important; }
"""
