"""Sentence features from a frozen encoder, computed once and reused.

A frozen encoder maps a sentence to the same vector forever, so its [CLS]-pooler and mean-pooled
vectors are memoised in memory (shared by every frozen variant of one backbone) and, for whole
data files, cached on disk under `cache/features/` (outside git, safe to delete), keyed by the
hash of the backbone weights actually loaded, a hash of the split's sentences as the reader
gives them (so a change to how text is read can never reuse stale vectors) and the max length.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file, save_file

from .batching import map_in_batches
from .data import texts_sha256
from .heads import mean_pool
from .model import BertModel
from .settings import settings
from .tokenizer import Tokenizer

if TYPE_CHECKING:  # for annotations only: network imports this module
    from .data import Split
    from .network import MultitaskModel

POOLINGS = ("cls", "mean")


def default_cache_dir() -> Path:
    return settings().cache / "features"


def split_texts(split: str) -> list[str]:
    """The distinct sentences of a split, in order of first appearance (reproducible from the file)."""
    seen: dict[str, None] = {}
    for ex in split.examples:
        for text in ((ex.sentence,) if hasattr(ex, "sentence") else (ex.sentence1, ex.sentence2)):
            seen.setdefault(text, None)
    return list(seen)


class EmbeddingMemo:
    def __init__(self, encoder: BertModel, tokenizer: Tokenizer, backbone_sha: str,
                 device: str | torch.device = "cpu", batch_size: int = 128, max_entries: int = 400_000):
        self.encoder = encoder.eval()
        self.tokenizer = tokenizer
        self.backbone_sha = backbone_sha
        self.device = device
        self.batch_size = batch_size
        self.max_entries = max_entries
        self._memo: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        # The app scores with two model calls at once, and frozen variants share this memo: a
        # look-up must not see it half cleared, so it is read and written under a lock.
        self._lock = threading.Lock()

    @torch.no_grad()
    def _compute(self, texts: list[str]) -> torch.Tensor:
        def run(chunk: list[str]) -> torch.Tensor:
            batch = self.tokenizer(chunk).to(self.device)
            out = self.encoder(batch.input_ids, batch.attention_mask, batch.token_type_ids)
            return torch.stack([out.pooler_output, mean_pool(out.last_hidden_state, batch.attention_mask)], 1)
        return map_in_batches(texts, [len(t) for t in texts], self.batch_size, run)

    def embed(self, texts: Sequence[str], pooling: str) -> torch.Tensor:
        """(n, hidden) float32 on the CPU."""
        which = POOLINGS.index(pooling)
        wanted = list(dict.fromkeys(texts))
        with self._lock:
            known = {t: self._memo[t] for t in wanted if t in self._memo}
        missing = [t for t in wanted if t not in known]
        if missing:  # encoded outside the lock: the other model call need not wait for it
            for text, both in zip(missing, self._compute(missing)):
                known[text] = (both[0], both[1])
            with self._lock:
                if len(self._memo) + len(missing) > self.max_entries:
                    self._memo.clear()  # a long-running app must not grow without bound
                self._memo.update((t, known[t]) for t in missing)
        return torch.stack([known[t][which] for t in texts])

    def clear(self) -> None:
        """Forget every vector."""
        with self._lock:
            self._memo.clear()

    def warm_from_split(self, split: str, cache_dir: Path | None = None) -> Path:
        """Fill the memo with every sentence of a data split, from the disk cache when it has them."""
        return self.warm(split_texts(split), split.task, split.split, len(split.examples), cache_dir)

    def warm(self, texts: list[str], task: str, split: str, n_examples: int, cache_dir: Path | None = None) -> Path:
        """Fill the memo with `texts` (a split's distinct sentences, as `split_texts` orders them),
        from the disk cache when it has them, else computed and cached. The order fixes the
        batches, so whoever warms a split first (the build's prediction step, its why-features
        step, a training run) leaves the others the very same vectors; hence the disk, not vectors
        the memo may hold from other batches."""
        cache_dir = Path(cache_dir or default_cache_dir())
        path = cache_dir / (f"{self.backbone_sha[:16]}-{task}-{split}-{texts_sha256(texts)[:16]}"
                            f"-n{n_examples}-L{self.tokenizer.max_length}.safetensors")
        cached = _read_cache(path, len(texts))
        if cached is None:
            both = self._compute(texts)
            cached = {"cls": both[:, 0].contiguous(), "mean": both[:, 1].contiguous()}
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            save_file(cached, str(tmp))
            tmp.replace(path)
        with self._lock:
            for i, text in enumerate(texts):
                self._memo[text] = (cached["cls"][i], cached["mean"][i])
        return path


def _read_cache(path: Path, rows: int) -> dict[str, torch.Tensor] | None:
    """A cache file that is unreadable or of the wrong size is recomputed, not trusted."""
    if not path.is_file():
        return None
    try:
        cached = load_file(str(path))
    except Exception:  # noqa: BLE001 - any damage to a cache file just means recompute
        return None
    if set(cached) != set(POOLINGS) or any(v.shape[0] != rows for v in cached.values()):
        return None
    return cached


def warmed_memo(model: MultitaskModel, tokenizer: Tokenizer, backbone_sha: str, device: str | torch.device,
                splits: Iterable[Split], cache_dir: Path | None = None) -> EmbeddingMemo | None:
    """For a frozen-encoder model, a memo holding every sentence of `splits`; None when the encoder trains."""
    if model.recipe.encoder != "frozen":
        return None
    memo = EmbeddingMemo(model.encoder, tokenizer, backbone_sha, device)
    for split in splits:
        memo.warm_from_split(split, cache_dir)
    return memo
