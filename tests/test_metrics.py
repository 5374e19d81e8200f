"""minibert.metrics against small cases worked by hand (not against another copy of the formula)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minibert import metrics as F

# Six SST examples, counted by hand:
#   gold 0 1 2 2 4 3
#   pred 0 3 2 1 4 4
SST_GOLD = [0, 1, 2, 2, 4, 3]
SST_PRED = [0, 3, 2, 1, 4, 4]


def test_confusion_matrix_six_examples():
    cm = F.confusion_matrix(SST_GOLD, SST_PRED, 5)
    expected = np.zeros((5, 5), dtype=int)
    expected[0, 0] = 1  # gold 0 -> 0
    expected[1, 3] = 1  # gold 1 -> 3
    expected[2, 2] = 1  # gold 2 -> 2
    expected[2, 1] = 1  # gold 2 -> 1
    expected[4, 4] = 1  # gold 4 -> 4
    expected[3, 4] = 1  # gold 3 -> 4
    assert cm.tolist() == expected.tolist()


def test_per_class_and_macro_f1_six_examples():
    pc = F.per_class(F.confusion_matrix(SST_GOLD, SST_PRED, 5))
    # class 0: 1 of 1 predicted right, 1 of 1 found; class 1: predicted once (wrongly), never found;
    # class 2: predicted once (rightly), 1 of 2 found; class 3: predicted once (wrongly), never found;
    # class 4: predicted twice, once rightly, its 1 example found.
    assert pc["precision"] == pytest.approx([1, 0, 1, 0, 0.5])
    assert pc["recall"] == pytest.approx([1, 0, 0.5, 0, 1])
    assert pc["f1"] == pytest.approx([1, 0, 2 / 3, 0, 2 / 3])
    assert pc["support"].tolist() == [1, 1, 2, 1, 1]
    assert F.macro_f1(F.confusion_matrix(SST_GOLD, SST_PRED, 5)) == pytest.approx(7 / 15)
    assert F.accuracy(np.array(SST_GOLD), np.array(SST_PRED)) == pytest.approx(3 / 6)
    # |pred - gold| = 0 2 0 1 0 1: five of six within one class
    assert F.off_by_one_accuracy(SST_GOLD, SST_PRED) == pytest.approx(5 / 6)


def test_confusion_matrix_rejects_labels_out_of_range():
    with pytest.raises(ValueError):
        F.confusion_matrix([0, 5], [0, 1], 5)


# Five Quora pairs: gold 1 0 1 0 1, P(duplicate) 0.9 0.8 0.4 0.4 0.2
Q_GOLD = np.array([1, 0, 1, 0, 1])
Q_PROB = np.array([0.9, 0.8, 0.4, 0.4, 0.2])


def test_roc_auc_by_counting_pairs():
    # positive/negative pairs: (.9,.8) win, (.9,.4) win, (.4,.8) loss, (.4,.4) tie = 1/2,
    # (.2,.8) loss, (.2,.4) loss: 2.5 of 6
    assert F.roc_auc(Q_GOLD, Q_PROB) == pytest.approx(2.5 / 6)
    assert F.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(1.0)
    assert F.roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.0)
    assert math.isnan(F.roc_auc([1, 1], [0.2, 0.3]))


def test_binary_counts_at_two_thresholds():
    at_half = F.binary(Q_GOLD, Q_PROB, 0.5)  # pred 1 1 0 0 0
    assert (at_half["tp"], at_half["fp"], at_half["fn"], at_half["tn"]) == (1, 1, 2, 1)
    assert at_half["accuracy"] == pytest.approx(2 / 5)
    assert at_half["precision"] == pytest.approx(1 / 2)
    assert at_half["recall"] == pytest.approx(1 / 3)
    assert at_half["f1"] == pytest.approx(0.4)  # 2 * (1/2 * 1/3) / (1/2 + 1/3)
    low = F.binary(Q_GOLD, Q_PROB, 0.3)  # pred 1 1 1 1 0
    assert (low["tp"], low["fp"], low["fn"], low["tn"]) == (2, 2, 1, 0)
    assert low["f1"] == pytest.approx(4 / 7)  # P 1/2, R 2/3
    assert low["roc_auc"] == at_half["roc_auc"]  # threshold-free
    nothing = F.binary([0, 1], [0.1, 0.2], 0.5)  # never predicts a duplicate
    assert nothing["precision"] == 0.0 and nothing["f1"] == 0.0


def test_ece_on_four_points():
    conf = np.array([0.92, 0.96, 0.55, 0.3])
    correct = np.array([1, 0, 1, 1])
    ece, bins = F.reliability(conf, correct, n_bins=10)
    # bin [0.9, 1]: 2 points, mean conf 0.94, accuracy 0.5 -> 2/4 * 0.44
    # bin [0.5, 0.6): 1 point, conf 0.55, accuracy 1 -> 1/4 * 0.45
    # bin [0.3, 0.4): 1 point, conf 0.30, accuracy 1 -> 1/4 * 0.70
    assert ece == pytest.approx(0.5 * 0.44 + 0.25 * 0.45 + 0.25 * 0.70)
    assert bins["n"].tolist() == [0, 0, 0, 1, 0, 1, 0, 0, 0, 2]
    assert bins["confidence"][9] == pytest.approx(0.94)
    assert bins["accuracy"][9] == pytest.approx(0.5)
    assert math.isnan(bins["accuracy"][0])
    perfect, _ = F.reliability(np.array([1.0, 1.0]), np.array([1, 1]))
    assert perfect == 0.0


def test_pearson_spearman_mse_by_hand():
    # x 1 2 3, y 1 3 2: deviations (-1 0 1), (-1 1 0): covariance sum 1, variance sums 2 and 2
    assert F.pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert F.average_ranks(np.array([10, 20, 20, 40])).tolist() == [1, 2.5, 2.5, 4]
    # ranks 1 2 3 4 vs 1 2.5 2.5 4: covariance sum 4.5, variance sums 5 and 4.5
    assert F.spearman([1, 2, 3, 4], [10, 20, 20, 40]) == pytest.approx(4.5 / math.sqrt(5 * 4.5))
    assert F.spearman([1, 2, 3], [1, 8, 27]) == pytest.approx(1.0)  # monotone, not linear
    assert F.mse([1, 2], [2, 4]) == pytest.approx((1 + 4) / 2)
    assert math.isnan(F.pearson([1, 1, 1], [1, 2, 3]))


def test_overall_score():
    # (0.5 + 0.8 + (0.6 + 1) / 2) / 3
    assert F.overall_score(0.5, 0.8, 0.6) == pytest.approx(0.7)


def test_one_rule_for_degenerate_input():
    """(gold, pred) everywhere; undefined is NaN, never a made-up number; unequal lengths raise."""
    assert F.accuracy([1, 2, 3, 4], [1, 2, 0, 0]) == 0.5
    assert math.isnan(F.accuracy([], []))
    assert math.isnan(F.pearson([1.0], [2.0]))
    assert math.isnan(F.pearson([1, 2, 3], [2, 2, 2]))  # a constant prediction
    assert math.isnan(F.overall_score(0.5, 0.8, math.nan))
    for metric in (F.accuracy, F.pearson):
        with pytest.raises(ValueError, match="length"):
            metric([1, 2, 3], [1, 2])


class _Constant:
    """A scorer that always answers the same: class 1, P(duplicate) 0.9, similarity 2.5."""

    def sentiment(self, sentences):
        return np.tile([0.1, 0.6, 0.1, 0.1, 0.1], (len(sentences), 1))

    def paraphrase(self, pairs):
        return np.full(len(pairs), 0.9)

    def similarity(self, pairs):
        return np.full(len(pairs), 2.5)


def _splits(sst, quora, sts):
    from types import SimpleNamespace as NS

    return {"sst": NS(examples=[NS(sentence=f"s{i}", label=y) for i, y in enumerate(sst)]),
            "quora": NS(examples=[NS(sentence1="a", sentence2=f"b{i}", label=y) for i, y in enumerate(quora)]),
            "sts": NS(examples=[NS(sentence1="a", sentence2=f"b{i}", label=y) for i, y in enumerate(sts)])}


def test_dev_metrics_count_an_undefined_pearson_as_zero():
    """Training needs a number to pick its best epoch: a constant similarity scores r = 0, so
    overall = (SST 2/4 + Quora 1/2 + (0 + 1) / 2) / 3 = 0.5."""
    m = F.dev_metrics(_Constant(), _splits([1, 1, 0, 3], [1.0, 0.0], [0.0, 5.0, 3.0]))
    assert (m["sst_acc"], m["quora_acc"], m["sts_pearson"]) == (0.5, 0.5, 0.0)
    assert m["overall"] == pytest.approx(0.5)
    assert m["rows"] == {"sst": 4, "quora": 2, "sts": 3}
    with pytest.raises(ValueError, match="every task"):
        F.dev_metrics(_Constant(), _splits([], [1.0], [0.0, 5.0]))
