"""Every recipe trains two rounds on tiny data: finite losses, and the right parameters move."""
import math
from dataclasses import replace

import pytest
import torch

from minibert.data import read_split
from minibert.features import EmbeddingMemo
from minibert.network import build_model
from minibert.recipes import RECIPES, Recipe, get_recipe, trainable_recipes
from minibert.tokenizer import Tokenizer
from minibert.train import Trainer, task_loss

WORDS = "encoder.embeddings.word_embeddings.weight"


def _trainer(tiny_world, name, **changes):
    recipe = replace(get_recipe(name), batch_size=8, max_length=32, **changes)
    backbone = tiny_world["backbone"]
    model = build_model(recipe, backbone)
    tok = Tokenizer(backbone, max_length=32)
    tasks = recipe.train_tasks if recipe.encoder != "frozen" else ("sst", "quora", "sts")
    splits = {t: read_split(t, "train", tiny_world["data"]) for t in tasks}
    memo = EmbeddingMemo(model.encoder, tok, "tiny", "cpu") if recipe.encoder == "frozen" else None
    return model, Trainer(model, tok, splits, "cpu", epochs=1, memo=memo)


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16-autocast"])
@pytest.mark.parametrize("name", [r.name for r in trainable_recipes()])
def test_recipe_trains_two_rounds(tiny_world, name, bf16):
    model, trainer = _trainer(tiny_world, name)
    trainer.use_bf16 = bf16  # as on the GPU: every recipe's losses and heads under bf16 autocast
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _ in range(2):
        losses = trainer.run_round()
        assert losses and all(math.isfinite(v) for v in losses.values()), losses
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    recipe = model.recipe
    assert any(n.startswith("sst_head.") for n in moved)
    if recipe.encoder == "frozen":
        assert not any(n.startswith("encoder.") for n in moved), "a frozen encoder moved"
    else:
        assert any(n.startswith("encoder.encoder.layer.") for n in moved), "the encoder did not learn"
        assert (WORDS in moved) == (not recipe.freeze_word_embeddings or recipe.encoder == "scratch")
    if "quora" in recipe.train_tasks and recipe.para_head != "cosine":
        assert any(n.startswith("para_head.") for n in moved)


def test_sst_only_leaves_the_pair_heads_untrained(tiny_world):
    model, trainer = _trainer(tiny_world, "sst-only")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.run_round()
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters() if n.startswith(("para_head", "sts_head")))
    assert trainer.tasks == ["sst"]


def test_infonce_adds_a_contrastive_term_to_the_quora_loss(tiny_world):
    model, trainer = _trainer(tiny_world, "infonce")
    stream = trainer.streams["quora"]
    batch, n_pairs, labels = stream.next()
    labels = torch.tensor([1.0, 1.0, 1.0] + [0.0] * (len(labels) - 3))
    model.eval()
    with torch.no_grad():
        with_nce = task_loss(model, "quora", batch, n_pairs, labels)
        model.recipe = replace(model.recipe, contrastive=False)
        without = task_loss(model, "quora", batch, n_pairs, labels)
    assert with_nce > without


def test_every_recipe_names_its_source_and_round_trips():
    for recipe in RECIPES.values():
        assert recipe.summary and recipe.source
        assert Recipe.from_dict(recipe.to_dict()) == recipe
        assert recipe.describe()


def test_unknown_recipe_fields_are_refused():
    with pytest.raises(ValueError, match="unknown fields"):
        Recipe.from_dict({**get_recipe("sbert-concat").to_dict(), "colour": "blue"})


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(KeyError, match="sbert-concat"):
        get_recipe("nope")


def test_batches_go_to_the_gpu_pinned_and_fall_back_to_plain_copies(monkeypatch, capsys):
    """The CUDA path, with the transfers recorded instead of run (no GPU here)."""
    from minibert import train
    from minibert.tokenizer import Batch

    calls = []

    def record_to(self, device, non_blocking=False):
        calls.append((device, non_blocking))
        return self

    def pin(self):
        calls.append("pin")
        return self

    monkeypatch.setattr(torch.Tensor, "to", record_to)
    monkeypatch.setattr(torch.Tensor, "pin_memory", pin)
    monkeypatch.setitem(train._pinning, "works", True)
    ids = torch.ones(2, 3, dtype=torch.long)
    batch = train._to_device(Batch(ids, ids, ids, [False, False]), "cuda")
    assert isinstance(batch, Batch) and calls == ["pin", ("cuda", True)] * 3

    def refuse(self):
        raise RuntimeError("cannot pin")

    monkeypatch.setattr(torch.Tensor, "pin_memory", refuse)
    calls.clear()
    train._to_device(ids, "cuda")
    train._to_device(ids, "cuda")
    assert calls == [("cuda", False), ("cuda", False)] and not train._pinning["works"]
    assert capsys.readouterr().out.count("pinned host memory unavailable") == 1
