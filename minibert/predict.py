"""The prediction API: load every variant in a checkpoints folder once, then score batches.

    variants, failures = load_variants()          # failures: [LoadFailure(name, path, reason)]
    variants["sbert-concat"].sentiment(["a fine film"])        -> (n, 5) class probabilities
    variants["sbert-concat"].paraphrase([("q1", "q2")])        -> (n,) P(duplicate)
    variants["sbert-concat"].similarity([("s1", "s2")])        -> (n,) score in [0, 5]
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .backbone import loaded_weights_sha256
from .batching import map_in_batches
from .checkpoint import load_checkpoint
from .checkpoint_config import (
    CheckpointConfig,
    CheckpointError,
    checkpoint_hash,
    default_checkpoints_dir,
    ensemble_hash,
    scan_checkpoints,
)
from .features import EmbeddingMemo
from .heads import pair_features
from .network import MultitaskModel
from .predictor import Predictor, ensemble_outputs
from .recipes import Recipe, member_union
from .tasks import TASK_NAMES
from .tasks import task as get_task
from .tokenizer import Tokenizer

if TYPE_CHECKING:  # annotations only
    from .data import Split

Pair = tuple[str, str]


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_texts(texts: Sequence[str], what: str) -> None:
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{what}[{i}] is {type(t).__name__}, expected str")


class ByTask:
    """One task at a time, for anything with `score_tasks` (a model or an ensemble)."""

    def score_tasks(self, inputs: dict[str, Sequence]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def score(self, task: str, inputs: Sequence) -> np.ndarray:
        if not len(inputs):
            raise ValueError("nothing to score: the input list is empty")
        return self.score_tasks({task: inputs})[task]

    def sentiment(self, sentences: Sequence[str]) -> np.ndarray:
        return self.score("sst", sentences)

    def paraphrase(self, pairs: Sequence[Pair]) -> np.ndarray:
        return self.score("quora", pairs)

    def similarity(self, pairs: Sequence[Pair]) -> np.ndarray:
        return self.score("sts", pairs)


class Scorer(ByTask):
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
        return self._embed_rows([(t,) for t in texts])

    def _encoded(self, inputs: dict[str, Sequence]) -> _Encoded:
        """Every distinct sentence of `inputs` ({task: sentences or pairs}) encoded once in one
        batched pass (a cross-encoder: the SST sentences, and each distinct joint pair once for
        both pair tasks), for the heads to read."""
        # get_task refuses an unknown task by name
        inputs = {t: ([tuple(p) for p in x] if get_task(t).pair else list(x)) for t, x in inputs.items() if len(x)}
        sentences = list(inputs.get("sst", []))
        _check_texts(sentences, "sentences")
        pair_tasks = [t for t in inputs if get_task(t).pair]
        for t in pair_tasks:
            _check_texts([a for a, _ in inputs[t]], "pairs[*][0]")
            _check_texts([b for _, b in inputs[t]], "pairs[*][1]")
        cross = self.recipe.pair_encoding == "cross"
        if not cross:
            sentences += [s for t in pair_tasks for pair in inputs[t] for s in pair]
        distinct = list(dict.fromkeys(sentences))
        joint_pairs = list(dict.fromkeys(p for t in pair_tasks for p in inputs[t])) if cross else []
        if joint_pairs and distinct and self.memo is None:
            # A cross-encoder's sentences and joint pairs go through the encoder together: one pass
            # reads the weights once (a click's sentence and pair: 26 ms in two passes, 16 in one).
            both = self._embed_rows([(s,) for s in distinct] + joint_pairs)
            vectors, joint = both[:len(distinct)], both[len(distinct):]
        else:
            vectors = self._embed(distinct) if distinct else None
            joint = self._embed_rows(joint_pairs) if joint_pairs else None
        return _Encoded(inputs, pair_tasks, cross, vectors, {s: i for i, s in enumerate(distinct)}, joint,
                        {p: i for i, p in enumerate(joint_pairs)})

    def _embed_rows(self, rows: list[tuple[str, ...]]) -> torch.Tensor:
        """Pooled vectors of encoder rows, each a sentence (s,) or a joint pair (a, b), in one set
        of length-sorted batches."""
        def pooled(chunk: list[tuple[str, ...]]) -> torch.Tensor:
            encoded: list = [None] * len(chunk)
            for width in (1, 2):
                at = [i for i, row in enumerate(chunk) if len(row) == width]
                if at:
                    texts = [[chunk[i][k] for i in at] for k in range(width)]
                    for i, e in zip(at, self.tokenizer.encode_ids(*texts)):
                        encoded[i] = e
            return self.model.embed(self.tokenizer.collate(encoded).to(self.device)).pooled
        return map_in_batches(rows, [sum(len(s) for s in row) for row in rows], self.batch_size, pooled).to(self.device)

    @torch.no_grad()
    def score_tasks(self, inputs: dict[str, Sequence]) -> dict[str, np.ndarray]:
        """`score` for several tasks at once ({task: sentences or pairs}), with the encoder run as
        few times as the recipe allows: a bi-encoder encodes every distinct sentence of every task
        in one batched pass and all heads read from it; a cross-encoder encodes each joint pair
        once for both pair tasks. Same outputs as `score` per task (padding aside, ~1e-6)."""
        e = self._encoded(inputs)
        out: dict[str, np.ndarray] = {}
        if "sst" in e.inputs:
            out["sst"] = torch.softmax(self.model.sst_head(e.sentences("sst")).float(), -1).cpu().numpy()
        raw = {t: self.model.pair_heads[t](*e.pair(t)).float().cpu() for t in e.pair_tasks}
        if "quora" in raw:
            out["quora"] = torch.sigmoid(raw["quora"]).numpy()
        if "sts" in raw:
            out["sts"] = raw["sts"].clamp(0.0, 5.0).numpy()
        return out

    @torch.inference_mode()
    def head_inputs(self, inputs: dict[str, Sequence]) -> dict[str, np.ndarray]:
        """{task: sentences or pairs} -> {task: (n, d) float32}: per input, the vector its task's
        head reads: the pooled sentence vector for SST; for a pair, the cross-encoder's joint
        vector, or a bi-encoder's pair features (`heads.pair_features`). Encoded as `score_tasks` does."""
        e = self._encoded(inputs)
        out: dict[str, np.ndarray] = {}
        if "sst" in e.inputs:
            out["sst"] = e.sentences("sst").float().cpu().numpy()
        for t in e.pair_tasks:
            read = e.pair(t)
            out[t] = (read[0] if e.cross else pair_features(self.model.pair_heads[t], *read)).float().cpu().numpy()
        return out


@dataclass
class _Encoded:
    """One encoder pass over a request's inputs (`Scorer._encoded`): what each head reads."""
    inputs: dict[str, list]
    pair_tasks: list[str]
    cross: bool
    vectors: torch.Tensor | None     # one row per distinct sentence
    index: dict[str, int]
    joint: torch.Tensor | None       # a cross-encoder's: one row per distinct pair
    where: dict[tuple[str, str], int]

    def sentences(self, task: str) -> torch.Tensor:
        return self.vectors[torch.tensor([self.index[s] for s in self.inputs[task]])]

    def pair(self, task: str) -> tuple[torch.Tensor, ...]:
        """What `task`'s pair head takes: (joint vectors,) for a cross-encoder, else (u, v)."""
        if self.cross:
            return (self.joint[torch.tensor([self.where[p] for p in self.inputs[task]])],)
        return (self.vectors[torch.tensor([self.index[a] for a, _ in self.inputs[task]])],
                self.vectors[torch.tensor([self.index[b] for _, b in self.inputs[task]])])

@dataclass
class LoadFailure:
    name: str
    path: Path
    reason: str


class Variant(Scorer):
    """A loaded checkpoint: a `Scorer` plus its name, config (config.json's content) and hash.
    A `Predictor` with no members."""

    members: tuple[()] = ()
    can_explain = True

    def __init__(self, name: str, directory: Path, config: CheckpointConfig, model: MultitaskModel, tokenizer: Tokenizer,
                 device: str | torch.device, memo: EmbeddingMemo | None = None) -> None:
        super().__init__(model, tokenizer, device, memo=memo)
        self.name = name
        self.directory = directory
        self.config = config.to_dict()
        self.checkpoint_hash = checkpoint_hash(config)


class Ensemble(ByTask):
    """Per task, the mean of that task's members' outputs; composed at load time, never trained.
    A `Predictor`."""

    can_explain = False

    def __init__(self, name: str, directory: Path, config: CheckpointConfig, members: list[Variant],
                 task_members: dict[str, list[str]] | None = None):
        """`task_members` ({task: member names}) defaults to every member on every task."""
        if not members:
            raise CheckpointError(f"{directory}: an ensemble needs at least one loaded member")
        self.task_members = task_members or {t: [m.name for m in members] for t in TASK_NAMES}
        by_name = {m.name: m for m in members}
        empty = [t for t, names in self.task_members.items() if not names]
        unknown = sorted(set(member_union(self.task_members)) - set(by_name))
        if empty or unknown:
            raise CheckpointError(f"{directory}: " + "; ".join(
                ([f"no members for {', '.join(empty)}"] if empty else [])
                + ([f"members not loaded: {', '.join(unknown)}"] if unknown else [])))
        self.name = name
        self.directory = directory
        self.config = config.to_dict()
        self.members = [by_name[n] for n in member_union(self.task_members)]
        self.recipe = Recipe.from_dict(config.recipe)
        self.checkpoint_hash = ensemble_hash(config, [m.checkpoint_hash for m in self.members])

    def score_tasks(self, inputs: dict[str, Sequence]) -> dict[str, np.ndarray]:
        # A member runs only the tasks it is a member of: no encoder pass for an output the mean drops.
        outputs = {}
        for m in self.members:
            own = {t: x for t, x in inputs.items() if m.name in self.task_members[t]}
            if own:
                outputs[m.name] = m.score_tasks(own)
        return ensemble_outputs(self, outputs, inputs)


def load_variants(checkpoints_dir: str | Path | None = None, device: str | None = None,
                  ) -> tuple[dict[str, Predictor], list[LoadFailure]]:
    """Load every `checkpoints_dir/NAME/` once. A checkpoint that fails is reported in the
    failures list with its reason; the others still load."""
    root = Path(checkpoints_dir) if checkpoints_dir else default_checkpoints_dir()
    device = device or default_device()
    variants: dict[str, Predictor] = {}
    failures: list[LoadFailure] = []
    scan = scan_checkpoints(root)
    failures += [LoadFailure(d.name, d, f"{type(exc).__name__}: {exc}") for d, exc in scan.unreadable]
    memos: dict[tuple[str, int], EmbeddingMemo] = {}
    for directory, _ in scan.models:
        try:
            model, tokenizer, config = load_checkpoint(directory, device)
            memo = None
            if model.recipe.encoder == "frozen":
                key = (loaded_weights_sha256(config.backbone["name"]), tokenizer.max_length)
                if key not in memos:
                    memos[key] = EmbeddingMemo(model.encoder, tokenizer, key[0], device)
                memo = memos[key]
            variants[directory.name] = Variant(directory.name, directory, config, model, tokenizer, device, memo)
        except (CheckpointError, OSError, ValueError, KeyError, RuntimeError) as exc:
            failures.append(LoadFailure(directory.name, directory, f"{type(exc).__name__}: {exc}"))
    failures.sort(key=lambda f: f.name)  # folder order, as the scan met them
    for directory, config in scan.ensembles:
        wanted = config.ensemble_members([n for n, v in variants.items() if not v.members])
        missing = [m for m in member_union(wanted) if m not in variants]
        if missing:
            failures.append(LoadFailure(directory.name, directory,
                                        f"ensemble members not loaded: {', '.join(missing)}"))
            continue
        try:
            variants[directory.name] = Ensemble(directory.name, directory, config,
                                                [variants[m] for m in member_union(wanted)], wanted)
        except (CheckpointError, ValueError, TypeError) as exc:
            failures.append(LoadFailure(directory.name, directory, f"{type(exc).__name__}: {exc}"))
    return variants, failures


def frozen_memos(variants: dict) -> list[EmbeddingMemo]:
    """The sentence memos that frozen-encoder variants share, each once."""
    return list({id(v.memo): v.memo for v in variants.values() if getattr(v, "memo", None) is not None}.values())


def warm_frozen_features(variants: dict, splits: Iterable[Split], cache_dir: Path | None = None) -> int:
    """Fill the memo that frozen-encoder variants share from the on-disk feature cache (computing
    and caching what is missing), so scoring whole data files does not re-encode them."""
    memos = frozen_memos(variants)
    for memo in memos:
        for split in splits:
            memo.warm_from_split(split, cache_dir)
    return len(memos)
