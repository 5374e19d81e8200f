import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from minibert import checkpoint as ckpt
from minibert.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from minibert.network import build_model
from minibert.predict import load_variants
from minibert.recipes import get_recipe

PAIRS = [("the film is good", "a good film"), ("how do i", "what is")]


def _copy(tiny_world, tmp_path, names=None):
    target = tmp_path / "ck"
    shutil.copytree(tiny_world["checkpoints"], target)
    return target


def test_round_trip_predicts_the_same(tiny_world, tmp_path):
    from dataclasses import replace

    recipe = replace(get_recipe("sbert-concat"), max_length=32)
    model = build_model(recipe, tiny_world["backbone"]).eval()
    path = save_checkpoint(tmp_path / "v", model, tiny_world["backbone"], storage="fp32")
    loaded, tok, config = load_checkpoint(path)
    batch = tok(["the film is good"])
    with torch.no_grad():
        assert torch.allclose(model.sentiment_logits(batch), loaded.sentiment_logits(batch), atol=1e-6)
    assert config.recipe["name"] == "sbert-concat"
    assert config.backbone["weights_sha256"]


def test_shared_word_embeddings_are_not_stored(tiny_world, tmp_path):
    from dataclasses import replace

    recipe = replace(get_recipe("sbert-concat"), max_length=32)
    model = build_model(recipe, tiny_world["backbone"])
    path = save_checkpoint(tmp_path / "v", model, tiny_world["backbone"])
    stored = {k for f in path.glob("*.safetensors") for k in load_file(str(f))}
    assert ckpt.WORD_EMBEDDINGS not in stored
    assert "encoder.encoder.layer.0.attention.self.query.weight" in stored
    frozen = save_checkpoint(tmp_path / "f", build_model(replace(get_recipe("frozen-mean"), max_length=32),
                                                         tiny_world["backbone"]), tiny_world["backbone"])
    assert not any(k.startswith("encoder.") for f in frozen.glob("*.safetensors") for k in load_file(str(f)))


@pytest.mark.parametrize("storage,tol", [("fp16", 2e-2), ("int8", 5e-2)])
def test_compact_storage_stays_close_and_shards_stay_small(tiny_world, tmp_path, monkeypatch, storage, tol):
    from dataclasses import replace

    monkeypatch.setattr(ckpt, "SHARD_BYTES", 4000)  # force row-splitting and many shards
    monkeypatch.setattr(ckpt, "INT8_MIN_ELEMENTS", 1)  # the tiny model's matrices are all small
    recipe = replace(get_recipe("scratch"), max_length=32)
    model = build_model(recipe, tiny_world["backbone"]).eval()
    path = save_checkpoint(tmp_path / "v", model, tiny_world["backbone"], storage=storage)
    files = list(path.glob("*.safetensors"))
    assert len(files) > 3 and all(f.stat().st_size < 4000 + 2000 for f in files)
    loaded, tok, _ = load_checkpoint(path)
    batch = tok(["the film is good", "bad"])
    with torch.no_grad():
        assert torch.allclose(model.embed(batch).pooled, loaded.embed(batch).pooled, atol=tol)


def test_truncated_file_names_the_file_and_others_still_load(tiny_world, tmp_path):
    root = _copy(tiny_world, tmp_path)
    shard = next((root / "tiny-cls").glob("*.safetensors"))
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=shard.name):
        load_checkpoint(root / "tiny-cls")
    variants, failures = load_variants(root, "cpu")
    assert [f.name for f in failures] == ["tiny-cls", "ensemble"]
    assert "sha256" in failures[0].reason
    assert "tiny-cls" in failures[1].reason
    assert {"tiny-mean", "tiny-cross"} <= set(variants)


def test_bad_config_and_mismatched_recipe(tiny_world, tmp_path):
    root = _copy(tiny_world, tmp_path)
    (root / "tiny-mean" / "config.json").write_text("{not json")
    config = json.loads((root / "tiny-cls" / "config.json").read_text())
    config["recipe"]["para_head"] = "concat-mlp"  # the stored weights belong to diff-linear
    (root / "tiny-cls" / "config.json").write_text(json.dumps(config))
    variants, failures = load_variants(root, "cpu")
    reasons = {f.name: f.reason for f in failures}
    assert "not valid JSON" in reasons["tiny-mean"]
    assert "para_head" in reasons["tiny-cls"]
    assert "tiny-cross" in variants


def test_backbone_hash_mismatch_is_refused(tiny_world, tmp_path):
    root = _copy(tiny_world, tmp_path)
    config = json.loads((root / "tiny-cross" / "config.json").read_text())
    config["backbone"]["weights_sha256"] = "0" * 64
    (root / "tiny-cross" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="backbone weights sha256"):
        load_checkpoint(root / "tiny-cross")


def test_ensemble_is_the_mean_of_its_members(tiny_world):
    variants, failures = load_variants(tiny_world["checkpoints"], "cpu")
    assert not failures
    members = [variants[n] for n in ("tiny-cls", "tiny-mean", "tiny-cross")]
    for method, inputs in (("sentiment", ["good film", "bad"]), ("paraphrase", PAIRS), ("similarity", PAIRS)):
        expected = np.mean([getattr(m, method)(inputs) for m in members], axis=0)
        assert np.allclose(getattr(variants["ensemble"], method)(inputs), expected, atol=1e-6)


def test_an_ensemble_averages_each_tasks_own_members_and_runs_a_member_only_where_it_counts(tiny_world, tmp_path):
    from minibert.checkpoint import save_ensemble
    from minibert.checkpoint_config import checkpoint_hashes

    root = _copy(tiny_world, tmp_path)
    per_task = {"sst": ["tiny-cls"], "quora": ["tiny-mean", "tiny-cross"], "sts": ["tiny-cross"]}
    save_ensemble(root / "ensemble", get_recipe("ensemble"), per_task)
    variants, failures = load_variants(root, "cpu")
    assert not failures
    ensemble = variants["ensemble"]
    assert ensemble.task_members == per_task
    assert [m.name for m in ensemble.members] == ["tiny-cls", "tiny-mean", "tiny-cross"]
    for method, task, inputs in (("sentiment", "sst", ["good film", "bad"]), ("paraphrase", "quora", PAIRS),
                                 ("similarity", "sts", PAIRS)):
        expected = np.mean([getattr(variants[m], method)(inputs) for m in per_task[task]], axis=0)
        assert np.allclose(getattr(ensemble, method)(inputs), expected, atol=1e-6)
    asked = []
    for m in ensemble.members:
        m.score_tasks = (lambda inputs, m=m, run=m.score_tasks: asked.append((m.name, sorted(inputs))) or run(inputs))
    ensemble.score_tasks({"sst": ["good film"], "quora": PAIRS, "sts": PAIRS})
    assert sorted(asked) == [("tiny-cls", ["sst"]), ("tiny-cross", ["quora", "sts"]), ("tiny-mean", ["quora"])]
    # the folder scan (no weights loaded) gives the same hash, and it differs from the old list's
    hashes, problems = checkpoint_hashes(root)
    assert not problems and hashes["ensemble"] == ensemble.checkpoint_hash
    old, _ = load_variants(tiny_world["checkpoints"], "cpu")
    assert old["ensemble"].checkpoint_hash != ensemble.checkpoint_hash


def test_an_ensemble_config_with_one_member_list_loads_with_those_members_on_every_task(tiny_world):
    from minibert.checkpoint_config import checkpoint_hashes

    stored = json.loads((tiny_world["checkpoints"] / "ensemble" / "config.json").read_text())["recipe"]["members"]
    assert stored == ["tiny-cls", "tiny-mean", "tiny-cross"]  # the format before issue 32
    variants, failures = load_variants(tiny_world["checkpoints"], "cpu")
    assert not failures
    assert variants["ensemble"].task_members == dict.fromkeys(("sst", "quora", "sts"), stored)
    assert "Members: tiny-cls, tiny-mean, tiny-cross." in variants["ensemble"].recipe.describe()
    # its hash is what it was: the member hashes in the list's order, so its tables stay current
    hashes, _ = checkpoint_hashes(tiny_world["checkpoints"])
    assert variants["ensemble"].checkpoint_hash == hashes["ensemble"]


def test_models_and_ensembles_declare_what_readers_branch_on(tiny_world):
    from minibert.predictor import ensemble_mean

    variants, _ = load_variants(tiny_world["checkpoints"], "cpu")
    ensemble = variants["ensemble"]
    assert [m.name for m in ensemble.members] == ["tiny-cls", "tiny-mean", "tiny-cross"]
    assert not ensemble.can_explain and ensemble.recipe.kind == "ensemble"
    for name in ("tiny-cls", "tiny-mean", "tiny-cross"):
        assert len(variants[name].members) == 0 and variants[name].can_explain
    from minibert.explain import gradient_x_input

    with pytest.raises(ValueError, match="no single model"):
        gradient_x_input(ensemble, "sst", "good film")
    # worked by hand: the mean of 0, 1 and 5 is 2; of 1, 1 and 4 is 2
    mean = ensemble_mean([np.array([0.0, 1.0]), np.array([1.0, 1.0]), np.array([5.0, 4.0])])
    assert mean.dtype == np.float32 and mean.tolist() == [2.0, 2.0]


def test_scores_have_the_promised_shapes_and_ranges(tiny_world):
    variants, _ = load_variants(tiny_world["checkpoints"], "cpu")
    for v in variants.values():
        probs = v.sentiment(["good", "", "😀 " * 300])
        assert probs.shape == (3, 5) and np.allclose(probs.sum(1), 1, atol=1e-5)
        p = v.paraphrase(PAIRS)
        assert p.shape == (2,) and ((p >= 0) & (p <= 1)).all()
        s = v.similarity(PAIRS)
        assert s.shape == (2,) and ((s >= 0) & (s <= 5)).all()


def test_batch_order_is_preserved(tiny_world):
    variants, _ = load_variants(tiny_world["checkpoints"], "cpu")
    v = variants["tiny-cross"]
    texts = ["a", "the film is very very good", "bad movie"]
    together = v.sentiment(texts)
    alone = np.concatenate([v.sentiment([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_empty_folder_loads_nothing(tmp_path):
    assert load_variants(tmp_path / "absent", "cpu") == ({}, [])


def test_checkpoint_trained_on_a_compact_copy_loads_against_the_original(tiny_world, tmp_path, monkeypatch):
    from dataclasses import replace

    from minibert.backbone import export_copy, file_sha256
    from minibert.checkpoint_config import CheckpointConfig

    original = tiny_world["backbone"]
    copy = export_copy(tmp_path / "copy", original, dtype="fp16")
    weights = load_file(str(copy / "model.safetensors"))
    reference = load_file(str(original / "model.safetensors"))
    assert all(weights[k].dtype == torch.float16 and torch.equal(weights[k], reference[k].half()) for k in reference)

    monkeypatch.setenv("MINIBERT_BACKBONE", str(copy))
    model = build_model(replace(get_recipe("sbert-concat"), max_length=32), copy)
    path = save_checkpoint(tmp_path / "v", model, copy)
    recorded = CheckpointConfig.read(path).backbone
    assert recorded["weights_sha256"] == file_sha256(original / "model.safetensors")
    assert recorded["trained_from"] == "fp16"
    monkeypatch.delenv("MINIBERT_BACKBONE")
    loaded, _, _ = load_checkpoint(path)  # against the original: its word embeddings, its hash
    assert torch.equal(loaded.encoder.embeddings.word_embeddings.weight, reference["embeddings.word_embeddings.weight"])


def test_int8_groups_by_hand():
    # Two groups of 64 in one row: each group's scale is its own max / 127.
    row = torch.cat([torch.full((64,), 1.0), torch.full((64,), 0.01)])
    row[0], row[64] = 127.0, 1.27
    weight = row.repeat(512, 1)  # 65,536 elements: large enough to be quantized
    stored = ckpt._encode({"w": weight}, "int8")
    assert stored["w"].dtype == torch.int8 and stored["w.__int8_scale"].shape == (512, 2)
    assert stored["w.__int8_scale"][0].tolist() == pytest.approx([1.0, 0.01])
    # 0.01 survives in its own group; with one scale per row (127 / 127 = 1) it would round to 0.
    assert torch.allclose(ckpt._decode(stored)["w"], weight, atol=1e-6)


def _fine_tuned(recipe_name: str, backbone, seed: int = 0):
    """The recipe's model with every trained encoder weight moved a little, as fine-tuning does
    (word embeddings stay frozen, as in every fine-tuned recipe but `scratch`)."""
    from dataclasses import replace

    model = build_model(replace(get_recipe(recipe_name), max_length=32), backbone).eval()
    frozen = ckpt.shared_prefixes(model.recipe)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("encoder.") and not (frozen and name.startswith(frozen)):
                p.add_(torch.randn(p.shape, generator=generator) * 0.02 * float(p.std()))
    return model


def _encoder_error(model, loaded) -> float:
    ref, got = model.state_dict(), loaded.state_dict()
    keys = [k for k, v in ref.items() if k.startswith("encoder.") and v.ndim == 2]
    return max(float((got[k] - ref[k]).abs().max() / ref[k].abs().max()) for k in keys)


def test_int8_delta_stores_what_fine_tuning_changed_far_more_finely_than_int8(tiny_world, tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "INT8_MIN_ELEMENTS", 1)  # the tiny backbone's matrices are all small
    model = _fine_tuned("sbert-concat", tiny_world["backbone"])
    errors = {}
    for storage in ("int8", "int8-delta"):
        path = save_checkpoint(tmp_path / storage, model, tiny_world["backbone"], storage=storage)
        stored = {k for f in path.glob("*.safetensors") for k in load_file(str(f))}
        loaded, _, config = load_checkpoint(path)
        assert config.storage["dtype"] == storage
        errors[storage] = _encoder_error(model, loaded)
        delta_keys = {k for k in stored if k.endswith(ckpt._DELTA_SCALE)}
        if storage == "int8-delta":
            assert "encoder.encoder.layer.0.attention.self.query.weight" + ckpt._DELTA_SCALE in delta_keys
            # Heads start from nothing pretrained: stored whole.
            assert not any(k.startswith(("para_head.", "sst_head.")) for k in delta_keys)
            assert ckpt.WORD_EMBEDDINGS not in stored
        else:
            assert not delta_keys
    # The moves are 2% of each weight's spread; int8 of the whole weight cannot see most of them.
    assert errors["int8-delta"] < errors["int8"] / 10


def test_int8_delta_of_a_scratch_model_stores_whole_weights(tiny_world, tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "INT8_MIN_ELEMENTS", 1)
    model = _fine_tuned("scratch", tiny_world["backbone"])
    path = save_checkpoint(tmp_path / "s", model, tiny_world["backbone"], storage="int8-delta")
    stored = {k for f in path.glob("*.safetensors") for k in load_file(str(f))}
    assert not any(k.endswith(ckpt._DELTA_SCALE) for k in stored)
    assert ckpt.WORD_EMBEDDINGS + ckpt._SCALE in stored  # scratch trains its word embeddings: stored
    loaded, _, _ = load_checkpoint(path)
    assert _encoder_error(model, loaded) < 1 / 127


def test_int8_delta_by_hand(monkeypatch):
    monkeypatch.setattr(ckpt, "INT8_MIN_ELEMENTS", 64)
    base = torch.full((2, 64), 0.5)
    weight = base.clone()
    weight[0, 0], weight[1, 5] = 0.5 + 0.0127, 0.5 - 0.00127
    stored = ckpt._encode({"w": weight, "b": torch.ones(3)}, "int8-delta", base={"w": base})
    # One scale per group of 64: the largest move / 127.
    assert stored["w.__int8_delta_scale"].flatten().tolist() == pytest.approx([0.0001, 0.00001], rel=1e-3)
    assert stored["w"][0, 0] == 127 and stored["w"][1, 5] == -127 and stored["b"].dtype == torch.float16
    assert torch.allclose(ckpt._decode(stored, {"w": base})["w"], weight, atol=1e-7)
    with pytest.raises(CheckpointError, match="w is stored as a difference"):
        ckpt._decode(stored, None, "ck/v")


def test_int8_delta_trained_on_the_compact_copy_loads_against_the_original(tiny_world, tmp_path, monkeypatch):
    from minibert.backbone import export_copy

    monkeypatch.setattr(ckpt, "INT8_MIN_ELEMENTS", 1)
    copy = export_copy(tmp_path / "copy", tiny_world["backbone"], dtype="fp16")
    monkeypatch.setenv("MINIBERT_BACKBONE", str(copy))
    model = _fine_tuned("sbert-concat", copy)
    path = save_checkpoint(tmp_path / "v", model, copy, storage="int8-delta")
    monkeypatch.delenv("MINIBERT_BACKBONE")
    loaded, _, _ = load_checkpoint(path)  # the base is rebuilt from the fp32 original, rounded to fp16
    assert _encoder_error(model, loaded) < 1e-3


def test_a_fine_tuned_checkpoint_scores_alike_against_the_package_and_the_copy_with_exact_word_embeddings(
        tiny_world, tmp_path, monkeypatch):
    """The GPU machine builds tables against the fp16 copy with the fp32 word embeddings put back:
    what is shared with the backbone (only those) is then exact, so the tables are what ships."""
    from minibert.backbone import export_copy, export_word_embeddings, file_sha256
    from minibert.checkpoint_config import CheckpointConfig

    monkeypatch.setattr(ckpt, "INT8_MIN_ELEMENTS", 1)
    original = tiny_world["backbone"]
    model = _fine_tuned("sbert-concat", original)
    path = save_checkpoint(tmp_path / "ck" / "v", model, original, storage="int8-delta")
    copy = export_copy(tmp_path / "copy", original, dtype="fp16")
    words = export_word_embeddings(tmp_path / "words" / "w.safetensors", original)
    exact = export_copy(tmp_path / "exact", copy, dtype="fp32", word_embeddings=words)
    marker = json.loads((exact / "minibert-backbone.json").read_text())
    assert marker["weights_sha256"] == file_sha256(original / "model.safetensors")
    assert marker["stored_as"] == "fp16, word embeddings fp32"

    pairs = [("the film is good", "a good film"), ("how do i", "what is")]
    scores = {}
    for name, backbone in (("package", None), ("fp16 copy", copy), ("exact copy", exact)):
        if backbone is None:
            monkeypatch.delenv("MINIBERT_BACKBONE", raising=False)
        else:
            monkeypatch.setenv("MINIBERT_BACKBONE", str(backbone))
        variants, failures = load_variants(path.parent, "cpu")
        assert not failures
        scores[name] = variants["v"].similarity(pairs)
    assert np.array_equal(scores["exact copy"], scores["package"])
    assert not np.array_equal(scores["fp16 copy"], scores["package"])  # what the exact embeddings fix
    assert CheckpointConfig.read(path).backbone["weights_sha256"] == marker["weights_sha256"]


def test_loading_draws_no_random_numbers(tiny_world):
    """Loading fills every weight from files: nothing is drawn at random, and the caller's
    random stream (training that loads a checkpoint, say) is left where it was."""
    path = next(p for p in tiny_world["checkpoints"].iterdir() if p.name == "tiny-cls")
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    first, _, _ = load_checkpoint(path)
    assert torch.equal(torch.rand(3), expected)
    second, _, _ = load_checkpoint(path)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_a_cross_encoder_reads_a_clicks_sentence_and_pair_in_one_encoder_pass(tiny_world):
    variants, _ = load_variants(tiny_world["checkpoints"], "cpu")
    v = variants["tiny-cross"]
    pair = PAIRS[:1]  # a click: sentence A, and A with B for both pair tasks
    passes = []
    hook = v.model.encoder.register_forward_hook(lambda module, args, out: passes.append(args[0].shape[0]))
    try:
        together = v.score_tasks({"sst": ["the film is good"], "quora": pair, "sts": pair})
    finally:
        hook.remove()
    assert passes == [2]  # the sentence and the joint pair, once, for all three heads
    alone = {"sst": v.sentiment(["the film is good"]), "quora": v.paraphrase(pair), "sts": v.similarity(pair)}
    for task, out in alone.items():
        np.testing.assert_allclose(together[task], out, atol=1e-6, rtol=0)
