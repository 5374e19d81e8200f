"""Saved slices in the "why" report: people's own filters, tested as the automatic slices are
(inside against outside) but as a family of their own, reported apart. A slice someone chose
after looking at the data is a hypothesis, not a finding: mixing it into the automatic search
would let one look decide what the correction forgives.

    saved = saved_slices(store_rows)     # rows as the findings store lists them: name, task, query, author
    why_report(a, task, A, B, saved=saved)

The engine never opens the store: the app and the CLI read it and pass the slices in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..core import TaskData
from ..queries import ErrorQuery, example_mask
from ..uncertainty import SMALL_N, adjust_bh, slice_tests
from .search import MIN_SUPPORT

CORRECTION = "Benjamini-Hochberg within the saved slices only, apart from the automatic ones"


@dataclass(frozen=True)
class SavedSlice:
    """A named error query someone saved (analysis.queries.ErrorQuery), and who saved it."""

    name: str
    query: ErrorQuery
    author: str = ""


def saved_slices(rows: Iterable[Mapping]) -> tuple[list[SavedSlice], list[str]]:
    """SavedSlices from rows of the form the findings store lists ({name, query (its JSON text or
    dict), author}); a row whose query no longer reads is left out with a line saying why."""
    out, problems = [], []
    for row in rows:
        name = str(row.get("name", ""))
        try:
            query = row["query"]
            out.append(SavedSlice(name, ErrorQuery.from_dict(json.loads(query) if isinstance(query, str) else query),
                                  str(row.get("author") or "")))
        except (KeyError, TypeError, ValueError) as e:
            problems.append(f"saved slice {name!r}: its filter does not read ({e})")
    return out, problems


def _words(s: SavedSlice, filters: dict) -> str:
    q = filters
    parts = []
    if "search" in q:
        parts.append(f"text contains “{q['search']}”")
    if "min_words" in q or "max_words" in q:
        parts.append(f"{q.get('min_words', 0)} to {q.get('max_words', '∞')} words")
    if "slice" in q:
        parts.append(f"{q['slice'][0]} = {q['slice'][1]}")
    if "word" in q:
        parts.append(f"the word “{q['word']}”")
    if "regex" in q:
        parts.append(f"matches /{q['regex']}/")
    if "feature" in q:
        parts.append(f"{q['feature'][0]}: {q['feature'][1]}")
    text = " and ".join(parts)
    left = s.query.by_answers()
    if left:
        text += f" (left out: {', '.join(left)}; the gap is made of the answers, so they are no slice of it)"
    return text + (f"; saved by {s.author}" if s.author else "")


def saved_family(td: TaskData, rows: np.ndarray, d: np.ndarray, saved: Sequence[SavedSlice],
                 names: tuple[str, ...], share: Callable[[float], float | None],
                 inside: Callable[[int | None, np.ndarray], float | None], ia: int, ib: int | None,
                 alpha: float = 0.05) -> tuple[list[dict], dict]:
    """Each saved slice of this task: its examples (the query's text, length and slice parts; the
    parts that select by answers are left out and said so) tested inside against outside on `d`;
    Benjamini-Hochberg over the ones tested. Returns (one dict of `Finding`'s fields each, by
    adjusted p; what was tested and what not, and why)."""
    mine = [s for s in saved if s.query.task == td.task]
    tested, masks, untested = [], [], []
    for s in mine:
        filters = s.query.example_filters()
        if not filters:
            untested.append({"name": s.name, "why": "it has no text, length, feature or slice part of its own; it "
                             f"picks rows by {', '.join(s.query.by_answers()) or 'nothing'}, which is no example "
                             "filter (a variant's answers make the gap itself)"})
            continue
        try:
            mask = example_mask(td, **filters)[rows]
        except (KeyError, ValueError) as e:  # ValueError: a regular expression past its time budget
            untested.append({"name": s.name, "why": str(e.args[0])})
            continue
        n = int(mask.sum())
        if n < MIN_SUPPORT or len(mask) - n < MIN_SUPPORT:
            untested.append({"name": s.name, "why": f"{n:,} examples inside and {len(mask) - n:,} outside; the "
                             f"search's minimum is {MIN_SUPPORT} on each side"})
            continue
        tested.append((s, filters))
        masks.append(mask)
    out = []
    if tested:
        st = slice_tests(d, np.stack(masks, axis=1))
        adjusted = adjust_bh(st["p"])
        for k, ((s, filters), mask) in enumerate(zip(tested, masks)):
            n = int(st["n"][k])
            two = len(names) == 2
            # the rows travel as the query's own filters (the Errors tab runs them), not as ids
            query = {"task": td.task, "variant": names[0], "saved": s.name,
                     "error_query": ErrorQuery(td.task, variant=names[0], kind="all" if two else "wrong",
                                               other=names[1] if two else None, **filters).to_dict()}
            if two:
                query["other"] = names[1]
            out.append({"name": s.name, "definition": _words(s, filters), "n": n, "small": n < SMALL_N,
                        "effect": float(st["effect"][k]), "lo": float(st["lo"][k]), "hi": float(st["hi"][k]),
                        "mean_in": float(st["mean_in"][k]), "mean_out": float(st["mean_out"][k]),
                        "p": float(st["p"][k]), "p_adjusted": float(adjusted[k]),
                        "share": share(float(st["mean_in"][k]) * n), "query": query,
                        "a_inside": inside(ia, mask), "b_inside": inside(ib, mask)})
    out.sort(key=lambda h: (h["p_adjusted"], h["p"], h["name"]))
    info = {"saved": len(mine), "tested": len(tested), "untested": untested, "correction": CORRECTION,
            "min_support": MIN_SUPPORT, "alpha": alpha,
            "discoveries": sum(h["p_adjusted"] < alpha for h in out)}
    return out, info
