"""The CS224N dev metrics: SST accuracy, Quora accuracy, STS Pearson, and the overall score."""
from __future__ import annotations

import math

import numpy as np


def accuracy(pred, gold) -> float:
    pred, gold = np.asarray(pred), np.asarray(gold)
    if len(pred) != len(gold) or len(pred) == 0:
        raise ValueError(f"accuracy needs equal, non-empty lengths (got {len(pred)} and {len(gold)})")
    return float((pred == gold).mean())


def pearson(x, y) -> float:
    """Pearson's r; 0.0 when either side is constant (no linear relation can be measured)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"pearson needs equal lengths of at least 2 (got {len(x)} and {len(y)})")
    dx, dy = x - x.mean(), y - y.mean()
    denom = math.sqrt(float((dx * dx).sum()) * float((dy * dy).sum()))
    return float((dx * dy).sum() / denom) if denom > 0 else 0.0


def overall_score(sst_acc: float, quora_acc: float, sts_pearson: float) -> float:
    """CS224N's overall score: STS Pearson is mapped from [-1, 1] to [0, 1] first."""
    return (sst_acc + quora_acc + (sts_pearson + 1.0) / 2.0) / 3.0


def dev_metrics(scorer, splits: dict) -> dict:
    """Score a model (anything with sentiment / paraphrase / similarity) on labelled splits."""
    sst, quora, sts = splits["sst"].examples, splits["quora"].examples, splits["sts"].examples
    sst_acc = accuracy(scorer.sentiment([e.sentence for e in sst]).argmax(1), [e.label for e in sst])
    quora_acc = accuracy(scorer.paraphrase([(e.sentence1, e.sentence2) for e in quora]) >= 0.5,
                         [e.label >= 0.5 for e in quora])
    sts_r = pearson(scorer.similarity([(e.sentence1, e.sentence2) for e in sts]), [e.label for e in sts])
    return {"sst_acc": sst_acc, "quora_acc": quora_acc, "sts_pearson": sts_r,
            "overall": overall_score(sst_acc, quora_acc, sts_r),
            "rows": {"sst": len(sst), "quora": len(quora), "sts": len(sts)}}
