"""Token attributions of one scorer's output: which word pieces an answer came from.

    gradient_x_input(scorer, "sst", "a fine film")             -> [(token, weight in [-1, 1]), ...]
    attention_rollout(scorer, "quora", "q1", "q2")             -> [(token, weight in [0, 1]), ...]

Like LIT's interpreters, these read only what a scorer declares: its `tokenizer`, `device`,
`recipe` (pooling, pair encoding) and `model`'s public surface (`token_embeddings`, `embed` with
`inputs_embeds` or `output_attentions`, `sst_head`, `pair_heads`), never the encoder's modules.
Tokens come in the order the model reads them: one segment for a sentence or a cross-encoded
pair, two ([CLS] ... [SEP] each) for a bi-encoded pair.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch

from .tasks import task as get_task
from .tokenizer import Batch

if TYPE_CHECKING:
    from .network import MultitaskModel
    from .predict import Scorer


def _model_of(scorer: Scorer) -> MultitaskModel:
    model = getattr(scorer, "model", None)
    if model is None:
        raise ValueError(f"{getattr(scorer, 'name', 'this predictor')} has no single model to explain "
                         "(an ensemble averages its members: pick one of its members)")
    return model


def model_inputs(scorer: Scorer, task: str, text: str, text2: str | None = None) -> list[Batch]:
    """The batches (of one row each) the scorer's encoder reads for one input of `task`."""
    pair = get_task(task).pair
    if pair and text2 is None:
        raise ValueError(f"task {task!r} needs two sentences")
    tok = scorer.tokenizer
    if not pair:
        batches = [tok([text])]
    elif scorer.recipe.pair_encoding == "cross":
        batches = [tok([text], [text2])]
    else:
        batches = [tok([text]), tok([text2])]
    return [b.to(scorer.device) for b in batches]


def _tokens(scorer: Scorer, batches: list[Batch]) -> list[str]:
    return [t for b in batches for t in scorer.tokenizer.id_tokens(b.input_ids[0].tolist())]


@contextmanager
def _eval_mode(model: MultitaskModel) -> Iterator[None]:
    """The model in eval mode (no dropout) for the block, then back as it was."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def gradient_x_input(scorer: Scorer, task: str, text: str, text2: str | None = None) -> list[tuple[str, float]]:
    """Gradient x input on the word embeddings, summed over the hidden size, scaled to [-1, 1]:
    positive tokens push the shown output (the predicted class's logit, the paraphrase logit, or
    the similarity score) up."""
    model = _model_of(scorer)
    batches = model_inputs(scorer, task, text, text2)
    with _eval_mode(model), torch.enable_grad():
        embeds = [model.token_embeddings(b).detach().requires_grad_(True) for b in batches]
        pooled = [model.embed(b, inputs_embeds=e) for b, e in zip(batches, embeds)]
        if not get_task(task).pair:
            logits = model.sst_head(pooled[0])[0]
            target = logits[logits.argmax()]
        else:
            target = model.pair_heads[task](*pooled)[0]
        # Gradients to the embeddings only: a serving model's parameters keep no .grad.
        grads = torch.autograd.grad(target, embeds)
    weights = [w for g, e in zip(grads, embeds) for w in (g[0] * e[0]).sum(-1).detach().cpu().tolist()]
    scale = max((abs(w) for w in weights), default=0.0) or 1.0
    return [(t, w / scale) for t, w in zip(_tokens(scorer, batches), weights)]


@torch.no_grad()
def attention_rollout(scorer: Scorer, task: str, text: str, text2: str | None = None) -> list[tuple[str, float]]:
    """Attention rollout (Abnar & Zuidema 2020) through every layer of the scorer's encoder:
    per layer, the head-averaged attention plus the identity (the residual), rows renormalised,
    multiplied from the first layer up; a token's weight is how much of the pooled vector flows
    from it ([CLS] row for cls pooling, the mean of the real tokens' rows for mean pooling).
    Weights scaled to [0, 1]."""
    model = _model_of(scorer)
    batches = model_inputs(scorer, task, text, text2)
    weights: list[float] = []
    for batch in batches:
        with _eval_mode(model):
            _, maps = model.embed(batch, output_attentions=True)
        t = batch.input_ids.shape[1]
        eye = torch.eye(t, device=batch.input_ids.device)
        rollout = eye
        for att in maps:
            att = 0.5 * att[0].float().mean(0) + 0.5 * eye
            rollout = (att / att.sum(-1, keepdim=True)) @ rollout
        if scorer.recipe.pooling == "cls":
            flow = rollout[0]
        else:
            flow = rollout[batch.attention_mask[0].bool()].mean(0)
        weights += flow.cpu().tolist()
    scale = max(weights, default=0.0) or 1.0
    return [(tk, w / scale) for tk, w in zip(_tokens(scorer, batches), weights)]
