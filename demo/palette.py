"""One colour per variant, the same in every chart of the app: Plotly's default palette has 10
colours, so with a dozen variants two would share one."""
from __future__ import annotations

from plotly.colors import qualitative

# D3's ten, then Dark2's eight: 18 colours no two of which are near each other.
PALETTE = list(dict.fromkeys(qualitative.D3 + qualitative.Dark2))


def variant_colors(names: list[str]) -> dict[str, str]:
    """Colours by sorted name, so that a variant keeps its colour whichever chart lists it."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(names))}
