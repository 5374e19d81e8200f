"""Data-parallel training of one variant under `torchrun` (PyTorch DistributedDataParallel).

Every rank builds the same batch streams from the recipe's seed, so each step draws the same
global batch everywhere; each rank then takes its own contiguous share of it (`Ranks.shard`).
That is a distributed sampler that keeps the single-process batch order, length bucketing
included, so N processes see exactly the batches one process would.

A rank's loss is its share's mean times (rows in its share x ranks / rows in the global batch):
DDP averages gradients over ranks, and this weighting makes the average the gradient of the
global batch's mean even when the batch does not split evenly. A rank whose share is empty (a
batch smaller than the number of ranks) scores one placeholder row at weight 0, so that it still
joins every all-reduce.

PCGrad: each task's backward runs synchronised, so the task gradient it projects is already the
all-reduced (global batch) one, and every rank projects the same vectors in the same random
order (the order comes from the recipe's seed).

InfoNCE: the in-batch negatives are gathered across ranks (`gather_rows`), so the loss is the
global batch's, as with one process; kept per rank, a batch's negatives would shrink with the
number of ranks and the loss would change with it.

Frozen-encoder recipes are refused: they train small heads on features computed once, seconds
on one device, and DDP would only add start-up and communication.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn

from .settings import settings

# Rank 0 evaluates on dev and stores the checkpoint while the others wait at the next collective:
# on the full dev sets that takes minutes, beyond the default timeout of some backends.
COLLECTIVE_TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class Shard:
    """One rank's share of a global batch of `total` rows; `weight` scales its mean loss."""
    rank: int
    world: int
    total: int
    weight: float

    @property
    def padded_rows(self) -> int:
        """Rows every rank contributes to a gather (shares are padded to the largest)."""
        return max(1, math.ceil(self.total / self.world))


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among the training processes (one rank, world 1: no torchrun)."""
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, indices: list[int]) -> tuple[list[int], Shard]:
        """This rank's contiguous share of a global batch's `indices` and its loss weight. Shares
        are as even as can be (sizes differ by at most one); an empty share gets the batch's first
        row at weight 0."""
        total = len(indices)
        per, extra = divmod(total, self.world)
        start = self.rank * per + min(self.rank, extra)
        mine = indices[start:start + per + (1 if self.rank < extra else 0)]
        if not mine:
            return indices[:1], Shard(self.rank, self.world, total, 0.0)
        return mine, Shard(self.rank, self.world, total, len(mine) * self.world / total)

    def wrap(self, module: torch.nn.Module, device: str) -> torch.nn.Module:
        """`module` under DDP (itself with one rank). Unused parameters are expected: each task's
        loss leaves the other tasks' heads out."""
        if not self.active:
            return module
        ids = [torch.device(device).index] if torch.device(device).type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)

    def agree(self, flag: bool) -> bool:
        """Rank 0's `flag`, on every rank (a decision only rank 0 can take, such as stopping)."""
        if not self.active:
            return flag
        box = [flag]
        dist.broadcast_object_list(box, src=0)
        return bool(box[0])

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over ranks (a copy; the input is left as it was)."""
        if not self.active:
            return values
        out = values.detach().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out


def no_sync(module: torch.nn.Module, skip: bool) -> contextlib.AbstractContextManager:
    """DDP's `no_sync()` when `skip` (gradients accumulate locally; the next synchronised
    backward all-reduces the sum), else nothing."""
    if skip and isinstance(module, torch.nn.parallel.DistributedDataParallel):
        return module.no_sync()
    return contextlib.nullcontext()


def world_size() -> int:
    """The number of training processes torchrun started (1 without torchrun)."""
    return settings().world_size


def is_main_process() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def from_environment(device: str) -> tuple[Ranks, str]:
    """Join the process group when started by torchrun (WORLD_SIZE > 1): NCCL for CUDA devices,
    gloo for the CPU; each rank on GPU LOCAL_RANK. Returns the ranks and the device to use."""
    world = world_size()
    if world <= 1:
        return Ranks(), device
    rank, local_rank = settings().rank, settings().local_rank
    if rank is None:
        raise RuntimeError(f"WORLD_SIZE is {world} but RANK is not set: start the processes with torchrun")
    cuda = torch.device(device).type == "cuda"
    if cuda:
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=COLLECTIVE_TIMEOUT)
    return Ranks(rank, world, local_rank), device


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def gather_rows(x: torch.Tensor, shard: Shard) -> torch.Tensor:
    """Every rank's rows of `x` in global batch order, padded per rank to `shard.padded_rows`
    with zeros (mask them out). Differentiable: the backward pass sums each rank's gradient for
    these rows back onto the rank that holds them, so with DDP's averaging a loss computed
    identically on every rank gets exactly its single-process gradient."""
    pad = shard.padded_rows - len(x)
    if pad:
        x = torch.cat([x, x.new_zeros((pad, *x.shape[1:]))])
    return torch.cat(dist_nn.all_gather(x))


def gather_keep(keep: torch.Tensor, shard: Shard) -> torch.Tensor:
    """`keep` gathered as `gather_rows` lays out rows: padding and placeholder rows are False."""
    flags = keep.to(torch.uint8) * (shard.weight > 0)  # gloo gathers no bool tensors
    pad = shard.padded_rows - len(flags)
    if pad:
        flags = torch.cat([flags, flags.new_zeros(pad)])
    out = [torch.empty_like(flags) for _ in range(shard.world)]
    dist.all_gather(out, flags.contiguous())
    return torch.cat(out).bool()
