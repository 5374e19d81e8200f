import pytest
import torch
from safetensors.torch import load_file, save_file

from minibert.backbone import default_backbone_dir
from minibert.model import BertConfig, BertModel, WeightMismatch, load_pretrained, load_state
from minibert.tokenizer import Tokenizer

SENTENCES = [
    "The movie was surprisingly good , though the ending dragged .",
    "How do I learn Python quickly?",
    "A man is playing a guitar.",
    "no",
]


@pytest.fixture(scope="module")
def backbone():
    return default_backbone_dir()


@pytest.mark.slow
def test_matches_transformers_on_a_padded_batch(backbone):
    from transformers import BertModel as HFBertModel

    ours = load_pretrained(backbone).eval()
    reference = HFBertModel.from_pretrained(str(backbone)).eval()
    tok = Tokenizer(backbone)
    batch = tok(SENTENCES, ["Is this a pair?", "What is the fastest way to learn Python?", "Someone plays music.", "yes"])
    assert batch.attention_mask.min() == 0, "the batch must contain padding for this test to mean anything"
    with torch.no_grad():
        out = ours(batch.input_ids, batch.attention_mask, batch.token_type_ids)
        ref = reference(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                        token_type_ids=batch.token_type_ids)
    real = batch.attention_mask.bool()
    assert (out.last_hidden_state - ref.last_hidden_state)[real].abs().max() < 1e-4
    assert (out.pooler_output - ref.pooler_output).abs().max() < 1e-4
    assert out.attentions is None  # not asked for


@pytest.mark.slow
def test_padding_does_not_change_real_tokens(backbone):
    model = load_pretrained(backbone).eval()
    tok = Tokenizer(backbone)
    alone = tok([SENTENCES[3]])
    padded = tok([SENTENCES[3], SENTENCES[0]])
    with torch.no_grad():
        a = model(alone.input_ids, alone.attention_mask, alone.token_type_ids).last_hidden_state
        b = model(padded.input_ids, padded.attention_mask, padded.token_type_ids).last_hidden_state
    n = alone.input_ids.shape[1]
    assert torch.allclose(a[0], b[0, :n], atol=1e-5)


def _tiny_state(tmp_path):
    config = BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16)
    model = BertModel(config)
    return config, {k: v.clone() for k, v in model.state_dict().items()}


def test_missing_key_is_refused_with_its_name(tmp_path):
    config, state = _tiny_state(tmp_path)
    del state["encoder.layer.0.attention.self.key.weight"]
    with pytest.raises(WeightMismatch, match=r"encoder\.layer\.0\.attention\.self\.key\.weight"):
        load_state(BertModel(config), state, "somefile.safetensors")


def test_wrong_shape_is_refused_with_both_shapes(tmp_path):
    config, state = _tiny_state(tmp_path)
    state["embeddings.word_embeddings.weight"] = torch.zeros(21, 8)
    with pytest.raises(WeightMismatch, match=r"word_embeddings.weight: file \(21, 8\), model \(20, 8\)"):
        load_state(BertModel(config), state, "somefile.safetensors")


def test_hf_task_model_prefix_is_accepted_and_extras_reported(tmp_path):
    config, state = _tiny_state(tmp_path)
    prefixed = {f"bert.{k}": v for k, v in state.items()}
    prefixed["cls.predictions.bias"] = torch.zeros(20)
    model = BertModel(config)
    load_state(model, prefixed, "x")
    assert torch.equal(model.embeddings.word_embeddings.weight, state["embeddings.word_embeddings.weight"])


def test_load_pretrained_from_any_folder(tmp_path):
    import json

    config, state = _tiny_state(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config.to_dict(), "hidden_act": "gelu"}))
    save_file(state, str(tmp_path / "model.safetensors"))
    model = load_pretrained(tmp_path)
    assert model.config.hidden_size == 8
    assert torch.equal(model.pooler.dense.weight, load_file(str(tmp_path / "model.safetensors"))["pooler.dense.weight"])


def test_unsupported_activation_is_refused(tmp_path):
    import json

    (tmp_path / "config.json").write_text(json.dumps({"hidden_act": "relu"}))
    with pytest.raises(ValueError, match="hidden_act 'relu'"):
        load_pretrained(tmp_path)


def test_inference_runs_a_trace_of_the_same_forward_with_the_same_results():
    """Without gradients in eval mode the encoder runs its TorchScript trace (which does not hold
    the interpreter lock between ops): the same numbers as the eager forward, for any batch shape,
    and a new trace when the weights are replaced."""
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=64)).eval()
    ids = torch.randint(1, 50, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    with torch.no_grad():
        eager = model._eager(ids, mask, torch.zeros_like(ids))
        out = model(ids, mask)
        assert model.__dict__["_trace"][1] is not None  # traced, not the eager fallback
        assert torch.equal(out.last_hidden_state, eager.last_hidden_state)
        assert torch.equal(out.pooler_output, eager.pooler_output)
        other = model(ids[:1, :4], mask[:1, :4])  # another shape through the same trace
        assert torch.equal(other.last_hidden_state, model._eager(ids[:1, :4], mask[:1, :4],
                                                                 torch.zeros_like(ids[:1, :4])).last_hidden_state)
        model.pooler.dense.weight = torch.nn.Parameter(torch.zeros(16, 16))
        assert torch.equal(model(ids, mask).pooler_output, torch.tanh(model.pooler.dense.bias).expand(3, -1))
    # with gradients (training, attributions) the eager forward runs
    out = model(ids, mask)
    assert out.last_hidden_state.requires_grad
