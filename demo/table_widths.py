"""Column widths that make a table fit its box: Gradio takes a percent of the box for each column,
so a table whose widths add up to 100 % never scrolls on a desktop (on a phone demo.ui keeps a
minimum per column and the table scrolls inside its box instead)."""
from __future__ import annotations


def shares(columns: list[str], weights: dict[str, float], default: float = 10) -> list[str]:
    """Each column's percent of the box, in proportion to its weight (`default` for a column not in
    `weights`), summing to 100."""
    w = [float(weights.get(c, default)) for c in columns]
    total = sum(w) or 1.0
    return [f"{100 * x / total:.2f}%" for x in w]
