"""Metrics, error queries and slices of `analysis` on a tiny hand-made dev set.

Two variants, A and B, with predictions chosen by hand so that every expected answer below was
worked out on paper (see the comments next to the data). No model, no real data.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis as A
from analysis import slices as S
from analysis.examples import data_identity, read_dev_split
from analysis.tables import empty_manifest, write_examples, write_manifest, write_table

SST = [  # id, sentence, gold           words  negation
    ("sst-0", "A great film .", 0),  # 3      no
    ("sst-1", "It is not good at all .", 1),  # 6      yes
    ("sst-2", "Nothing happens in this long , slow , dull and tedious movie about two people who never meet .", 2),  # 16 yes
    ("sst-3", "Fine .", 2),  # 1      no
    ("sst-4", "The best movie of the year .", 4),  # 6      no
    ("sst-5", "Does n't work .", 3),  # 2      yes  (read back as "Doesn't work.")
]
SST_A = [  # pred = argmax; confidence .65 .55 .75 .85 .75 .65  ->  pred 0 3 2 1 4 4
    [0.65, 0.10, 0.10, 0.10, 0.05],
    [0.10, 0.10, 0.10, 0.55, 0.15],
    [0.05, 0.10, 0.75, 0.05, 0.05],
    [0.05, 0.85, 0.05, 0.03, 0.02],
    [0.05, 0.05, 0.10, 0.05, 0.75],
    [0.00, 0.00, 0.10, 0.25, 0.65],
]
SST_B_PRED = [0, 1, 2, 2, 3, 3]  # wrong only on sst-4

QUORA = [  # id, sentence1, sentence2, gold
    ("q-0", "How do I learn Python ?", "What is the best way to learn Python ?", 1),
    ("q-1", "Why is the sky blue ?", "Why is the sea blue ?", 0),  # overlap 4/6
    ("q-2", "How can I lose weight fast ?", "What is the fastest way to lose weight ?", 1),
    ("q-3", "Is it not safe to swim after eating ?", "Can dogs eat chocolate ?", 0),
    ("q-4", "What are good books ?", "Which books should I read ?", 1),
]
QUORA_A = [0.9, 0.8, 0.4, 0.4, 0.2]  # at 0.5: pred 1 1 0 0 0 -> FP q-1; FN q-2, q-4
QUORA_B = [0.7, 0.1, 0.6, 0.3, 0.45]  # at 0.5: pred 1 0 1 0 0 -> wrong only on q-4

STS = [  # id, sentence1, sentence2, gold
    ("s-0", "A man plays a guitar .", "A woman is cooking .", 0.0),
    ("s-1", "A dog runs .", "A cat runs .", 2.5),
    ("s-2", "Two men are talking .", "Two men talk .", 4.0),
    ("s-3", "The cat sat on the mat .", "The cat sat on the mat .", 5.0),
]
STS_A = [0.5, 4.0, 3.9, 3.0]  # errors +0.5 +1.5 -0.1 -2.0
STS_B = [1.2, 2.4, 4.2, 4.9]


def _write_data(folder: Path) -> None:
    folder.mkdir(parents=True)
    files = {
        "ids-sst-dev.csv": (["", "id", "sentence", "sentiment"], SST),
        "quora-dev.csv": (["", "id", "sentence1", "sentence2", "is_duplicate"], [(*r[:3], float(r[3])) for r in QUORA]),
        "sts-dev.csv": (["", "id", "sentence1", "sentence2", "similarity"], STS),
    }
    for name, (header, rows) in files.items():
        with open(folder / name, "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", quotechar='"', lineterminator="\n")
            writer.writerow(header)
            writer.writerows([i, *row] for i, row in enumerate(rows))


def _write_tables(tables: Path, data: Path) -> None:
    from minibert.data import read_split

    manifest = empty_manifest()
    sst_probs_b = np.eye(5)[SST_B_PRED] * 0.8 + 0.04
    frames = {
        ("A", "sst"): pd.DataFrame({"id": [r[0] for r in SST], "pred": np.argmax(SST_A, axis=1),
                                    **{f"p{k}": np.array(SST_A)[:, k] for k in range(5)}}),
        ("B", "sst"): pd.DataFrame({"id": [r[0] for r in SST], "pred": SST_B_PRED,
                                    **{f"p{k}": sst_probs_b[:, k] for k in range(5)}}),
        ("A", "quora"): pd.DataFrame({"id": [r[0] for r in QUORA], "pred": np.array(QUORA_A) >= 0.5, "prob": QUORA_A}),
        ("B", "quora"): pd.DataFrame({"id": [r[0] for r in QUORA], "pred": np.array(QUORA_B) >= 0.5, "prob": QUORA_B}),
        ("A", "sts"): pd.DataFrame({"id": [r[0] for r in STS], "pred": STS_A}),
        ("B", "sts"): pd.DataFrame({"id": [r[0] for r in STS], "pred": STS_B}),
    }
    for (variant, task), frame in frames.items():
        split = read_split(task, "dev", data)
        write_table(tables, manifest, variant=variant, task=task, frame=frame, checkpoint_name=variant,
                    checkpoint_hash=f"hash-{variant}", data={"file": split.path.name, "sha256": split.sha256})
    for task in A.TASKS:  # what the build ships, so the features below are the stored ones
        frame, info, _ = read_dev_split(task, data)
        write_examples(tables, manifest, task, frame, data_identity(info))
    write_manifest(tables, manifest)


@pytest.fixture(scope="module")
def a(tmp_path_factory) -> A.Analysis:
    root = tmp_path_factory.mktemp("hand")
    _write_data(root / "data")
    _write_tables(root / "tables", root / "data")
    loaded = A.load(root / "tables", root / "data", checkpoints={"A": "hash-A", "B": "hash-B"})
    assert loaded.problems == [f"no summary at {root / 'tables' / 'summary.json'}; run `python -m analysis build`"]
    return loaded


def ids(frame: pd.DataFrame) -> list[str]:
    return frame["id"].tolist()


# --- the joined frames ---------------------------------------------------------------------


def test_long_frame_joins_text_gold_and_features(a):
    sst = a.frame("sst")
    assert len(sst) == 12 and sst["variant"].astype(str).tolist() == ["A"] * 6 + ["B"] * 6
    row = sst[(sst["variant"] == "A") & (sst["id"] == "sst-1")].iloc[0]
    assert (row["pred"], row["gold"], bool(row["correct"]), row["error"]) == (3, 1, False, 2)
    assert row["sentence1"] == "It is not good at all." and row["conf"] == pytest.approx(0.55)
    assert a.examples("sst")["words"].tolist() == [3, 6, 16, 1, 6, 2]
    assert a.examples("sst")["negation"].tolist() == [False, True, True, False, False, True]
    q = a.examples("quora").set_index("id")
    assert q.loc["q-1", "overlap"] == pytest.approx(4 / 6)  # {why is the blue} of {why is the sky sea blue}
    assert q.loc["q-3", "negation"] and not q.loc["q-0", "negation"]
    assert a.sources["sst"].startswith("examples table") and "same data as" in a.sources["sst"]
    wide = a.wide("quora", "prob")
    assert wide["A"].tolist() == pytest.approx(QUORA_A) and wide["gold"].tolist() == [1, 0, 1, 0, 1]
    assert a.wide("sst", "correct")["B"].tolist() == [True, True, True, True, False, True]


# --- metrics -------------------------------------------------------------------------------


def test_sst_metrics(a):
    m = A.metrics(a, "sst", "A")
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx(7 / 15)  # see test_metrics
    assert m["off_by_one_accuracy"] == pytest.approx(5 / 6)
    # confidence .65 .55 .75 .85 .75 .65, right 1 0 1 0 1 0:
    # bin .6: 2 points, acc .5 (gap .15); .5: 1, acc 0 (.55); .7: 2, acc 1 (.25); .8: 1, acc 0 (.85)
    assert m["ece"] == pytest.approx((2 * 0.15 + 0.55 + 2 * 0.25 + 0.85) / 6)
    assert m["confusion"].loc[2, 1] == 1 and m["confusion"].to_numpy().sum() == 6
    assert m["per_class"]["precision"].tolist() == pytest.approx([1, 0, 1, 0, 0.5])
    assert m["reliability"]["n"].sum() == 6
    assert A.metrics_table(a, "sst").loc["B", "accuracy"] == pytest.approx(5 / 6)


def test_quora_metrics_at_any_threshold(a):
    m = A.metrics(a, "quora", "A")
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (1, 1, 2, 1)
    assert m["accuracy"] == pytest.approx(0.4) and m["f1"] == pytest.approx(0.4)
    assert m["roc_auc"] == pytest.approx(2.5 / 6)  # pairs counted in test_metrics
    assert "optimistic" in m["note"]
    assert A.confusion(a, "quora", "A").to_numpy().tolist() == [[1, 1], [2, 1]]
    assert A.confusion(a, "quora", "A", threshold=0.3).to_numpy().tolist() == [[0, 2], [1, 2]]
    table = A.metrics_table(a, "quora", threshold=0.3)
    assert table.loc["A", "recall"] == pytest.approx(2 / 3) and table.loc["A", "threshold"] == 0.3
    # top-label confidence of B: .7 .9 .6 .7 .55, right 1 1 1 1 0
    ece, bins = A.calibration(a, "quora", "B")
    assert ece == pytest.approx((2 * abs(1 - 0.7) + abs(1 - 0.9) + abs(1 - 0.6) + abs(0 - 0.55)) / 5)


def test_sts_metrics_and_overall(a):
    m = A.metrics(a, "sts", "A")
    assert m["pearson"] == pytest.approx(np.corrcoef(STS_A, [r[3] for r in STS])[0, 1], rel=1e-6)
    assert m["mse"] == pytest.approx((0.25 + 2.25 + 0.01 + 4.0) / 4, rel=1e-6)
    assert m["residuals"]["residual"].tolist() == pytest.approx([0.5, 1.5, -0.1, -2.0], abs=1e-6)
    # gold 0 2.5 4 5 -> cells 0 3 4 5; A 0.5 4.0 3.9 3.0 -> 1 4 4 3
    cm = A.confusion(a, "sts", "A")
    assert (cm.loc[0, 1], cm.loc[3, 4], cm.loc[4, 4], cm.loc[5, 3]) == (1, 1, 1, 1)
    scores = A.overall(a)
    assert scores.loc["A", "overall"] == pytest.approx((0.5 + 0.4 + (m["pearson"] + 1) / 2) / 3)


# --- error queries -------------------------------------------------------------------------


def test_sst_errors_by_size_direction_and_order(a):
    assert ids(A.errors(a, "sst", "A")) == ["sst-3", "sst-5", "sst-1"]  # confidence .85 .65 .55
    assert ids(A.errors(a, "sst", "A", ascending=True)) == ["sst-1", "sst-5", "sst-3"]
    assert ids(A.errors(a, "sst", "A", min_error=2)) == ["sst-1"]
    assert ids(A.errors(a, "sst", "A", direction="under")) == ["sst-3"]
    assert ids(A.errors(a, "sst", "A", direction="over")) == ["sst-5", "sst-1"]
    assert ids(A.errors(a, "sst", "A", sort="error")) == ["sst-1", "sst-3", "sst-5"]
    assert ids(A.errors(a, "sst", "A", limit=1)) == ["sst-3"]


def test_quora_false_positives_and_negatives(a):
    assert ids(A.errors(a, "quora", "A", direction="fp")) == ["q-1"]
    assert ids(A.errors(a, "quora", "A", direction="fn")) == ["q-4", "q-2"]  # confidence .8, .6
    assert ids(A.errors(a, "quora", "A", direction="fn", sort="error", ascending=True)) == ["q-2", "q-4"]
    low = A.errors(a, "quora", "A", direction="fp", threshold=0.3)
    assert ids(low) == ["q-1", "q-3"] and low["pred"].tolist() == [1, 1]
    everyone = A.errors(a, "quora")  # both variants
    assert sorted(zip(everyone["variant"].astype(str), everyone["id"])) == [
        ("A", "q-1"), ("A", "q-2"), ("A", "q-4"), ("B", "q-4")]


def test_sts_errors_over_and_under(a):
    assert ids(A.errors(a, "sts", "A")) == ["s-3", "s-1"]  # |error| 2.0, 1.5 > 1.0
    assert ids(A.errors(a, "sts", "A", min_error=1.6)) == ["s-3"]
    assert ids(A.errors(a, "sts", "A", direction="over")) == ["s-1"]
    assert ids(A.errors(a, "sts", "A", min_error=0.0, sort="error", ascending=True)) == ["s-2", "s-0", "s-1", "s-3"]
    with pytest.raises(ValueError, match="confidence"):
        A.errors(a, "sts", "A", sort="confidence")


def test_confusion_cell_text_search_and_length(a):
    assert ids(A.errors(a, "sst", "A", cell=(2, 1))) == ["sst-3"]
    assert ids(A.errors(a, "sst", "A", cell=(4, 4))) == ["sst-4"]  # a diagonal cell: right answers
    assert ids(A.errors(a, "quora", "A", cell=(1, 0))) == ["q-4", "q-2"]
    assert ids(A.errors(a, "sts", "A", cell=(3, 4))) == ["s-1"]
    assert ids(A.errors(a, "sst", "A", search="NOT")) == ["sst-1"]  # case-insensitive, errors only
    assert ids(A.errors(a, "sst", "A", search="not", only_errors=False)) == ["sst-2", "sst-1"]  # "Nothing"
    assert ids(A.errors(a, "quora", "A", search="lose weight", only_errors=False)) == ["q-2"]
    assert ids(A.errors(a, "quora", "A", search="chocolate", only_errors=False)) == ["q-3"]  # sentence2
    short = A.errors(a, "sst", "A", max_words=3, only_errors=False)
    assert sorted(ids(short)) == ["sst-0", "sst-3", "sst-5"]
    assert ids(A.errors(a, "sst", "A", min_words=4, max_words=10, only_errors=False, sort="id")) == ["sst-1", "sst-4"]


def test_two_variants_agree_or_disagree(a):
    # SST A right on 0 2 4; B right on 0 1 2 3 5; predictions equal on 0 and 2
    assert ids(A.errors(a, "sst", "A", other="B", relation="a_right_b_wrong")) == ["sst-4"]
    assert sorted(ids(A.errors(a, "sst", "A", other="B", relation="a_wrong_b_right"))) == ["sst-1", "sst-3", "sst-5"]
    assert sorted(ids(A.errors(a, "sst", "A", other="B", relation="agree"))) == ["sst-0", "sst-2"]
    assert ids(A.errors(a, "sst", "A", other="B", relation="both_wrong")) == []
    # Quora A right on 0 3; B right on 0 1 2 3; predictions equal on 0 3 4
    assert ids(A.errors(a, "quora", "A", other="B", relation="both_wrong")) == ["q-4"]
    disagree = A.errors(a, "quora", "A", other="B", relation="disagree", sort="id")
    assert ids(disagree) == ["q-1", "q-2"] and disagree["other_pred"].tolist() == [0, 1]
    # STS: |A - B| = .7 1.6 .3 1.9; A right on 0 2, B right on all
    assert sorted(ids(A.errors(a, "sts", "A", other="B", relation="disagree"))) == ["s-1", "s-3"]
    assert sorted(ids(A.errors(a, "sts", "A", other="B", relation="a_wrong_b_right"))) == ["s-1", "s-3"]
    with pytest.raises(ValueError):
        A.errors(a, "sst", "A", relation="agree")


def test_error_query_runs_as_its_filters(a):
    Q = A.ErrorQuery
    assert ids(A.errors(a, Q("sst", "A"))) == ids(A.errors(a, "sst", "A"))
    assert ids(A.errors(a, Q("sst", "A", kind="off_by_2"))) == ["sst-1"]
    assert ids(A.errors(a, Q("quora", "A", kind="fn"), sort="error", ascending=True)) == ["q-2", "q-4"]
    assert ids(A.errors(a, Q("sts", "A", kind="error_gt_2"))) == []  # |error| 2.0 is not more than 2
    # a cell or a comparison decides the rows by itself: the kind is not applied, and said so
    cell = Q("sst", "A", kind="over", cell=(4, 4))
    assert ids(A.errors(a, cell)) == ["sst-4"] and cell.notes() and not Q("sst", "A", cell=(4, 4)).notes()
    both = Q("quora", "A", kind="fp", other="B", relation="both_wrong")
    assert ids(A.errors(a, both)) == ["q-4"] and "the comparison" in both.notes()[0]
    words = Q("sst", "A", kind="all", min_words=4, max_words=10, search=" ", slice=("negation", "negation"))
    assert ids(A.errors(a, words)) == ["sst-1"]
    assert ids(A.errors(a, Q("quora", "A", kind="fp", threshold=0.3))) == ["q-1", "q-3"]
    with pytest.raises(TypeError, match="min_error"):
        A.errors(a, Q("sst", "A"), min_error=2)


def test_error_query_checks_and_round_trips_as_json():
    Q = A.ErrorQuery
    q = Q("sts", "A", kind="over", cell=(3, 4), other="B", relation="a_wrong_b_right", slice=("length", "short"),
          search="cat", min_words=2, max_words=9, threshold=0.4)
    assert Q.from_dict(json.loads(json.dumps(q.to_dict()))) == q
    assert Q.from_dict(Q("sst").to_dict()) == Q("sst") and Q("sst").filters() == {}
    for bad in ({"task": "mnli"}, {"task": "sst", "kind": "fp"}, {"task": "sst", "relation": "nope"},
                {"task": "sst", "other": "B"}, {"task": "sst", "variant": "A", "other": "A"},
                {"task": "sst", "cell": (5, 0)}, {"task": "sts", "cell": (1,)}, {"task": "sst", "slice": ("length",)},
                {"task": "sst", "min_words": -1}, {"task": "sst", "max_words": 2.5}, {"task": "quora", "threshold": 2},
                {"task": "sst", "colour": "red"}):
        with pytest.raises(ValueError):
            Q.from_dict(bad)
    assert Q("sst", cell=(np.int64(1), 2)).cell == (1, 2) and Q.from_dict({"task": "sst", "cell": [1, 2]}).cell == (1, 2)


def test_example_across_variants(a):
    side = A.example_across_variants(a, "quora", "q-2")
    assert side["variant"].tolist() == ["A", "B"]
    assert side["prob"].tolist() == pytest.approx([0.4, 0.6]) and side["pred"].tolist() == [0, 1]
    assert side["correct"].tolist() == [False, True] and side["sentence2"].iloc[0].startswith("What is the fastest")
    assert A.example_across_variants(a, "quora", "q-2", threshold=0.35)["pred"].tolist() == [1, 1]
    with pytest.raises(KeyError, match="no-such-id"):
        A.example_across_variants(a, "quora", "no-such-id")


# --- slices --------------------------------------------------------------------------------


def test_slices_labels_and_metrics(a):
    assert A.slice_names("sst") == ["length", "negation", "gold", "all_wrong", "agreement"]
    assert "overlap" in A.slice_names("quora")
    assert A.slice_labels(a, "sst", "negation").tolist() == [
        "no negation", "negation", "negation", "no negation", "no negation", "negation"]
    assert A.slice_labels(a, "sst", "agreement").tolist() == [
        "variants agree", "variants disagree", "variants agree", "variants disagree", "variants disagree",
        "variants disagree"]
    assert A.slice_labels(a, "quora", "all_wrong").tolist() == ["right for some variant"] * 4 + ["wrong for every variant"]
    assert A.slice_labels(a, "sts", "gold").tolist() == ["gold 0-1", "gold 2-3", "gold 4-5", "gold 4-5"]
    assert ids(A.errors(a, "quora", "A", slice=("all_wrong", "wrong for every variant"))) == ["q-4"]
    assert ids(A.errors(a, "sst", "A", slice=("all_wrong", "wrong for every variant"))) == []  # no such example

    table = A.slice_metrics(a, "sst", "length").set_index(["bucket", "variant"])
    # A on 1-10 words: sst-0 1 3 4 5, right on 0 and 4; on 11-20 words: sst-2, right
    assert table.loc[("1-10 words", "A"), "n"] == 5 and table.loc[("1-10 words", "A"), "accuracy"] == pytest.approx(0.4)
    assert table.loc[("11-20 words", "A"), "accuracy"] == 1.0
    assert table.loc[("(all)", "A"), "accuracy"] == pytest.approx(0.5)
    neg = A.slice_metrics(a, "quora", "negation").set_index(["bucket", "variant"])
    assert neg.loc[("negation", "B"), "n"] == 1 and math.isnan(neg.loc[("negation", "B"), "roc_auc"])
    sts = A.slice_metrics(a, "sts", "gold")
    assert set(sts.columns) >= {"pearson", "spearman", "mse"}
    for name in A.slice_names("quora"):
        t = A.slice_metrics(a, "quora", name)
        per_variant = t[t["bucket"] != "(all)"].groupby("variant", observed=True)["n"].sum()
        assert per_variant.tolist() == [5, 5], name  # every example in exactly one bucket


def test_a_new_slice_is_one_registration(a, tmp_path):
    @S.register("starts_with_how", tasks=("quora",), order=("how", "other"))
    def _how(td):
        return np.where(td.examples["sentence1"].str.startswith("How"), "how", "other")

    try:
        loaded = A.load(a.tables_dir, a.data_dir, checkpoints=False)
        assert "starts_with_how" in A.slice_names("quora") and "starts_with_how" not in A.slice_names("sst")
        t = A.slice_metrics(loaded, "quora", "starts_with_how").set_index(["bucket", "variant"])
        assert t.loc[("how", "A"), "n"] == 2 and t.loc[("how", "A"), "accuracy"] == 0.5  # q-0 right, q-2 wrong
    finally:
        del S.SLICES["starts_with_how"]


def test_length_buckets_are_in_length_order_for_every_task():
    import re

    from analysis.slices import SLICES

    starts = [int(re.match(r"\d+", label).group()) for label in SLICES["length"].order]
    assert starts == sorted(starts)
