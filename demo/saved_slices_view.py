"""Saved slices in the app (issue 31, criterion 4): a saved slice as a picker's choice beside the
built-in slices (in Errors a filter, in Slices a slice whose intervals are computed when chosen).

A choice's value is the saved slice itself (its name, author and error query, as JSON), not a row
id: a view then needs no database to replay it, a shared link carries it, and a value sent by hand
is only another filter of the public dev set, checked like any other (`decode`)."""
from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, fields

import numpy as np

import analysis as A
from findings import FindingsError, Store, Writer, visible_slices

from . import slices_view as S
from .inputs import BadInput, escape_md

MAX_VALUE = 8000          # characters of a choice's value (the stored query is capped at 4,000)
MAX_VIEWS = 16            # saved-slice views kept, shared by every user (a class opens the same ones)
# the query's fields a description leaves out: the task (said beside it) and any at its default
_QUIET = {"task": None, **{f.name: f.default for f in fields(A.ErrorQuery) if f.name != "task"}}


@dataclass(frozen=True)
class Chosen:
    """A saved slice picked in Errors or Slices."""
    name: str
    author: str
    query: A.ErrorQuery

    @property
    def title(self) -> str:
        return f"★ {self.name}"


def label(name: str, author: str) -> str:
    """How a picker names a saved slice: marked, with its author (two users may use one name)."""
    return f"★ {name} · {author}"


def label_of(chosen: Chosen) -> str:
    return label(chosen.name, chosen.author)


def encode(s: A.SavedSlice) -> str:
    return json.dumps({"saved": s.name, "by": s.author, "query": s.query.to_dict()}, sort_keys=True,
                      ensure_ascii=False)


def is_saved(value: object) -> bool:
    return isinstance(value, str) and value.lstrip().startswith("{")


def decode(value: object, task: str) -> Chosen:
    """The saved slice a choice's value holds, checked; BadInput saying what is wrong."""
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise BadInput("That saved slice cannot be read (too long or not text).")
    try:
        data = json.loads(value)
        name, author, query = data["saved"], data["by"], data["query"]
        if not (isinstance(name, str) and isinstance(author, str) and isinstance(query, dict)):
            raise TypeError("a field has the wrong type")
        q = A.ErrorQuery.from_dict(query)
    except (ValueError, KeyError, TypeError) as e:
        raise BadInput(f"That saved slice cannot be used: {escape_md(e)}") from None
    if q.task != task:
        raise BadInput(f"The saved slice “{escape_md(name)}” is of {q.task}, not {task}.")
    return Chosen(name[:80], author[:64], q)


def from_link(value: object, task: str, said: list[str]) -> tuple[str, str] | None:
    """(label, value) of the saved slice a link carries whole in its slice field; None when the
    field holds no saved slice, or one that cannot be used (then `said` tells why)."""
    if not is_saved(value):
        return None
    try:
        return label_of(decode(value, task)), value
    except BadInput as e:
        said.append(str(e))
        return None


def choices(store: Store | None, reader: Writer | None, task: str) -> list[tuple[str, str]]:
    """(label, value) of every saved slice of `task` the reader may see; none when the store cannot
    be read (the page's status line says why)."""
    try:
        found, _ = A.saved_slices(visible_slices(store, reader, task))  # one that no longer reads is left out
    except FindingsError:
        return []
    return [(label(s.name, s.author), encode(s)) for s in found]


def describe(query: dict) -> str:
    """The filter in words of its fields ("variant=pcgrad, regex=\\bnot\\b"), those that filter."""
    parts = []
    for k, v in query.items():
        if k == "task" or (k in _QUIET and v == _QUIET[k]) or v in (None, "", []):
            continue
        if k == "within" and isinstance(v, dict):
            v = f"({describe(v)})"
        parts.append(f"{k}={v}")
    return ", ".join(parts) or "every example"


def members(a: A.Analysis, task: str, query: A.ErrorQuery) -> np.ndarray:
    """One bool per dev example of `task`: whether the query lists it (a row of any variant)."""
    ids = A.errors(a, query, sort=None)["id"].unique()
    return a.task(task).examples["id"].isin(ids).to_numpy()


# (analysis id, the view's inputs) -> (a weak reference to the analysis, the view); the most
# recently used last. The bootstrap behind a view takes seconds on Quora's 20,000 pairs.
_VIEWS: OrderedDict[tuple, tuple] = OrderedDict()
_VIEWS_LOCK = threading.Lock()


def slice_view(a: A.Analysis, task: str, chosen: Chosen, reference: str, metric: str,
               variants: list[str] | None = None) -> tuple:
    """The Slices tab's (table, figure, description) for a saved slice: its examples against the
    rest, every shown variant's metric with its 95 % interval, bootstrapped when first asked
    (then kept: the MAX_VIEWS most recent views)."""
    shown = tuple(variants or S.default_variants(a, task, reference))
    key = (id(a), task, json.dumps(chosen.query.to_dict(), sort_keys=True), chosen.name, chosen.author, reference,
           metric, shown)
    with _VIEWS_LOCK:
        hit = _VIEWS.get(key)
        if hit is not None and hit[0]() is a:
            _VIEWS.move_to_end(key)
            return hit[1]
    view = _computed_view(a, task, chosen, reference, metric, list(shown))
    with _VIEWS_LOCK:
        _VIEWS[key] = (weakref.ref(a), view)
        while len(_VIEWS) > MAX_VIEWS:
            _VIEWS.popitem(last=False)
    return view


def _computed_view(a: A.Analysis, task: str, chosen: Chosen, reference: str, metric: str, shown: list[str]) -> tuple:
    try:
        member = members(a, task, chosen.query)
    except (KeyError, ValueError) as e:
        raise BadInput(f"The saved slice “{escape_md(chosen.name)}” cannot be computed: "
                       f"{escape_md(e.args[0] if e.args else e)}") from None
    if not member.any():
        raise BadInput(f"The saved slice “{escape_md(chosen.name)}” holds no {task} dev example.")
    sliced = A.with_slice(a, task, chosen.title, member, variants=shown, metrics=[metric])
    about = (f"saved by {escape_md(chosen.author)}: {escape_md(describe(chosen.query.to_dict()))}; "
             f"{int(member.sum()):,} of {len(member):,} examples. Its intervals are bootstrapped when it is "
             "chosen (the built-in slices' come from the build)")
    table, fig, doc = S.slice_view(sliced, task, chosen.title, reference, metric, shown, about=about)
    if chosen.query.by_predictions():
        doc += ("\n\n⚠ This slice is chosen by predictions (an error kind, a confusion cell or a comparison), "
                "not by the examples alone: the variants it names do worse (or better) on it by construction, so "
                "compare the others.")
    return table, fig, doc
