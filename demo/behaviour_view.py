"""Tests tab: behavioural tests (analysis.behaviour) per variant, failure rates with their 95 %
Wilson intervals, and the failing cases (precomputed by `python -m analysis build`; nothing here
runs a model).

Plain functions, no Gradio: `Behaviour.load(a)` reads the tables once and computes every rate.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import analysis as A
from analysis import MFT, QUORA_NOTE, TESTS, muted_heads
from minibert.tasks import task as get_task

from . import glossary as G
from . import inputs as I
from .table_widths import shares

KINDS = ("MFT", "INV", "DIR")  # CheckList's; demo.glossary explains each
NO_CASE = '<div class="ex-card intro">Click a failing case to see it; open it in Compare to edit it.</div>'


@dataclass
class Behaviour:
    cases: pd.DataFrame | None = None
    results: pd.DataFrame | None = None
    rates: pd.DataFrame | None = None
    muted: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, a: A.Analysis | None) -> Behaviour:
        return cls.from_reading(a, A.derived_analysis("behaviour").read(a))

    @classmethod
    def from_reading(cls, a: A.Analysis | None, reading: A.Reading) -> Behaviour:
        out = cls(problems=list(reading.problems), muted=muted_heads(a.summary) if a is not None else {})
        if reading.ready:
            out.cases, out.results, out.rates = reading.data.cases, reading.data.results, reading.data.rates
        return out

    def tasks(self) -> list[str]:
        return [] if self.rates is None else list(dict.fromkeys(self.rates["task"]))

    def tests(self, task: str) -> list[str]:
        return list(dict.fromkeys(self.rates.loc[self.rates["task"] == task, "test"]))

    def variants(self, task: str) -> list[str]:
        return sorted(set(self.rates.loc[self.rates["task"] == task, "variant"]))


def most_failing(b: Behaviour, task: str) -> tuple[str, str]:
    """The (test, variant) with the most failing cases on `task`, so that the tab opens on a list
    with something in it. A head that analysis.trust mutes says little by failing, so the trusted
    heads come first; ties go to the earlier test, then the earlier variant."""
    tests, variants = b.tests(task), b.variants(task)
    rates = b.rates[b.rates["task"] == task]
    best, key = (tests[0], variants[0]), None
    for r in rates.itertuples(index=False):
        if r.test not in tests or r.variant not in variants:
            continue
        this = (task not in b.muted.get(r.variant, {}), int(r.failed), -tests.index(r.test), -variants.index(r.variant))
        if int(r.failed) and (key is None or this > key):
            best, key = (r.test, r.variant), this
    return best


def _rate(rate: float, lo: float, hi: float, sep: str = " ") -> str:
    return f"{rate:.0%}{sep}({lo:.0%}–{hi:.0%})"


def grid(b: Behaviour, task: str) -> pd.DataFrame:
    """Rows: the task's tests; columns: kind, test, cases, then one per variant with its failure
    rate and 95 % interval ("†" marks a head that analysis.trust mutes on this task)."""
    rates = b.rates[b.rates["task"] == task]
    variants = b.variants(task)
    rows = []
    for test in b.tests(task):
        r = rates[rates["test"] == test].set_index("variant")
        row = {"kind": r["kind"].iloc[0], "test": test, "cases": int(r["n"].max())}
        for v in variants:
            row[v + (" †" if task in b.muted.get(v, {}) else "")] = (
                _rate(r.at[v, "rate"], r.at[v, "lo"], r.at[v, "hi"], "\n") if v in r.index else "")
        rows.append(row)
    return pd.DataFrame(rows)


def grid_note(b: Behaviour, task: str) -> str:
    lines = [f"**{k}** tests: " + "; ".join(f"*{I.escape_md(t.name)}*: {I.escape_md(t.description)}"
                                          for t in TESTS if t.task == task and t.kind == k)
             for k in KINDS]
    muted = [v for v in b.variants(task) if task in b.muted.get(v, {})]
    text = ("Failure rate per variant and test, with its 95 % Wilson interval. **Click a cell** to list that "
            "variant's failing cases.\n\n" + G.explain("mft", "inv", "dir", "failure_rate", "wilson") + "\n\n"
            + "\n\n".join(lines))
    if muted:
        text += f"\n\n† a head no better than a trivial baseline on dev ({', '.join(muted)}): its failures say little."
    if task == "quora":
        text += f"\n\n{I.escape_md(QUORA_NOTE)}"
    return text


def cell_to_choice(b: Behaviour, task: str, index: object) -> tuple[str, str] | None:
    """The (test, variant) of a clicked grid cell, None for the first three columns or a bad index."""
    try:
        row, col = (int(i) for i in index)
    except (TypeError, ValueError):
        return None
    tests, variants = b.tests(task), b.variants(task)
    if not (0 <= row < len(tests)) or not (3 <= col < 3 + len(variants)):
        return None
    return tests[row], variants[col - 3]


def _shown(task: str, decision: float, value: float) -> str:
    if np.isnan(value):
        return ""
    spec = get_task(task)
    if spec.multiclass:
        return f"{spec.label_text(int(decision))} (mean class {value:.2f})"
    if spec.binary:
        return f"P(duplicate) {value:.2f}"
    return f"{value:.2f}"


def failing(b: Behaviour, task: str, test: str, variant: str) -> pd.DataFrame:
    """The failing cases of one variant on one test: inputs, outputs, the case id last."""
    r = b.results[(b.results["variant"] == variant) & ~b.results["passed"].astype(bool)]
    cases = b.cases.loc[r["case"]]
    keep = ((cases["task"] == task) & (cases["test"] == test)).to_numpy()
    r, cases = r[keep], cases[keep]
    pair = get_task(task).pair
    out = pd.DataFrame({"input": [f"{a} ‖ {c}" if pair else a for a, c in zip(cases["s1"], cases["s2"])]})
    out["output"] = [_shown(task, d, v) for d, v in zip(r["decision_a"], r["value_a"])]
    if (cases["kind"] != MFT).any():
        out["perturbed"] = [f"{a} ‖ {c}" if pair else a for a, c in zip(cases["b1"], cases["b2"])]
        out["output after"] = [_shown(task, d, v) for d, v in zip(r["decision_b"], r["value_b"])]
    out["case"] = cases["case"].to_numpy()
    return out


NO_OTHER = "(none: its failing cases)"


def _outcomes(b: Behaviour, task: str, test: str, variant: str) -> pd.DataFrame:
    """One variant's results on one test's cases, indexed by case."""
    r = b.results[b.results["variant"] == variant]
    cases = b.cases.loc[r["case"]]
    keep = ((cases["task"] == task) & (cases["test"] == test)).to_numpy()
    return r[keep].set_index("case")


def differing(b: Behaviour, task: str, test: str, variant: str, other: str) -> pd.DataFrame:
    """The cases of one test where `variant` and `other` differ (one passes, the other fails):
    inputs, each one's outputs, which one fails, the case id last."""
    mine, theirs = _outcomes(b, task, test, variant), _outcomes(b, task, test, other)
    both = mine.index.intersection(theirs.index)
    mine, theirs = mine.loc[both], theirs.loc[both]
    split = mine["passed"].astype(bool).to_numpy() != theirs["passed"].astype(bool).to_numpy()
    mine, theirs = mine[split], theirs[split]
    cases = b.cases.loc[mine.index]
    pair = get_task(task).pair
    out = pd.DataFrame({"input": [f"{a} ‖ {c}" if pair else a for a, c in zip(cases["s1"], cases["s2"])]})
    perturbed = (cases["kind"] != MFT).any()
    if perturbed:
        out["perturbed"] = [f"{a} ‖ {c}" if pair else a for a, c in zip(cases["b1"], cases["b2"])]
    for name, r in ((variant, mine), (other, theirs)):
        before = [_shown(task, d, v) for d, v in zip(r["decision_a"], r["value_a"])]
        after = [_shown(task, d, v) for d, v in zip(r["decision_b"], r["value_b"])]
        out[name] = [f"{x} → {y}" for x, y in zip(before, after)] if perturbed else before
    out["fails"] = np.where(mine["passed"].astype(bool).to_numpy(), other, variant)
    out["case"] = cases["case"].to_numpy()
    return out


def differing_line(b: Behaviour, task: str, test: str, variant: str, other: str, rows: pd.DataFrame) -> str:
    total = len(_outcomes(b, task, test, variant).index.intersection(_outcomes(b, task, test, other).index))
    if not len(rows):
        return (f"**{I.escape_md(variant)}** and **{I.escape_md(other)}** pass and fail the same {total} cases of "
                f"*{I.escape_md(test)}*.")
    a_fails = int((rows["fails"] == variant).sum())
    return (f"**{I.escape_md(variant)}** and **{I.escape_md(other)}** differ on **{len(rows)} of {total}** cases of "
            f"*{I.escape_md(test)}*: {I.escape_md(variant)} fails {a_fails} of them, {I.escape_md(other)} "
            f"{len(rows) - a_fails}.")


def most_differing(b: Behaviour, task: str, variant: str, other: str) -> str:
    """The test of `task` on which `variant` and `other` differ on the most cases (ties: the earlier)."""
    counts = {t: len(differing(b, task, t, variant, other)) for t in b.tests(task)}
    return max(b.tests(task), key=lambda t: (counts[t], -b.tests(task).index(t)))


FAILING_WIDTHS = {"input": 3, "output": 2, "perturbed": 3, "output after": 2, "case": 1, "fails": 1.5}


def grid_widths(columns: list[str]) -> list[str]:
    """The grid's column widths (percent of its box): twelve variants' columns fit a desktop."""
    return shares(columns, {"kind": 5, "test": 11, "cases": 5}, default=6.6)


def failing_widths(columns: list[str]) -> list[str]:
    """Percent widths of the failing-cases table: the inputs widest, the case id narrow (a
    variant's own column, in the table of two that differ, as wide as an output)."""
    total = sum(FAILING_WIDTHS.get(c, 2) for c in columns)
    return [f"{100 * FAILING_WIDTHS.get(c, 2) / total:.0f}%" for c in columns]


def failing_line(b: Behaviour, task: str, test: str, variant: str, shown: int) -> str:
    row = b.rates[(b.rates["task"] == task) & (b.rates["test"] == test) & (b.rates["variant"] == variant)]
    if row.empty:
        return f"No results of {I.escape_md(variant)} on {I.escape_md(test)}."
    r = row.iloc[0]
    return (f"**{I.escape_md(variant)}** fails **{int(r['failed'])} of {int(r['n'])}** cases of *{I.escape_md(test)}* "
            f"({_rate(r['rate'], r['lo'], r['hi'])})" + ("" if shown == int(r["failed"]) else f"; {shown} listed"))


def case_view(b: Behaviour, case_id: str) -> tuple[str, dict | None]:
    """(an HTML card of one case, the input to open in Compare: the perturbed one when there is one)."""
    if b.cases is None or case_id not in b.cases.index:
        return NO_CASE, None
    c = b.cases.loc[case_id]
    test = next((t for t in TESTS if t.task == c["task"] and t.name == c["test"]), None)
    parts = [f'<div class="ex-meta">{html.escape(get_task(c["task"]).long_title)} · {html.escape(c["kind"])} · '
             f'{html.escape(c["test"])} · from {html.escape(str(c["origin"]))}</div>']
    if test is not None:
        parts.append(f'<div class="ex-meta">{html.escape(test.description)}</div>')
    for label, s1, s2 in (("input", c["s1"], c["s2"]), ("perturbed", c["b1"], c["b2"])):
        if s1:
            parts.append(f'<div class="ex-text"><span class="ex-label">{label}</span>{html.escape(s1)}'
                         + (f" ‖ {html.escape(s2)}" if s2 else "") + "</div>")
    sentence1, sentence2 = (c["b1"], c["b2"]) if c["b1"] else (c["s1"], c["s2"])
    return f'<div class="ex-card">{"".join(parts)}</div>', {"task": c["task"], "sentence1": sentence1,
                                                          "sentence2": sentence2}
