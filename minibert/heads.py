"""Pooling, task heads and losses: small pieces a recipe names and `network.py` composes.

Conventions: a sentiment head returns 5 logits; a paraphrase head returns one logit
(P(duplicate) = sigmoid); a similarity head returns a score on the 0-5 scale, unclipped while
training (MSE needs the gradient) and clipped to [0, 5] at prediction.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from minibert.tasks import task as get_task


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens only ([CLS] and [SEP] included, as sentence-transformers does)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class SentimentLinear(nn.Module):
    def __init__(self, hidden: int, dropout: float, classes: int = 5):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden, classes)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(u))


class DiffLinear(nn.Module):
    """One output from a linear map of |u - v|: the CS224N baseline's pair head, made symmetric."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout((u - v).abs())).squeeze(-1)


class ConcatLinear(nn.Module):
    """Logistic regression over [|u - v|, u * v] (a probe on frozen features)."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(2 * hidden, 1)

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(torch.cat([(u - v).abs(), u * v], -1))).squeeze(-1)


class ConcatMLP(nn.Module):
    """An MLP over [|u - v|, u * v]: the paraphrase head of "The Best of BERT Worlds" (SBERT-style)."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, hidden), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([(u - v).abs(), u * v], -1)).squeeze(-1)


class CosineScore(nn.Module):
    """Similarity = 5 x cos(u, v): no parameters, the geometry of the embeddings is the model."""

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return 5.0 * F.cosine_similarity(u, v, dim=-1)


class DotProductScore(nn.Module):
    """DPS-MSE: project both sentences to a small dimension r, then 5 x ReLU(dot product)."""

    def __init__(self, hidden: int, rank: int):
        super().__init__()
        self.project = nn.Linear(hidden, rank)

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return 5.0 * F.relu((self.project(u) * self.project(v)).sum(-1))


class JointLinear(nn.Module):
    """For a cross-encoder: the pair is one sequence, so its head sees one pooled vector."""

    def __init__(self, hidden: int, dropout: float, scale: float | None = None):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden, 1)
        self.scale = scale  # similarity: 5 x sigmoid keeps the score on the 0-5 scale

    def forward(self, joint: torch.Tensor) -> torch.Tensor:
        out = self.linear(self.dropout(joint)).squeeze(-1)
        return out if self.scale is None else self.scale * torch.sigmoid(out)


def pair_features(head: nn.Module, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The vector a bi-encoder's pair head reads before its last reduction, one row per pair (the
    embedding map projects it): |u - v| for diff-linear; [|u - v|, u * v] for the concat heads;
    the product of the unit vectors for cosine (its sum is the cosine); the product of the two
    projections for dot-product (its sum, through ReLU, is the score)."""
    if isinstance(head, DiffLinear):
        return (u - v).abs()
    if isinstance(head, (ConcatLinear, ConcatMLP)):
        return torch.cat([(u - v).abs(), u * v], -1)
    if isinstance(head, CosineScore):
        return F.normalize(u, dim=-1) * F.normalize(v, dim=-1)
    if isinstance(head, DotProductScore):
        return head.project(u) * head.project(v)
    raise ValueError(f"{type(head).__name__} reads one joint vector, not a pair of sentence vectors")


def build_pair_head(kind: str, hidden: int, dropout: float, rank: int) -> nn.Module:
    heads = {
        "diff-linear": lambda: DiffLinear(hidden, dropout),
        "concat-linear": lambda: ConcatLinear(hidden, dropout),
        "concat-mlp": lambda: ConcatMLP(hidden, dropout),
        "cosine": CosineScore,
        "dot-product": lambda: DotProductScore(hidden, rank),
        "joint-linear": lambda: JointLinear(hidden, dropout),
        "joint-sigmoid5": lambda: JointLinear(hidden, dropout, scale=5.0),
    }
    if kind not in heads:
        raise ValueError(f"unknown pair head {kind!r}; known: {', '.join(sorted(heads))}")
    return heads[kind]()


def info_nce(anchors: torch.Tensor, positives: torch.Tensor, temperature: float,
             keep: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE: row i of `anchors` should match row i of `positives` against every
    other row in the batch (in-batch negatives), by cosine similarity / temperature.

    `keep` (bool, one per row) limits the loss to those rows, as if the batch held only them,
    without indexing by it: boolean indexing makes the CPU wait for the GPU once per batch.
    Fewer than two kept rows give 0 (a row with no negative is matched for free).
    """
    a = F.normalize(anchors, dim=-1)
    p = F.normalize(positives, dim=-1)
    logits = a @ p.T / temperature
    target = torch.arange(len(a), device=a.device)
    if keep is None:
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    # Finite, so dropped rows and columns add exactly 0 to a softmax and never a NaN to a gradient.
    dropped = -1e4
    pair = keep[:, None] & keep[None, :]
    logits = logits.masked_fill(~pair, dropped)
    per_row = F.cross_entropy(logits, target, reduction="none") + F.cross_entropy(logits.T, target, reduction="none")
    kept = keep.sum()
    return torch.where(keep, per_row, 0.0).sum() / (2 * kept.clamp(min=1)) * (kept >= 2)


def start_at(head: nn.Module, value: float) -> None:
    """Start a pair head's output at `value` by its final bias (issue 23: an STS head whose bias
    starts at 0 must climb to the scores' mean at Adam's pace of about lr a step, and
    multitask-cls's never got there). A head with no output bias refuses."""
    if isinstance(head, (DiffLinear, ConcatLinear, JointLinear)):
        last = head.linear
    elif isinstance(head, ConcatMLP):
        last = head.net[-1]
    else:
        raise ValueError(f"{type(head).__name__} has no output bias to start at {value:g}")
    if getattr(head, "scale", None):  # 5 x sigmoid(x): the bias that puts the output at `value`
        p = min(max(value / head.scale, 1e-4), 1 - 1e-4)
        value = math.log(p / (1 - p))
    with torch.no_grad():
        last.bias.fill_(value)


def smoothed_loss(task: str, out: torch.Tensor, labels: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """The classification losses, with label smoothing: SST's 5-class cross-entropy against
    (1 - e) one-hot + e / 5, Quora's binary cross-entropy against y (1 - e) + e / 2."""
    if get_task(task).multiclass:
        return F.cross_entropy(out, labels, label_smoothing=smoothing)
    return F.binary_cross_entropy_with_logits(out, labels * (1 - smoothing) + smoothing / 2)


def symmetric_kl(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """R-Drop's regulariser (Liang et al. 2021): (KL(P||Q) + KL(Q||P)) / 2 between the
    distributions of two dropout passes, averaged over the batch. Logits of shape (n, classes),
    or (n,) for one binary logit each (P(1) = sigmoid)."""
    if logits_a.ndim == 1:  # a binary logit x is the two-class logits (0, x)
        logits_a, logits_b = (torch.stack([torch.zeros_like(x), x], -1) for x in (logits_a, logits_b))
    log_p, log_q = F.log_softmax(logits_a, -1), F.log_softmax(logits_b, -1)
    p_q = F.kl_div(log_q, log_p, log_target=True, reduction="batchmean")  # KL(P || Q)
    q_p = F.kl_div(log_p, log_q, log_target=True, reduction="batchmean")
    return 0.5 * (p_q + q_p)
