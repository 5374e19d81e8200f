"""Training: one loop for every recipe, driven by the recipe's fields.

Each round draws one batch per training task. `round-robin` takes an optimizer step after each
task's batch; `sum` adds the task losses and steps once; `pcgrad` steps once on the surgically
combined gradients. An epoch has as many rounds as the tasks have batches on average, so every
sharing mode sees the same number of examples per epoch. Frozen-encoder recipes train only their
heads, on sentence features computed once (`features.py`).
"""
from __future__ import annotations

import math
import os
import platform
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .backbone import loaded_weights_sha256, resolve_backbone
from .batching import bucketed_shuffle
from .checkpoint import load_checkpoint, save_checkpoint
from .checkpoint_config import file_sha256
from .data import read_split
from .distributed import Ranks, Shard, from_environment, gather_keep, gather_rows, no_sync, world_size
from .features import EmbeddingMemo, warmed_memo
from .heads import info_nce, smoothed_loss, start_at, symmetric_kl
from .metrics import dev_metrics
from .network import MultitaskModel, build_model
from .pcgrad import assign_flat_grad, flat_grad, pcgrad
from .predict import Scorer
from .recipes import Recipe
from .tasks import TASK_NAMES
from .tasks import task as get_task
from .tokenizer import Batch, Tokenizer


@dataclass
class TrainOptions:
    data_dir: Path | None = None
    checkpoints_dir: Path = Path("checkpoints")
    rows_per_task: int | None = None      # cap train AND dev rows per task, for quick runs
    device: str = "cpu"
    storage: str | None = None            # a checkpoint.STORAGE_DTYPES; default: fp32 heads, int8-delta fine-tuned
    strict: bool = False
    cache_dir: Path | None = None
    progress: bool = True
    max_seconds: float | None = None      # stop before an epoch that would end after this (best epoch kept)
    overrides: dict = field(default_factory=dict)  # recipe fields from the command line (epochs, seed, lr...)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def hardware(device: str) -> str:
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({os.cpu_count()} cores, {platform.machine()})"


def load_splits(tasks: Sequence[str], split: str, options: TrainOptions) -> dict:
    splits = {}
    for task in tasks:
        s = read_split(task, split, options.data_dir, strict=options.strict, limit=options.rows_per_task)
        if s.bad_rows:
            print(f"  {s.summary()}")
        splits[task] = s
    return splits


class TaskStream:
    """Endless length-bucketed batches of one task's pre-tokenized examples."""

    def __init__(self, task: str, examples: list, tokenizer: Tokenizer, recipe: Recipe, rng: random.Random):
        self.task, self.examples, self.tokenizer, self.rng = task, examples, tokenizer, rng
        # An epoch is counted in batches of the recipe's size over the rows as read, whatever
        # this task's batch size (quora_batch_size) and whether pairs are also swapped: those
        # options then add examples to an epoch, not rounds.
        self.n_batches = math.ceil(len(examples) / recipe.batch_size)
        self.batch_size = recipe.pair_batch_sizes.get(task, recipe.batch_size)
        self.cross = recipe.pair_encoding == "cross"
        spec = get_task(task)
        if recipe.swap_pairs and spec.pair:
            examples = [*examples, *(replace(e, sentence1=e.sentence2, sentence2=e.sentence1) for e in examples)]
        if not spec.pair:
            self.encoded = tokenizer.encode_ids([e.sentence for e in examples])
            self.lengths = [len(ids) for ids, _, _ in self.encoded]
        elif self.cross:
            self.encoded = tokenizer.encode_ids([e.sentence1 for e in examples], [e.sentence2 for e in examples])
            self.lengths = [len(ids) for ids, _, _ in self.encoded]
        else:
            firsts = tokenizer.encode_ids([e.sentence1 for e in examples])
            seconds = tokenizer.encode_ids([e.sentence2 for e in examples])
            self.encoded = list(zip(firsts, seconds))
            self.lengths = [max(len(a[0]), len(b[0])) for a, b in self.encoded]
        # class indices for a cross-entropy over several classes; floats for a logit or a score
        self.labels = torch.tensor([e.label for e in examples], dtype=torch.long if spec.multiclass else torch.float32)
        self.pair = spec.pair
        self._batches: list[list[int]] = []

    def next(self) -> tuple[Batch, int | None, torch.Tensor]:
        return self.batch(self.next_indices())

    def next_indices(self) -> list[int]:
        if not self._batches:
            self._batches = bucketed_shuffle(self.lengths, self.batch_size, self.rng)
        return self._batches.pop()

    def batch(self, idx: list[int]) -> tuple[Batch, int | None, torch.Tensor]:
        labels = self.labels[idx]
        if not self.pair or self.cross:
            return self.tokenizer.collate([self.encoded[i] for i in idx]), None, labels
        # Both sentences of the pairs in one padded batch: one encoder call instead of two.
        both = [self.encoded[i][0] for i in idx] + [self.encoded[i][1] for i in idx]
        return self.tokenizer.collate(both), len(idx), labels


_pinning = {"works": True}  # until pinning host memory fails once (a sandbox may refuse it)


def _to_device(x: Batch | torch.Tensor, device: str | torch.device) -> Batch | torch.Tensor:
    """A batch (or tensor) on `device`. To a GPU the copy goes from pinned memory and does not
    block: a copy from ordinary memory first waits for every kernel already queued, and a
    launch-bound process must keep queueing while the GPU runs. PyTorch's pinned-memory cache
    keeps the source until the copy is done. Where pinning fails, plain copies: slower, not wrong."""
    if not isinstance(x, torch.Tensor):
        return Batch(*(_to_device(t, device) for t in (x.input_ids, x.attention_mask, x.token_type_ids)), x.truncated)
    if torch.device(device).type != "cuda" or not _pinning["works"]:
        return x.to(device)
    try:
        return x.pin_memory().to(device, non_blocking=True)
    except RuntimeError as error:
        _pinning["works"] = False
        print(f"  pinned host memory unavailable ({error}); copying batches to the GPU the plain way", flush=True)
        return x.to(device)


def task_loss(model: MultitaskModel, task: str, batch: Batch, n_pairs: int, labels: torch.Tensor,
              shard: Shard | None = None) -> torch.Tensor:
    """The task's loss on `batch`; with `shard` (data-parallel training), this rank's part of the
    global batch's loss (`distributed.py`)."""
    recipe = model.recipe
    weight = 1.0 if shard is None else shard.weight
    # R-Drop: the batch twice in one encoder call (one launch sequence, independent dropout
    # masks per row), on the classification tasks only: its regulariser on STS's MSE is what
    # cluebbers/deepnlp-ss23 found to hurt STS.
    spec = get_task(task)
    passes = 2 if recipe.rdrop_alpha and not spec.regression and model.training else 1
    if passes == 2:
        batch = Batch(*(torch.cat([t, t]) for t in (batch.input_ids, batch.attention_mask, batch.token_type_ids)),
                      list(batch.truncated) * 2)
    u = v = None
    if not spec.pair:
        out = model.sentiment_logits(batch).float()
    elif n_pairs is None:  # cross-encoder: one joint sequence per pair
        out = model.pair_output(task, batch).float()
    else:  # rows: pass 1's first sentences, its second sentences, then pass 2's
        pooled = model.embed(batch).pooled.reshape(passes, 2, n_pairs, -1)
        u, v = pooled[0, 0], pooled[0, 1]
        out = model.pair_heads[task](pooled[:, 0].flatten(0, 1), pooled[:, 1].flatten(0, 1)).float()
    if spec.regression:
        return F.mse_loss(out, labels) * weight
    outs = out.chunk(passes)
    loss = sum(smoothed_loss(task, o, labels, recipe.label_smoothing) for o in outs) / passes
    if passes == 2:
        loss = loss + recipe.rdrop_alpha * symmetric_kl(*outs)
    loss = loss * weight
    if task == "quora" and recipe.contrastive and u is not None:
        keep = labels > 0.5
        if shard is not None:  # the negatives of the whole global batch
            u, v, keep = gather_rows(u.float(), shard), gather_rows(v.float(), shard), gather_keep(keep, shard)
        loss = loss + info_nce(u.float(), v.float(), recipe.temperature, keep=keep)
    return loss


class TaskLoss(torch.nn.Module):
    """`task_loss` as a module's forward: DDP synchronises the gradients of what its forward ran."""

    def __init__(self, model: MultitaskModel):
        super().__init__()
        self.model = model

    def forward(self, task: str, batch: Batch, n_pairs: int, labels: torch.Tensor, shard: Shard | None = None) -> torch.Tensor:
        return task_loss(self.model, task, batch, n_pairs, labels, shard)


def layer_lr_scale(name: str, n_layers: int, decay: float) -> float:
    """Layer-wise learning-rate decay: the factor on the encoder's rate for parameter `name` of
    the model. Layer i of n (0 at the bottom) gets decay^(n - i), the embeddings below them
    decay^(n + 1), the pooler above them 1: the lower a layer, the more general what it
    learned in pretraining, and the less it should move."""
    parts = name.split(".")
    if parts[:2] == ["encoder", "embeddings"]:
        return decay ** (n_layers + 1)
    if parts[:3] == ["encoder", "encoder", "layer"]:
        return decay ** (n_layers - int(parts[3]))
    return 1.0


def _param_groups(model: MultitaskModel, recipe: Recipe):
    groups: dict[tuple, list] = {}  # (lr, weight decay) -> parameters
    n_layers = model.encoder.config.num_hidden_layers
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if not name.startswith("encoder."):
            key = (recipe.head_lr, recipe.weight_decay)
        else:  # biases and LayerNorm: decaying them only hurts
            key = (recipe.lr * layer_lr_scale(name, n_layers, recipe.layer_decay),
                   recipe.weight_decay if p.ndim >= 2 else 0.0)
        groups.setdefault(key, []).append(p)
    return [{"params": params, "lr": lr, "weight_decay": wd} for (lr, wd), params in groups.items()]


def _schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup: float):
    warm = max(1, int(total_steps * warmup))

    def factor(step: int):
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _rounds_per_epoch(streams: dict) -> int:
    return max(1, math.ceil(sum(s.n_batches for s in streams.values()) / len(streams)))


class Trainer:
    """Optimizer, schedule and batch streams for one recipe; `run_round()` trains one round."""

    def __init__(self, model: MultitaskModel, tokenizer: Tokenizer, train_splits: dict, device: str,
                 epochs: int, memo: EmbeddingMemo | None = None, ranks: Ranks | None = None):
        recipe = self.recipe = model.recipe
        self.model, self.device, self.memo, self.ranks = model, device, memo, ranks if ranks is not None else Ranks()
        self.rng = random.Random(recipe.seed)
        if recipe.sts_bias_init == "label-mean":
            if "sts" not in train_splits:
                raise ValueError(f"{recipe.name}: sts_bias_init label-mean needs STS training data")
            start_at(model.sts_head, float(np.mean([e.label for e in train_splits["sts"].examples])))
        if memo is not None:
            for p in model.encoder.parameters():
                p.requires_grad_(False)
            self.feature_sets = _feature_sets(model, train_splits, memo)
            self.streams = {}
            self.rounds_per_epoch = _frozen_rounds(self.feature_sets, recipe)
            steps_per_round = 1
        else:
            if recipe.freeze_word_embeddings and recipe.encoder == "finetune":
                model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
            self.feature_sets = None
            self.streams = {t: TaskStream(t, s.examples, tokenizer, recipe, random.Random(self.rng.random()))
                            for t, s in train_splits.items()}
            self.rounds_per_epoch = _rounds_per_epoch(self.streams)
            steps_per_round = len(self.streams) if recipe.sharing == "round-robin" else 1
        self.steps_per_round = steps_per_round
        self.idle: set[str] = set()  # tasks left out of a round (two-stage's second stage)
        self._optimize(epochs, recipe.warmup)
        # bf16 autocast on the GPU; tests switch it on for the CPU to rehearse the mixed-precision paths.
        self.use_bf16 = str(device).startswith("cuda")
        self.device_type = torch.device(device).type
        self.sentences = 0  # sentences through the encoder (or through the heads, when frozen)

    def _optimize(self, epochs: int, warmup: float) -> None:
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        # After freezing (word embeddings; the encoder in two-stage's second stage): DDP reduces what trains.
        self.loss_module = self.ranks.wrap(TaskLoss(self.model), self.device)
        self.optimizer = torch.optim.AdamW(_param_groups(self.model, self.recipe),
                                           fused=str(self.device).startswith("cuda"))
        self.scheduler = _schedule(self.optimizer, epochs * self.rounds_per_epoch * self.steps_per_round, warmup)

    def freeze_encoder(self, epochs: int) -> None:
        """Two-stage training's second stage: the encoder stops learning and the heads train on
        for `epochs`, from their own rate again (the first stage's schedule ended at 0), without
        warmup. The encoder's dropout stays on, so the heads still see varied features."""
        for p in self.model.encoder.parameters():
            p.requires_grad_(False)
        # A head with no parameters (5 x cosine) has nothing left to learn: its task sits out.
        heads = {"sst": self.model.sst_head, **self.model.pair_heads}
        self.idle = {t for t in self.streams if not any(p.requires_grad for p in heads[t].parameters())}
        self._optimize(epochs, 0.0)

    @property
    def tasks(self) -> list[str]:
        return [t for t in (self.feature_sets or self.streams) if t not in self.idle]

    def _step(self) -> None:
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.scheduler.step()

    def run_round(self) -> dict[str, torch.Tensor]:
        """One batch of every task; returns each task's loss as a detached 0-d tensor on the
        device. Reading it (`float`) waits for the GPU, so callers read losses rarely: a
        launch-bound process must keep queueing work while the GPU runs."""
        self.model.train()
        if self.feature_sets is not None:
            losses = _frozen_round(self.model, self.feature_sets, self.recipe, self.rng, self.device)
            self.optimizer.zero_grad(set_to_none=True)
            sum(losses.values()).backward()
            self._step()
            self.sentences += sum(min(self.recipe.batch_size, len(s[2])) for s in self.feature_sets.values())
            return {t: v.detach() for t, v in losses.items()}
        sharing = self.recipe.sharing
        losses, task_grads = {}, []
        self.optimizer.zero_grad(set_to_none=True)
        streams = {t: self.streams[t] for t in self.tasks}
        for i, (task, stream) in enumerate(streams.items()):
            idx, shard = stream.next_indices(), None
            if self.ranks.active:
                idx, shard = self.ranks.shard(idx)
            batch, n_pairs, labels = stream.batch(idx)
            self.sentences += batch.input_ids.shape[0]
            batch, labels = _to_device(batch, self.device), _to_device(labels, self.device)
            # Summed tasks under DDP: all-reduce once, at the last task's backward, the gradients
            # accumulated (DDP reads no_sync at forward time, so the forward is inside it too).
            with no_sync(self.loss_module, skip=sharing == "sum" and i < len(streams) - 1):
                with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.use_bf16):
                    loss = self.loss_module(task, batch, n_pairs, labels, shard)
                loss.backward()
            losses[task] = loss.detach()
            if sharing == "round-robin":
                self._step()
                self.optimizer.zero_grad(set_to_none=True)
            elif sharing == "pcgrad":
                task_grads.append(flat_grad(self.params))
                self.optimizer.zero_grad(set_to_none=True)
        if sharing == "pcgrad":
            assign_flat_grad(self.params, pcgrad(task_grads, self.rng))
        if sharing != "round-robin":
            self._step()
        return losses


def train_variant(recipe: Recipe, options: TrainOptions) -> Path:
    """Train `recipe`, keep the best epoch by the CS224N overall score in
    `checkpoints_dir/recipe.name`, and return that folder."""
    recipe = recipe.with_overrides(**options.overrides)
    if recipe.encoder == "frozen" and world_size() > 1:
        raise SystemExit(f"{recipe.name}: a frozen-encoder recipe trains its heads on features computed once, in "
                         "seconds on one device; data-parallel processes would only add start-up and communication. "
                         "Train it without torchrun.")
    seed_everything(recipe.seed)
    # Under torchrun: rank 0 alone prints, evaluates and stores (`distributed.py`).
    ranks, device = from_environment(options.device)
    backbone = resolve_backbone(None)
    model = build_model(recipe, backbone).to(device)
    if ranks.active:
        torch.manual_seed(recipe.seed + ranks.rank)  # the same weights everywhere, dropout of its own per rank
    tokenizer = Tokenizer(backbone, max_length=recipe.max_length)
    train_splits = load_splits(recipe.train_tasks if recipe.encoder != "frozen" else TASK_NAMES, "train", options)
    dev_splits = load_splits(TASK_NAMES, "dev", options)
    storage = options.storage or ("fp32" if recipe.encoder == "frozen" else "int8-delta")
    target = Path(options.checkpoints_dir) / recipe.name
    if ranks.is_main:
        print(f"training {recipe.name} on {hardware(device)}" + (f" x {ranks.world} processes" if ranks.active else "")
              + ": " + ", ".join(f"{t} {len(s.examples)} rows" for t, s in train_splits.items()))

    started = time.perf_counter()
    memo = warmed_memo(model, tokenizer, file_sha256(backbone / "model.safetensors"), device,
                       [*train_splits.values(), *dev_splits.values()], options.cache_dir)
    features_seconds = None
    if memo is not None:
        features_seconds = time.perf_counter() - started
        print(f"  frozen features ready in {features_seconds:.1f} s")
    trainer = Trainer(model, tokenizer, train_splits, device, recipe.epochs, memo, ranks)
    rounds = trainer.rounds_per_epoch

    history, best, best_epoch, best_state, train_seconds = [], -1.0, None, None, 0.0
    stopped_early = None
    started = time.perf_counter()
    epochs = recipe.epochs + recipe.head_epochs
    try:
        for epoch in range(1, epochs + 1):
            if options.max_seconds is not None and history:
                # Judged by the slowest epoch so far (training and its dev evaluation).
                expected_end = time.perf_counter() - started + max(h["seconds"] for h in history)
                if expected_end > options.max_seconds:
                    stopped_early = (f"time budget of {options.max_seconds:.0f} s: {epoch - 1} of {epochs} "
                                     f"epochs run (epoch {epoch} would have ended after {expected_end:.0f} s)")
                    print(f"  stopping: {stopped_early}")
            if options.max_seconds is not None and ranks.agree(stopped_early is not None):
                break
            if epoch == recipe.epochs + 1:
                trainer.freeze_encoder(recipe.head_epochs)
                if ranks.is_main:
                    print(f"  encoder frozen: {recipe.head_epochs} epochs of the heads alone")
            sums = {t: torch.zeros((), device=device) for t in trainer.tasks}
            bar = tqdm(range(rounds), desc=f"{recipe.name} epoch {epoch}/{epochs}",
                       disable=not (options.progress and ranks.is_main), leave=False, dynamic_ncols=True)
            epoch_start = time.perf_counter()
            for r in bar:
                for t, loss in trainer.run_round().items():
                    sums[t] += loss.float()
                if options.progress and (r % 10 == 0 or r == rounds - 1):
                    bar.set_postfix({t: f"{float(v) / (r + 1):.3f}" for t, v in sums.items()})
            train_seconds += time.perf_counter() - epoch_start
            sentences = trainer.sentences
            if ranks.active:  # the global batch's mean losses and every rank's sentences
                sums = dict(zip(sums, ranks.sum(torch.stack(list(sums.values()))) / ranks.world))
                sentences = int(ranks.sum(torch.tensor(float(sentences), device=device)))
                if not ranks.is_main:
                    continue
            model.eval()
            metrics = dev_metrics(Scorer(model, tokenizer, device, memo=memo), dev_splits)
            record = {"epoch": epoch, "train_loss": {t: float(v) / rounds for t, v in sums.items()},
                      "dev": {k: v for k, v in metrics.items() if k != "rows"},
                      "seconds": round(time.perf_counter() - epoch_start, 2)}
            history.append(record)
            print(f"  epoch {epoch}: " + " ".join(f"{k} {v:.4f}" for k, v in record["dev"].items())
                  + f" ({record['seconds']} s)")
            if metrics["overall"] > best:
                best, best_epoch = metrics["overall"], epoch
                # Kept whole, so that a coarser storage that moves dev metrics can be redone finer.
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                training = {"device": str(device), "hardware": hardware(device), "best_epoch": best_epoch,
                            "epochs_run": epoch, "wall_seconds": round(time.perf_counter() - started, 1),
                            "train_sentences_per_second": round(sentences / max(train_seconds, 1e-9), 1),
                            "rows_per_task": {t: len(s.examples) for t, s in train_splits.items()},
                            "dev_rows": metrics["rows"], "seed": recipe.seed, "torch": torch.__version__,
                            **({"processes": ranks.world} if ranks.active else {}),
                            "quora_train_note": "quora-train.csv may be partial (the shared copy holds 16% of it)"}
                save_checkpoint(target, model, backbone, storage=storage, metrics={"dev_at_training": record["dev"]},
                                history=history, training=training)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {target} holds the best epoch so far ({best_epoch or 'none saved'})")
        return target
    if not ranks.is_main:
        return target
    if best_epoch is None:
        raise RuntimeError(f"{recipe.name}: no epoch completed")
    # The whole run (every epoch and its evaluation), not only up to the best epoch.
    finished = {"wall_seconds": round(time.perf_counter() - started, 1), "epochs_run": len(history)}
    if stopped_early:
        finished["stopped_early"] = stopped_early
    if features_seconds is not None:
        finished["features_seconds"] = round(features_seconds, 1)  # 0 when the disk cache had them
    model.load_state_dict(best_state)
    _store_checked(target, model, backbone, storage, dev_splits, device, history, options.cache_dir, finished)
    return target


# The stored form may move no dev metric by more than this (issue 8); a coarser format that does is
# replaced by the next finer one, so that one unattended GPU run cannot ship a damaged checkpoint.
STORAGE_TOLERANCE = 0.002
FINER = {"int8-delta": "fp16", "int8": "fp16", "fp16": "fp32"}


def _store_checked(target: Path, model: MultitaskModel, backbone: Path, storage: str, dev_splits: dict, device: str,
                   history: list, cache_dir: Path | None, finished: dict) -> None:
    """Re-score the checkpoint as stored (after fp16/int8 rounding) against the training-time
    weights of its best epoch (`model`, already saved once as `storage`); while a metric moves
    by more than STORAGE_TOLERANCE, store it finer. Every try is recorded in the config."""
    tried = []
    while True:
        loaded, tokenizer, config = load_checkpoint(target, device)
        memo = warmed_memo(loaded, tokenizer, loaded_weights_sha256(config.backbone["name"]), device,
                           dev_splits.values(), cache_dir)
        stored = dev_metrics(Scorer(loaded, tokenizer, device, memo=memo), dev_splits)
        at_training = config.metrics["dev_at_training"]
        moved = {k: stored[k] - at_training[k] for k in at_training}
        worst = max(abs(v) for v in moved.values())
        tried.append({"dtype": storage, "max_change": worst})
        print(f"  stored as {storage}: " + " ".join(f"{k} {stored[k]:.4f} ({v:+.4f})" for k, v in moved.items()))
        if worst <= STORAGE_TOLERANCE or storage not in FINER:
            break
        print(f"  {storage} moved a dev metric by {worst:.4f} > {STORAGE_TOLERANCE}: storing as {FINER[storage]}")
        storage = FINER[storage]
        save_checkpoint(target, model, backbone, storage=storage, metrics={"dev_at_training": at_training},
                        history=history, training=config.training)
    config.metrics["dev"] = {k: v for k, v in stored.items() if k != "rows"}
    config.metrics["dev_rows"] = stored["rows"]
    config.storage["tried"] = tried
    config.history = history
    config.training.update(finished)
    config.write(target)


# --- frozen encoders: the heads train on cached sentence features ---------------------------

def _feature_sets(model: MultitaskModel, splits: dict, memo: EmbeddingMemo) -> dict:
    """Per task whose head has parameters: feature tensors and labels."""
    recipe = model.recipe
    heads = {"sst": model.sst_head, **model.pair_heads}
    sets = {}
    for task, split in splits.items():
        if not any(True for _ in heads[task].parameters()):
            continue  # a parameter-free head (5 x cosine) has nothing to learn
        ex = split.examples
        if not get_task(task).pair:
            sets[task] = (memo.embed([e.sentence for e in ex], recipe.pooling), None,
                          torch.tensor([e.label for e in ex]))
        else:
            sets[task] = (memo.embed([e.sentence1 for e in ex], recipe.pooling),
                          memo.embed([e.sentence2 for e in ex], recipe.pooling),
                          torch.tensor([e.label for e in ex], dtype=torch.float32))
    return sets


def _frozen_rounds(sets: dict, recipe: Recipe) -> int:
    return max(1, math.ceil(sum(math.ceil(len(s[2]) / recipe.batch_size) for s in sets.values()) / len(sets)))


def _frozen_round(model: MultitaskModel, sets: dict, recipe: Recipe, rng: random.Random, device: str | torch.device) -> dict:
    losses = {}
    for task, (u, v, y) in sets.items():
        idx = torch.tensor(rng.sample(range(len(y)), min(recipe.batch_size, len(y))))
        if not get_task(task).pair:
            losses[task] = F.cross_entropy(model.sst_head(u[idx].to(device)), y[idx].to(device))
        else:
            out = model.pair_heads[task](u[idx].to(device), v[idx].to(device))
            target = y[idx].to(device)
            losses[task] = (F.binary_cross_entropy_with_logits(out, target) if get_task(task).binary
                            else F.mse_loss(out, target))
    return losses
