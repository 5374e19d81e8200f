"""Which heads to believe: one rule, shared by Compare's verdict, the Models cards and the
label-error evidence.

A head is *muted* for a task when on dev it does no better than a trivial baseline:

- SST and Quora: the accuracy of always answering the dev set's majority class (SST dev: 289 of
  1,101 are "negative", 0.262; Quora dev: 12,627 of 20,212 are "not duplicate", 0.625);
- STS: a Pearson correlation below `STS_MIN_PEARSON` (0.3), i.e. a score that tracks the gold
  similarity too weakly to read (multitask-cls's STS head, 0.057, never learned; sst-only's,
  0.200, was never trained).

    reason = muted_reason("sts", {"pearson": 0.057, ...})   # str, or None when the head is trusted
    muted = muted_heads(summary)                             # {variant: {task: reason}}
"""

from __future__ import annotations

import math

from minibert.tasks import task as get_task

STS_MIN_PEARSON = 0.3


def majority_rate(confusion: list[list[int]]) -> float:
    """The accuracy of always answering the most frequent gold class (rows of `confusion` are gold)."""
    counts = [sum(row) for row in confusion]
    total = sum(counts)
    return max(counts) / total if total else math.nan


def muted_reason(task: str, scalars: dict) -> str | None:
    """Why this head should not be believed on `task`, or None when it beats the trivial baseline.
    `scalars` is a variant's per-task entry of summary.json (the metric, and for the classifiers
    the dev confusion matrix the majority class is read from). A head whose metric is missing is
    not muted: there is nothing to judge it by, which the caller shows as no metric."""
    t = get_task(task)
    value = scalars.get(t.metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if t.regression:
        if value < STS_MIN_PEARSON:
            return f"dev Pearson {value:.3f} is below {STS_MIN_PEARSON}: this head barely tracks similarity"
        return None
    confusion = scalars.get("confusion")
    if not confusion:
        return None
    base = majority_rate(confusion)
    if value <= base:
        majority = t.classes[max(range(len(confusion)), key=lambda c: sum(confusion[c]))]
        return (f"dev accuracy {value:.3f} is no better than always answering \"{majority}\" "
                f"({base:.3f})")
    return None


def muted_heads(summary: dict | None) -> dict[str, dict[str, str]]:
    """{variant: {task: reason}} for every muted head in a summary.json dict (empty without one)."""
    out: dict[str, dict[str, str]] = {}
    for variant, item in ((summary or {}).get("variants") or {}).items():
        for task, scalars in (item.get("tasks") or {}).items():
            reason = muted_reason(task, scalars)
            if reason:
                out.setdefault(variant, {})[task] = reason
    return out
