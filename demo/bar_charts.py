"""Horizontal bar charts in plain HTML and CSS, one table row per bar: Compare's answers.

They are drawn with the page itself: no chart library runs, so they appear as soon as the answer
does (Plotly took most of Compare's click-to-charts time; docs/BENCHMARKS.md). The page's theme
and fonts apply (dark mode included), the label column is as wide as its longest label, and
every number is text: a screen reader reads each segment's class and share, a tap or the
keyboard's focus on a bar shows what hovering shows.

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
    text: str = ""        # drawn on the segment; ends in an ellipsis where the segment is too narrow
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
    """Black or white, whichever contrasts more with `color` (WCAG relative luminance: the two
    contrasts are equal at a luminance of about 0.179)."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(int(color[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return "#000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179 else "#fff"


def _pct(share: float) -> str:
    return f"{100 * min(max(share, 0.0), 1.0):.2f}%"


def _axis(marks: list[tuple[float, str]], css: str) -> str:
    # a label's own width shifted by its place on the axis: the first starts at 0, the last ends at
    # the axis's end, a middle one is centred, and none runs past the chart
    spans = "".join(f'<span style="left:{_pct(at)};transform:translateX(-{_pct(at)})">{html.escape(text)}</span>'
                    for at, text in marks)
    return f'<div class="{css}">{spans}</div>'


def _segment(s: Segment, single: bool) -> str:
    style = f'style="width:{_pct(s.share)};background:{s.color};color:{ink(s.color)}"'
    if single:  # its text is the value itself
        text = f'<span class="bar-text">{html.escape(s.text)}</span>' if s.text else ""
        return f'<span class="bar-seg bar-end" {style}>{text}</span>'
    # a stacked segment: its share drawn for the eye, its class and share said for a screen reader
    text = f'<span class="bar-text" aria-hidden="true">{html.escape(s.text)}</span>' if s.text else ""
    said = f'<span class="bar-sr">{html.escape(s.tip)}</span>' if s.tip else ""
    return f'<span class="bar-seg" {style} title="{html.escape(s.tip)}">{text}{said}</span>'


def _bar(bar: Bar, reference: Reference | None) -> str:
    single = len(bar.segments) == 1
    segments = "".join(_segment(s, single) for s in bar.segments if s.share > 0)
    aside = f'<span class="bar-aside">{html.escape(bar.aside)}</span>' if bar.aside else ""
    line = f'<span class="bar-ref" style="left:{_pct(reference.at)}"></span>' if reference else ""
    said = html.escape(f"{bar.label}: " + "; ".join(s.tip for s in bar.segments if s.tip))
    row = f' class="bar-{bar.mark}"' if bar.mark else ""
    label = html.escape(bar.label)
    # focusable: a tap or the keyboard shows the bar's tip (BAR_CSS), as hovering does
    return (f'<tr{row}><th scope="row" title="{label}">{label}</th><td><div class="bar-track" tabindex="0"'
            f' title="{said}">{segments}{aside}{line}</div></td></tr>')


def bar_chart(title: str, bars: list[Bar], ticks: list[tuple[float, str]],
              legend: list[tuple[str, str]] | None = None, reference: Reference | None = None) -> str:
    """A table: its caption the title, a row per bar (label, then the bar on an axis from 0 to
    1), the tick labels below; `legend` ((name, colour) pairs) and the reference's label above."""
    head = ""
    if legend:
        keys = "".join(f'<span class="bar-key"><i aria-hidden="true" style="background:{color}"></i>'
                       f"{html.escape(name)}</span>" for name, color in legend)
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
.bar-chart th { width: 1%; max-width: 11em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
                text-align: right; font-weight: 400; padding: 2px 8px 2px 2px !important; }
.bar-chart td { padding: 2px 0 !important; }
.bar-chart tr.bar-disagree th { font-weight: 700; }
.bar-chart tr.bar-muted th { color: var(--body-text-color-subdued); }
.bar-track { position: relative; display: flex; align-items: center; height: 24px; border-radius: 3px;
             background: rgba(128, 128, 128, 0.13); }
.bar-track:focus { outline: 2px solid var(--color-accent); outline-offset: 1px; }
.bar-track:focus::after {
  content: attr(title); position: absolute; left: 0; bottom: calc(100% + 3px); z-index: 20;
  width: max-content; max-width: min(320px, 80vw); white-space: normal; font-size: 12px; line-height: 1.5;
  background: var(--background-fill-primary); color: var(--body-text-color);
  border: 1px solid var(--border-color-primary); border-radius: 4px; padding: 1px 6px;
}
.bar-seg { height: 100%; display: flex; align-items: center; justify-content: center; overflow: hidden;
           font-size: 12px; min-width: 0; }
.bar-seg.bar-end { justify-content: flex-end; padding-right: 5px; box-sizing: border-box; }
/* text too long for its segment ends in an ellipsis instead of losing its start */
.bar-text { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
/* its segment's ink (Gradio gives a span in an HTML block the body's text colour) */
.bar-chart .bar-text { color: inherit !important; }
.bar-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
/* above the reference's dashed line, with a halo where the line crosses it */
.bar-aside { position: relative; z-index: 1; padding-left: 5px; white-space: nowrap; font-size: 12px;
             text-shadow: 0 0 3px var(--block-background-fill), 0 0 3px var(--block-background-fill); }
.bar-ref { position: absolute; top: -3px; bottom: -3px; border-left: 1.5px dashed var(--body-text-color-subdued); }
.bar-axis { position: relative; height: 17px; font-size: 11px; color: var(--body-text-color-subdued); }
.bar-axis span { position: absolute; white-space: nowrap; }
.bar-legend { padding-bottom: 4px; }
.bar-key { display: inline-flex; align-items: center; gap: 4px; margin-right: 10px; font-size: 12px; }
.bar-key i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
"""
