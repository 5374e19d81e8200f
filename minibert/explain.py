"""Token attributions of one scorer's output: which word pieces an answer came from.

    gradient_attribution(scorer, "sst", "a fine film")         -> Attribution(tokens, weights, output)
    integrated_gradients(scorer, "sts", "a", "b", steps=32)    -> Attribution (+ baseline_output)
    rollout_attribution(scorer, "quora", "q1", "q2")           -> Attribution (shares of the pooled vector)
    leave_one_out(scorer, "sst", "a fine film")                -> Attribution per word (output drop without it)
    gradient_x_input / attention_rollout                       -> the same scaled to [-1, 1] / [0, 1]

Weights are in the units of the explained output (`explained_output`: SST's expected class,
Quora's logit, STS's score), so attributions of several scorers of one task share a scale.

Like LIT's interpreters, these read only what a scorer declares: its `tokenizer`, `device`,
`recipe` (pooling, pair encoding) and `model`'s public surface (`token_embeddings`, `embed` with
`inputs_embeds` or `output_attentions`, `sst_head`, `pair_heads`), never the encoder's modules.
Tokens come in the order the model reads them: one segment for a sentence or a cross-encoded
pair, two ([CLS] ... [SEP] each) for a bi-encoded pair.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .tasks import task as get_task
from .tokenizer import Batch

# Kept as they are in Integrated Gradients' baseline: the frame of a sentence, not its words.
KEPT = frozenset({"[CLS]", "[SEP]", "[PAD]"})

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


@dataclass
class Attribution:
    """Per token, how much of `output` (the explained quantity, in its own units) it accounts for.
    Unscaled, so that attributions of several scorers of the same task share one scale."""
    tokens: list[str]
    weights: list[float]
    output: float                       # the explained quantity at the input
    baseline_output: float | None = None  # Integrated Gradients: the quantity at the baseline
    steps: int = 0                      # Integrated Gradients: points on the path

    @property
    def completeness_gap(self) -> float | None:
        """|sum of the weights - (output - baseline output)|, relative to the output's change
        (Integrated Gradients only; 0 for an exact path integral)."""
        if self.baseline_output is None:
            return None
        change = self.output - self.baseline_output
        return abs(sum(self.weights) - change) / max(abs(change), 1e-12)


def explained_output(model: MultitaskModel, task: str, pooled: list[torch.Tensor]) -> torch.Tensor:
    """The one number per row that the attributions explain, the same for every scorer of a task:
    SST the expected class (sum of c x P(c), 0-4: higher is more positive; the gradient of one
    class's logit says little, since a softmax ignores what all logits share), Quora the
    paraphrase logit (towards "duplicate"), STS the similarity score."""
    if not get_task(task).pair:
        probs = torch.softmax(model.sst_head(pooled[0]), dim=-1)
        return probs @ torch.arange(probs.shape[-1], dtype=probs.dtype, device=probs.device)
    return model.pair_heads[task](*pooled).reshape(-1)


def _repeat(batch: Batch, n: int) -> Batch:
    return Batch(batch.input_ids.expand(n, -1), batch.attention_mask.expand(n, -1), batch.token_type_ids.expand(n, -1),
                 batch.truncated * n)


def _forward(model: MultitaskModel, task: str, batches: list[Batch]) -> Callable[..., torch.Tensor]:
    """The explained output as a function of the word embeddings of each batch (any number of rows)."""
    def forward(*embeds: torch.Tensor) -> torch.Tensor:
        pooled = [model.embed(_repeat(b, e.shape[0]), inputs_embeds=e).pooled for b, e in zip(batches, embeds)]
        return explained_output(model, task, pooled)
    return forward


def gradient_attribution(scorer: Scorer, task: str, text: str, text2: str | None = None) -> Attribution:
    """Gradient x input on the word embeddings, summed over the hidden size: positive tokens push
    the explained output (`explained_output`) up."""
    model = _model_of(scorer)
    batches = model_inputs(scorer, task, text, text2)
    with _eval_mode(model), torch.enable_grad():
        embeds = [model.token_embeddings(b).detach().requires_grad_(True) for b in batches]
        target = _forward(model, task, batches)(*embeds)[0]
        # Gradients to the embeddings only: a serving model's parameters keep no .grad.
        grads = torch.autograd.grad(target, embeds)
    weights = [w for g, e in zip(grads, embeds) for w in (g[0] * e[0]).sum(-1).detach().cpu().tolist()]
    return Attribution(_tokens(scorer, batches), weights, float(target.detach()))


def gradient_x_input(scorer: Scorer, task: str, text: str, text2: str | None = None) -> list[tuple[str, float]]:
    """`gradient_attribution` scaled to [-1, 1], as (token, weight) pairs."""
    return _scaled(gradient_attribution(scorer, task, text, text2))


def _scaled(attr: Attribution) -> list[tuple[str, float]]:
    scale = max((abs(w) for w in attr.weights), default=0.0) or 1.0
    return [(t, w / scale) for t, w in zip(attr.tokens, attr.weights)]


def integrated_gradients(scorer: Scorer, task: str, text: str, text2: str | None = None,
                         steps: int = 32) -> Attribution:
    """Integrated Gradients (captum, imported here: the app pays for it only when asked) on the word
    embeddings, from a baseline in which every word piece is [PAD] ([CLS] and [SEP] kept), with
    `steps` points of captum's Gauss-Legendre rule. The weights sum to output - baseline_output up
    to the integral's error (`completeness_gap`)."""
    from captum.attr import IntegratedGradients

    model = _model_of(scorer)
    batches = model_inputs(scorer, task, text, text2)
    tokens = _tokens(scorer, batches)
    with _eval_mode(model), torch.enable_grad():
        embeds = tuple(model.token_embeddings(b).detach() for b in batches)
        baselines = tuple(model.token_embeddings(_blanked(scorer, b)).detach() for b in batches)
        forward = _forward(model, task, batches)
        attrs = IntegratedGradients(forward).attribute(embeds, baselines=baselines, n_steps=steps,
                                                       internal_batch_size=steps)
        with torch.no_grad():
            output, base = float(forward(*embeds)[0]), float(forward(*baselines)[0])
    attrs = attrs if isinstance(attrs, tuple) else (attrs,)
    weights = [w for a in attrs for w in a[0].sum(-1).detach().cpu().tolist()]
    return Attribution(tokens, weights, output, base, steps)


def leave_one_out(scorer: Scorer, task: str, text: str, text2: str | None = None,
                  max_words: int = 60, known: object = None) -> Attribution:
    """Per word (split at spaces), how much the explained output drops when that word alone is
    removed: output(input) - output(input without the word), every variant of the input scored in
    one batch through the scorer's own `score` (no gradients, so it reads nothing but the
    predictions). Unlike gradient x input, which measures the slope of scaling a word's embedding
    (a direction the embedding LayerNorm largely cancels), it shows what a word does to the
    answer. Words past `max_words` in a sentence are not tried (weight 0). `known`: the scorer's
    output for the input itself when the caller has it (Compare has just scored it), not scored again."""
    pair = get_task(task).pair
    if pair and text2 is None:
        raise ValueError(f"task {task!r} needs two sentences")
    sentences = [text.split()] + ([text2.split()] if pair else [])
    inputs: list = [(text, text2) if pair else text]
    for k, words in enumerate(sentences):
        for i in range(min(len(words), max_words)):
            shorter = " ".join(words[:i] + words[i + 1:])
            inputs.append(((shorter, text2) if k == 0 else (text, shorter)) if pair else shorter)
    if known is not None:
        inputs = inputs[1:]
    outputs = list(scorer.score(task, inputs)) if inputs else []
    values = [_explained_value(task, o) for o in ([known] if known is not None else []) + outputs]
    tokens: list[str] = []
    weights: list[float] = []
    row = 1
    for k, words in enumerate(sentences):
        if k:
            tokens.append("[SEP]")
            weights.append(0.0)
        for i, word in enumerate(words):
            tokens.append(word)
            weights.append(values[0] - values[row] if i < max_words else 0.0)
            row += i < max_words
    return Attribution(tokens, weights, values[0])


def _explained_value(task: str, output: object) -> float:
    """`explained_output` read from a scorer's prediction: SST's expected class, Quora's logit
    (from P(duplicate), kept off 0 and 1), STS's score (as predicted: clipped to 0-5)."""
    spec = get_task(task)
    if spec.multiclass:
        probs = [float(p) for p in output]
        return sum(c * p for c, p in enumerate(probs))
    if spec.binary:
        p = min(max(float(output), 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))
    return float(output)


def _blanked(scorer: Scorer, batch: Batch) -> Batch:
    """The batch with every word piece replaced by [PAD]; [CLS], [SEP] and the padding kept."""
    ids = batch.input_ids.clone()
    keep = torch.tensor([t in KEPT for t in scorer.tokenizer.id_tokens(ids[0].tolist())], device=ids.device)
    ids[0, ~keep] = scorer.tokenizer.pad_id
    return Batch(ids, batch.attention_mask, batch.token_type_ids, batch.truncated)


@torch.no_grad()
def rollout_attribution(scorer: Scorer, task: str, text: str, text2: str | None = None) -> Attribution:
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
            maps = model.embed(batch, output_attentions=True).attentions
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
    return Attribution(_tokens(scorer, batches), weights, float("nan"))


def attention_rollout(scorer: Scorer, task: str, text: str, text2: str | None = None) -> list[tuple[str, float]]:
    """`rollout_attribution` scaled to [0, 1], as (token, weight) pairs."""
    return _scaled(rollout_attribution(scorer, task, text, text2))
