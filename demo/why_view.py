"""The Why tab's reading of `analysis.why`: one report per (analysis, task, A, B), kept in a small
cache so that clicking its findings does not compute it again; the findings as a table; the
examples of one finding; where a finding opens in Errors and Slices; the write-up as a zip.

Plain functions, no Gradio:

    r = report(a, "sts", "pcgrad", "cross-encoder")       # WhyReport (cached); checkpoints= for the families
    findings_table(r)                                     # one row per finding, in report order
    finding_rows(a, r, 0)                                 # its examples: text, gold, A's and B's answers
    errors_params(r, 0), slices_params(r, 0)              # URL parameters of those tabs' views
    tests_params(r)                                       # the Tests tab where the two differ most
    saved_md(r, saved)                                    # a user's saved slices, tested as hypotheses
    write_zip(r)                                          # the export, bounded, in the export folder
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

import analysis as A
from analysis import WhyReport, export_bytes, p_value, why_report
from minibert.tasks import task as get_task

from . import errors_view as E
from . import inputs as I

NONE = "(none: where A fails)"
DISAGREE = next(label for label, key in E.RELATIONS.items() if key == "disagree")  # as the Errors tab names it
CACHED = 8  # reports kept: each holds its slice search (masks of every slice tested)
EXAMPLES_SHOWN = 200

_cache: OrderedDict[tuple, WhyReport] = OrderedDict()
_lock = threading.Lock()


def pick(a: A.Analysis, task_name: object, a_name: object, b_name: object) -> tuple[str, str, str | None]:
    """(task, A, B or None) from what the pickers sent; a clear message for anything else."""
    task = E.parse_task(a, task_name)
    names = E.variants_of(a, task)
    first = I.choice(a_name, names, "variant A")
    second = I.choice(b_name, [NONE, *names], "variant B", default=NONE)
    if second == first:
        raise I.BadInput(f"Pick two different variants (both are {first}), or “{NONE}” for where {first} fails.")
    return task, first, None if second == NONE else second


def default_pair(a: A.Analysis, task: str, composed: frozenset[str] = frozenset()) -> tuple[str, str]:
    """The best single variant on `task` (not one `composed` of others: an ensemble) against the one
    of the next three whose answers differ from it most often, so that the first report a newcomer
    sees has something to explain."""
    table = A.metrics_table(a, task)
    metric = get_task(task).metric
    ranked = [str(v) for v in table[metric].astype(float).sort_values(ascending=False).index
              if v in E.variants_of(a, task) and v not in composed]
    if len(ranked) < 2:
        return ranked[0], NONE
    best, top = ranked[0], ranked[1:4]
    td = a.task(task)
    preds = {v: td.cols["pred"][td.rows(v)] for v in [best, *top]}
    agree = {v: float(np.mean(np.isclose(preds[best], preds[v], atol=0.5))) for v in top}
    return best, min(top, key=lambda v: agree[v])


def report(a: A.Analysis, task: str, a_name: str, b_name: str | None, checkpoints: Path | None = None
           ) -> WhyReport:
    """The report, from the cache when this analysis (the shared one, or a session's join with its
    upload) asked for it before. `checkpoints`: where the variants' recipes are (their families)."""
    key = (id(a), task, a_name, b_name, str(checkpoints))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    r = why_report(a, task, a_name, b_name, checkpoints=checkpoints)
    with _lock:
        _cache[key] = r
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    return r


def summary_md(r: WhyReport) -> tuple[str, str]:
    """The report's prose in two parts around the findings, which the tab shows as a table of its
    own: (the headline, flips and agreement; the families, examples, other evidence and what is
    missing)."""
    text = r.to_markdown()
    head, _, rest = text.partition("\n## Where")
    tail = rest.partition("\n## ")[2] if rest else text.partition("\n## ")[2]
    if not rest:
        head = text.partition("\n## ")[0]
    return head, ("## " + tail if tail else "")


NO_SAVED = ("**Saved slices.** None of this task yet: save an Errors filter (Findings tab, “Save the Errors filter as "
            "a slice”) and it is tested here as a hypothesis, apart from the automatic slices.")


def saved_md(r: WhyReport, saved: tuple[A.SavedSlice, ...], problems: list[str] = ()) -> str:
    """The report's section on the saved slices a user may see (tested apart, adjusted among
    themselves, labelled hypotheses); a line on how to save one when there is none."""
    if not saved:
        text = "" if problems else NO_SAVED
    else:
        full = r.with_saved(saved).to_markdown()
        start = full.index("\n## Saved slices")
        end = full.find("\n## ", start + 1)
        text = full[start + 1:end if end >= 0 else None].strip()
    return (text + "".join(f"\n\n⚠ {I.escape_md(p)}" for p in problems)).strip()


def share_text(share: float | None) -> str:
    """A slice's share of the whole gap, read plainly: a share outside 0-100 % means the rest of
    the examples pull the other way."""
    if share is None:
        return "not shown"
    if share < 0:
        return f"{100 * share:.0f} % (against the gap)"
    if share > 1:
        return f"{100 * share:.0f} % (the rest pulls the other way)"
    return f"{100 * share:.0f} %"


def search_md(r: WhyReport) -> str:
    t = r.tested
    if not t or not t.get("slices"):
        return "No slice was tested: too few examples."
    what = ("the per-example gap between the two (" + r.quantity + ")" if r.b
            else "A's errors (" + r.quantity + ")")
    return (f"**Where the gap lives.** {t['slices']:,} slices tested for {what}: each compares the mean inside "
            f"with the mean outside; Benjamini-Hochberg over all of them; **{t['discoveries']} at adjusted "
            f"p < {t['alpha']}**. A slice with a high adjusted p is one of many chances, not a finding. Shares of "
            "overlapping slices overlap. Click a row for its examples.")


def _signed(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:+.3f}"


def findings_table(r: WhyReport) -> pd.DataFrame:
    rows = []
    for x in r.findings:
        rows.append({"slice": x.name, "n": f"{x.n:,}" + (" (n < 100)" if x.small else ""),
                     "inside - outside (95 %)": f"{_signed(x.effect)} ({_signed(x.lo)} to {_signed(x.hi)})",
                     "adjusted p": p_value(x.p_adjusted),
                     "share of the gap": share_text(x.share),
                     "what it is": x.definition})
    return pd.DataFrame(rows, columns=["slice", "n", "inside - outside (95 %)", "adjusted p", "share of the gap",
                                       "what it is"])


def finding_at(r: WhyReport, index: object) -> int:
    k = I.whole_number(index, "finding")
    if k is None or not 0 <= k < len(r.findings):
        raise I.BadInput(f"No finding {index!r}: the report has {len(r.findings)}.")
    return k


def finding_rows(a: A.Analysis, r: WhyReport, k: int) -> tuple[pd.DataFrame, str]:
    """The examples of finding `k` (the first EXAMPLES_SHOWN), A's and B's answers beside gold;
    the last column is the example id (the example panel reads it)."""
    query = r.findings[k].query
    # a built-in slice is filtered by the query itself; any other finding travels as its ids
    where = {"slice": tuple(query["slice"])} if "slice" in query else {}
    if r.b:  # every example once, with B's answer beside A's: those they disagree on, then the others
        frame = pd.concat([A.errors(a, r.task, r.a, other=r.b, relation=relation, sort=None, **where)
                           for relation in ("disagree", "agree")], ignore_index=True)
    else:
        frame = A.errors(a, r.task, r.a, only_errors=False, sort=None, **where)
    if not where:
        frame = frame[frame["id"].astype(str).isin(set(query["ids"]))]
    pair = get_task(r.task).pair
    cols = {"sentence1": "sentence A" if pair else "sentence", "sentence2": "sentence B", "gold": "gold",
            "pred": r.a, "other_pred": r.b or "", "correct": f"{r.a} right", "other_correct": f"{r.b} right"}
    shown = frame[[c for c in cols if c in frame.columns and cols[c]]].rename(columns=cols).head(EXAMPLES_SHOWN)
    shown["id"] = frame["id"].astype(str).head(EXAMPLES_SHOWN).to_numpy()
    floats = shown.select_dtypes("floating").columns  # float32 scores read as 2.4666666984558105 otherwise
    shown[floats] = shown[floats].astype("float64").round(3)
    x = r.findings[k]
    line = (f"**{I.escape_md(x.name)}**: {len(frame):,} examples"
            f"{f', the first {EXAMPLES_SHOWN} shown' if len(frame) > EXAMPLES_SHOWN else ''}. "
            f"{I.escape_md(x.definition)}.")
    return shown.reset_index(drop=True), line


def errors_params(r: WhyReport, k: int | None) -> dict[str, str]:
    """The Errors tab's view of the pair: A's rows where B answers otherwise (A's errors alone for
    one variant), narrowed to finding `k`'s slice when it is one the Errors tab filters."""
    params = {"tab": "errors", "task": r.task, "variant": r.a}  # the kind: its default, A's errors
    if r.b:
        params |= {"other": r.b, "relation": DISAGREE}
    if k is not None and "slice" in r.findings[k].query:
        name, bucket = r.findings[k].query["slice"]
        params["slice"] = f"{name} = {bucket}"  # the Errors tab's slice choice (errors_view.slice_choices)
    return params


def errors_filters_slice(r: WhyReport, k: int) -> bool:
    """Whether the Errors tab can show finding `k` itself (one built-in slice) or only the pair."""
    return "slice" in r.findings[k].query


def slices_params(r: WhyReport, k: int | None) -> dict[str, str]:
    """The Slices tab with B as the reference and A beside it (the finding's slice when it has one)."""
    params = {"tab": "slices", "task": r.task, "reference": r.b or r.a, "variants": ",".join(v for v in (r.a, r.b) if v)}
    if k is not None and "slice" in r.findings[k].query:
        params["slice"] = r.findings[k].query["slice"][0]
    return params


def tests_params(r: WhyReport) -> dict[str, str]:
    """The Tests tab on A's cases where B answers otherwise, at the test where the two differ most
    (the report's first behavioural row); A's failing cases for one variant."""
    params = {"tab": "tests", "task": r.task, "variant": r.a}
    if r.b:
        params["other"] = r.b
        rows = r.evidence.get("behaviour") or []
        if rows:
            params["test"] = rows[0]["test"]
    return params


def write_zip(r: WhyReport, folder: str | Path | None = None, max_bytes: int | None = None) -> Path:
    """The write-up (Markdown, figures as PNG and SVG, the main table in LaTeX) as a zip in the
    export folder, the previous zip deleted first (exports run one at a time); BadInput, and no
    file, past the export limit."""
    data = export_bytes(r)
    limit = E.export_limit_bytes() if max_bytes is None else max_bytes
    if len(data) > limit:
        raise I.BadInput(f"The write-up would be {len(data) / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit.")
    folder = Path(folder) if folder else E.export_folder()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("why-*.zip"):
        old.unlink(missing_ok=True)
    path = folder / f"why-{r.task}-{r.a}{'-vs-' + r.b if r.b else ''}.zip"
    path.write_bytes(data)
    return path
