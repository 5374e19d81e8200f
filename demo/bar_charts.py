"""Horizontal bar charts in plain HTML and CSS, one table row per bar: Compare's answers.

They are drawn with the page itself: no chart library runs, so they appear as soon as the answer
does (Plotly took most of Compare's click-to-charts time; docs/BENCHMARKS.md). The page's theme
and fonts apply (dark mode included), the label column is as wide as its longest label, and
every number is text that screen readers and copy-paste reach.

    bar_chart(title, rows, ticks, legend=..., reference=...) -> HTML
    BAR_CSS                                                   the page's style for them
"""
from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    share: float          # of the axis, 0-1
    color: str            # "#rrggbb"
    text: str = ""        # drawn on the segment; cut off where the segment is too narrow for it
    tip: str = ""         # on hover, and in the bar's own tip with the others: "very negative: 35.0%"


@dataclass(frozen=True)
class Bar:
    label: str
    segments: tuple[Segment, ...]
    aside: str = ""       # drawn just past the bar's end (for a bar too short to hold its text)
    mark: str = ""        # "disagree" or "muted": how the label is drawn


@dataclass(frozen=True)
class Reference:
    at: float             # of the axis, 0-1: a dashed line through every bar
    label: str


def ink(color: str) -> str:
    """Near-black or white, whichever contrasts more with `color` (WCAG relative luminance: the
    two contrasts are equal at a luminance of about 0.18)."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(int(color[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return "#111" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179 else "#fff"


def _pct(share: float) -> str:
    return f"{100 * min(max(share, 0.0), 1.0):.2f}%"


def _axis(marks: list[tuple[float, str]], css: str) -> str:
    spans = []
    for at, text in marks:  # the end ticks stay inside the axis, the others centred on their place
        edge = ' class="bar-first"' if at <= 0 else ' class="bar-last"' if at >= 1 else ""
        spans.append(f'<span{edge} style="left:{_pct(at)}">{html.escape(text)}</span>')
    return f'<div class="{css}">{"".join(spans)}</div>'


def _bar(bar: Bar, reference: Reference | None) -> str:
    single = len(bar.segments) == 1  # its value sits at its end; stacked ones each have a tip of their own
    segments = "".join(
        f'<span class="bar-seg{" bar-end" if single else ""}" style="width:{_pct(s.share)};background:{s.color};'
        f'color:{ink(s.color)}"' + ("" if single else f' title="{html.escape(s.tip)}"') + f">{html.escape(s.text)}</span>"
        for s in bar.segments if s.share > 0)
    aside = f'<span class="bar-aside">{html.escape(bar.aside)}</span>' if bar.aside else ""
    line = f'<span class="bar-ref" style="left:{_pct(reference.at)}"></span>' if reference else ""
    said = f"{bar.label}: " + "; ".join(s.tip for s in bar.segments if s.tip)
    row = f' class="bar-{bar.mark}"' if bar.mark else ""
    return (f'<tr{row}><th scope="row">{html.escape(bar.label)}</th><td><div class="bar-track"'
            f' title="{html.escape(said)}">{segments}{aside}{line}</div></td></tr>')


def bar_chart(title: str, bars: list[Bar], ticks: list[tuple[float, str]],
              legend: list[tuple[str, str]] | None = None, reference: Reference | None = None) -> str:
    """A table: its caption the title, a row per bar (label, then the bar on an axis from 0 to
    1), the tick labels below; `legend` ((name, colour) pairs) and the reference's label above."""
    head = ""
    if legend:
        keys = "".join(f'<span class="bar-key"><i style="background:{color}"></i>{html.escape(name)}</span>'
                       for name, color in legend)
        head += f'<tr><td></td><td class="bar-legend">{keys}</td></tr>'
    if reference and reference.label:
        head += f'<tr><td></td><td>{_axis([(reference.at, reference.label)], "bar-axis bar-reflabel")}</td></tr>'
    rows = "".join(_bar(b, reference) for b in bars)
    return (f'<table class="bar-chart"><caption>{html.escape(title)}</caption>'
            + (f"<thead>{head}</thead>" if head else "")
            + f'<tbody>{rows}</tbody><tfoot><tr><td></td><td>{_axis(ticks, "bar-axis")}</td></tr></tfoot></table>')


BAR_CSS = """
/* a chart's block: side by side with others where 320 px each fit, alone on its line on a phone */
.gradio-container .block.bar-box { min-width: min(320px, 100%) !important; }
/* !important where Gradio's own table style (borders, padding, stripes) would otherwise win */
.bar-chart { width: 100%; border-collapse: collapse; border: 0 !important; font-size: 13px; margin: 2px 0 4px; }
.bar-chart tr, .bar-chart th, .bar-chart td { border: 0 !important; background: none !important; }
.bar-chart caption { caption-side: top; text-align: left; font-size: 15px; font-weight: 600; padding: 2px 0 8px; }
.bar-chart th { width: 1%; white-space: nowrap; text-align: right; font-weight: 400; padding: 2px 8px 2px 2px !important; }
.bar-chart td { padding: 2px 0 !important; }
.bar-chart tr.bar-disagree th { color: #b35806; font-weight: 600; }
.dark .bar-chart tr.bar-disagree th { color: #f1a340; }
.bar-chart tr.bar-muted th { color: var(--body-text-color-subdued); }
.bar-track { position: relative; display: flex; align-items: center; height: 24px; border-radius: 3px;
             background: rgba(128, 128, 128, 0.13); }
.bar-seg { height: 100%; display: flex; align-items: center; justify-content: center; overflow: hidden;
           white-space: nowrap; font-size: 12px; min-width: 0; }
.bar-seg.bar-end { justify-content: flex-end; padding-right: 5px; box-sizing: border-box; }
.bar-aside { padding-left: 5px; white-space: nowrap; font-size: 12px; }
.bar-ref { position: absolute; top: -3px; bottom: -3px; border-left: 1.5px dashed var(--body-text-color-subdued); }
.bar-axis { position: relative; height: 17px; font-size: 11px; color: var(--body-text-color-subdued); }
.bar-axis span { position: absolute; transform: translateX(-50%); white-space: nowrap; }
.bar-axis span.bar-first { transform: none; }
.bar-axis span.bar-last { transform: translateX(-100%); }
.bar-legend { padding-bottom: 4px; }
.bar-key { display: inline-flex; align-items: center; gap: 4px; margin-right: 10px; font-size: 12px; }
.bar-key i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
"""
