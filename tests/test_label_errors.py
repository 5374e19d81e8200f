"""Likely label errors (analysis.label_errors): planted flipped labels are found, the evidence rule
leaves out ensembles, prediction-only variants and muted heads, and the table round-trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis as A
from analysis import synthetic
from analysis.label_errors import evidence_variants, read_label_errors, score_labels

pytest.importorskip("cleanlab")

from analysis.label_errors import label_error_table, write_label_errors  # noqa: E402


def _probs(rng: np.random.Generator, truth: np.ndarray, classes: int, skill: float) -> np.ndarray:
    logits = rng.normal(size=(len(truth), classes)) + skill * np.eye(classes)[truth]
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("classes", [5, 2])
def test_planted_flipped_labels_are_found(classes):
    rng = np.random.default_rng(0)
    n, planted_n = 400, 40
    truth = rng.integers(0, classes, size=n)
    outputs = [_probs(rng, truth, classes, skill=3.0) for _ in range(5)]
    gold = truth.copy()
    planted = rng.choice(n, size=planted_n, replace=False)
    gold[planted] = (truth[planted] + rng.integers(1, classes, size=planted_n)) % classes  # always another class
    table = score_labels("sst" if classes == 5 else "quora", gold, outputs)
    found = table["issue"].to_numpy()[planted]
    assert found.mean() >= 0.8
    assert table["issue"].sum() <= 2 * planted_n  # not everything flagged
    # the planted ones rank first, and the suggestion is the true label
    top = set(np.flatnonzero(table["rank"].to_numpy() <= planted_n))
    assert len(top & set(planted)) >= 0.8 * planted_n
    assert (table["suggested"].to_numpy()[planted] == truth[planted]).mean() >= 0.8
    assert (table["contradict"].to_numpy()[planted] >= 4).mean() >= 0.8


def test_planted_sts_scores_rank_first():
    rng = np.random.default_rng(1)
    n, planted_n = 300, 20
    truth = rng.uniform(0, 5, size=n)
    outputs = [np.clip(truth + rng.normal(scale=0.4, size=n), 0, 5).astype(np.float32) for _ in range(4)]
    gold = truth.copy()
    planted = rng.choice(n, size=planted_n, replace=False)
    gold[planted] = np.where(truth[planted] > 2.5, truth[planted] - 2.5, truth[planted] + 2.5)
    table = score_labels("sts", gold, outputs)
    top = set(np.flatnonzero(table["rank"].to_numpy() <= planted_n))
    assert len(top & set(planted)) >= 0.8 * planted_n
    assert table["issue"].to_numpy()[planted].mean() >= 0.8  # every variant is off by more than 1
    assert np.allclose(table["suggested"].to_numpy(), np.mean(outputs, axis=0), atol=1e-5)


def test_evidence_worked_by_hand():
    """Two SST variants, three examples, gold 0 everywhere: counts and confidences by hand."""
    a = np.array([[0.9, 0.1, 0, 0, 0], [0.2, 0.8, 0, 0, 0], [0.1, 0, 0, 0, 0.9]], np.float32)
    b = np.array([[0.7, 0.3, 0, 0, 0], [0.6, 0.4, 0, 0, 0], [0.3, 0, 0, 0, 0.7]], np.float32)
    table = score_labels("sst", np.array([0, 0, 0]), [a, b])
    assert table["contradict"].tolist() == [0, 1, 2]
    assert table["voters"].tolist() == [2, 2, 2]
    assert table["suggested"].tolist() == [0, 1, 4]  # means [.8 .2], [.4 .6], [.2 0 0 0 .8]
    np.testing.assert_allclose(table["gold_prob"], [0.8, 0.4, 0.2], atol=1e-6)
    np.testing.assert_allclose(table["contra_conf"].to_numpy()[1:], [0.8, 0.8], atol=1e-6)
    assert np.isnan(table["contra_conf"].iloc[0])
    assert table["rank"].tolist() == [3, 2, 1]  # self-confidence = P(gold): lowest first


@pytest.fixture
def world(tmp_path):
    data = tmp_path / "data"
    synthetic.make_data_dir(data, {"sst": 60, "quora": 80, "sts": 50})
    synthetic.make_tables(tmp_path / "tables", data, variants=("a", "b", "c", "ens"))
    a = A.load(tmp_path / "tables", data, checkpoints=False)
    a.summary = {"variants": {"c": {"tasks": {"quora": {"accuracy": 0.5, "confusion": [[60, 0], [20, 0]]}}}}}
    return a


def test_evidence_rule_leaves_out_ensembles_imports_and_muted_heads(world):
    models = {"a": "hash-a", "b": "hash-b", "c": "hash-c"}   # "ens" is an ensemble; no "imported" checkpoint
    used, excluded = evidence_variants(world, "quora", models, ensembles={"ens"})
    assert used == ["a", "b"]
    assert "ensemble" in excluded["ens"] and excluded["c"].startswith("muted head")
    used, excluded = evidence_variants(world, "quora", {"a": "hash-a"})
    assert used == ["a"] and "no checkpoint" in excluded["b"]
    used, _ = evidence_variants(world, "sst", models, ensembles={"ens"})
    assert used == ["a", "b", "c"]  # c is muted on Quora only


def test_table_round_trip_and_staleness(world):
    table, provenance = label_error_table(world, "sst", {"a": "hash-a", "b": "hash-b"})
    assert list(provenance["variants"]) == ["a", "b"] and len(table) == 60
    write_label_errors(world.tables_dir, "sst", table, provenance)
    rows, prov, problems = read_label_errors(world, "sst")
    assert problems == [] and rows["rank"].tolist() == list(range(1, 61))
    assert {"sentence1", "gold", "quality", "contradict"} <= set(rows.columns)
    # built from another checkpoint of "a": reported, not shown
    write_label_errors(world.tables_dir, "sst", table, {**provenance, "variants": {"a": "old", "b": "hash-b"}})
    rows, _, problems = read_label_errors(world, "sst")
    assert rows is None and "stale" in problems[0]
    rows, _, problems = read_label_errors(world, "sts")
    assert rows is None and "no label-error table" in problems[0]


def test_no_evidence_is_an_error_naming_why(world):
    with pytest.raises(ValueError, match="no checkpoint"):
        label_error_table(world, "sts", {})
    pd.testing.assert_frame_equal(*(score_labels("sst", np.array([1, 2]), [np.eye(5, dtype=np.float32)[[1, 2]]])
                                    for _ in range(2)))


def test_build_step_writes_tables_and_skips_without_cleanlab(world, monkeypatch):
    from types import SimpleNamespace

    from analysis import derived, label_errors

    variants = {n: SimpleNamespace(members=(), checkpoint_hash=f"hash-{n}") for n in ("a", "b", "c")}
    variants["ens"] = SimpleNamespace(members=("a", "b"), checkpoint_hash="hash-ens")
    logs: list[str] = []
    written = label_errors.ANALYSIS.run(world, variants, world.tables_dir, logs.append)
    assert len(written) == 3 and all("label_errors" in p for p in written)
    before = {p: open(p, "rb").read() for p in written}
    monkeypatch.setattr(derived, "missing_library", lambda module: f"No module named {module!r}")
    logs.clear()
    assert label_errors.ANALYSIS.run(world, variants, world.tables_dir, logs.append) == []
    assert "cleanlab is not installed" in logs[0] and "kept" in logs[0]
    assert {p: open(p, "rb").read() for p in written} == before
