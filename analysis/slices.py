"""Slices of a dev set, all defined here, and per-slice metrics for every variant.

A slice maps every example to one bucket label (or to NaN: in no bucket). To add one, write a
function of `TaskData` returning one label per example and decorate it:

    @register("question_mark", tasks=("quora",), doc="a question mark in both sentences")
    def _question_mark(td):
        both = td.examples["sentence1"].str.contains("?", regex=False) & ...
        return np.where(both, "both", "not both")

Labels are computed once at load time (`TaskData.slices`); bucket order is the order of first
appearance in `order` when given, else sorted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from minibert import metrics as F
from minibert.tasks import task as get_task

from .core import Analysis, TaskData
from .schema import PAIR_TASKS, QUORA_CLASSES, SST_CLASSES, STS_TOLERANCE, TASKS, check_task


@dataclass(frozen=True)
class Slice:
    name: str
    tasks: tuple[str, ...]
    doc: str
    labels: Callable[[TaskData], Sequence]
    order: tuple[str, ...] | None = None
    # its labels read the variants' predictions (not only the examples): one more variant changes them
    predictions: bool = False


SLICES: dict[str, Slice] = {}


def register(name: str, tasks: Sequence[str] = TASKS, doc: str = "", order: Sequence[str] | None = None,
             predictions: bool = False) -> Callable[[Callable[[TaskData], Sequence]], Callable[[TaskData], Sequence]]:
    def decorate(fn: Callable[[TaskData], Sequence]) -> Callable[[TaskData], Sequence]:
        SLICES[name] = Slice(name, tuple(tasks), doc, fn, tuple(order) if order else None, predictions)
        return fn

    return decorate


def slice_names(task: str) -> list[str]:
    return [s.name for s in SLICES.values() if check_task(task) in s.tasks]


def compute_all(td: TaskData, same_examples: Mapping[str, pd.Series] | None = None) -> dict[str, pd.Series]:
    """Every slice's labels for `td`; `same_examples`: the slices of a TaskData with the same
    examples, whose labels are reused for the slices that read only the examples."""
    out = {}
    for s in SLICES.values():
        if td.task not in s.tasks:
            continue
        if same_examples is not None and not s.predictions and s.name in same_examples:
            out[s.name] = same_examples[s.name]
            continue
        values = pd.Series(np.asarray(s.labels(td), dtype=object))
        present = [v for v in pd.unique(values) if isinstance(v, str)]
        preferred = list(dict.fromkeys(v for v in (s.order or ()) if v in present))
        order = preferred + sorted(v for v in present if v not in preferred)
        out[s.name] = pd.Series(pd.Categorical(values, categories=order))
    return out


def _cut(values: np.ndarray, edges: Sequence[float], labels: Sequence[str], right: bool = True) -> np.ndarray:
    edges = list(edges)
    if not right:  # [lo, hi) buckets: let the last one hold its upper edge too
        edges[-1] = math.inf
    codes = pd.cut(values, bins=edges, labels=False, right=right, include_lowest=True)
    labels_arr = np.asarray(list(labels), dtype=object)
    out = np.full(len(values), None, dtype=object)
    ok = ~np.isnan(codes)
    out[ok] = labels_arr[codes[ok].astype(int)]
    return out


# --- the slices -----------------------------------------------------------------------------

SST_LENGTH = ((0, 10, 20, 30, math.inf), ("1-10 words", "11-20 words", "21-30 words", "31+ words"))
PAIR_LENGTH = ((0, 15, 20, 30, math.inf), ("1-15 words", "16-20 words", "21-30 words", "31+ words"))
OVERLAP = ((0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
           ("overlap 0-0.2", "overlap 0.2-0.4", "overlap 0.4-0.6", "overlap 0.6-0.8", "overlap 0.8-1"))
STS_GOLD = ((0.0, 1.0, 2.0, 3.0, 4.0, 5.0), ("gold 0-1", "gold 1-2", "gold 2-3", "gold 3-4", "gold 4-5"))


@register("length", doc="words in the sentence (SST) or in both sentences (pairs)",
          # Both tasks' buckets in one list, by lower bound: each task shows its own, in length order.
          order=sorted(set(SST_LENGTH[1] + PAIR_LENGTH[1]), key=lambda label: int(re.match(r"\d+", label).group())))
def _length(td: TaskData):
    edges, labels = PAIR_LENGTH if get_task(td.task).pair else SST_LENGTH
    return _cut(td.examples["words"].to_numpy(np.float64), edges, labels)


@register("negation", doc="a negation word (not, no, never, n't, ...) in either sentence",
          order=("negation", "no negation"))
def _negation(td: TaskData):
    return np.where(td.examples["negation"].to_numpy(), "negation", "no negation")


@register("overlap", tasks=PAIR_TASKS, doc="Jaccard overlap of the two sentences' lowercase words",
          order=OVERLAP[1])
def _overlap(td: TaskData):
    return _cut(td.examples["overlap"].to_numpy(np.float64), *OVERLAP, right=False)


@register("gold", doc="the gold label: SST class, Quora duplicate or not, STS score in unit buckets",
          order=tuple(f"{i} {c}" for i, c in enumerate(SST_CLASSES)) + QUORA_CLASSES + STS_GOLD[1])
def _gold(td: TaskData):
    gold = td.examples["gold"].to_numpy()
    if get_task(td.task).multiclass:
        return np.asarray([f"{i} {c}" for i, c in enumerate(SST_CLASSES)], dtype=object)[gold.astype(int)]
    if get_task(td.task).binary:
        return np.asarray(QUORA_CLASSES, dtype=object)[gold.astype(int)]
    return _cut(gold.astype(np.float64), *STS_GOLD, right=False)


@register("all_wrong", doc=f"wrong for every variant that predicts it (STS: |error| > {STS_TOLERANCE})",
          order=("wrong for every variant", "right for some variant"), predictions=True)
def _all_wrong(td: TaskData):
    wrong_all = ~(td.correct & td.present).any(axis=1) & td.present.any(axis=1)
    return np.where(wrong_all, "wrong for every variant", "right for some variant")


@register("agreement", doc=f"whether the variants' predictions differ (STS: spread > {STS_TOLERANCE})",
          order=("variants disagree", "variants agree"), predictions=True)
def _agreement(td: TaskData):
    with np.errstate(invalid="ignore"):
        high = np.nanmax(np.where(td.present, td.pred, -np.inf), axis=1)
        low = np.nanmin(np.where(td.present, td.pred, np.inf), axis=1)
    spread = high - low
    disagree = spread > (STS_TOLERANCE if get_task(td.task).regression else 0)
    return np.where(disagree, "variants disagree", "variants agree")


# --- metrics per slice ----------------------------------------------------------------------


def _subset_metrics(task: str, cols: dict, rows: np.ndarray, threshold: float) -> dict:
    gold = cols["gold"][rows]
    if get_task(task).multiclass:
        return F.sst_scalars(gold, cols["pred"][rows])
    if get_task(task).binary:
        out = F.binary(gold, cols["prob"][rows], threshold)
        return {k: out[k] for k in ("n", "accuracy", "precision", "recall", "f1", "roc_auc")}
    return F.sts_scalars(gold, cols["pred"][rows])


def slice_labels(a: Analysis, task: str, name: str) -> pd.Series:
    td = a.task(task)
    if name not in td.slices:
        raise KeyError(f"no slice {name!r} for {task}; have: {', '.join(td.slices)}")
    return td.slices[name]


def slice_metrics(
    a: Analysis, task: str, name: str, variants: Sequence[str] | None = None, threshold: float = 0.5
) -> pd.DataFrame:
    """Metrics of every variant on every bucket of slice `name`, plus the bucket "(all)".

    One row per (bucket, variant): columns slice, bucket, variant, n, then the task's metrics
    (SST accuracy, macro_f1, off_by_one_accuracy; Quora accuracy, precision, recall, f1, roc_auc
    at `threshold`; STS pearson, spearman, mse).
    """
    td = a.task(task)
    labels = slice_labels(a, task, name)
    codes = labels.cat.codes.to_numpy()
    buckets = list(labels.cat.categories)
    records = []
    for variant in variants or td.variants:
        rows = np.arange(*td.ranges[td.variants[td.variant_index(variant)]])
        row_codes = codes[td.cols["ex"][rows]]
        records.append({"slice": name, "bucket": "(all)", "variant": variant,
                        **_subset_metrics(task, td.cols, rows, threshold)})
        for code, bucket in enumerate(buckets):
            records.append({"slice": name, "bucket": bucket, "variant": variant,
                            **_subset_metrics(task, td.cols, rows[row_codes == code], threshold)})
    out = pd.DataFrame.from_records(records)
    if "roc_auc" in out and td.hard_labels:  # hard labels (an import without probabilities) rank nothing
        out.loc[out["variant"].isin(td.hard_labels), "roc_auc"] = np.nan
    out["bucket"] = pd.Categorical(out["bucket"], categories=["(all)", *buckets])
    return out.sort_values(["bucket", "variant"], kind="stable").reset_index(drop=True)
