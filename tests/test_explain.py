"""The encoder's attention maps and the attribution methods of minibert.explain."""
import math

import numpy as np
import pytest
import torch

from minibert import explain as X
from minibert.model import BertConfig, BertModel
from minibert.predict import load_variants

TINY = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=3, num_attention_heads=4, intermediate_size=32,
                  max_position_embeddings=16)


@pytest.fixture(scope="module")
def tiny_encoder():
    torch.manual_seed(0)
    model = BertModel(TINY).eval()
    ids = torch.randint(1, TINY.vocab_size, (2, 7))
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0  # the second row is padded
    ids[1, 4:] = 0
    types = torch.zeros_like(ids)
    types[:, 3:] = 1
    return model, ids, mask, types


def test_attention_maps_are_the_softmax_of_scaled_query_key_products(tiny_encoder):
    model, ids, mask, types = tiny_encoder
    with torch.no_grad():
        maps = model(ids, mask, types, output_attentions=True).attentions
        assert len(maps) == TINY.num_hidden_layers
        heads, size = TINY.num_attention_heads, TINY.hidden_size // TINY.num_attention_heads
        b, t = ids.shape
        bias = torch.where(mask.bool(), 0.0, -1e9)[:, None, None, :]
        x = model.embeddings(ids, types)
        model_bias = torch.zeros(mask.shape).masked_fill(mask == 0, torch.finfo(torch.float32).min)[:, None, None, :]
        for layer, got in zip(model.encoder.layer, maps):
            attn = layer.attention.self
            q = (x @ attn.query.weight.T + attn.query.bias).view(b, t, heads, size).transpose(1, 2)
            k = (x @ attn.key.weight.T + attn.key.bias).view(b, t, heads, size).transpose(1, 2)
            expected = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(size) + bias, -1)
            assert got.shape == (b, heads, t, t)
            torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
            assert got[1, :, :, 4:].abs().max() < 1e-12  # padded keys get no attention
            x, _ = layer(x, model_bias)  # the default (SDPA) path feeds the next layer


def test_asking_for_maps_changes_no_output(tiny_encoder):
    model, ids, mask, types = tiny_encoder
    with torch.no_grad():
        plain = model(ids, mask, types)
        mapped = model(ids, mask, types, output_attentions=True)
    assert plain.attentions is None and len(mapped.attentions) == TINY.num_hidden_layers
    assert (plain.last_hidden_state - mapped.last_hidden_state).abs().max() < 1e-6
    assert (plain.pooler_output - mapped.pooler_output).abs().max() < 1e-6


@pytest.fixture(scope="module")
def variants(tiny_world):
    return load_variants(tiny_world["checkpoints"], "cpu")[0]


def test_gradient_x_input_covers_every_token(variants):
    attr = X.gradient_x_input(variants["tiny-cls"], "sst", "the film is good")
    assert [t for t, _ in attr] == ["[CLS]", "the", "film", "is", "good", "[SEP]"]
    assert max(abs(w) for _, w in attr) == pytest.approx(1.0)
    pair = X.gradient_x_input(variants["tiny-mean"], "quora", "the film", "a film")
    assert [t for t, _ in pair].count("[CLS]") == 2
    with pytest.raises(ValueError, match="member"):
        X.gradient_x_input(variants["ensemble"], "sst", "x")
    with pytest.raises(ValueError, match="two sentences"):
        X.attention_rollout(variants["tiny-cls"], "sts", "x")


def test_gradient_x_input_is_the_gradient_of_the_shown_output(variants):
    """Scaling one token's embedding by (1 + eps) moves the output by about eps times that
    token's gradient x input, so the central differences, scaled like the weights, are them."""
    variant = variants["tiny-cross"]
    model, eps = variant.model, 1e-2
    batch = X.model_inputs(variant, "sts", "the film", "a film")[0]
    with torch.no_grad():
        emb = model.token_embeddings(batch).double()
        model.double()
        try:
            def output(scale_token, factor):
                moved = emb.clone()
                moved[0, scale_token] *= factor
                return float(model.pair_heads["sts"](model.embed(batch, inputs_embeds=moved).pooled)[0])

            changes = np.array([(output(i, 1 + eps) - output(i, 1 - eps)) / (2 * eps) for i in range(emb.shape[1])])
        finally:
            model.float()
    attr = X.gradient_x_input(variant, "sts", "the film", "a film")
    np.testing.assert_allclose([w for _, w in attr], changes / np.abs(changes).max(), atol=1e-4)


def test_attributions_leave_no_parameter_gradients_and_keep_the_mode(variants):
    variant = variants["tiny-cross"]
    variant.model.train()
    try:
        X.gradient_x_input(variant, "sts", "the film", "a film")
        X.attention_rollout(variant, "sts", "the film", "a film")
        assert variant.model.training
    finally:
        variant.model.eval()
    assert all(p.grad is None for p in variant.model.parameters())


def test_attention_rollout_by_hand(variants):
    """With the queries zeroed every head attends uniformly: per layer A = 0.5 U + 0.5 I with
    U = 1/t everywhere, and since U @ U = U, L layers give (1 - 0.5^L) U + 0.5^L I. With [CLS]
    pooling, [CLS] keeps (1 - 0.5^L)/t + 0.5^L and every other token (1 - 0.5^L)/t."""
    variant = variants["tiny-cls"]
    model = variant.model
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    layers = len(model.encoder.encoder.layer)
    try:
        with torch.no_grad():
            for layer in model.encoder.encoder.layer:
                layer.attention.self.query.weight.zero_()
                layer.attention.self.query.bias.zero_()
        tokens = X.attention_rollout(variant, "sst", "the film")
    finally:
        model.load_state_dict(saved)
    t, keep = len(tokens), 0.5 ** layers
    cls, other = (1 - keep) / t + keep, (1 - keep) / t
    assert [tk for tk, _ in tokens][0] == "[CLS]"
    np.testing.assert_allclose([w for _, w in tokens], [1.0] + [other / cls] * (t - 1), rtol=1e-5)


@pytest.mark.parametrize("name, task, second", [("tiny-cls", "sst", None), ("tiny-mean", "quora", "a good film"),
                                                ("tiny-cross", "sts", "a good film")])
def test_integrated_gradients_are_complete(variants, name, task, second):
    """Completeness: the attributions add up to the output's change from the baseline (every word
    piece [PAD]) within 5 %, both outputs computed here from the model, not from captum."""
    pytest.importorskip("captum")
    variant = variants[name]
    text = "the film was not good at all"
    attr = X.integrated_gradients(variant, task, text, second, steps=32)
    batches = X.model_inputs(variant, task, text, second)
    model = variant.model
    pad = variant.tokenizer.pad_id
    with torch.no_grad():
        def output(batches):
            pooled = [model.embed(b).pooled for b in batches]
            if task == "sst":
                return float(torch.softmax(model.sst_head(pooled[0]), -1)[0] @ torch.arange(5.0))
            return float(model.pair_heads[task](*pooled).reshape(-1)[0])

        blank = []
        for b in batches:
            ids = b.input_ids.clone()
            words = [i for i, tk in enumerate(variant.tokenizer.id_tokens(ids[0].tolist())) if tk not in ("[CLS]", "[SEP]")]
            ids[0, words] = pad
            blank.append(type(b)(ids, b.attention_mask, b.token_type_ids, b.truncated))
        change = output(batches) - output(blank)
    if task == "sst":  # the explained output is the expected class of the probabilities the app shows
        assert attr.output == pytest.approx(float(variant.sentiment([text])[0] @ np.arange(5)), abs=1e-4)
    assert attr.output - attr.baseline_output == pytest.approx(change, abs=1e-5)
    assert abs(change) > 1e-4
    assert abs(sum(attr.weights) - change) <= 0.05 * abs(change)
    assert attr.completeness_gap <= 0.05
    assert len(attr.weights) == len(attr.tokens)


class CountingScorer:
    """Sentiment: "very positive" with probability 0.2 per "good" (at most 1); pairs: P(duplicate)
    and similarity from the words the two sentences share. Enough to work leave-one-out by hand."""

    def score(self, task, inputs):
        if task == "sst":
            out = []
            for text in inputs:
                p = min(0.2 * text.split().count("good"), 1.0)
                out.append([1 - p, 0, 0, 0, p])
            return np.array(out)
        shared = [len(set(a.split()) & set(b.split())) for a, b in inputs]
        return np.array([s / 10 + 0.25 for s in shared] if task == "quora" else [float(s) for s in shared])


def test_leave_one_out_by_hand():
    attr = X.leave_one_out(CountingScorer(), "sst", "a good good film")
    # expected class: 4 x 0.4 = 1.6 with both; 4 x 0.2 = 0.8 without either "good"
    assert attr.tokens == ["a", "good", "good", "film"] and attr.output == pytest.approx(1.6)
    np.testing.assert_allclose(attr.weights, [0, 0.8, 0.8, 0], atol=1e-9)
    pair = X.leave_one_out(CountingScorer(), "sts", "the red film", "the blue film")
    assert pair.tokens == ["the", "red", "film", "[SEP]", "the", "blue", "film"]
    np.testing.assert_allclose(pair.weights, [1, 0, 1, 0, 1, 0, 1])  # 2 shared words; 1 without either
    quora = X.leave_one_out(CountingScorer(), "quora", "a b", "a c")
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    np.testing.assert_allclose(quora.weights, [logit(0.35) - logit(0.25), 0, 0, logit(0.35) - logit(0.25), 0])
    capped = X.leave_one_out(CountingScorer(), "sst", "good " * 5, max_words=2)
    np.testing.assert_allclose(capped.weights, [0.8, 0.8, 0, 0, 0])
    # the input's own output handed in (Compare scored it): the same weights, one input fewer scored
    scorer, sizes = CountingScorer(), []
    own = scorer.score("sst", ["a good good film"])[0]
    scorer.score = lambda task, inputs, score=scorer.score: sizes.append(len(inputs)) or score(task, inputs)
    known = X.leave_one_out(scorer, "sst", "a good good film", known=own)
    assert sizes == [4] and known.tokens == attr.tokens and known.output == pytest.approx(attr.output)
    np.testing.assert_allclose(known.weights, attr.weights, atol=1e-9)
