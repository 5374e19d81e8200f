"""analysis.uncertainty: intervals checked against cases worked by hand and against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import analysis as A
from analysis import synthetic
from analysis import uncertainty as U
from minibert import metrics as F


def test_wilson_matches_the_interval_worked_by_hand():
    # 8 of 10, z = 1.959964: centre (8 + z^2/2) / (10 + z^2) = 0.71676,
    # half-width z * sqrt(8 * 2 / 10 + z^2 / 4) / (10 + z^2) = 0.22658
    lo, hi = U.wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    # none of 20: the lower end is 0 and the upper z^2 / (n + z^2) = 3.8415 / 23.8415
    lo, hi = U.wilson(0, 20)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(3.841459 / 23.841459, abs=1e-6)
    assert all(math.isnan(x) for x in U.wilson(0, 0))


def _resample_case(task: str, m: int = 57, variants: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    if task == "sst":
        gold = rng.integers(0, 5, m)
        pred = np.clip(gold[:, None] + rng.integers(-2, 3, (m, variants)), 0, 4)
    elif task == "quora":
        gold = rng.integers(0, 2, m)
        # rounded, so that scores tie (the rank-based metrics must share ranks as the formulas do)
        pred = np.round(np.clip(0.3 * gold[:, None] + rng.random((m, variants)) * 0.7, 0, 1), 1)
    else:
        gold = np.round(rng.random(m) * 5, 1)
        pred = np.round(np.clip(gold[:, None] + rng.normal(0, 1, (m, variants)), 0, 5), 1)
    return gold, pred


def _formula(task: str, metric: str, gold: np.ndarray, out: np.ndarray) -> float:
    if task == "sst":
        return F.sst_scalars(gold, out)[metric]
    if task == "quora":
        return F.binary(gold, out, 0.5)[metric]
    return F.sts_scalars(gold, out)[metric]


@pytest.mark.parametrize("task", ["sst", "quora", "sts"])
def test_weighted_metrics_equal_the_formulas_on_the_resampled_examples(task):
    """A resample as weights gives exactly what minibert.metrics gives on the repeated examples."""
    gold, pred = _resample_case(task)
    rng = np.random.default_rng(1)
    index = rng.integers(0, len(gold), (4, len(gold)))
    got = U.weighted_metrics(task, gold, pred, U._counts(index, len(gold)))
    for metric in U.METRICS[task]:
        assert got[metric].shape == (pred.shape[1], 4)
        for r in range(4):
            for v in range(pred.shape[1]):
                want = _formula(task, metric, gold[index[r]], pred[index[r], v])
                assert got[metric][v, r] == pytest.approx(want, abs=1e-12), (metric, r, v)


def test_bootstrap_cell_is_scipys_percentile_bootstrap_of_the_formula():
    """Same seed and batch: the interval of STS Pearson and of a paired difference are the ones
    scipy.stats.bootstrap gives for the plain formula on the paired samples."""
    gold, pred = _resample_case("sts", m=80, variants=2, seed=3)
    cell = U.bootstrap_cell("sts", gold, pred, np.random.default_rng(7), n_resamples=300)
    batch = max(1, min(300, 2_000_000 // 80))
    i = U.METRICS["sts"].index("pearson")

    def r(g, p):
        return F.pearson(g, p)

    want = stats.bootstrap((gold, pred[:, 0]), r, paired=True, vectorized=False, n_resamples=300, batch=batch,
                           method="percentile", rng=np.random.default_rng(7)).confidence_interval
    assert (cell.lo[i, 0], cell.hi[i, 0]) == pytest.approx((want.low, want.high), abs=1e-12)

    def diff(g, p0, p1):
        return F.pearson(g, p0) - F.pearson(g, p1)

    want = stats.bootstrap((gold, pred[:, 0], pred[:, 1]), diff, paired=True, vectorized=False, n_resamples=300,
                           batch=batch, method="percentile", rng=np.random.default_rng(7)).confidence_interval
    assert (cell.delta_lo[i, 0, 1], cell.delta_hi[i, 0, 1]) == pytest.approx((want.low, want.high), abs=1e-12)
    assert cell.value[i, 0] == pytest.approx(F.pearson(gold, pred[:, 0]))


def test_paired_difference_worked_by_hand():
    """B is A but wrong on k of the 40 examples A gets right: on every resample B - A is minus
    the share of those k drawn, so the interval lies at or below 0 and holds -k/40. It excludes 0
    only when a resample without any of the k is rarer than 2.5 %: (1 - k/40)^40 is 0.044 for
    k = 3 (upper end exactly 0) and 0.0015 for k = 6. A variant against itself is exactly 0."""
    gold = np.zeros(40, dtype=np.int64)
    a = np.zeros(40, dtype=np.int64)
    three, six = a.copy(), a.copy()
    three[[3, 17, 29]] = 2
    six[[1, 3, 9, 17, 29, 33]] = 4
    cell = U.bootstrap_cell("sst", gold, np.stack([a, three, six, a], axis=1), np.random.default_rng(0),
                            n_resamples=2000)
    i = U.METRICS["sst"].index("accuracy")
    for v, k in ((1, 3), (2, 6)):
        lo, hi = cell.delta_lo[i, v, 0], cell.delta_hi[i, v, 0]
        assert cell.delta[i, v, 0] == pytest.approx(-k / 40)
        assert lo <= -k / 40 <= hi <= 0
        assert U.excludes_zero((lo, hi)) == (k == 6)
    assert (cell.delta_lo[i, 3, 0], cell.delta_hi[i, 3, 0]) == (0.0, 0.0)
    assert not U.excludes_zero((0.0, 0.0)) and not U.excludes_zero((-0.1, 0.2)) and not U.excludes_zero(None)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("uncertainty")
    synthetic.make_data_dir(root / "data", {"sst": 60, "quora": 90, "sts": 50})
    synthetic.make_tables(root / "tables", root / "data", ["a", "b", "c"])
    a = A.load(root / "tables", root / "data", checkpoints=False)
    return a, U.interval_table(a, n_resamples=200)


def test_interval_table_covers_every_cell_and_holds_its_values(small):
    a, table = small
    own = table[table["reference"] == ""]
    # every slice bucket of every task, every metric and variant, plus the whole dev set
    for task in A.TASKS:
        long = A.slice_metrics(a, task, "length")
        for row in long.itertuples():
            slice_ = "(all)" if row.bucket == "(all)" else "length"
            for metric in U.METRICS[task]:
                hit = own[(own.task == task) & (own.slice == slice_) & (own.bucket == row.bucket)
                          & (own.metric == metric) & (own.variant == row.variant)]
                assert len(hit) == 1, (task, row.bucket, metric)
                value = getattr(row, metric)
                assert hit["value"].iloc[0] == pytest.approx(value, nan_ok=True)
                assert hit["n"].iloc[0] == row.n
                lo, hi = hit["lo"].iloc[0], hit["hi"].iloc[0]
                if np.isfinite([lo, hi]).all():
                    assert lo <= value + 1e-12 and value <= hi + 1e-12
    # proportions are Wilson intervals of their counts
    quora = A.metrics_table(a, "quora").loc["b"]
    look = U.Intervals(table)
    assert look.value("quora", "precision", "b") == pytest.approx(U.wilson(quora.tp, quora.tp + quora.fp))
    assert look.value("quora", "recall", "b") == pytest.approx(U.wilson(quora.tp, quora.tp + quora.fn))
    # a delta is variant minus reference, and reversing the pair mirrors the interval
    ab, ba = look.delta("sts", "pearson", "a", "b"), look.delta("sts", "pearson", "b", "a")
    assert ab == pytest.approx((-ba[1], -ba[0]))
    assert look.delta("sts", "pearson", "a", "a") is None
    # a bucket of another size (the set of variants changed since) gets no interval
    n_all = len(a.examples("sts"))
    assert look.value("sts", "pearson", "a", n=n_all) is not None and look.value("sts", "pearson", "a", n=n_all + 1) is None


def test_overall_interval_and_the_summary_schema(small):
    a, table = small
    ci = U.summary_intervals(table)
    overall = A.overall(a)
    for variant in ("a", "b", "c"):
        assert set(ci[variant]) == {"sst", "quora", "sts", "overall"}
        assert set(ci[variant]["quora"]) == set(U.METRICS["quora"])
        lo, hi = ci[variant]["overall"]["overall"]
        assert lo < overall.loc[variant, "overall"] < hi
        lo, hi = ci[variant]["sst"]["accuracy"]
        n = len(a.examples("sst"))
        k = round(overall.loc[variant, "sst_accuracy"] * n)
        assert (lo, hi) == pytest.approx(U.wilson(k, n))
