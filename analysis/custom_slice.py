"""A slice given by a set of examples (a saved slice: the examples a stored error query lists),
shown as the registry's slices are: the analysis seen with one more slice of two buckets, and
that slice's intervals bootstrapped when it is asked for (the build computes the registry's only).

    b = with_slice(a, "sst", "my slice", member)      # member: one bool per dev example
    slice_metrics(b, "sst", "my slice"); b.intervals.value("sst", "accuracy", v, "my slice", IN, n)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from .core import Analysis
from .uncertainty import N_RESAMPLES, Intervals, bucket_intervals

IN, OUT = "in the slice", "outside it"


def with_slice(a: Analysis, task: str, name: str, member: np.ndarray, variants: Sequence[str] | None = None,
               metrics: Sequence[str] | None = None, n_resamples: int = N_RESAMPLES) -> Analysis:
    """`a` with slice `name` added to `task` (buckets IN and OUT) and its intervals for `variants`
    and `metrics` (default: all of each; a view asks for what it shows, as a bootstrap of Quora's
    ROC AUC over 20,000 examples takes seconds). `a` itself is unchanged; the copy shares its tables."""
    td = a.task(task)
    member = np.asarray(member, dtype=bool)
    if member.shape != (len(td.examples),):
        raise ValueError(f"a slice of {task} marks each of its {len(td.examples):,} examples, not {member.shape}")
    if name in td.slices:
        raise ValueError(f"{task} has a slice named {name!r} already")
    labels = pd.Series(pd.Categorical(np.where(member, IN, OUT), categories=[IN, OUT]), name=name)
    sliced = replace(td, slices={**td.slices, name: labels})
    rows = bucket_intervals(sliced, name, labels, list(variants) if variants else None, n_resamples,
                            metrics=list(metrics) if metrics else None)
    intervals = a.intervals.extended(rows) if a.intervals is not None else Intervals(rows)
    return replace(a, tasks={**a.tasks, task: sliced}, intervals=intervals)
