"""The loaded analysis: one `TaskData` per task, held by an `Analysis`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from minibert.tasks import task as get_task

from .schema import SCORE_COLUMNS, check_task


@dataclass
class TaskData:
    """Everything known about one task's dev set, joined and precomputed.

    `examples` has one row per dev example (its position is the example index `ex`);
    `frame` has one row per (variant, example), sorted by variant then `ex`, so each variant's
    rows are the slice `ranges[variant]`. The wide arrays have shape (n_examples, n_variants),
    columns in `variants` order, NaN / False where a variant has no prediction for an example.
    """

    task: str
    source: str
    examples: pd.DataFrame
    frame: pd.DataFrame
    variants: list[str]
    ranges: dict[str, tuple[int, int]]
    present: np.ndarray  # bool
    pred: np.ndarray  # float64
    score: np.ndarray | None  # Quora P(duplicate), STS score; None for SST
    correct: np.ndarray  # bool
    slices: dict[str, pd.Series] = field(default_factory=dict)
    # the long frame's columns as numpy arrays, for fast filtering
    cols: dict[str, np.ndarray] = field(default_factory=dict)
    # variants read from a user's prediction files (predictions only: no checkpoint, never rescored)
    imported: frozenset[str] = frozenset()
    # variants with hard labels only (no probabilities): no confidence, calibration or ROC AUC
    hard_labels: frozenset[str] = frozenset()

    def variant_index(self, variant: str) -> int:
        try:
            return self.variants.index(variant)
        except ValueError:
            raise KeyError(
                f"no {self.task} predictions for variant {variant!r}; have: {', '.join(self.variants) or 'none'}"
            ) from None

    def rows(self, variant: str | None) -> slice:
        if variant is None:
            return slice(0, len(self.frame))
        self.variant_index(variant)
        start, stop = self.ranges[variant]
        return slice(start, stop)


@dataclass
class Analysis:
    """What `analysis.load()` returns. See the package docstring for the contract."""

    tables_dir: Path
    data_dir: Path | None
    tasks: dict[str, TaskData]
    problems: list[str]
    notes: list[str]
    sources: dict[str, str]
    stale: dict[str, str]
    manifest: dict
    summary: dict | None
    intervals: Any = None  # analysis.uncertainty.Intervals, when tables/intervals.parquet is current

    def has(self, task: str) -> bool:
        return check_task(task) in self.tasks

    def task(self, task: str) -> TaskData:
        if check_task(task) not in self.tasks:
            why = "; ".join(p for p in self.problems if task in p) or "no tables were loaded"
            raise KeyError(f"no {task} analysis available: {why}")
        return self.tasks[task]

    def frame(self, task: str) -> pd.DataFrame:
        """The long, joined table of `task` (one row per variant and example)."""
        return self.task(task).frame

    def examples(self, task: str) -> pd.DataFrame:
        """One row per dev example of `task`: id, text, gold, features, slice labels."""
        td = self.task(task)
        out = td.examples.drop(columns=["text"])
        for name, labels in td.slices.items():
            out[f"slice:{name}"] = labels.to_numpy()
        return out

    def variants(self, task: str | None = None) -> list[str]:
        if task is not None:
            return list(self.task(task).variants) if self.has(task) else []
        seen: dict[str, None] = {}
        for td in self.tasks.values():
            seen.update(dict.fromkeys(td.variants))
        return sorted(seen)

    def checkpoint_hashes(self) -> dict[str, str | None]:
        """{variant: the checkpoint hash its prediction tables were built from} (None for an
        import): what a derived table's provenance is checked against."""
        return {e.get("variant"): (e.get("checkpoint") or {}).get("hash") for e in self.manifest["tables"].values()}

    def imported(self) -> list[str]:
        """Variants imported from prediction files (`python -m analysis import`): predictions only,
        left out of ensemble selection, calibration and label-error evidence."""
        return sorted({v for td in self.tasks.values() for v in td.imported})

    def has_probabilities(self, task: str, variant: str) -> bool:
        """Whether `variant`'s `task` predictions carry model scores (a confidence to calibrate or
        to weigh label-error evidence with); False for an import of hard labels."""
        td = self.task(task)
        td.variant_index(variant)
        return variant not in td.hard_labels

    def wide(self, task: str, column: str = "pred") -> pd.DataFrame:
        """One row per example, one column per variant: `pred`, `correct`, or a score column."""
        td = self.task(task)
        if column == "pred":
            values = td.pred
        elif column == "correct":
            values = td.correct
        elif column in SCORE_COLUMNS[task] or (get_task(task).regression and column == "score"):
            values = np.full(td.pred.shape, np.nan)
            ex, var, col = td.cols["ex"], td.cols["var"], td.frame[column if not get_task(task).regression else "pred"].to_numpy()
            values[ex, var] = col
        else:
            raise ValueError(f"wide(): column must be pred, correct or one of {SCORE_COLUMNS[task]}, not {column!r}")
        out = pd.DataFrame(values, columns=td.variants)
        out.insert(0, "gold", td.examples["gold"].to_numpy())
        out.insert(0, "id", td.examples["id"].to_numpy())
        return out
