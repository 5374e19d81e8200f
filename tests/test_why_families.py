"""Recipe families in the "why" report: each comparison carries the interval of the smallest gap
between the two families, and "shared by the whole family" is said only when it lies above 0."""

import json

import numpy as np
import pytest

import analysis as A
from analysis.synthetic import make_data_dir, make_tables
from analysis.uncertainty import group_gap, metric_draws, weighted_metrics
from analysis.why import why_report

# --- the statistic, by hand ---------------------------------------------------------------------


def test_the_smallest_gap_and_its_interval_by_hand():
    observed = np.array([0.90, 0.80, 0.50, 0.60])
    # three resamples: the smallest upper-minus-lower gap is 0.8 - 0.6, then 0.1, then -0.05
    draws = np.array([[0.9, 0.7, 0.8], [0.8, 0.6, 0.75], [0.5, 0.4, 0.7], [0.6, 0.5, 0.8]])
    g = group_gap(observed, draws, upper=[0, 1], lower=[2, 3], level=0.5)
    assert g["gap"] == pytest.approx(0.2) and g["closest"] == (1, 3)
    assert (g["lo"], g["hi"]) == pytest.approx(tuple(np.percentile([0.2, 0.1, -0.05], [25, 75])))


def test_metric_draws_are_paired_and_the_observed_metric():
    rng = np.random.default_rng(0)
    gold = (rng.random(300) < 0.4).astype(float)
    p = rng.random((300, 3))
    p[:, 1] = p[:, 0]  # two identical variants: on every paired resample they score the same
    observed, draws = metric_draws("quora", "accuracy", gold, p, np.random.default_rng(1), n_resamples=200)
    assert observed == pytest.approx([((p[:, v] >= 0.5) == gold).mean() for v in range(3)])
    assert draws.shape == (3, 200) and (draws[0] == draws[1]).all() and not (draws[0] == draws[2]).all()
    # one metric asked for is the same number as among all of them
    w = np.random.default_rng(2).integers(0, 3, size=(300, 4)).astype(float)
    full, one = weighted_metrics("quora", gold, p, w), weighted_metrics("quora", gold, p, w, only=("accuracy",))
    assert list(one) == ["accuracy"] and np.allclose(one["accuracy"], full["accuracy"])
    s = rng.random((300, 2)) * 5
    assert np.allclose(weighted_metrics("sts", gold * 5, s, w, only=("pearson",))["pearson"],
                       weighted_metrics("sts", gold * 5, s, w)["pearson"])


# --- in the report --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("why-families")
    make_data_dir(root / "data", {"sst": 120, "quora": 400, "sts": 120})
    make_tables(root / "tables", root / "data", variants=("a", "b", "c", "d", "e"))
    # the recipes behind the families, as checkpoints' config.json files hold them
    ckpt = root / "checkpoints"
    for name, encoding, pooling in (("a", "cross", "cls"), ("b", "cross", "mean"), ("c", "bi", "cls"),
                                    ("d", "bi", "mean"), ("e", "bi", "mean")):
        (ckpt / name).mkdir(parents=True)
        (ckpt / name / "config.json").write_text(json.dumps({"recipe": {
            "name": name, "kind": "model", "pair_encoding": encoding, "pooling": pooling, "encoder": "finetune",
            "sharing": "sum", "sts_head": "cosine", "para_head": "concat-mlp"}}))
    return root


@pytest.fixture(scope="module")
def loaded(world):
    return A.load(world / "tables", world / "data", checkpoints=False)


def _set(td, name, pred, correct, score):
    i = td.variant_index(name)
    td.pred[:, i], td.correct[:, i], td.score[:, i] = pred, correct, score


def test_a_gap_the_whole_family_shares_is_said_with_its_interval(world, loaded):
    td = loaded.task("quora")
    gold = td.examples["gold"].to_numpy(float)
    saved = {v: (td.pred[:, td.variant_index(v)].copy(), td.correct[:, td.variant_index(v)].copy(),
                 td.score[:, td.variant_index(v)].copy()) for v in ("a", "b")}
    try:
        # the cross family (a, b) right on every example: every cross variant beats every bi variant
        for v in ("a", "b"):
            _set(td, v, gold, np.ones(len(gold), bool), gold)
        r = why_report(loaded, "quora", "a", "c", checkpoints=world / "checkpoints")
        encoding = next(f for f in r.families if f["field"] == "pair_encoding")
        assert encoding["upper"] == ["a", "b"] and encoding["lower"] == ["c", "d", "e"]
        best_bi = max(td.correct[:, td.variant_index(v)].mean() for v in ("c", "d", "e"))
        assert encoding["gap"] == pytest.approx(1 - best_bi)
        assert 0 < encoding["lo"] <= encoding["hi"] and encoding["shared"]
        assert "shared by the whole famil" in encoding["text"] and "95 % interval" in encoding["text"]
        # a and c share their pooling (cls): it separates nothing here
        assert all(f["field"] != "pooling" for f in r.families)

        # b now as poor as the worst bi variant: the cross family no longer beats every bi variant
        worst = min(("c", "d", "e"), key=lambda v: td.correct[:, td.variant_index(v)].mean())
        k = td.variant_index(worst)
        _set(td, "b", td.pred[:, k].copy(), td.correct[:, k].copy(), td.score[:, k].copy())
        r = why_report(loaded, "quora", "a", "c", checkpoints=world / "checkpoints")
        encoding = next(f for f in r.families if f["field"] == "pair_encoding")
        assert not encoding["shared"] and encoding["lo"] <= 0 and "not" in encoding["text"]
        assert encoding["closest"][0] == "b"
    finally:
        for v, arrays in saved.items():
            _set(td, v, *arrays)
    # the JSON carries every number, the Markdown says how the interval is made
    data = json.loads(r.to_json())
    assert {"gap", "lo", "hi", "closest", "shared", "upper", "lower", "text"} <= set(data["families"][0])
    assert "smallest gap between a member of the leading family" in r.to_markdown()


def test_no_recipe_no_families_said_so(loaded):
    r = why_report(loaded, "quora", "a", "c")  # the default checkpoints folder has no variant named "a"
    assert r.families == [] and any(m.startswith("families: no recipe") for m in r.missing)
