"""The one rule that mutes a head no better than a trivial baseline (analysis.trust)."""

import json
from pathlib import Path

import pytest

from analysis.trust import STS_MIN_PEARSON, majority_rate, muted_heads, muted_reason

SUMMARY = Path(__file__).resolve().parents[1] / "analysis" / "tables" / "summary.json"


def test_majority_rate_reads_gold_rows():
    assert majority_rate([[3, 1], [0, 1]]) == pytest.approx(4 / 5)


@pytest.mark.parametrize("accuracy, muted", [(0.60, True), (0.625, True), (0.63, False)])
def test_classifier_muted_at_or_below_majority(accuracy, muted):
    # gold: 5 not duplicate, 3 duplicate -> majority 0.625
    scalars = {"accuracy": accuracy, "confusion": [[4, 1], [1, 2]]}
    reason = muted_reason("quora", scalars)
    assert (reason is not None) == muted
    if muted:
        assert "not duplicate" in reason and "0.625" in reason


@pytest.mark.parametrize("pearson, muted", [(0.0, True), (STS_MIN_PEARSON - 1e-6, True), (STS_MIN_PEARSON, False), (0.9, False)])
def test_sts_muted_below_threshold(pearson, muted):
    assert (muted_reason("sts", {"pearson": pearson}) is not None) == muted


def test_missing_metric_is_not_judged():
    assert muted_reason("sst", {}) is None
    assert muted_reason("sts", {"pearson": float("nan")}) is None
    assert muted_heads(None) == {}


def test_shipped_summary_mutes_exactly_the_untrained_heads():
    muted = muted_heads(json.loads(SUMMARY.read_text()))
    assert {v: sorted(t) for v, t in muted.items()} == {"multitask-cls": ["sts"], "sst-only": ["quora", "sts"]}
