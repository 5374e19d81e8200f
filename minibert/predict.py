"""The prediction API: load every variant in a checkpoints folder once, then score batches.

    variants, failures = load_variants()          # failures: [LoadFailure(name, path, reason)]
    variants["sbert-concat"].sentiment(["a fine film"])        -> (n, 5) class probabilities
    variants["sbert-concat"].paraphrase([("q1", "q2")])        -> (n,) P(duplicate)
    variants["sbert-concat"].similarity([("s1", "s2")])        -> (n,) score in [0, 5]
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .backbone import loaded_weights_sha256
from .batching import map_in_batches
from .checkpoint import (CheckpointError, checkpoint_hash, ensemble_hash, ensemble_members, load_checkpoint,
                         read_config)
from .features import EmbeddingMemo
from .network import MultitaskModel
from .recipes import Recipe
from .tokenizer import Tokenizer

Pair = tuple[str, str]
TASK_METHODS = {"sst": "sentiment", "quora": "paraphrase", "sts": "similarity"}


def default_checkpoints_dir() -> Path:
    return Path(os.environ.get("MINIBERT_CHECKPOINTS", "checkpoints"))


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_texts(texts: Sequence[str], what: str) -> None:
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{what}[{i}] is {type(t).__name__}, expected str")


class Scorer:
    """Scores sentences and pairs with one `MultitaskModel` (in eval mode, no gradients)."""

    def __init__(self, model: MultitaskModel, tokenizer: Tokenizer, device: str | torch.device = "cpu",
                 batch_size: int = 64, memo: EmbeddingMemo | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = batch_size
        # Frozen bi-encoders share one memo: a sentence is encoded once for all of them.
        self.memo = memo if model.recipe.encoder == "frozen" else None

    @property
    def recipe(self) -> Recipe:
        return self.model.recipe

    def _embed(self, texts: Sequence[str]) -> torch.Tensor:
        if self.memo is not None:
            return self.memo.embed(texts, self.recipe.pooling).to(self.device)
        return map_in_batches(list(texts), [len(t) for t in texts], self.batch_size,
                              lambda chunk: self.model.embed(self.tokenizer(chunk).to(self.device))).to(self.device)

    def _pair_output(self, task: str, pairs: Sequence[Pair]) -> torch.Tensor:
        firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
        _check_texts(firsts, "pairs[*][0]")
        _check_texts(seconds, "pairs[*][1]")
        head = self.model.pair_heads[task]
        if self.recipe.pair_encoding == "cross":
            def joint(chunk):
                batch = self.tokenizer([a for a, _ in chunk], [b for _, b in chunk]).to(self.device)
                return self.model.pair_output(task, batch)
            return map_in_batches(list(pairs), [len(a) + len(b) for a, b in pairs], self.batch_size, joint)
        # Encode each distinct sentence once (Quora repeats questions across pairs).
        distinct = list(dict.fromkeys(firsts + seconds))
        index = {t: i for i, t in enumerate(distinct)}
        vectors = self._embed(distinct)
        u = vectors[torch.tensor([index[t] for t in firsts])]
        v = vectors[torch.tensor([index[t] for t in seconds])]
        return head(u, v).float().cpu()

    @torch.no_grad()
    def sentiment(self, sentences: Sequence[str]) -> np.ndarray:
        _check_texts(sentences, "sentences")
        logits = self.model.sst_head(self._embed(list(sentences)))
        return torch.softmax(logits.float(), -1).cpu().numpy()

    @torch.no_grad()
    def paraphrase(self, pairs: Sequence[Pair]) -> np.ndarray:
        return torch.sigmoid(self._pair_output("quora", pairs)).numpy()

    @torch.no_grad()
    def similarity(self, pairs: Sequence[Pair]) -> np.ndarray:
        return self._pair_output("sts", pairs).clamp(0.0, 5.0).numpy()

    def score(self, task: str, inputs) -> np.ndarray:
        return getattr(self, TASK_METHODS[task])(inputs)

    def attributions(self, task: str, text: str, text2: str | None = None) -> list[tuple[str, float]]:
        """Gradient x input on the word embeddings, summed over the hidden size, scaled to
        [-1, 1]: positive tokens push the shown output (the predicted class's logit, the
        paraphrase logit, or the similarity score) up."""
        model, tok = self.model, self.tokenizer
        if task != "sst" and text2 is None:
            raise ValueError(f"task {task!r} needs two sentences")
        words = model.encoder.embeddings.word_embeddings
        was_training = model.training
        model.eval()

        def leaf(batch):
            emb = words(batch.input_ids).detach().requires_grad_(True)
            return emb, model.embed(batch, inputs_embeds=emb)

        with torch.enable_grad():
            if task == "sst":
                batch = tok([text]).to(self.device)
                emb, pooled = leaf(batch)
                logits = model.sst_head(pooled)[0]
                target, segments = logits[logits.argmax()], [(batch, emb)]
            elif self.recipe.pair_encoding == "cross":
                batch = tok([text], [text2]).to(self.device)
                emb, pooled = leaf(batch)
                target, segments = model.pair_heads[task](pooled)[0], [(batch, emb)]
            else:
                b1, b2 = tok([text]).to(self.device), tok([text2]).to(self.device)
                (e1, p1), (e2, p2) = leaf(b1), leaf(b2)
                target, segments = model.pair_heads[task](p1, p2)[0], [(b1, e1), (b2, e2)]
            # Gradients to the embeddings only: a serving model's parameters keep no .grad.
            grads = torch.autograd.grad(target, [emb for _, emb in segments])
        model.train(was_training)
        tokens, weights = [], []
        for (batch, emb), grad in zip(segments, grads):
            tokens += tok.id_tokens(batch.input_ids[0].tolist())
            weights += (grad[0] * emb[0]).sum(-1).detach().cpu().tolist()
        scale = max((abs(w) for w in weights), default=0.0) or 1.0
        return [(t, w / scale) for t, w in zip(tokens, weights)]


@dataclass
class LoadFailure:
    name: str
    path: Path
    reason: str


class Variant(Scorer):
    """A loaded checkpoint: a `Scorer` plus its name, config and hash."""

    def __init__(self, name: str, directory: Path, config: dict, model, tokenizer, device, memo=None):
        super().__init__(model, tokenizer, device, memo=memo)
        self.name = name
        self.directory = directory
        self.config = config
        self.checkpoint_hash = checkpoint_hash(directory, config)


class Ensemble:
    """The mean of its members' outputs; composed at load time, never trained."""

    def __init__(self, name: str, directory: Path, config: dict, members: list[Variant]):
        if not members:
            raise CheckpointError(f"{directory}: an ensemble needs at least one loaded member")
        self.name = name
        self.directory = directory
        self.config = config
        self.members = members
        self.recipe = Recipe.from_dict(config["recipe"])
        self.checkpoint_hash = ensemble_hash(config, [m.checkpoint_hash for m in members])

    def _mean(self, method: str, inputs) -> np.ndarray:
        return np.mean([getattr(m, method)(inputs) for m in self.members], axis=0).astype(np.float32)

    def sentiment(self, sentences):
        return self._mean("sentiment", sentences)

    def paraphrase(self, pairs):
        return self._mean("paraphrase", pairs)

    def similarity(self, pairs):
        return self._mean("similarity", pairs)

    def score(self, task: str, inputs) -> np.ndarray:
        return getattr(self, TASK_METHODS[task])(inputs)

    def attributions(self, task, text, text2=None):
        raise ValueError("an ensemble has no single gradient: pick one of its members for attributions")


def load_variants(checkpoints_dir: str | Path | None = None, device: str | None = None,
                  ) -> tuple[dict[str, Variant | Ensemble], list[LoadFailure]]:
    """Load every `checkpoints_dir/NAME/` once. A checkpoint that fails is reported in the
    failures list with its reason; the others still load."""
    root = Path(checkpoints_dir) if checkpoints_dir else default_checkpoints_dir()
    device = device or default_device()
    variants: dict[str, Variant | Ensemble] = {}
    failures: list[LoadFailure] = []
    if not root.is_dir():
        return variants, failures
    memos: dict[tuple[str, int], EmbeddingMemo] = {}
    ensembles = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            config = read_config(directory)
            if config["recipe"].get("kind") == "ensemble":
                ensembles.append((directory, config))
                continue
            model, tokenizer, config = load_checkpoint(directory, device)
            memo = None
            if model.recipe.encoder == "frozen":
                key = (loaded_weights_sha256(config["backbone"]["name"]), tokenizer.max_length)
                if key not in memos:
                    memos[key] = EmbeddingMemo(model.encoder, tokenizer, key[0], device)
                memo = memos[key]
            variants[directory.name] = Variant(directory.name, directory, config, model, tokenizer, device, memo)
        except (CheckpointError, OSError, ValueError, KeyError, RuntimeError) as exc:
            failures.append(LoadFailure(directory.name, directory, f"{type(exc).__name__}: {exc}"))
    for directory, config in ensembles:
        wanted = ensemble_members(config, [n for n, v in variants.items() if isinstance(v, Variant)])
        missing = [m for m in wanted if m not in variants]
        if missing:
            failures.append(LoadFailure(directory.name, directory,
                                        f"ensemble members not loaded: {', '.join(missing)}"))
            continue
        try:
            variants[directory.name] = Ensemble(directory.name, directory, config, [variants[m] for m in wanted])
        except (CheckpointError, ValueError, TypeError) as exc:
            failures.append(LoadFailure(directory.name, directory, f"{type(exc).__name__}: {exc}"))
    return variants, failures


def warm_frozen_features(variants: dict, splits, cache_dir=None) -> int:
    """Fill the memo that frozen-encoder variants share from the on-disk feature cache (computing
    and caching what is missing), so scoring whole data files does not re-encode them."""
    memos = {id(v.memo): v.memo for v in variants.values() if getattr(v, "memo", None) is not None}
    for memo in memos.values():
        for split in splits:
            memo.warm_from_split(split, cache_dir)
    return len(memos)
