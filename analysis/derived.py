"""The interface every derived analysis implements: a table built from the fresh prediction tables
and the variants by `python -m analysis build` (after the predictions), read by the app. Built-in
ones: label errors, behavioural tests, the embedding map, the why report's features (registered
in `analysis.registry`).

    class Calibration(DerivedAnalysis):            # a fourth analysis: one module ...
        name, title, requires = "calibration", "Calibration", None
        def build(self, a, variants, tables_dir, log): ...   # write tables, return their paths
        def read(self, a): return Reading(data=..., problems=[...])
        def frame(self, reading, task): ...          # optional: the app's default view of one task
    ANALYSIS = Calibration()
    # ... plus its name in `analysis.registry.BUILT_IN`; the app then gives it a tab.

    for d in registered():                         # analysis.registry
        d.run(a, variants, tables_dir, log)        # the build step: skipped, with a message,
                                                   # when its build-only library is missing
    reading = d.read(a)                            # the app: reading.ready, reading.problems
    d.no_tables(reading)                           # Markdown for a tab with nothing to show
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from minibert.tasks import TASK_NAMES

from .core import Analysis

Log = Callable[[str], None]


def missing_library(module: str) -> str | None:
    """None when `module` imports, else why not (for the skip message)."""
    try:
        __import__(module)
    except ImportError as error:
        return str(error)
    return None


def forget_frozen_features(variants: Mapping[str, object]) -> None:
    """Empty the sentence memos that frozen-encoder variants share. A vector differs in its last
    bits with the batch its sentence was encoded in, so a memo filled by an earlier step (the
    predictions, the behavioural tests) would make a step's table depend on which steps ran
    before it in this process; each model step starts from an empty memo instead."""
    from minibert.predict import frozen_memos  # torch: the build's model steps only, never the app

    for memo in frozen_memos(variants):
        memo.clear()


@dataclass
class Reading:
    """What a derived analysis read for the app: its data (None when there is nothing to show; the
    type is the analysis's own), provenance, and the problems met (each a line naming the file
    and the fix)."""
    data: object | None = None
    provenance: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.data is not None


class DerivedAnalysis(ABC):
    """One derived analysis. `requires` names the build-only library (requirements-dev.txt) its
    build imports, or None; `uses_models` says its build runs the variants' encoders (so it starts
    from empty frozen-feature memos) rather than reading their prediction tables only; `tab`
    False means the app gives it no tab (another view reads its tables)."""
    name: str
    title: str
    requires: str | None = None
    package: str | None = None  # what to pip install for `requires`, when the names differ
    uses_models: bool = False
    tab: bool = True

    @abstractmethod
    def build(self, a: Analysis, variants: Mapping[str, object], tables_dir: Path, log: Log) -> list[str]:
        """Write this analysis's tables under `tables_dir`; the paths written."""

    @abstractmethod
    def read(self, a: Analysis | None) -> Reading:
        """Read this analysis's tables for the loaded `a` (no build-only library needed)."""

    def tasks(self, reading: Reading) -> list[str]:
        """The tasks the reading has something for, in the order of `minibert.tasks`."""
        data = reading.data
        return [t for t in TASK_NAMES if isinstance(data, Mapping) and t in data]

    def frame(self, reading: Reading, task: str) -> pd.DataFrame | None:
        """One task's rows as the app's default view shows them (an analysis with a view of its own
        in the app need not say)."""
        data = reading.data
        return data.get(task) if isinstance(data, Mapping) else None

    def no_tables(self, reading: Reading) -> str:
        """Markdown for a tab with nothing to show: what is missing, how to build it, the problems."""
        extra = f" with {self.package or self.requires} installed (pip install -r requirements-dev.txt)" if self.requires else ""
        lines = "\n".join(f"- {p}" for p in reading.problems[:6])
        return f"### No {self.title.lower()} to show\nBuild them with `python -m analysis build`{extra}.\n\n{lines}"

    def run(self, a: Analysis, variants: Mapping[str, object], tables_dir: Path, log: Log, **options: object
            ) -> list[str]:
        """The build step: `build`, or a message and nothing written (the old tables kept) when the
        library it needs is missing."""
        if self.requires:
            why = missing_library(self.requires)
            if why:
                log(f"{self.title.lower()} skipped: {self.package or self.requires} is not installed ({why}); the old tables are "
                    "kept (pip install -r requirements-dev.txt)")
                return []
        if self.uses_models:
            forget_frozen_features(variants)
        return self.build(a, variants, Path(tables_dir), log, **options)

