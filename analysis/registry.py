"""The derived analyses the build runs and the app shows, in that order. A new one is a module
with a `DerivedAnalysis` (see `analysis.derived`) named `ANALYSIS`, plus its line here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from . import behaviour, embedding_map, label_errors
from .core import Analysis
from .derived import DerivedAnalysis
from .why import feature_table

DERIVED: tuple[DerivedAnalysis, ...] = (
    label_errors.ANALYSIS,
    behaviour.ANALYSIS,
    embedding_map.ANALYSIS,
    feature_table.ANALYSIS,
)


def derived_analysis(name: str) -> DerivedAnalysis:
    """The registered analysis called `name`; KeyError naming the known ones otherwise."""
    for d in DERIVED:
        if d.name == name:
            return d
    raise KeyError(f"no derived analysis {name!r} (known: {', '.join(d.name for d in DERIVED)})")


def build_derived(a: Analysis, variants: Mapping[str, object], tables_dir: Path,
                  log: Callable[[str], None] = print) -> list[str]:
    """The build's last step: every registered analysis in order; the paths written."""
    return [path for d in DERIVED for path in d.run(a, variants, Path(tables_dir), log)]
