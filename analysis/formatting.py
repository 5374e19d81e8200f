"""How a metric and a duration read to a person: one rule for the README table and the app; and
user text made inert in Markdown (the app's messages and the "why" report's saved slices)."""
from __future__ import annotations

import html
import math


def metric(x: object, missing: str = "n/a") -> str:
    """Three decimals; `missing` for None, NaN or a value that is not a number."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        return missing
    return missing if math.isnan(value) else f"{value:.3f}"


def duration(seconds: object, missing: str = "n/a") -> str:
    """Seconds up to two minutes, then minutes to one decimal; `missing` for none or zero."""
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return missing
    if not s or math.isnan(s):
        return missing
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def signed(x: object, missing: str = "n/a") -> str:
    """A difference to three decimals with its sign; one that rounds to zero reads "0.000", not
    "-0.000" or "+0.000"."""
    text = metric(x, missing)
    if text == missing:
        return missing
    value = float(text)
    return "0.000" if value == 0 else f"{value:+.3f}"


def interval(bounds: object, difference: bool = False, missing: str = "") -> str:
    """"[lo, hi]" to three decimals (signed for a difference); `missing` when there is none."""
    try:
        lo, hi = (float(b) for b in bounds)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return missing
    if math.isnan(lo) or math.isnan(hi):
        return missing
    show = signed if difference else metric
    return f"[{show(lo)}, {show(hi)}]"


def p_value(p: object, missing: str = "n/a") -> str:
    """A p-value as a reader compares it with 0.05: two significant digits, "< 0.001" below that."""
    if p is None or not isinstance(p, (int, float)) or math.isnan(p):
        return missing
    return "< 0.001" if p < 0.001 else f"{p:.2g}" if p < 0.1 else f"{p:.2f}"


def inert_markdown(text: object) -> str:
    """User text for Markdown: HTML-escaped and Markdown-inert (no bold, no links, no table cells)."""
    out = html.escape(str(text), quote=False)  # quotes are plain text in Markdown; entities would break
    for ch in "\\`*_{}[]()#+-!|>~":
        out = out.replace(ch, "\\" + ch)
    return out
