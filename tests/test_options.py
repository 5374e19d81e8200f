"""Issue 23's recipe options: each trains two rounds on tiny data, each formula against a case
worked by hand, and none of them changes what the shipped checkpoints store."""
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from minibert.checkpoint_config import checkpoint_hashes
from minibert.data import read_split
from minibert.heads import ConcatMLP, CosineScore, DiffLinear, JointLinear, smoothed_loss, start_at, symmetric_kl
from minibert.network import build_model
from minibert.recipes import LATER_FIELDS, RECIPES, TRIALS, Recipe, get_recipe
from minibert.tokenizer import Tokenizer
from minibert.train import TaskStream, Trainer, _param_groups, layer_lr_scale, task_loss

ROOT = Path(__file__).resolve().parent.parent


def _trainer(tiny_world, recipe: Recipe):
    recipe = replace(recipe, batch_size=8, max_length=32)
    model = build_model(recipe, tiny_world["backbone"])
    tok = Tokenizer(tiny_world["backbone"], max_length=32)
    splits = {t: read_split(t, "train", tiny_world["data"]) for t in recipe.train_tasks}
    return model, Trainer(model, tok, splits, "cpu", epochs=1)


def _moved(model, before):
    return {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}


@pytest.mark.parametrize("name", sorted(TRIALS))
def test_each_trial_trains_two_rounds(tiny_world, name):
    model, trainer = _trainer(tiny_world, get_recipe(name))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _ in range(2):
        losses = trainer.run_round()
        assert set(losses) == {"sst", "quora", "sts"} and all(math.isfinite(v) for v in losses.values()), losses
    moved = _moved(model, before)
    assert any(n.startswith("encoder.encoder.layer.") for n in moved)
    assert any(n.startswith("sst_head.") for n in moved) and any(n.startswith("para_head.") for n in moved)


def test_two_stage_freezes_the_encoder_and_trains_the_heads_on(tiny_world):
    model, trainer = _trainer(tiny_world, get_recipe("pcgrad-two-stage"))
    trainer.run_round()
    trainer.freeze_encoder(epochs=1)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(model.recipe.head_lr)  # no warmup
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _ in range(2):
        assert all(math.isfinite(v) for v in trainer.run_round().values())
    moved = _moved(model, before)
    assert not any(n.startswith("encoder.") for n in moved), "the encoder moved in the second stage"
    assert any(n.startswith("sst_head.") for n in moved) and any(n.startswith("para_head.") for n in moved)


# --- the STS head's start (multitask-cls's fix) -----------------------------------------------

def test_sts_head_starts_at_the_training_scores_mean(tiny_world):
    model, _ = _trainer(tiny_world, get_recipe("multitask-cls"))
    labels = [e.label for e in read_split("sts", "train", tiny_world["data"]).examples]
    assert model.sts_head.linear.bias.item() == pytest.approx(sum(labels) / len(labels), abs=1e-5)
    old, _ = _trainer(tiny_world, replace(get_recipe("multitask-cls"), sts_bias_init="zero"))
    assert abs(old.sts_head.linear.bias.item()) < 0.5  # nn.Linear's own start, near 0


def test_start_at_puts_a_head_with_no_weights_at_the_value():
    u, v = torch.randn(3, 8), torch.randn(3, 8)
    for head in (DiffLinear(8, 0.0), ConcatMLP(8, 0.0)):
        last = head.linear if isinstance(head, DiffLinear) else head.net[-1]
        torch.nn.init.zeros_(last.weight)
        start_at(head, 2.45)
        assert torch.allclose(head.eval()(u, v), torch.full((3,), 2.45))
    joint = JointLinear(8, 0.0, scale=5.0)
    torch.nn.init.zeros_(joint.linear.weight)
    start_at(joint, 4.0)  # 5 x sigmoid(b) = 4 at b = log(0.8 / 0.2) = log 4
    assert joint.linear.bias.item() == pytest.approx(math.log(4.0))
    with pytest.raises(ValueError, match="no output bias"):
        start_at(CosineScore(), 2.45)


# --- formulas against cases worked by hand ----------------------------------------------------

def test_symmetric_kl_by_hand():
    # P = (0.5, 0.5), Q = (0.25, 0.75): KL(P||Q) = 0.5 ln 2 + 0.5 ln(2/3) = 0.143841,
    # KL(Q||P) = 0.25 ln(1/2) + 0.75 ln(3/2) = 0.130812; their mean 0.137327.
    p, q = torch.tensor([[0.5, 0.5]]).log(), torch.tensor([[0.25, 0.75]]).log()
    assert symmetric_kl(p, q).item() == pytest.approx(0.137327, abs=1e-5)
    assert symmetric_kl(q, p).item() == pytest.approx(0.137327, abs=1e-5)
    # The same pair as binary logits: sigmoid(0) = 0.5, sigmoid(ln 3) = 0.75; a second, identical
    # row leaves the batch mean as it is.
    kl = symmetric_kl(torch.tensor([0.0, 0.0]), torch.tensor([math.log(3), math.log(3)])).item()
    assert kl == pytest.approx(0.137327, abs=1e-5)
    assert symmetric_kl(p, p).item() == pytest.approx(0.0, abs=1e-7)


def test_label_smoothing_by_hand():
    # SST, logits (2, 0, 0, 0, 0), gold 0, e = 0.1: targets 0.92 and 0.02 x 4; log Z = ln(e^2 + 4)
    # = 2.432653, so the loss is 0.92 x 0.432653 + 0.08 x 2.432653 = 0.592653.
    logits = torch.tensor([[2.0, 0, 0, 0, 0]])
    assert smoothed_loss("sst", logits, torch.tensor([0]), 0.1).item() == pytest.approx(0.592653, abs=1e-5)
    assert smoothed_loss("sst", logits, torch.tensor([0]), 0.0).item() == pytest.approx(0.432653, abs=1e-5)
    # Quora, logit 2, duplicate, e = 0.2: target 0.9; -ln sigmoid(2) = 0.126928, -ln(1 - sigmoid(2))
    # = 2.126928, so 0.9 x 0.126928 + 0.1 x 2.126928 = 0.326928.
    assert smoothed_loss("quora", torch.tensor([2.0]), torch.tensor([1.0]), 0.2).item() == pytest.approx(0.326928, abs=1e-5)


def test_layer_wise_rates_by_hand():
    # Six layers, decay 0.5: the top layer 0.5, the bottom 0.5^6, the embeddings below it 0.5^7;
    # the pooler and the heads at their own rates.
    scale = lambda name: layer_lr_scale(name, 6, 0.5)  # noqa: E731
    assert scale("encoder.encoder.layer.5.attention.self.query.weight") == 0.5
    assert scale("encoder.encoder.layer.0.output.dense.bias") == 0.5 ** 6 == 0.015625
    assert scale("encoder.embeddings.position_embeddings.weight") == 0.5 ** 7
    assert scale("encoder.pooler.dense.weight") == scale("sst_head.linear.weight") == 1.0


def test_layer_wise_rates_reach_the_optimizer(tiny_world):
    recipe = replace(get_recipe("pcgrad"), layer_decay=0.5, lr=1e-3, head_lr=2e-3)
    model = build_model(recipe, tiny_world["backbone"])  # 2 layers
    rate = {id(p): g["lr"] for g in _param_groups(model, recipe) for p in g["params"]}
    named = dict(model.named_parameters())
    assert rate[id(named["encoder.encoder.layer.1.attention.self.query.weight"])] == pytest.approx(5e-4)
    assert rate[id(named["encoder.encoder.layer.0.attention.self.query.weight"])] == pytest.approx(2.5e-4)
    assert rate[id(named["encoder.embeddings.LayerNorm.weight"])] == pytest.approx(1.25e-4)
    assert rate[id(named["para_head.net.1.weight"])] == pytest.approx(2e-3)
    # Without decay, the three groups of before: encoder with and without weight decay, heads.
    plain = _param_groups(model, replace(recipe, layer_decay=1.0))
    assert sorted((g["lr"], g["weight_decay"]) for g in plain) == [(1e-3, 0.0), (1e-3, 0.01), (2e-3, 0.01)]


# --- R-Drop, pair swapping, Quora batches -------------------------------------------------------

@pytest.mark.parametrize("task", ["sst", "quora"])
def test_rdrop_without_dropout_is_the_plain_loss_and_with_it_adds_a_kl_term(tiny_world, task):
    for dropout, check in ((0.0, "equal"), (0.5, "greater")):
        recipe = replace(get_recipe("pcgrad"), dropout=dropout)
        model, trainer = _trainer(tiny_world, recipe)
        for m in model.modules():  # the encoder's dropout too (its attention's is `dropout_p`)
            if isinstance(m, torch.nn.Dropout):
                m.p = dropout
            if hasattr(m, "dropout_p"):
                m.dropout_p = dropout
        batch, n_pairs, labels = trainer.streams[task].next()
        model.train()
        torch.manual_seed(0)
        plain = task_loss(model, task, batch, n_pairs, labels)
        model.recipe = replace(recipe, rdrop_alpha=50.0)
        torch.manual_seed(0)
        rdrop = task_loss(model, task, batch, n_pairs, labels)
        if check == "equal":
            assert rdrop.item() == pytest.approx(plain.item(), abs=1e-5)
        else:
            assert rdrop.item() > plain.item() + 1e-3


def test_rdrop_leaves_the_sts_loss_alone(tiny_world):
    model, trainer = _trainer(tiny_world, get_recipe("pcgrad-rdrop"))
    batch, n_pairs, labels = trainer.streams["sts"].next()
    model.eval()  # the same loss twice only without dropout; R-Drop would still double the batch
    with torch.no_grad():
        a = task_loss(model, "sts", batch, n_pairs, labels)
        model.recipe = replace(model.recipe, rdrop_alpha=0.0)
        b = task_loss(model, "sts", batch, n_pairs, labels)
    assert a.item() == b.item()


def test_swapping_a_pair_changes_nothing_for_pcgrad_but_changes_the_cross_encoder(tiny_world):
    """Why the pair-swapping trial is on the cross-encoder: pcgrad's heads are symmetric."""
    import random

    tok = Tokenizer(tiny_world["backbone"], max_length=32)
    examples = read_split("quora", "train", tiny_world["data"]).examples[:6]
    swapped = [replace(e, sentence1=e.sentence2, sentence2=e.sentence1) for e in examples]
    for name, same in (("pcgrad", True), ("cross-encoder", False)):
        recipe = replace(get_recipe(name), batch_size=6, max_length=32)
        model = build_model(recipe, tiny_world["backbone"]).eval()
        losses = []
        for ex in (examples, swapped):
            stream = TaskStream("quora", ex, tok, recipe, random.Random(0))
            stream._batches = [list(range(6))]
            with torch.no_grad():
                losses.append(task_loss(model, "quora", *stream.next()).item())
        assert (abs(losses[0] - losses[1]) < 1e-5) == same, (name, losses)


def test_swapped_pairs_and_bigger_quora_batches_add_examples_not_rounds(tiny_world):
    import random

    tok = Tokenizer(tiny_world["backbone"], max_length=32)
    examples = read_split("quora", "train", tiny_world["data"]).examples  # 24 rows
    plain = TaskStream("quora", examples, tok, replace(get_recipe("cross-encoder"), batch_size=8), random.Random(0))
    swap = TaskStream("quora", examples, tok, get_recipe("cross-encoder-swap").with_overrides(batch_size=8), random.Random(0))
    assert plain.n_batches == swap.n_batches == 3
    assert len(swap.encoded) == 2 * len(plain.encoded)
    a, b = examples[0], swap.encoded[len(examples)]
    assert b == tok.encode_ids([a.sentence2], [a.sentence1])[0]
    long = TaskStream("quora", examples, tok, replace(get_recipe("pcgrad-quora-long"), batch_size=8, quora_batch_size=16),
                      random.Random(0))
    batch, n_pairs, labels = long.next()
    assert long.n_batches == 3 and n_pairs == len(labels) == 16 and batch.input_ids.shape[0] == 32


# --- what is stored ----------------------------------------------------------------------------

def test_new_fields_are_stored_only_away_from_their_default():
    for recipe in RECIPES.values():
        stored = recipe.to_dict()
        assert Recipe.from_dict(stored) == recipe
        assert {k for k in LATER_FIELDS if k in stored} == set(recipe.options())
    assert RECIPES["multitask-cls"].to_dict()["sts_bias_init"] == "label-mean"
    assert not RECIPES["pcgrad"].options()
    for trial in TRIALS.values():
        assert len(trial.options()) == 1 and Recipe.from_dict(trial.to_dict()) == trial
    with pytest.raises(ValueError, match="frozen features"):
        replace(get_recipe("frozen-mean"), label_smoothing=0.1)


def test_shipped_recipes_read_back_unchanged_and_their_hashes_match_the_tables_manifest():
    """The shipped multitask-cls has no sts_bias_init: it reads as the recipe it was trained with
    ("zero"), is written back exactly as stored, and keeps the hash its tables were built from."""
    manifest_path = ROOT / "analysis" / "tables" / "manifest.json"
    if not manifest_path.is_file() or not (ROOT / "checkpoints").is_dir():
        pytest.skip("no committed checkpoints and tables")
    hashes, problems = checkpoint_hashes(ROOT / "checkpoints")
    assert not problems, problems
    manifest = json.loads(manifest_path.read_text())
    recorded = {e["checkpoint"]["name"]: e["checkpoint"]["hash"] for e in manifest["tables"].values()}
    assert recorded and recorded == {n: hashes[n] for n in recorded}
    for folder in sorted((ROOT / "checkpoints").iterdir()):
        stored = json.loads((folder / "config.json").read_text())["recipe"]
        assert json.loads(json.dumps(Recipe.from_dict(stored).to_dict())) == stored, folder.name
    shipped = Recipe.from_dict(json.loads((ROOT / "checkpoints" / "multitask-cls" / "config.json").read_text())["recipe"])
    assert shipped.sts_bias_init == "zero" and shipped == replace(RECIPES["multitask-cls"], sts_bias_init="zero")
