"""Clusters of the dev examples in one shared embedding space: the frozen backbone's mean-pooled
vectors (the same for every variant, so a cluster names the same examples whatever is compared),
k-means with a fixed seed. Build time only (`analysis.why.feature_table`): it runs the backbone.

    memo = frozen_memo(variants)                       # the frozen variants' shared encoder memo
    x = example_vectors(memo, examples, task, pair=True)   # (n, hidden) float32
    labels, method = kmeans(x, N_CLUSTERS, CLUSTER_SEED)   # 1..k, cluster 1 the largest

A pair is the mean of its two sentences' unit vectors: the pair's topic, the same whichever
sentence comes first (the pair tasks have no meaningful order), in the space the backbone was
trained for (cosine). A concatenation would double the dimension and split one topic into
clusters by which sentence holds which half.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # torch stays out of the app's imports
    from minibert.features import EmbeddingMemo

N_CLUSTERS = 6
CLUSTER_SEED = 0


def frozen_memo(variants: Mapping[str, object], device: str = "cpu") -> tuple[EmbeddingMemo, str]:
    """(the encoder memo the frozen-encoder variants share, where it came from). Without a frozen
    variant loaded, the default backbone itself, read from disk."""
    from minibert.predict import frozen_memos

    memos = frozen_memos({name: variants[name] for name in sorted(variants)})
    if memos:
        memo = memos[0]
        owner = next(n for n in sorted(variants) if getattr(variants[n], "memo", None) is memo)
        return memo, f"the frozen backbone of {owner}"
    from minibert.backbone import default_backbone_dir, loaded_weights_sha256
    from minibert.features import EmbeddingMemo
    from minibert.model import load_pretrained
    from minibert.tokenizer import Tokenizer

    folder = default_backbone_dir()
    memo = EmbeddingMemo(load_pretrained(folder), Tokenizer(folder, 128), loaded_weights_sha256(None), device)
    return memo, f"the default backbone ({folder.name})"


def example_vectors(memo: EmbeddingMemo, examples: pd.DataFrame, task: str, pair: bool) -> np.ndarray:
    """(n, hidden) float32: each dev example's mean-pooled vector (a pair: the mean of its
    sentences' unit vectors). The sentences are the ones the build's prediction step encodes for
    the frozen variants, in its order (`EmbeddingMemo.warm`): read from that cache, not encoded
    again, and the same numbers whichever step came first."""
    s1 = examples["sentence1"].astype(str).tolist()
    s2 = examples["sentence2"].astype(str).tolist() if pair else []
    texts = list(dict.fromkeys([t for row in zip(s1, s2) for t in row] if pair else s1))
    memo.warm(texts, task, "dev", len(examples))
    vectors = memo.embed(texts, "mean").numpy()
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    row = {t: i for i, t in enumerate(texts)}
    out = vectors[[row[t] for t in s1]]
    if pair:
        out = (out + vectors[[row[t] for t in s2]]) / 2
    return out.astype(np.float32)


def kmeans(x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, str]:
    """(labels 1..k numbered by size, cluster 1 the largest, so a cluster reads the same on every
    run; the method in words). scikit-learn's k-means (k-means++, 4 seeded starts) when it is
    installed (requirements-dev.txt), else scipy's, seeded likewise."""
    x = np.asarray(x, dtype=np.float64)
    try:
        from sklearn.cluster import KMeans
    except ImportError:
        from scipy.cluster.vq import kmeans2

        _, labels = kmeans2(x, k, minit="++", seed=seed)
        method = f"k-means (scipy.cluster.vq.kmeans2, k-means++ start, seed {seed})"
    else:
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(x)
        method = f"k-means (scikit-learn, k-means++, 4 starts, seed {seed})"
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    return (np.argsort(order)[labels] + 1).astype(np.int8), method
