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
from . import glossary as G
from . import inputs as I

FLAGGED = "flagged as likely errors"
ALL_RANKED = "every example, ranked"
SHOWS = (FLAGGED, ALL_RANKED)
WIDTHS = {"rank": 5, "gold": 8, "suggested": 8, "how far": 8, "read as": 8, "P(gold)": 6, "P(suggested)": 10,
          "variants against gold": 7, "their confidence": 9, "variants off by > 1": 7, "mean distance": 7, "quality": 6,
          "id": 4}
CSV_COLUMNS = ["rank", "id", "quality", "issue", "gold", "suggested", "gold_prob", "suggested_prob", "voters",
               "contradict", "contra_conf", "sentence1", "sentence2"]


@dataclass
class LabelErrors:
    """Every task's label-error table joined with its examples, read once at start-up."""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    provenance: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    readings: dict[str, A.LabelReading] = field(default_factory=dict)  # a person's verdicts on the top

    @classmethod
    def load(cls, a: A.Analysis | None) -> LabelErrors:
        return cls.from_reading(A.derived_analysis("label_errors").read(a))

    @classmethod
    def from_reading(cls, reading: A.Reading) -> LabelErrors:
        tables = dict(reading.data or {})
        readings = {t: r for t, r in ((t, A.read_reading(t, table)) for t, table in tables.items()) if r is not None}
        return cls(tables=tables, provenance=dict(reading.provenance), problems=list(reading.problems),
                   readings=readings)

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
    terms = ("outre",) if spec.regression else ("cleanlab",)
    return note + "\n\n" + G.explain(*terms, "quality", "label_precision", "wilson")


def _share(k: int, n: int, bounds: tuple[float, float]) -> str:
    return f"{k} of {n} ({k / n:.0%}; 95 % Wilson interval {bounds[0]:.0%}-{bounds[1]:.0%})"


def reading_note(le: LabelErrors, task: str) -> str:
    """What is known of the list's precision (Markdown): the stored reading of its top, with Wilson
    intervals computed here from the verdicts, and for SST how far apart gold and suggestion lie."""
    table = le.tables[task]
    flagged = table[table["issue"].to_numpy(bool)]
    reading = le.readings.get(task)
    lines = []
    if reading is None:
        lines.append("**How often a flag is right is unknown for this task:** nobody has read its flagged "
                     "examples yet. Treat every row as a question, not a finding.")
    else:
        wrong = reading.precision(A.MISLABELLED)
        either = reading.precision(A.MISLABELLED, A.AMBIGUOUS)
        about = reading.about
        which = (f"all {reading.read} flagged examples" if reading.read >= len(flagged)
                 else f"the top {reading.read} flagged examples")
        lines.append(f"**How often a flag is right:** a reading of {which} found **{_share(*wrong)}** clearly "
                     f"mislabelled, and {_share(*either)} mislabelled or ambiguous; the other "
                     f"{reading.count(A.LABEL_RIGHT)} have the right label: the models were wrong. A flag is a "
                     "question, not a finding: cite none as a label error without reading it.")
        if reading.flagged < reading.read:
            lines.append(f"⚠ The table was rebuilt since: it flags {reading.flagged} of the {reading.read} examples "
                         "read; the figures are for the examples read.")
        lines.append(f"*Read by {I.escape_md(about.get('who', '?'))} on {I.escape_md(about.get('when', '?'))}; "
                     f"each verdict is in the “read as” column and in `analysis/{A.READING_FILE}`.*")
    groups = A.how_far(task, flagged["gold"].to_numpy(), flagged["suggested"].to_numpy())
    if groups is not None:
        counts = pd.Series(groups).value_counts()
        parts = []
        for group, hint in ((A.ONE_APART, "likely ambiguous: neighbouring classes are a matter of degree"),
                            (A.TWO_APART, "a stronger disagreement on the same side"),
                            (A.OPPOSITE, "gold and suggestion on opposite sides of neutral")):
            part = f"**{int(counts.get(group, 0)):,} {group}** ({hint})"
            if reading is not None:
                k, n = reading.by_group(dict(zip(flagged["id"].astype(str), groups))).get(group, (0, 0))
                part += f"; read: {k} of {n} mislabelled" if n else ""
            parts.append(part)
        lines.append(f"Of the {len(flagged):,} flagged: " + " · ".join(parts) + ". The “how far” column says which.")
    return "\n\n".join(lines)


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


def display(task: str, r: pd.DataFrame, limit: int = E.SHOW_ROWS, reading: A.LabelReading | None = None
            ) -> pd.DataFrame:
    """The columns a person reads, with `reading`'s verdicts where it has one; the id last (a row
    click reads it)."""
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
        far = A.how_far(task, r["gold"].to_numpy(), r["suggested"].to_numpy())
        if far is not None:
            out["how far"] = far
        out["P(gold)"] = r["gold_prob"].astype(float).round(3)
        out["P(suggested)"] = r["suggested_prob"].astype(float).round(3)
        out["variants against gold"] = [f"{c} of {v}" for c, v in zip(r["contradict"], r["voters"])]
        out["their confidence"] = r["contra_conf"].astype(float).round(3)
    if reading is not None:
        out.insert(1, "read as", [reading.verdicts.get(str(i), ("", ""))[0] for i in r["id"]])
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
    return display(task, r, reading=le.readings.get(task)), count_line(task, r, time.perf_counter() - start)


def widths(shown: pd.DataFrame) -> list[str]:
    return E.column_widths(list(shown.columns), WIDTHS)


def write_csv(le: LabelErrors, task: str, show: str, search: str, min_contradict: int | None) -> Path | None:
    r = rows(le, task, show, search, min_contradict)
    cols = [c for c in CSV_COLUMNS if c in r.columns]
    name = f"label-errors-{task}-{'flagged' if show == FLAGGED else 'all'}.csv"
    return E.write_rows_csv(r, cols, name, narrow="for example to the flagged ones or a text search")
