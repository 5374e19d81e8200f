"""The "why" report: its tests checked by hand, honest under the null, and the one-call API."""

import itertools
import json
import math
import shutil
import sys
import zipfile

import numpy as np
import pytest

import analysis as A
from analysis.__main__ import main
from analysis.synthetic import make_data_dir, make_tables
from analysis.uncertainty import adjust_bh, mcnemar_exact, slice_tests
from analysis.why import why_report
from analysis.why.clusters import kmeans
from analysis.why.feature_table import FEATURES_VERSION, examples_digest, write_features
from analysis.why.features import Predicate, task_features, text_predicates
from analysis.why.search import search

# --- the statistics, against hand-worked cases -------------------------------------------------


def test_mcnemar_is_an_exact_binomial_test_of_the_discordant_pairs():
    # 8 against 2 of 10 discordant pairs: 2 * P(X <= 2 | 10, 1/2) = 2 * (1 + 10 + 45) / 1024
    assert mcnemar_exact(8, 2) == pytest.approx(112 / 1024)
    assert mcnemar_exact(2, 8) == pytest.approx(112 / 1024)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0


def test_slice_test_by_hand():
    # d = 1, 1, 0, 0, 0, 0 and the slice is the first two: mean 1 inside, 0 outside. Under
    # permutation the inside sum has mean 2 * 1/3 and variance 2 * (2/9) * 4/5 = 16/45, so
    # z = (2 - 2/3) / sqrt(16/45) = sqrt(5).
    d = np.array([1, 1, 0, 0, 0, 0], float)
    out = slice_tests(d, np.array([[True], [True], [False], [False], [False], [False]]))
    assert out["n"][0] == 2 and out["mean_in"][0] == 1 and out["mean_out"][0] == 0 and out["effect"][0] == 1
    assert out["z"][0] == pytest.approx(math.sqrt(5))
    # so few nonzero values make p exact: both ones inside is 1 of C(6, 2) = 15 equally likely draws,
    # and no other draw is as far from the centre 2/3
    assert out["p"][0] == pytest.approx(1 / 15)
    # a continuous d on many examples keeps the normal tail of the same z
    d = np.random.default_rng(0).normal(size=6000)
    mask = np.zeros((6000, 1), bool)
    mask[:50] = True
    z = slice_tests(d, mask)["z"][0]
    assert slice_tests(d, mask)["p"][0] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))


def test_monte_carlo_p_of_a_small_continuous_d_matches_enumeration():
    # mostly 0 with a few large values, as STS extra errors are: no normal tail fits it
    d = np.zeros(14)
    d[[0, 1, 7]] = [3.0, 2.5, -1.0]
    d[2] = 0.25
    mask = np.zeros((14, 1), bool)
    mask[:4] = True
    centre = 4 * d.mean()
    sums = np.array([d[list(c)].sum() for c in itertools.combinations(range(14), 4)])
    exact = np.mean(np.abs(sums - centre) >= abs(d[:4].sum() - centre) - 1e-9)
    assert slice_tests(d, mask)["p"][0] == pytest.approx(exact, abs=0.01)


def test_the_null_variance_is_the_exact_permutation_variance():
    rng = np.random.default_rng(3)
    d = rng.normal(size=9)
    k = 4
    sums = np.array([d[list(c)].sum() for c in itertools.combinations(range(9), k)])
    mask = np.zeros((9, 1), bool)
    mask[:k] = True
    z = slice_tests(d, mask)["z"][0]
    assert z == pytest.approx((d[:k].sum() - sums.mean()) / sums.std())


def test_benjamini_hochberg_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 0.03, 0.045, 0.04, then made monotone from the top: 0.03, 0.04, 0.04
    assert adjust_bh(np.array([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.04, 0.04])


@pytest.mark.parametrize("library", ["scikit-learn", "scipy"])
def test_kmeans_separates_two_clouds_and_numbers_clusters_by_size(library, monkeypatch):
    if library == "scipy":  # scikit-learn is a dev requirement: without it, scipy's k-means
        monkeypatch.setitem(sys.modules, "sklearn.cluster", None)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (30, 2)), rng.normal(5, 0.1, (50, 2))])
    labels, method = kmeans(x, 2, seed=0)
    assert (labels[30:] == 1).all() and (labels[:30] == 2).all()
    assert library in method and "seed 0" in method
    assert (kmeans(x, 2, seed=0)[0] == labels).all()


# --- honest under the null (fixed seeds 0-19) ---------------------------------------------------


def _world(seed: int, planted: bool, n: int = 400, n_features: int = 10):
    """Two variants on n examples with 10 random features. B equals A except: planted, B loses a
    quarter of A's right answers inside feature 0; else, B loses as many right answers at random."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_features)) < rng.uniform(0.15, 0.5, n_features)
    predicates = [Predicate(f"f{k}", "yes", f"feature {k}", x[:, k]) for k in range(n_features)]
    a = rng.random(n) < 0.8
    b = a.copy()
    right_inside = np.flatnonzero(x[:, 0] & a)
    extra = max(1, len(right_inside) // 4)
    pool = right_inside if planted else np.flatnonzero(a)
    b[rng.choice(pool, size=extra, replace=False)] = False
    return a.astype(float) - b, predicates, x[:, 0]


@pytest.mark.parametrize("seed", range(20))
def test_planted_errors_are_ranked_first(seed):
    d, predicates, planted = _world(seed, planted=True)
    found = search(d, predicates)
    top = found.mask(found.slices[0])
    shared = (top & planted).sum() / max(top.sum(), planted.sum())
    assert shared >= 0.8, (seed, found.slices[0].name)
    assert found.slices[0].p_adjusted < 0.05


def test_random_errors_give_a_discovery_in_at_most_3_of_20_seeds():
    discoveries = []
    for seed in range(20):
        d, predicates, _ = _world(seed, planted=False)
        found = search(d, predicates)
        assert found.n_tested == found.n_single + found.n_pairs  # every candidate counts in the adjustment
        discoveries.append(found.n_discoveries(0.05) > 0)  # any slice tested, shown or pruned
    assert sum(discoveries) <= 3, discoveries


def test_children_are_pruned_but_still_counted():
    d, predicates, _ = _world(0, planted=True)
    found = search(d, predicates)
    assert found.n_pruned + len(found.slices) == found.n_tested
    shown_pairs = [s for s in found.slices if len(s.parts) == 2]
    singles = {s.parts[0]: s.effect for s in found.slices if len(s.parts) == 1}
    for s in shown_pairs:  # a kept child goes further than both its parents
        assert all(abs(s.effect) > abs(singles[q]) for q in s.parts)
    assert all(s.n >= 30 for s in found.slices)


def _nested_world(seed: int, inside_child_only: bool, n: int = 3000):
    """A parent feature (30 %), a child feature inside it (half the parent's rows) and 8 others;
    B loses 60 right answers of A's, in the whole parent or in the child only."""
    rng = np.random.default_rng(seed)
    parent = rng.random(n) < 0.3
    child = parent & (rng.random(n) < 0.5)
    others = rng.random((n, 8)) < 0.3
    predicates = [Predicate("parent", "yes", "parent", parent), Predicate("child", "yes", "inside the parent", child)]
    predicates += [Predicate(f"f{k}", "yes", f"feature {k}", others[:, k]) for k in range(8)]
    a = rng.random(n) < 0.8
    b = a.copy()
    b[rng.choice(np.flatnonzero(a & (child if inside_child_only else parent)), size=60, replace=False)] = False
    return a.astype(float) - b, predicates


@pytest.mark.parametrize("seed", range(5))
def test_a_slice_inside_another_is_shown_only_when_clearly_stronger_than_the_rest_of_it(seed):
    d, predicates = _nested_world(seed, inside_child_only=False)
    found = search(d, predicates)
    names = [s.name for s in found.slices]
    assert names[0] == "parent: yes" and "child: yes" not in names  # the pieces of an even gap are not news
    assert found.n_pruned + len(found.slices) == found.n_tested  # though still tested and counted
    d, predicates = _nested_world(seed, inside_child_only=True)
    assert search(d, predicates).slices[0].name == "child: yes"  # where the gap really is, it is shown first


# --- the report --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("why")
    make_data_dir(root / "data", {"sst": 200, "quora": 400, "sts": 200})
    make_tables(root / "tables", root / "data", variants=("a", "b", "c", "d", "e"))
    return root


@pytest.fixture(scope="module")
def loaded(world):
    return A.load(world / "tables", world / "data", checkpoints=False)


@pytest.mark.parametrize("task", ["sst", "quora", "sts"])
def test_report_of_two_variants(loaded, task):
    r = why_report(loaded, task, "e", "a")
    h = r.headline
    assert h["lo"] <= h["difference"] <= h["hi"]
    assert r.tested["slices"] >= len(r.findings) > 0
    assert r.tested["features"] >= 20
    f = r.findings[0]
    assert f.lo <= f.effect <= f.hi and 0 <= f.p <= f.p_adjusted <= 1
    assert f.query["variant"] == "e" and f.query["other"] == "a"
    assert ("slice" in f.query) or len(f.query["ids"]) == f.n
    q = A.ErrorQuery.from_dict(f.query["error_query"])
    assert (q.variant, q.other, q.relation) == ("e", "a", "disagree")
    shown = A.errors(loaded, q)  # the rows the Errors tab opens: the two disagree there
    if task != "sts":
        assert len(shown) and (shown["pred"] != shown["other_pred"]).all()
    td = loaded.task(task)
    rows = np.isin(td.examples["id"].astype(str), f.query["ids"]) if "ids" in f.query else (
        td.slices[f.query["slice"][0]].astype(str).to_numpy() == f.query["slice"][1])
    ia = td.variant_index("e")
    if task == "sts":
        gold = td.examples["gold"].to_numpy(float)
        assert f.a_inside == pytest.approx(((td.pred[rows, ia] - gold[rows]) ** 2).mean())
    else:
        assert f.a_inside == pytest.approx(td.correct[rows, ia].mean())
    data = json.loads(r.to_json())
    assert data["findings"][0]["definition"] and "n" in data["findings"][0] and "share" in data["findings"][0]
    text = r.to_markdown()
    assert f"Tested {r.tested['slices']:,} slices" in text
    if task == "sts":
        assert h["metric"] == "pearson" and "additive" in h and r.flips["mcnemar_p"] is None
    else:
        assert 0 <= r.flips["mcnemar_p"] <= 1
    # no checkpoints: no families, no behavioural tests, said so
    assert any(m.startswith("families") for m in r.missing)
    assert any(m.startswith("behavioural tests") for m in r.missing)
    assert any(m.startswith("embedding cluster") for m in r.missing)


def test_no_shares_when_the_gap_is_not_distinguishable(loaded):
    td = loaded.task("quora")
    ia, ib = td.variant_index("a"), td.variant_index("b")
    saved = td.pred[:, ib].copy(), td.correct[:, ib].copy(), td.score[:, ib].copy()
    td.pred[:, ib], td.correct[:, ib], td.score[:, ib] = td.pred[:, ia], td.correct[:, ia], td.score[:, ia]
    try:  # b made a copy of a: a gap of exactly 0
        r = why_report(loaded, "quora", "a", "b")
    finally:
        td.pred[:, ib], td.correct[:, ib], td.score[:, ib] = saved
    assert r.headline["difference"] == 0
    assert all(f.share is None for f in r.findings)
    assert any("not distinguishable" in n for n in r.notes)


def test_shares_are_the_slice_part_of_the_additive_gap(loaded):
    r = why_report(loaded, "quora", "e", "a")
    td = loaded.task("quora")
    d = td.correct[:, td.variant_index("e")].astype(float) - td.correct[:, td.variant_index("a")]
    f = r.findings[0]
    if r.headline["lo"] > 0 or r.headline["hi"] < 0:
        assert f.share == pytest.approx(f.mean_in * f.n / d.sum())
    else:
        assert f.share is None


def test_one_variant_report_says_where_it_fails(loaded):
    r = why_report(loaded, "sst", "a")
    assert r.b is None and r.flips["errors"] > 0
    assert "Where a fails on Sentiment (SST)" in r.to_markdown()  # the task as the app names it
    assert json.loads(r.to_json())["task"] == "sst"  # the machine-readable key stays


def test_hard_labels_name_what_is_missing(loaded):
    td = loaded.task("quora")
    td.hard_labels = frozenset({"b"})
    try:
        r = why_report(loaded, "quora", "b", "c")
    finally:
        td.hard_labels = frozenset()
    assert any(m.startswith("most confident flips") and "hard labels" in m for m in r.missing)
    assert any(m.startswith("calibration") for m in r.missing)
    assert r.confident == {} and "calibration" not in r.evidence


def test_export_zip_has_markdown_figures_and_latex(loaded, tmp_path):
    r = why_report(loaded, "quora", "e", "a")
    path = r.export_zip(tmp_path / "why.zip")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"report.md", "report.json", "table.tex", "figures/slices.png", "figures/slices.svg",
                "figures/flips.png", "figures/flips.svg"} <= names
        assert z.read("figures/slices.png").startswith(b"\x89PNG")
        assert b"\\begin{tabular}" in z.read("table.tex")
    assert path.stat().st_size < 10 * 2**20


def test_the_report_reads_the_build_time_feature_table_by_example_id(world, tmp_path):
    tables = shutil.copytree(world / "tables", tmp_path / "tables")
    a = A.load(tables, world / "data", checkpoints=False)
    td = a.task("sts")
    preds, _ = text_predicates(td, a.data_dir)
    clusters = np.arange(len(td.examples)) % 3 + 1
    provenance = {"version": FEATURES_VERSION, "examples": examples_digest(td.examples, pair=True), "missing": [],
                  "clusters": {"k": 3, "seed": 0, "method": "by hand", "vectors": "row numbers"}}
    backwards = slice(None, None, -1)  # stored in another order: rows are matched by id
    write_features(tables, "sts", td.examples["id"][backwards],
                   [Predicate(p.feature, p.value, p.definition, p.mask[backwards]) for p in preds],
                   clusters[backwards], provenance)
    feats = task_features(td, tables, a.data_dir)
    cluster = [p for p in feats.predicates if p.feature == "embedding cluster"]
    assert [p.value for p in cluster] == ["1", "2", "3"] and (cluster[1].mask == (clusters == 2)).all()
    stored = {p.name: p.mask for p in feats.predicates}
    assert all((stored[p.name] == p.mask).all() for p in preds)
    r = why_report(a, "sts", "e", "a")
    assert not any(m.startswith("embedding cluster") for m in r.missing)


@pytest.mark.parametrize("damage", ["other examples", "older version", "not parquet"])
def test_a_stale_or_broken_feature_table_is_named_with_the_fix(world, tmp_path, damage):
    tables = shutil.copytree(world / "tables", tmp_path / "tables")
    a = A.load(tables, world / "data", checkpoints=False)
    td = a.task("quora")
    path = tables / "why_features" / "quora.parquet"
    if damage == "not parquet":
        path.parent.mkdir()
        path.write_bytes(b"not parquet")
    else:
        provenance = {"version": FEATURES_VERSION if damage == "other examples" else FEATURES_VERSION - 1,
                      "examples": "another digest" if damage == "other examples" else examples_digest(td.examples, True)}
        write_features(tables, "quora", td.examples["id"], text_predicates(td, a.data_dir)[0], None, provenance)
    r = why_report(a, "quora", "e", "a")  # the text features are computed instead: a full report
    (line,) = [m for m in r.missing if m.startswith("embedding cluster")]
    assert str(path) in line and "python -m analysis build" in line
    assert {"other examples": "other dev examples", "older version": "another version",
            "not parquet": "unreadable"}[damage] in line
    assert r.tested["features"] >= 20 and r.findings


def test_cli_json_and_errors(world, capsys):
    assert main(["why", "--task", "sts", "e", "a", "--json", "--tables", str(world / "tables"),
                 "--data-dir", str(world / "data")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["a"] == "e" and data["b"] == "a" and data["tested"]["slices"] > 0
    assert main(["why", "--task", "sts", "nope", "--tables", str(world / "tables")]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["why", "--task", "sts", "a", "a", "--tables", str(world / "tables")]) == 2
    assert "itself" in capsys.readouterr().err


def test_exact_p_where_flips_are_few():
    # 40 examples, one +1 flip and the rest 0; a slice of 30 holding the flip. The inside sum is 1
    # (probability 30/40) or 0; its centre is 0.75, and 0 lies farther from it (0.75) than the
    # observed 1 (0.25): every outcome is as extreme, p = 1. A normal tail would say the same here,
    # but the case checks the grid's bookkeeping.
    d = np.zeros(40)
    d[0] = 1
    mask = np.zeros((40, 1), bool)
    mask[:30] = True
    assert slice_tests(d, mask)["p"][0] == pytest.approx(1.0)
    # by enumeration: 2 wins, 1 loss among 12, slice of 4 holding both wins
    d = np.zeros(12)
    d[[0, 1]], d[5] = 1, -1
    mask = np.zeros((12, 1), bool)
    mask[:4] = True
    centre = 4 * 1 / 12
    sums = np.array([d[list(c)].sum() for c in itertools.combinations(range(12), 4)])
    expected = np.mean(np.abs(sums - centre) >= abs(2 - centre) - 1e-9)
    assert slice_tests(d, mask)["p"][0] == pytest.approx(expected)


def test_an_imported_variant_of_hard_labels_gets_a_report(world, tmp_path, capsys):
    import shutil

    import pandas as pd

    tables = tmp_path / "tables"
    shutil.copytree(world / "tables", tables)
    own = pd.read_parquet(tables / "predictions" / "a" / "quora.parquet")
    lines = ["id \t Predicted_Is_Paraphrase"] + [f"{i} , {int(p)}" for i, p in zip(own["id"], own["pred"])]
    (tmp_path / "para-dev-output.csv").write_text("\n".join(lines) + "\n")
    assert main(["import", "--name", "mine", "--tables", str(tables), "--checkpoints", str(tmp_path / "none"),
                 str(tmp_path / "para-dev-output.csv")]) == 0
    capsys.readouterr()
    assert main(["why", "--task", "quora", "mine", "e", "--json", "--tables", str(tables),
                 "--data-dir", str(world / "data")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["flips"]["mcnemar_p"] is not None and data["findings"]
    missing = " | ".join(data["missing"])
    for part in ("most confident flips", "calibration", "families", "behavioural tests"):
        assert part in missing
