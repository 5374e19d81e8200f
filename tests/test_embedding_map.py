"""The embedding map (analysis.embedding_map, the build step, demo.embedding_map_view): the vectors a
head reads, worked by hand; the projection repeatable for a fixed seed; the region filter; the
build step's reuse, its ensemble rule and its skip without umap-learn."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import analysis as A
from analysis import derived, embedding_map, synthetic
from analysis.embedding_map import ENSEMBLE_REASON, in_region, map_inputs, read_map, sample_rows, write_map
from minibert.heads import ConcatMLP, CosineScore, DiffLinear, DotProductScore, JointLinear, pair_features
from minibert.tasks import task as get_task


def test_pair_features_worked_by_hand():
    u, v = torch.tensor([[3.0, 0.0]]), torch.tensor([[1.0, 2.0]])
    assert pair_features(DiffLinear(2, 0.0), u, v).tolist() == [[2.0, 2.0]]
    assert pair_features(ConcatMLP(2, 0.0), u, v).tolist() == [[2.0, 2.0, 3.0, 0.0]]
    cos = pair_features(CosineScore(), u, v)  # unit vectors (1, 0) and (1, 2)/sqrt(5)
    assert torch.allclose(cos, torch.tensor([[1 / 5 ** 0.5, 0.0]]))
    assert torch.allclose(cos.sum(-1) * 5, CosineScore()(u, v))  # its sum is what the head scores
    dps = DotProductScore(2, 1)
    with torch.no_grad():
        dps.project.weight.copy_(torch.tensor([[1.0, 1.0]]))
        dps.project.bias.zero_()
    assert pair_features(dps, u, v).tolist() == [[9.0]]  # (3 + 0) * (1 + 2)
    with pytest.raises(ValueError, match="joint vector"):
        pair_features(JointLinear(2, 0.0), u, v)


def test_head_inputs_of_tiny_models_are_what_their_heads_read(tiny_world):
    from minibert.predict import load_variants

    variants, _ = load_variants(tiny_world["checkpoints"], "cpu")
    sentences = ["a good film", "the worst movie", "a good film"]
    pairs = [("how do i cook", "what is a dog"), ("a cat runs", "a cat runs")]
    for name in ("tiny-cls", "tiny-mean", "tiny-cross"):
        v = variants[name]
        got = v.head_inputs({"sst": sentences, "quora": pairs, "sts": pairs})
        with torch.no_grad():
            sst = v.model.embed(v.tokenizer(sentences)).pooled
        assert np.allclose(got["sst"], sst.numpy(), atol=1e-5) and np.array_equal(got["sst"][0], got["sst"][2])
        hidden = v.model.encoder.config.hidden_size
        if v.recipe.pair_encoding == "cross":
            assert got["quora"].shape == got["sts"].shape == (2, hidden)
            assert np.array_equal(got["quora"], got["sts"])  # one joint vector read by both heads
        else:
            u, w = (v.model.embed(v.tokenizer([p[i] for p in pairs])).pooled for i in (0, 1))
            for task, head in (("quora", v.model.para_head), ("sts", v.model.sts_head)):
                with torch.no_grad():
                    assert np.allclose(got[task], pair_features(head, u, w).numpy(), atol=1e-5)
        if name == "tiny-cls":  # diff-linear: a pair of one sentence twice has |u - v| = 0
            assert np.abs(got["quora"][1]).max() < 1e-5


@pytest.mark.slow  # numba compiles UMAP on first use: about 10 s in a fresh process
def test_projection_is_repeatable_for_a_fixed_seed_and_keeps_clusters_apart():
    pytest.importorskip("umap")
    from analysis.embedding_map import project

    rng = np.random.default_rng(0)
    centres = np.zeros((2, 16))
    centres[1, 0] = 20.0
    vectors = np.concatenate([c + rng.normal(size=(30, 16)) for c in centres])
    first, again, other = project(vectors, seed=0), project(vectors, seed=0), project(vectors, seed=1)
    assert first.shape == (60, 2) and first.dtype == np.float32
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    a, b = first[:30].mean(0), first[30:].mean(0)
    spread = max(np.linalg.norm(first[:30] - a, axis=1).max(), np.linalg.norm(first[30:] - b, axis=1).max())
    assert np.linalg.norm(a - b) > spread  # the two clusters do not overlap on the map


def test_region_filter_by_hand():
    x = np.array([0.0, 1.0, 2.0, 3.0, 1.5])
    y = np.array([0.0, 1.0, 2.0, 3.0, 5.0])
    assert in_region(x, y, (1.0, 2.0), (1.0, 2.0)).tolist() == [False, True, True, False, False]  # bounds included
    assert in_region(x, y, (2.0, 1.0), (6.0, 0.5)).tolist() == [False, True, True, False, True]  # either order
    assert not in_region(x, y, (10, 11), (0, 5)).any()


def test_quora_sample_is_fixed_and_the_others_complete():
    rows = sample_rows("quora", 20_212)
    assert len(rows) == 2000 == len(set(rows)) and np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, sample_rows("quora", 20_212)) and not np.array_equal(rows, sample_rows("quora", 20_212, seed=1))
    assert np.array_equal(sample_rows("sst", 1101), np.arange(1101))
    assert np.array_equal(sample_rows("quora", 80), np.arange(80))


class FakeModel:
    """Two clusters per task, by the parity of the example's first character: no torch, no model."""

    def __init__(self, name: str, shift: float):
        self.name, self.members, self.checkpoint_hash, self.calls = name, (), f"hash-{name}", 0
        self.recipe = SimpleNamespace(pooling="mean", pair_encoding="bi", para_head="diff-linear", sts_head="cosine")
        self.shift = shift

    def head_inputs(self, inputs: dict) -> dict:
        self.calls += 1
        out = {}
        for task, items in inputs.items():
            texts = [x if isinstance(x, str) else x[0] for x in items]
            rng = np.random.default_rng(len(texts))
            base = rng.normal(size=(len(texts), 8))
            base[:, 0] += np.array([10.0 * (len(t) % 2) + self.shift for t in texts])
            out[task] = base.astype(np.float32)
        return out


@pytest.fixture
def world(tmp_path):
    data = tmp_path / "data"
    synthetic.make_data_dir(data, {"sst": 40, "quora": 50, "sts": 30})
    synthetic.make_tables(tmp_path / "tables", data, variants=("a", "b", "ens"))
    return A.load(tmp_path / "tables", data, checkpoints=False)


def test_build_step_maps_models_reuses_them_and_leaves_out_the_ensemble(world, monkeypatch):
    """The step's bookkeeping, with the first two coordinates standing in for UMAP (tested above)."""
    pytest.importorskip("umap")  # the step needs it, though the fake below stands in for UMAP
    from fake_projection import first_two

    monkeypatch.setattr(embedding_map, "project", first_two)
    a, b = FakeModel("a", 0.0), FakeModel("b", 5.0)
    ens = SimpleNamespace(name="ens", members=(a, b), checkpoint_hash="hash-ens")
    logs: list[str] = []
    written = embedding_map.ANALYSIS.run(world, {"a": a, "b": b, "ens": ens}, world.tables_dir, logs.append)
    points, provenance, problems = read_map(world.tables_dir, {"a": "hash-a", "b": "hash-b"})
    assert written and problems == [] and provenance["left_out"] == {"ens": ENSEMBLE_REASON}
    assert set(points["variant"]) == {"a", "b"}
    counts = points.groupby(["variant", "task"]).size().to_dict()
    assert counts == {(v, t): n for v in "ab" for t, n in (("quora", 50), ("sst", 40), ("sts", 30))}
    assert points["x"].notna().all() and "cosine" in provenance["features"]["a"]["sts"]
    assert "s wall" in logs[0] and "s CPU" in logs[0]
    # unchanged checkpoints: nothing projected again; a new checkpoint of b: only b
    before = points
    b.checkpoint_hash = "hash-b2"
    embedding_map.ANALYSIS.run(world, {"a": a, "b": b, "ens": ens}, world.tables_dir, logs.append)
    assert (a.calls, b.calls) == (1, 2) and "1 projected" in logs[-1]
    after, _, _ = read_map(world.tables_dir)
    pd.testing.assert_frame_equal(after[after["variant"] == "a"].reset_index(drop=True),
                                  before[before["variant"] == "a"].reset_index(drop=True))
    # the manifest names another checkpoint of b: its map is left out with a problem
    _, _, problems = read_map(world.tables_dir, {"a": "hash-a", "b": "hash-b"})
    assert "b" in problems[0] and "other checkpoints" in problems[0]


@pytest.mark.slow
@pytest.mark.subprocess
def test_build_step_in_a_worker_process_writes_the_inline_table(world, tmp_path):
    """The projections in a worker process beside the next variant's encoding: the same table
    byte for byte as inline, and a fault in one variant's projection costs only its map."""
    pytest.importorskip("umap")  # the step needs it, though the fake below stands in for UMAP
    from fake_projection import exits_in_a_worker, first_two  # importable by a worker process (numpy only)

    from analysis.embedding_map import POINTS_FILE

    bad = FakeModel("bad", 1000.0)  # its vectors are all above 100: the fake fails on them
    models = {"a": FakeModel("a", 0.0), "b": FakeModel("b", 5.0), "bad": bad}
    tables = {}
    for background in (False, True):
        logs: list[str] = []
        tables[background] = tmp_path / str(background)
        embedding_map.ANALYSIS.run(world, models, tables[background], logs.append, background=background,
                                    project_fn=first_two)
        assert any("bad failed (ValueError: planted fault)" in line for line in logs)
        assert "2 projected" in logs[-1] and ("worker process" in logs[-1]) == background
    assert (tables[True] / POINTS_FILE).read_bytes() == (tables[False] / POINTS_FILE).read_bytes()
    points, provenance, _ = read_map(tables[True])
    assert set(points["variant"]) == set(provenance["variants"]) == {"a", "b"}
    # the worker process dies: the step projects in its own process instead, the same points
    logs = []
    embedding_map.ANALYSIS.run(world, models, tmp_path / "died", logs.append, background=True,
                                project_fn=exits_in_a_worker)
    assert sum("worker process stopped" in line for line in logs) == 1 and "2 projected" in logs[-1]
    assert (tmp_path / "died" / POINTS_FILE).read_bytes() == (tables[False] / POINTS_FILE).read_bytes()


def test_map_step_starts_from_empty_frozen_memos(world):
    """A frozen variant's vector differs in its last bits with the batch its sentence was encoded
    in, so what an earlier step left in the memo the frozen variants share must not be reused."""
    from fake_projection import first_two

    events: list[str] = []
    a = FakeModel("a", 0.0)
    a.memo = SimpleNamespace(clear=lambda: events.append("clear"))
    encode = a.head_inputs
    a.head_inputs = lambda inputs: (events.append("encode"), encode(inputs))[1]
    embedding_map.ANALYSIS.run(world, {"a": a, "b": FakeModel("b", 1.0)}, world.tables_dir, [].append,
                                project_fn=first_two)
    assert events == ["clear", "encode"]


def test_build_step_without_umap_skips_and_keeps_the_old_table(world, monkeypatch):
    frame = pd.DataFrame({"variant": ["a"] * 4, "task": ["sst"] * 4, "ex": range(4), "x": [0.0, 1, 2, 3],
                          "y": [0.0, 1, 2, 3]})
    path, _ = write_map(world.tables_dir, frame, {"variants": {"a": "hash-a"}})
    before = path.read_bytes()
    monkeypatch.setattr(derived, "missing_library", lambda module: f"No module named {module!r}")
    logs: list[str] = []
    a = FakeModel("a", 0.0)
    assert embedding_map.ANALYSIS.run(world, {"a": a}, world.tables_dir, logs.append) == []
    assert "umap-learn is not installed" in logs[0] and "kept" in logs[0] and a.calls == 0
    assert path.read_bytes() == before


def test_map_inputs_are_the_dev_sentences_and_pairs(world):
    inputs = map_inputs(world)
    rows, sst = inputs["sst"]
    assert sst == world.task("sst").examples["sentence1"].tolist() and np.array_equal(rows, np.arange(40))
    rows, pairs = inputs["quora"]
    first = world.task("quora").examples.iloc[0]
    assert pairs[0] == (first["sentence1"], first["sentence2"])


def test_views_list_the_box_and_ring_it_on_both_maps(world):
    from demo import embedding_map_view as M

    frame = pd.DataFrame({"variant": ["a"] * 40 + ["b"] * 40, "task": "sst", "ex": list(range(40)) * 2,
                          "x": list(np.arange(40.0)) + list(-np.arange(40.0)), "y": [0.0] * 80})
    write_map(world.tables_dir, frame, {"variants": {}, "features": {"a": {"sst": "pooled"}},
                                        "left_out": {"ens": ENSEMBLE_REASON}, "seed": 0, "quora_sample": 2000})
    m = M.EmbeddingMap.load(world)
    assert m.task_names() == ["sst"] and m.variants("sst") == ["a", "b"]
    box = M.parse_box(2, 4.5, -1, 1)
    fig_a, fig_b, table, line, note = M.view(world, m, "sst", "a", "b", M.ERROR, box)
    ids = world.task("sst").examples["id"].to_numpy()
    assert table["id"].tolist() == ids[[2, 3, 4]].tolist() and "**3**" in line
    ring_a, ring_b = fig_a.data[-1], fig_b.data[-1]
    assert sorted(ring_a.x) == [2.0, 3.0, 4.0] and sorted(ring_b.x) == [-4.0, -3.0, -2.0]  # same examples on b
    assert {t.name for t in fig_a.data[:-1]} <= {"right", "wrong"} and "ens" in note
    assert M.parse_box(None, "", None, None) is None
    with pytest.raises(Exception, match="all four bounds"):
        M.parse_box(1, None, None, None)
    groups, order = M.point_groups(world, "sst", "a", M.GOLD, np.arange(40))
    assert set(groups) == set(order) and set(order) <= set(get_task("sst").classes)
