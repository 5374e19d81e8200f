"""Compare's verdict (demo.verdict) and the dev record beside each answer (demo.trust_view), on cases
worked by hand."""
from types import SimpleNamespace

import numpy as np

from demo.trust_view import HeadTrust, dev_cell, muted_lines, trust_of
from demo.verdict import verdict


def probs(c: int) -> np.ndarray:
    p = np.full(5, 0.05)
    p[c] = 0.8
    return p


def test_a_plurality_is_not_called_a_majority_and_neighbours_do_not_disagree():
    # the case: 4 very negative, 3 negative, 4 positive, 1 neutral; the ensemble says negative
    classes = [0] * 4 + [1] * 3 + [3] * 4 + [2]
    outputs = {f"m{i}": probs(c) for i, c in enumerate(classes)}
    outputs["ens"] = probs(1)
    v = verdict("sst", outputs, [f"m{i}" for i in range(12)], ["ens"], {})
    assert "(12 single variants voting)" in v.text
    assert "4 very negative · 4 positive · 3 negative · 1 neutral — **no majority**" in v.text
    # polarity: 7 negative of 12 is more than half
    assert "Polarity: 7 negative · 4 positive · 1 neutral — majority **negative** (7 of 12)" in v.text
    assert "ens (an ensemble, not counted): negative (0.80)" in v.text
    # ⚠ marks the other polarities only: very negative and negative agree
    assert sorted(v.disagree) == sorted([f"m{i}" for i in range(7, 12)])
    assert v.centre is None


def test_exactly_half_is_no_majority():
    outputs = {"a": probs(4), "b": probs(4), "c": probs(0), "d": probs(0)}
    v = verdict("sst", outputs, list(outputs), [], {})
    assert v.text.count("**no majority**") == 2 and v.disagree == []


def test_a_muted_head_is_shown_but_does_not_vote():
    outputs = {"a": 0.9, "b": 0.8, "c": 0.2, "bad": 0.1, "ens": 0.45}
    v = verdict("quora", outputs, ["a", "b", "c", "bad"], ["ens"], {"bad": "dev accuracy 0.489 is no better"})
    assert "(3 single variants voting)" in v.text
    assert "2 duplicate (P ≥ 0.5) · 1 not duplicate — majority **duplicate** (2 of 3)" in v.text
    assert "P(duplicate): median 0.80, from 0.20 to 0.90" in v.text
    assert "Left out of the vote" in v.text and "bad (dev accuracy 0.489 is no better)" in v.text
    # against the majority: c, and the ensemble (named apart); the muted head is not marked
    assert v.disagree == ["c", "ens"] and v.centre == 1


def test_similarity_reports_median_spread_and_outliers():
    outputs = {"a": 1.0, "b": 1.5, "c": 4.0, "d": 1.2, "e": {"error": "boom"}}
    v = verdict("sts", outputs, ["a", "b", "c", "d", "e"], [], {})
    assert "(4 single variants voting)" in v.text
    # median of 1.0, 1.2, 1.5, 4.0 is 1.35; only c is more than 1 away
    assert "median **1.35** / 5, from 1.00 to 4.00" in v.text and v.disagree == ["c"]
    assert v.centre == 1.35


def test_with_every_head_muted_all_are_counted_and_it_says_so():
    v = verdict("sts", {"a": 1.0, "b": 3.0}, ["a", "b"], [], {"a": "x", "b": "y"})
    assert "(2 single variants voting)" in v.text and "all of them are counted" in v.text


def variant(name, members=(), replicates=None, hash_="h", task_members=None):
    return SimpleNamespace(name=name, members=[SimpleNamespace(name=m) for m in members], checkpoint_hash=hash_,
                           task_members=task_members or dict.fromkeys(("sst", "quora", "sts"), list(members)),
                           config={"training": {"seed_replicates": replicates}} if replicates else {})


# SST's majority class is 3 of 10 (0.3): an accuracy of 0.48 beats it
SUMMARY = {"variants": {
    "good": {"checkpoint": {"hash": "h"}, "tasks": {
        "sst": {"accuracy": 0.48, "confusion": np.diag([3, 2, 2, 2, 1]).tolist(), "ci": {"accuracy": [0.45, 0.51]}},
        "sts": {"pearson": 0.87}}},
    "sts-dead": {"checkpoint": {"hash": "h"}, "tasks": {"sts": {"pearson": 0.057}}},
    "old": {"checkpoint": {"hash": "other"}, "tasks": {"sts": {"pearson": 0.01}}},
}}


def test_trust_reads_the_summary_of_the_same_checkpoint_only():
    variants = {"good": variant("good", replicates={"seeds": [1, 2, 3], "sd": {"sst_acc": 0.007}}),
                "sts-dead": variant("sts-dead"), "old": variant("old"),
                "ens": variant("ens", members=["good", "sts-dead"]),
                "per-task": variant("per-task", members=["good", "sts-dead"],
                                    task_members={"sst": ["good", "sts-dead"], "quora": ["good"], "sts": ["good"]})}
    trust = trust_of(variants, SUMMARY)
    assert dev_cell(trust["good"]["sst"]) == "acc 0.480\n95 % 0.450–0.510\n± 0.007 over 3 seeds"
    assert dev_cell(trust["good"]["sts"]) == "r 0.870"
    assert trust["sts-dead"]["sts"].muted.startswith("dev Pearson 0.057 is below 0.3")
    assert dev_cell(trust["sts-dead"]["sts"]).startswith("⊘ muted · r 0.057")
    # a summary built from another checkpoint says nothing about this one
    assert trust["old"]["sts"] == HeadTrust("pearson") and dev_cell(trust["old"]["sts"]) == "no dev metric"
    # the ensemble's row names its muted member; the ensemble itself is judged by its own numbers
    assert trust["ens"]["sts"].muted_members == {"sts-dead": trust["sts-dead"]["sts"].muted}
    assert "member muted here: sts-dead" in dev_cell(trust["ens"]["sts"])
    # an ensemble with members per task (issue 32) names only its members for that task
    assert trust["per-task"]["sts"].muted_members == {} and "muted" not in dev_cell(trust["per-task"]["sts"])
    assert any("Similarity head muted" in line for line in muted_lines(trust, "sts-dead"))
    assert any("member sts-dead" in line for line in muted_lines(trust, "ens"))
    assert muted_lines(trust, "good") == []
