"""Metrics of a loaded `Analysis`, per variant and task (formulas in `minibert.metrics`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from minibert import metrics as F
from minibert.tasks import task as get_task

from .core import Analysis, TaskData
from .schema import QUORA_NOTE, QUORA_THRESHOLD, SCORE_COLUMNS, SST_CLASSES, check_task
from .uncertainty import NOTE, summary_intervals


def sts_bin(score: np.ndarray) -> np.ndarray:
    """An STS score rounded to the nearest integer, halves up (2.5 -> 3): the confusion cells."""
    return np.clip(np.floor(np.asarray(score, dtype=np.float64) + 0.5), 0, 5).astype(np.int64)


def _rows(td: TaskData, variant: str) -> slice:
    return td.rows(variant)


def _quora_pred(td: TaskData, rows: slice, threshold: float) -> np.ndarray:
    if threshold == QUORA_THRESHOLD:
        return td.cols["pred"][rows].astype(np.int64)
    return (td.cols["prob"][rows] >= threshold).astype(np.int64)


def confusion(a: Analysis, task: str, variant: str, threshold: float = QUORA_THRESHOLD) -> pd.DataFrame:
    """Counts, gold classes as rows and predictions as columns (ints, so a clicked cell is
    (row label, column label)). SST 5x5; Quora 2x2 at `threshold`; STS 6x6 of scores rounded
    to the nearest integer, halves up (`sts_bin`)."""
    td = a.task(task)
    rows = _rows(td, variant)
    gold = td.cols["gold"][rows]
    if get_task(task).multiclass:
        n, g, p = 5, gold.astype(np.int64), td.cols["pred"][rows].astype(np.int64)
    elif get_task(task).binary:
        n, g, p = 2, gold.astype(np.int64), _quora_pred(td, rows, threshold)
    else:
        n, g, p = 6, sts_bin(gold), sts_bin(td.cols["pred"][rows])
    cm = F.confusion_matrix(g, p, n)
    return pd.DataFrame(cm, index=pd.Index(range(n), name="gold"), columns=pd.Index(range(n), name="pred"))


def per_class(a: Analysis, variant: str) -> pd.DataFrame:
    """SST precision, recall, F1 and support per class."""
    cm = confusion(a, "sst", variant).to_numpy()
    pc = F.per_class(cm)
    return pd.DataFrame({"class": range(5), "name": SST_CLASSES, **pc})


def calibration(a: Analysis, task: str, variant: str, n_bins: int = 10, threshold: float = QUORA_THRESHOLD,
                ) -> tuple[float, pd.DataFrame]:
    """(ECE, reliability bins) of the confidence in the predicted class (SST, Quora)."""
    if get_task(task).regression:
        raise ValueError(f"calibration is for the classifiers (sst, quora), not {task!r}")
    td = a.task(task)
    rows = _rows(td, variant)
    if variant in td.hard_labels:
        raise ValueError(f"{variant} has hard {task} labels only (imported without probabilities): "
                         "there is no confidence to calibrate")
    if get_task(task).multiclass:
        conf, correct = td.cols["conf"][rows], td.cols["correct"][rows]
    else:
        prob = td.cols["prob"][rows].astype(np.float64)
        pred = prob >= threshold
        conf, correct = np.where(pred, prob, 1 - prob), pred == td.cols["gold"][rows].astype(bool)
    ece, bins = F.reliability(conf, correct, n_bins)
    return ece, pd.DataFrame(bins)


def residuals(a: Analysis, variant: str) -> pd.DataFrame:
    """STS: id, gold, pred and residual = pred - gold, one row per example."""
    td = a.task("sts")
    frame = td.frame.iloc[_rows(td, variant)]
    return pd.DataFrame(
        {"id": frame["id"].to_numpy(), "gold": frame["gold"].to_numpy(), "pred": frame["pred"].to_numpy(),
         "residual": frame["error"].to_numpy()}
    )


def _scalars(td: TaskData, variant: str, threshold: float) -> dict:
    rows = _rows(td, variant)
    gold = td.cols["gold"][rows]
    hard = variant in td.hard_labels  # hard labels rank nothing and carry no confidence
    if get_task(td.task).multiclass:
        out = F.sst_scalars(gold, td.cols["pred"][rows], None if hard else td.cols["conf"][rows])
    elif get_task(td.task).binary:
        out = F.quora_scalars(gold, td.cols["prob"][rows], threshold)
    else:
        return F.sts_scalars(gold, td.cols["pred"][rows])
    if hard:
        out["ece"] = math.nan
        if "roc_auc" in out:
            out["roc_auc"] = math.nan
    return out


def metrics(a: Analysis, task: str, variant: str, threshold: float = QUORA_THRESHOLD) -> dict:
    """Every metric of one variant on one task: the scalars of `metrics_table`, plus
    "confusion" (DataFrame), and "per_class" (SST), "reliability" (SST, Quora: bins DataFrame),
    "residuals" (STS)."""
    td = a.task(task)
    out = _scalars(td, variant, threshold)
    out["confusion"] = confusion(a, task, variant, threshold)
    if get_task(task).multiclass:
        out["per_class"] = per_class(a, variant)
    if not get_task(task).regression and variant not in td.hard_labels:
        out["reliability"] = calibration(a, task, variant, threshold=threshold)[1]
    else:
        out["residuals"] = residuals(a, variant)
    if get_task(task).binary:
        out["note"] = QUORA_NOTE
    return out


def metrics_table(a: Analysis, task: str, threshold: float = QUORA_THRESHOLD) -> pd.DataFrame:
    """One row per variant (index), one column per scalar metric.
    SST: n, accuracy, macro_f1, off_by_one_accuracy, ece. Quora (at `threshold`): n, accuracy,
    precision, recall, f1, roc_auc, tn, fp, fn, tp, ece, threshold. STS: n, pearson, spearman, mse."""
    td = a.task(check_task(task))
    frame = pd.DataFrame.from_records([_scalars(td, v, threshold) for v in td.variants], index=td.variants)
    frame.index.name = "variant"
    return frame


def overall(a: Analysis) -> pd.DataFrame:
    """Per variant: SST accuracy, Quora accuracy, STS Pearson and the CS224N overall score
    (SST acc + Quora acc + (Pearson + 1) / 2) / 3; NaN where a task is missing."""
    parts = {}
    for task, column, metric in (("sst", "sst_accuracy", "accuracy"), ("quora", "quora_accuracy", "accuracy"),
                                 ("sts", "sts_pearson", "pearson")):
        if a.has(task):
            parts[column] = metrics_table(a, task)[metric]
        else:
            parts[column] = pd.Series(dtype=float)
    frame = pd.DataFrame(parts).reindex(a.variants())
    frame["overall"] = [
        F.overall_score(s, q, p) if not any(math.isnan(x) for x in (s, q, p)) else math.nan
        for s, q, p in zip(frame["sst_accuracy"], frame["quora_accuracy"], frame["sts_pearson"])
    ]
    frame.index.name = "variant"
    return frame


def summarize(a: Analysis, training: dict[str, dict] | None = None) -> dict:
    """The numbers-only summary written to summary.json (per variant: per-task scalars and
    confusion matrices, overall score, checkpoint, training info)."""
    training = training or {}
    table_of = {}
    for entry in a.manifest.get("tables", {}).values():
        table_of.setdefault(entry.get("variant"), {})[entry.get("task")] = entry.get("checkpoint")
    scores = overall(a)
    ci = summary_intervals(a.intervals.table) if a.intervals is not None else {}
    variants = {}
    for variant in a.variants():
        item: dict = {"tasks": {}, "overall": scores.loc[variant, "overall"]}
        if "overall" in ci.get(variant, {}):
            item["overall_ci"] = ci[variant]["overall"]["overall"]
        for task in a.tasks:
            if variant in a.task(task).variants:
                scalars = _scalars(a.task(task), variant, QUORA_THRESHOLD)
                scalars["confusion"] = confusion(a, task, variant).to_numpy().tolist()
                if task in ci.get(variant, {}):
                    scalars["ci"] = ci[variant][task]
                item["tasks"][task] = scalars
        checkpoints = {c.get("hash") for c in table_of.get(variant, {}).values() if c}
        item["checkpoint"] = next(iter(table_of.get(variant, {}).values()), None) if len(checkpoints) == 1 else None
        item["training"] = training.get(variant, {})
        variants[variant] = item
    return {
        "variants": variants,
        "notes": {"quora": QUORA_NOTE, "overall": "(SST accuracy + Quora accuracy + (STS Pearson + 1) / 2) / 3",
                  "sts_confusion": "rows gold, columns prediction, both rounded to the nearest integer, halves up",
                  "ci": NOTE},
        "score_columns": {k: list(v) for k, v in SCORE_COLUMNS.items()},
    }
