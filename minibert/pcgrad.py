"""PCGrad (Yu et al. 2020, "Gradient Surgery for Multi-Task Learning").

Each task's gradient is projected off the normal plane of every other task's gradient it
conflicts with (negative dot product), against the other tasks' ORIGINAL gradients, in a random
order; the projected gradients are then summed.
"""
from __future__ import annotations

import random

import torch


def pcgrad(task_grads: list[torch.Tensor], rng: random.Random) -> torch.Tensor:
    """`task_grads`: one flat gradient per task. Returns the combined flat gradient."""
    combined = torch.zeros_like(task_grads[0])
    for i, g in enumerate(task_grads):
        g = g.clone()
        others = [j for j in range(len(task_grads)) if j != i]
        rng.shuffle(others)
        for j in others:
            other = task_grads[j]
            dot = torch.dot(g, other)
            norm_sq = torch.dot(other, other)
            if dot < 0 and norm_sq > 0:
                g -= (dot / norm_sq) * other
        combined += g
    return combined


def flat_grad(params: list[torch.nn.Parameter]) -> torch.Tensor:
    """The current .grad of `params` as one vector (zeros where a task left no gradient)."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])


def assign_flat_grad(params: list[torch.nn.Parameter], flat: torch.Tensor) -> None:
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n
