"""Every metric formula, on plain numpy arrays: the CS224N dev metrics (SST accuracy, Quora
accuracy, STS Pearson, the overall score) and the analysis' finer ones. Training, the analysis
tables and the app all read them from here; numpy only, so `analysis` imports it without torch.

Conventions: arguments are (gold, pred), as in scikit-learn. A ratio whose denominator is 0
(precision of a class never predicted, ...) is 0.0; a quantity that is undefined for the input
(ROC-AUC with one class present, Pearson of a constant, anything on 0 examples) is NaN, and a
caller that needs a number decides what NaN stands for. Inputs of different lengths raise.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def _ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _same_length(gold: np.ndarray, pred: np.ndarray) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"gold and pred differ in length ({len(gold)} and {len(pred)})")


def accuracy(gold: ArrayLike, pred: ArrayLike) -> float:
    gold, pred = np.asarray(gold), np.asarray(pred)
    _same_length(gold, pred)
    return float(np.mean(gold == pred)) if len(gold) else math.nan


def confusion_matrix(gold: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts with gold classes as rows and predicted classes as columns."""
    gold = np.asarray(gold, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    if len(gold) and (gold.min() < 0 or pred.min() < 0 or gold.max() >= n_classes or pred.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}")
    flat = np.bincount(gold * n_classes + pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support of every class from a confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    precision = _ratio(tp, cm.sum(axis=0))
    recall = _ratio(tp, cm.sum(axis=1))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": cm.sum(axis=1).astype(np.int64)}


def macro_f1(cm: np.ndarray) -> float:
    return float(np.mean(per_class(cm)["f1"]))


def off_by_one_accuracy(gold: np.ndarray, pred: np.ndarray) -> float:
    gold, pred = np.asarray(gold, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    return float(np.mean(np.abs(pred - gold) <= 1)) if len(gold) else math.nan


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of the ranks they span."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # boundaries of runs of equal values
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], n]
    run_rank = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.repeat(run_rank, ends - starts)
    return ranks


def roc_auc(gold: np.ndarray, score: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counting one half."""
    gold = np.asarray(gold).astype(bool)
    n_pos = int(gold.sum())
    n_neg = len(gold) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = average_ranks(score)
    return float((ranks[gold].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def binary(gold: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision, recall, F1, ROC-AUC and the 2x2 counts at `threshold` (pred = prob >= t)."""
    gold = np.asarray(gold).astype(bool)
    pred = np.asarray(prob) >= threshold
    tp = int(np.sum(gold & pred))
    fp = int(np.sum(~gold & pred))
    fn = int(np.sum(gold & ~pred))
    tn = int(np.sum(~gold & ~pred))
    precision = float(_ratio(tp, tp + fp))
    recall = float(_ratio(tp, tp + fn))
    return {
        "n": len(gold),
        "accuracy": (tp + tn) / len(gold) if len(gold) else math.nan,
        "precision": precision,
        "recall": recall,
        "f1": float(_ratio(2 * precision * recall, precision + recall)),
        "roc_auc": roc_auc(gold, prob),
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
    }


def pearson(gold: ArrayLike, pred: ArrayLike) -> float:
    """Pearson's r; NaN when it is undefined (fewer than 2 points, or a constant side)."""
    x = np.asarray(gold, dtype=np.float64)
    y = np.asarray(pred, dtype=np.float64)
    _same_length(x, y)
    if len(x) < 2:
        return math.nan
    dx, dy = x - x.mean(), y - y.mean()
    den = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return float(dx @ dy) / den if den > 0 else math.nan


def spearman(gold: ArrayLike, pred: ArrayLike) -> float:
    return pearson(average_ranks(gold), average_ranks(pred))


def mse(gold: np.ndarray, pred: np.ndarray) -> float:
    gold, pred = np.asarray(gold, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    return float(np.mean((pred - gold) ** 2)) if len(gold) else math.nan


def reliability(conf: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> tuple[float, dict[str, np.ndarray]]:
    """Expected calibration error and its reliability bins (columns of equal length).

    Bins split [0, 1] into `n_bins` equal parts, each [lo, hi) except the last, [lo, 1].
    ECE = sum over bins of (n_bin / n) * |accuracy_bin - mean_confidence_bin|.
    """
    conf = np.asarray(conf, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    index = np.clip((conf * n_bins).astype(np.int64), 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    conf_sum = np.bincount(index, weights=conf, minlength=n_bins)
    right_sum = np.bincount(index, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, conf_sum / np.maximum(count, 1), np.nan)
        acc = np.where(count > 0, right_sum / np.maximum(count, 1), np.nan)
    gap = np.abs(acc - mean_conf)
    n = len(conf)
    ece = float(np.nansum(count / n * gap)) if n else math.nan
    edges = np.arange(n_bins + 1) / n_bins
    bins = {"lo": edges[:-1], "hi": edges[1:], "n": count, "confidence": mean_conf, "accuracy": acc, "gap": gap}
    return ece, bins


def overall_score(sst_accuracy: float, quora_accuracy: float, sts_pearson: float) -> float:
    """The CS224N overall dev score: (SST acc + Quora acc + (STS Pearson + 1) / 2) / 3, STS
    Pearson mapped from [-1, 1] to [0, 1] first. NaN when any part is NaN."""
    return (sst_accuracy + quora_accuracy + (sts_pearson + 1.0) / 2.0) / 3.0


# --- per-task bundles of scalars -------------------------------------------------------------


def sst_scalars(gold: np.ndarray, pred: np.ndarray, conf: np.ndarray | None = None) -> dict[str, float]:
    cm = confusion_matrix(gold, pred, 5)
    out = {
        "n": int(len(gold)),
        "accuracy": accuracy(gold, pred),
        "macro_f1": macro_f1(cm),
        "off_by_one_accuracy": off_by_one_accuracy(gold, pred),
    }
    if conf is not None:
        out["ece"] = reliability(conf, np.asarray(gold) == np.asarray(pred))[0]
    return out


def quora_scalars(gold: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    out = binary(gold, prob, threshold)
    prob = np.asarray(prob, dtype=np.float64)
    pred = prob >= threshold
    conf = np.where(pred, prob, 1.0 - prob)
    out["ece"] = reliability(conf, pred == np.asarray(gold).astype(bool))[0]
    out["threshold"] = float(threshold)
    return out


def sts_scalars(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "n": int(len(gold)),
        "pearson": pearson(gold, pred),
        "spearman": spearman(gold, pred),
        "mse": mse(gold, pred),
    }


def dev_metrics(scorer: Any, splits: dict) -> dict:
    """Score a model (anything with sentiment / paraphrase / similarity) on labelled splits, for
    training: every figure is a number (see the NaN rule above)."""
    sst, quora, sts = splits["sst"].examples, splits["quora"].examples, splits["sts"].examples
    if not (sst and quora and len(sts) >= 2):
        raise ValueError(f"dev metrics need examples of every task (got {len(sst)}, {len(quora)} and {len(sts)})")
    sst_acc = accuracy([e.label for e in sst], scorer.sentiment([e.sentence for e in sst]).argmax(1))
    quora_acc = accuracy([e.label >= 0.5 for e in quora],
                         scorer.paraphrase([(e.sentence1, e.sentence2) for e in quora]) >= 0.5)
    sts_r = pearson([e.label for e in sts], scorer.similarity([(e.sentence1, e.sentence2) for e in sts]))
    # Training picks its best epoch on the overall score and stores it in config.json, so it needs
    # a number: constant similarity scores measure no linear relation, counted as r = 0.
    sts_r = 0.0 if math.isnan(sts_r) else sts_r
    return {"sst_acc": sst_acc, "quora_acc": quora_acc, "sts_pearson": sts_r,
            "overall": overall_score(sst_acc, quora_acc, sts_r),
            "rows": {"sst": len(sst), "quora": len(quora), "sts": len(sts)}}
