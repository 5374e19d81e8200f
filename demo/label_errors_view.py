"""Label errors tab: the dev examples whose gold label the variants most doubt, ranked by
cleanlab's label quality, with the evidence (the tables `python -m analysis build` writes through
`analysis.label_errors`; nothing here runs a model or needs cleanlab).

Plain functions, no Gradio: `LabelErrors.load(a)` reads the tables once; `rows(...)` filters.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import analysis as A
from analysis import QUORA_NOTE, STS_TOLERANCE
from minibert.tasks import task as get_task

from . import errors_view as E
from . import inputs as I

FLAGGED = "flagged as likely errors"
ALL_RANKED = "every example, ranked"
SHOWS = (FLAGGED, ALL_RANKED)
WIDTHS = {"rank": 5, "gold": 9, "suggested": 9, "P(gold)": 6, "P(suggested)": 10, "variants against gold": 7,
          "their confidence": 9, "variants off by > 1": 7, "mean distance": 7, "quality": 6, "id": 7}
CSV_COLUMNS = ["rank", "id", "quality", "issue", "gold", "suggested", "gold_prob", "suggested_prob", "voters",
               "contradict", "contra_conf", "sentence1", "sentence2"]


@dataclass
class LabelErrors:
    """Every task's label-error table joined with its examples, read once at start-up."""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    provenance: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, a: A.Analysis | None) -> LabelErrors:
        return cls.from_reading(A.derived_analysis("label_errors").read(a))

    @classmethod
    def from_reading(cls, reading: A.Reading) -> LabelErrors:
        return cls(tables=dict(reading.data or {}), provenance=dict(reading.provenance), problems=list(reading.problems))

    def tasks(self) -> list[str]:
        return list(self.tables)


def method_note(le: LabelErrors, task: str) -> str:
    """What the ranking is and which variants are its evidence (Markdown)."""
    provenance = le.provenance.get(task, {})
    used = ", ".join(I.escape_md(v) for v in provenance.get("variants", {}))
    left = "; ".join(f"**{I.escape_md(k)}**: {I.escape_md(v)}" for k, v in provenance.get("excluded", {}).items())
    spec = get_task(task)
    table = le.tables[task]
    if spec.regression:
        how = ("Ranked by cleanlab's regression label quality (OUTRE) of the gold score against the mean "
               f"predicted score. Flagged: every evidence variant is more than {STS_TOLERANCE:g} away from gold.")
    else:
        how = ("Confident learning (cleanlab `find_label_issues`) on the evidence variants' mean class "
               "probabilities decides which are flagged; the ranking is the mean probability of the gold label.")
    note = (f"{how} **{int(table['issue'].sum()):,} of {len(table):,}** flagged. Evidence from {used or 'no variant'}"
            f"{f' (left out: {left})' if left else ''}. A flag says the models disagree with the label, not that "
            "the label is wrong: read the example.")
    if task == "quora":  # the dataset's caveat
        note += f" **Quora:** {I.escape_md(QUORA_NOTE)} Dev predictions may have seen near-copies of these pairs."
    return note


def rows(le: LabelErrors, task: str, show: str = FLAGGED, search: str = "", min_contradict: int | None = None
         ) -> pd.DataFrame:
    """The ranked rows that pass the filters (all of them: the CSV gets these)."""
    table = le.tables[task]
    keep = np.ones(len(table), bool)
    if show == FLAGGED:
        keep &= table["issue"].to_numpy(bool)
    if min_contradict:
        keep &= table["contradict"].to_numpy() >= min_contradict
    if search:
        needle = search.lower()
        text = table["sentence1"].str.lower().str.contains(needle, regex=False)
        if "sentence2" in table.columns:
            text |= table["sentence2"].str.lower().str.contains(needle, regex=False)
        keep &= text.to_numpy(bool)
    return table[keep]


def display(task: str, r: pd.DataFrame, limit: int = E.SHOW_ROWS) -> pd.DataFrame:
    """The columns a person reads; the id last (a row click reads it)."""
    spec = get_task(task)
    r = r.head(limit)
    out = pd.DataFrame({"rank": r["rank"].astype(int)})
    if spec.regression:
        out["gold"] = r["gold"].astype(float).round(2)
        out["suggested"] = r["suggested"].astype(float).round(2)
        out["variants off by > 1"] = [f"{c} of {v}" for c, v in zip(r["contradict"], r["voters"])]
        out["mean distance"] = r["contra_conf"].astype(float).round(2)
    else:
        out["gold"] = [spec.label_text(g) for g in r["gold"]]
        out["suggested"] = [spec.label_text(s) for s in r["suggested"]]
        out["P(gold)"] = r["gold_prob"].astype(float).round(3)
        out["P(suggested)"] = r["suggested_prob"].astype(float).round(3)
        out["variants against gold"] = [f"{c} of {v}" for c, v in zip(r["contradict"], r["voters"])]
        out["their confidence"] = r["contra_conf"].astype(float).round(3)
    out["quality"] = r["quality"].astype(float).round(4)
    if spec.pair:
        out["sentence 1"] = r["sentence1"].astype(str)
        out["sentence 2"] = r["sentence2"].astype(str)
    else:
        out["sentence"] = r["sentence1"].astype(str)
    out["id"] = r["id"].astype(str)
    return out


def count_line(task: str, r: pd.DataFrame, seconds: float) -> str:
    shown = f" (showing the first {E.SHOW_ROWS:,}; the CSV has all)" if len(r) > E.SHOW_ROWS else ""
    return f"**{len(r):,} examples** of {get_task(task).long_title}{shown} · filtered in {seconds * 1000:.0f} ms"


def view(le: LabelErrors, task: str, show: str, search: str, min_contradict: int | None) -> tuple[pd.DataFrame, str]:
    start = time.perf_counter()
    r = rows(le, task, show, search, min_contradict)
    return display(task, r), count_line(task, r, time.perf_counter() - start)


def widths(shown: pd.DataFrame) -> list[str]:
    return E.column_widths(list(shown.columns), WIDTHS)


def write_csv(le: LabelErrors, task: str, show: str, search: str, min_contradict: int | None) -> Path | None:
    r = rows(le, task, show, search, min_contradict)
    cols = [c for c in CSV_COLUMNS if c in r.columns]
    name = f"label-errors-{task}-{'flagged' if show == FLAGGED else 'all'}.csv"
    return E.write_rows_csv(r, cols, name, narrow="for example to the flagged ones or a text search")
