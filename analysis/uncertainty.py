"""95 % intervals of every compared metric, from the stored prediction tables (no model runs).

    table = interval_table(a)          # at build time: one row per (task, slice, bucket, metric,
                                       # variant, reference); written to tables/intervals.parquet
    ci = summary_intervals(table)      # {variant: {task: {metric: [lo, hi]}}, plus "overall"}
    look = Intervals(table)            # what the app reads: look.value(...) / look.delta(...)

Methods (one rule each, so every view says the same thing):
- A proportion of one variant (accuracy, off-by-one accuracy, precision, recall): Wilson score
  interval (`scipy.stats.binomtest(...).proportion_ci(method="wilson")`); precision's trials are
  the predicted positives, recall's the gold positives.
- Any other metric of one variant (macro-F1, F1, ROC-AUC, Pearson, Spearman, MSE) and the overall
  score: percentile bootstrap over the examples (`scipy.stats.bootstrap`, N_RESAMPLES resamples,
  numpy's default_rng seeded by SEED and the cell's name, so a rebuild writes the same numbers).
  Percentile, not BCa: BCa's jackknife costs one evaluation per example (20,212 on Quora).
- A difference from a reference variant: paired percentile bootstrap, the same resampled examples
  for both variants (every variant is scored on each resample, so every pair is paired).
- The overall score resamples each task on its own (the three dev sets are independent).
- A gap between two groups of variants (the "why" report's recipe families): the smallest
  difference between a member of one and a member of the other, its percentile interval taken
  from the minimum on each paired resample (`metric_draws`, `group_gap`).

Each interval is for its own cell; none is adjusted for the many cells shown at once.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from minibert import metrics as F
from minibert.tasks import task as get_task

from .core import Analysis, TaskData
from .schema import QUORA_THRESHOLD

LEVEL = 0.95
SEED = 18
N_RESAMPLES = 1000
SMALL_N = 100  # buckets smaller than this are flagged in the app
ALL = "(all)"  # the slice and bucket name of the whole dev set
OVERALL = "overall"  # the task name under which the overall score's rows are stored

METRICS: dict[str, tuple[str, ...]] = {
    "sst": ("accuracy", "macro_f1", "off_by_one_accuracy"),
    "quora": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "sts": ("pearson", "spearman", "mse"),
}
METHOD = {"n_resamples": N_RESAMPLES, "seed": SEED, "level": LEVEL}  # recorded with the table
PROPORTIONS = frozenset({"accuracy", "off_by_one_accuracy", "precision", "recall"})
# The task metrics the overall score is made of, and how it combines them (minibert.metrics).
OVERALL_PARTS = (("sst", "accuracy"), ("quora", "accuracy"), ("sts", "pearson"))
NOTE = ("95 % intervals: Wilson for a proportion of one variant, percentile bootstrap over the dev "
        f"examples ({N_RESAMPLES} resamples, fixed seed) for other metrics, paired bootstrap for a "
        "difference from the reference. Each interval is per cell, not adjusted for multiple comparisons.")
COLUMNS = ["task", "slice", "bucket", "metric", "variant", "reference", "n", "value", "lo", "hi", "method"]


def wilson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of k successes in n trials; (nan, nan) when n is 0."""
    if n <= 0:
        return math.nan, math.nan
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


# --- metrics of weighted examples -----------------------------------------------------------
# A bootstrap resample repeats some examples and drops others: it is the original examples with
# integer weights (how often each was drawn). Computing every metric from weights lets one
# resample score all variants by matrix products instead of copying the data once per variant.


def _counts(index: np.ndarray, m: int) -> np.ndarray:
    """(m, b) float weights (one column per resample) from (b, m) resampled example indices."""
    b = index.shape[0]
    flat = (index + np.arange(b)[:, None] * m).ravel()
    return np.bincount(flat, minlength=b * m).reshape(b, m).T.astype(np.float64, order="C")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (minibert.metrics' rule for precision, recall, F1)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _runs(values: np.ndarray, w: np.ndarray, order: np.ndarray | None = None,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, run id of each sorted position, weight of each run of equal values (runs, b)):
    the examples sorted by value (`order` when already known), ties grouped."""
    order = np.argsort(values, kind="mergesort") if order is None else order
    s = values[order]
    is_start = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, bool)
    ws = w[order]
    per_run = ws if is_start.all() else np.add.reduceat(ws, np.flatnonzero(is_start), axis=0)
    return order, np.cumsum(is_start) - 1, per_run


def weighted_ranks(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(m, b) mid-ranks each example would have in the sample its weights (m, b) describe (ties
    share the mean of their ranks, as `minibert.metrics.average_ranks`)."""
    order, run, per_run = _runs(values, w)
    rank = np.cumsum(per_run, axis=0) - per_run + (per_run + 1) / 2
    out = np.empty_like(w)
    out[order] = rank[run]
    return out


def weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson's r of each weighted sample, (b,); x, y (m, b) or (m, 1); NaN for a constant side."""
    total = w.sum(axis=0)
    mx, my = (w * x).sum(axis=0) / total, (w * y).sum(axis=0) / total
    dx, dy = x - mx, y - my
    sxy, sxx, syy = (w * dx * dy).sum(axis=0), (w * dx * dx).sum(axis=0), (w * dy * dy).sum(axis=0)
    den = np.sqrt(sxx * syy)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, sxy / np.where(den > 0, den, 1), np.nan)


def weighted_auc(gold: np.ndarray, score: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ROC-AUC of each weighted sample, (b,) (ties count one half); NaN when a class is absent."""
    order, _, every = _runs(score, w)
    _, _, pos = _runs(score, w * gold[:, None], order)
    neg = every - pos
    below = np.cumsum(neg, axis=0) - neg
    n_pos, n_neg = pos.sum(axis=0), neg.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), (pos * (below + neg / 2)).sum(axis=0) / (n_pos * n_neg), np.nan)


def weighted_metrics(task: str, gold: np.ndarray, pred: np.ndarray, w: np.ndarray,
                     only: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Each metric of `METRICS[task]` (or of `only`, in that order) as (V, b): the V variants'
    outputs `pred` (m, V) (Quora: P(duplicate); others: the prediction) on the b weighted samples
    `w` (m, b). `only` skips the costly ones (ranks, ROC-AUC, macro-F1) when they are not wanted."""
    spec = get_task(task)
    names = METRICS[task] if only is None else only
    total = w.sum(axis=0)
    out: dict[str, np.ndarray] = {}
    if spec.multiclass:
        g, p = gold.astype(np.int64), pred.astype(np.int64)
        out["accuracy"] = (p == g[:, None]).T.astype(np.float64) @ w / total
        out["off_by_one_accuracy"] = (np.abs(p - g[:, None]) <= 1).T.astype(np.float64) @ w / total
        f1 = []
        for v in range(p.shape[1] if "macro_f1" in names else 0):
            onehot = np.zeros((25, len(g)))
            onehot[g * 5 + p[:, v], np.arange(len(g))] = 1
            cm = (onehot @ w).T.reshape(-1, 5, 5)
            tp = np.diagonal(cm, axis1=1, axis2=2)
            precision, recall = _ratio(tp, cm.sum(axis=1)), _ratio(tp, cm.sum(axis=2))
            f1.append(_ratio(2 * precision * recall, precision + recall).mean(axis=1))
        if f1:
            out["macro_f1"] = np.stack(f1)
    elif spec.binary:
        g = gold.astype(bool)[:, None]
        yes = pred >= QUORA_THRESHOLD

        def total_of(mask: np.ndarray) -> np.ndarray:
            return mask.T.astype(np.float64) @ w

        out["accuracy"] = total_of(g == yes) / total
        if {"precision", "recall", "f1"} & set(names):
            tp, fp, fn = total_of(g & yes), total_of(~g & yes), total_of(g & ~yes)
            out["precision"], out["recall"] = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
            out["f1"] = _ratio(2 * out["precision"] * out["recall"], out["precision"] + out["recall"])
        gf = gold.astype(np.float64)
        if "roc_auc" in names:
            out["roc_auc"] = np.stack([weighted_auc(gf, pred[:, v], w) for v in range(pred.shape[1])])
    else:
        gf = gold.astype(np.float64)
        out["pearson"] = np.stack([weighted_pearson(gf[:, None], pred[:, v][:, None], w) for v in range(pred.shape[1])])
        if "spearman" in names:
            gold_ranks = weighted_ranks(gf, w)
            out["spearman"] = np.stack([weighted_pearson(gold_ranks, weighted_ranks(pred[:, v], w), w)
                                        for v in range(pred.shape[1])])
        out["mse"] = ((pred - gf[:, None]) ** 2).T @ w / total
    return {name: out[name] for name in names}


def proportion_counts(task: str, metric: str, gold: np.ndarray, pred: np.ndarray) -> tuple[int, int]:
    """(successes, trials) behind a proportion metric of one variant's predictions `pred` (m,)."""
    spec = get_task(task)
    if spec.multiclass:
        g, p = gold.astype(np.int64), pred.astype(np.int64)
        hits = p == g if metric == "accuracy" else np.abs(p - g) <= 1
        return int(hits.sum()), len(g)
    g, yes = gold.astype(bool), pred >= QUORA_THRESHOLD
    if metric == "accuracy":
        return int((g == yes).sum()), len(g)
    tp = int((g & yes).sum())
    return (tp, int(yes.sum())) if metric == "precision" else (tp, int(g.sum()))


# --- the bootstrap --------------------------------------------------------------------------


def _seed(*names: str) -> np.random.Generator:
    """A generator fixed by SEED and the cell's name, so one cell's numbers do not depend on
    which other cells were computed before it."""
    return np.random.default_rng([SEED, zlib.crc32("/".join(names).encode())])


@dataclass
class Cell:
    """The bootstrap of one bucket: observed values, intervals and the resampled distribution,
    each (n_metrics, V) for values and (n_metrics, V, V) for differences [variant, reference]."""

    metrics: tuple[str, ...]
    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    delta: np.ndarray
    delta_lo: np.ndarray
    delta_hi: np.ndarray
    distribution: np.ndarray  # (n_metrics, V, n_resamples)


def bootstrap_cell(task: str, gold: np.ndarray, pred: np.ndarray, rng: np.random.Generator,
                   n_resamples: int = N_RESAMPLES, level: float = LEVEL, metrics: Sequence[str] | None = None) -> Cell:
    """Percentile bootstrap over the m examples of every metric (or of `metrics`) of every variant
    (`pred` (m, V)) and of every difference between two variants, all on the same resamples."""
    names = tuple(METRICS[task] if metrics is None else metrics)
    m, n_var = pred.shape
    k = len(names)

    def statistic(index: np.ndarray, axis: int = -1) -> np.ndarray:
        index = np.asarray(index)
        flat = index.reshape(-1, m)
        values = np.stack(list(weighted_metrics(task, gold, pred, _counts(flat, m), names).values()))  # (k, V, b)
        deltas = values[:, :, None, :] - values[:, None, :, :]  # (k, V, V, b): variant minus reference
        out = np.concatenate([values.reshape(k * n_var, -1), deltas.reshape(k * n_var * n_var, -1)])
        return out.reshape(out.shape[0], *index.shape[:-1])

    batch = max(1, min(n_resamples, 2_000_000 // max(m, 1)))
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN on a resample without a class etc.
        observed = statistic(np.arange(m))
        if m < 2:  # one example: nothing to resample
            low = high = np.full_like(observed, np.nan)
            draws = np.full((len(observed), n_resamples), np.nan)
        else:
            result = stats.bootstrap((np.arange(m),), statistic, n_resamples=n_resamples, batch=batch,
                                     confidence_level=level, method="percentile", vectorized=True, rng=rng)
            low, high = result.confidence_interval.low, result.confidence_interval.high
            draws = result.bootstrap_distribution
    split = k * n_var
    return Cell(
        names, observed[:split].reshape(k, n_var), low[:split].reshape(k, n_var), high[:split].reshape(k, n_var),
        observed[split:].reshape(k, n_var, n_var), low[split:].reshape(k, n_var, n_var),
        high[split:].reshape(k, n_var, n_var), draws[:split].reshape(k, n_var, -1),
    )


def percentile_interval(draws: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap draws along the last axis (scipy's percentile method)."""
    alpha = (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.percentile(draws, 100 * alpha, axis=-1), np.percentile(draws, 100 * (1 - alpha), axis=-1)


# --- the table ------------------------------------------------------------------------------


def _buckets(td: TaskData) -> Iterable[tuple[str, str, np.ndarray]]:
    yield ALL, ALL, np.arange(len(td.examples))
    for name, labels in td.slices.items():
        codes = labels.cat.codes.to_numpy()
        for code, bucket in enumerate(labels.cat.categories):
            yield name, str(bucket), np.flatnonzero(codes == code)


def _outputs(td: TaskData) -> np.ndarray:
    """(examples, variants): Quora's P(duplicate), else the prediction."""
    return td.score if get_task(td.task).binary else td.pred


def _rows(task: str, slice_: str, bucket: str, variants: list[str], cell: Cell, gold: np.ndarray,
          outputs: np.ndarray) -> list[tuple]:
    rows = []
    n = len(gold)
    for i, metric in enumerate(cell.metrics):
        for a, variant in enumerate(variants):
            lo, hi, method = cell.lo[i, a], cell.hi[i, a], "bootstrap"
            if metric in PROPORTIONS:
                lo, hi = wilson(*proportion_counts(task, metric, gold, outputs[:, a]))
                method = "wilson"
            rows.append((task, slice_, bucket, metric, variant, "", n, cell.value[i, a], lo, hi, method))
            for b, reference in enumerate(variants):
                if b != a:
                    rows.append((task, slice_, bucket, metric, variant, reference, n, cell.delta[i, a, b],
                                 cell.delta_lo[i, a, b], cell.delta_hi[i, a, b], "paired bootstrap"))
    return rows


def interval_table(a: Analysis, n_resamples: int = N_RESAMPLES, level: float = LEVEL) -> pd.DataFrame:
    """Every interval the app shows, for every task, slice bucket (and the whole dev set, slice
    and bucket "(all)"), metric, variant and reference variant (reference "" for the variant's
    own value; else the difference variant minus reference), plus the overall score (task
    "overall"). Only variants with a prediction for every example of a task take part."""
    # One BLAS thread: the products here are small, and on a shared 2-core machine a second
    # thread made them about 50x slower (0.12 s instead of 2.5 ms for a 12 x 20,212 x 98 product).
    from threadpoolctl import threadpool_limits  # build-only (requirements-dev.txt); the app never calls this

    with threadpool_limits(1):
        return _interval_table(a, n_resamples, level)


def bucket_intervals(td: TaskData, slice_: str, labels: pd.Series, variants: list[str] | None = None,
                     n_resamples: int = N_RESAMPLES, level: float = LEVEL,
                     metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """The interval table's rows (COLUMNS) for the buckets of one slice given by its `labels`
    (categorical, one per example), as the build computes them for the registry's slices: for
    `variants` (default: all) with a prediction for every example and `metrics` (default: all),
    on the same seeds by name."""
    names = [v for v in (variants or td.variants)
             if v in td.variants and td.present[:, td.variant_index(v)].all()]
    columns = [td.variant_index(v) for v in names]
    gold = td.examples["gold"].to_numpy()
    outputs = _outputs(td)[:, columns]
    codes = labels.cat.codes.to_numpy()
    rows: list[tuple] = []
    for code, bucket in enumerate(labels.cat.categories):
        idx = np.flatnonzero(codes == code)
        if not len(idx) or not names:
            continue
        cell = bootstrap_cell(td.task, gold[idx], outputs[idx], _seed(td.task, slice_, str(bucket)), n_resamples, level,
                              metrics)
        rows += _rows(td.task, slice_, str(bucket), names, cell, gold[idx], outputs[idx])
    frame = pd.DataFrame.from_records(rows, columns=COLUMNS)
    frame["n"] = frame["n"].astype(np.int32)
    return frame


def _interval_table(a: Analysis, n_resamples: int, level: float) -> pd.DataFrame:
    rows: list[tuple] = []
    whole: dict[str, tuple[list[str], Cell]] = {}
    for task, td in a.tasks.items():
        variants = [v for i, v in enumerate(td.variants) if td.present[:, i].all()]
        columns = [td.variant_index(v) for v in variants]
        gold = td.examples["gold"].to_numpy()
        outputs = _outputs(td)[:, columns]
        for slice_, bucket, idx in _buckets(td):
            if not len(idx) or not variants:
                continue
            cell = bootstrap_cell(task, gold[idx], outputs[idx], _seed(task, slice_, bucket), n_resamples, level)
            if slice_ == ALL:
                whole[task] = (variants, cell)
            rows += _rows(task, slice_, bucket, variants, cell, gold[idx], outputs[idx])
    rows += _overall_rows(whole, level)
    frame = pd.DataFrame.from_records(rows, columns=COLUMNS)
    for column in ("task", "slice", "bucket", "metric", "variant", "reference", "method"):
        frame[column] = frame[column].astype("category")
    frame["n"] = frame["n"].astype(np.int32)
    return frame


def _overall_rows(whole: dict[str, tuple[list[str], Cell]], level: float) -> list[tuple]:
    """The overall score's intervals: each task's resamples are independent, so the r-th overall
    draw combines the r-th draw of each task."""
    if not all(task in whole for task, _ in OVERALL_PARTS):
        return []
    variants = [v for v in whole["sst"][0] if all(v in whole[t][0] for t, _ in OVERALL_PARTS)]
    parts = []
    for task, metric in OVERALL_PARTS:
        names, cell = whole[task]
        i = cell.metrics.index(metric)
        pick = [names.index(v) for v in variants]
        parts.append((cell.value[i, pick], cell.distribution[i, pick]))
    value = F.overall_score(*(p[0] for p in parts))
    draws = F.overall_score(*(p[1] for p in parts))  # (V, n_resamples)
    lo, hi = percentile_interval(draws, level)
    dlo, dhi = percentile_interval(draws[:, None, :] - draws[None, :, :], level)
    n = 0  # three dev sets: the overall score has no single n
    rows = []
    for a, variant in enumerate(variants):
        rows.append((OVERALL, ALL, ALL, OVERALL, variant, "", n, value[a], lo[a], hi[a], "bootstrap"))
        for b, reference in enumerate(variants):
            if a != b:
                rows.append((OVERALL, ALL, ALL, OVERALL, variant, reference, n, value[a] - value[b], dlo[a, b],
                             dhi[a, b], "paired bootstrap"))
    return rows


def summary_intervals(table: pd.DataFrame) -> dict[str, dict]:
    """{variant: {task: {metric: [lo, hi]}}} of the whole dev set (the agreed summary.json
    schema, variants[v]["tasks"][t]["ci"]), with task "overall" holding {"overall": [lo, hi]}."""
    own = table[(table["slice"] == ALL) & (table["reference"] == "")]
    out: dict[str, dict] = {}
    for row in own.itertuples(index=False):
        out.setdefault(row.variant, {}).setdefault(row.task, {})[row.metric] = [float(row.lo), float(row.hi)]
    return out


class Intervals:
    """Lookups into the interval table: the value interval of a cell and the paired interval of
    its difference from a reference. Given the bucket's size `n`, a cell computed on a bucket of
    another size gives None: the buckets of "all_wrong" and "agreement" change when a variant is
    added, and an interval of other examples must not be shown as this bucket's."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        keys = zip(*(table[c].astype(str) for c in ("task", "slice", "bucket", "metric", "variant", "reference")))
        self._index = {key: (float(lo), float(hi), int(n)) for key, lo, hi, n in
                       zip(keys, table["lo"].to_numpy(), table["hi"].to_numpy(), table["n"].to_numpy())}

    def extended(self, table: pd.DataFrame) -> Intervals:
        """These lookups and those of `table` (rows in this module's COLUMNS; its keys win): how
        a slice computed on demand joins the build's table. `table` stays the build's."""
        out = Intervals(table)
        out._index, out.table = {**self._index, **out._index}, self.table
        return out

    def _get(self, key: tuple, n: int | None) -> tuple[float, float] | None:
        hit = self._index.get(key)
        if hit is None or (n is not None and hit[2] != n):
            return None
        return hit[0], hit[1]

    def value(self, task: str, metric: str, variant: str, slice_: str = ALL, bucket: str = ALL, n: int | None = None,
              ) -> tuple[float, float] | None:
        """The 95 % interval of one variant's metric on a bucket; None when not computed."""
        return self._get((task, ALL if bucket == ALL else slice_, bucket, metric, variant, ""), n)

    def delta(self, task: str, metric: str, variant: str, reference: str, slice_: str = ALL, bucket: str = ALL,
              n: int | None = None) -> tuple[float, float] | None:
        """The 95 % paired interval of variant minus reference; None when not computed."""
        return self._get((task, ALL if bucket == ALL else slice_, bucket, metric, variant, reference), n)


def excludes_zero(interval: tuple[float, float] | None) -> bool:
    """Whether an interval of a difference lies wholly on one side of 0 (a difference worth shading)."""
    return interval is not None and all(np.isfinite(interval)) and (interval[0] > 0 or interval[1] < 0)


# --- paired tests of two variants (the "why" report, analysis.why) ---------------------------


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value: a binomial test of the discordant pairs (A right and B
    wrong: `a_only`; the reverse: `b_only`) against one half. 1.0 when nothing is discordant."""
    n = int(a_only) + int(b_only)
    if n == 0:
        return 1.0
    return float(stats.binomtest(int(a_only), n, 0.5).pvalue)


def paired_interval(task: str, metric: str, gold: np.ndarray, outputs: np.ndarray, rng: np.random.Generator,
                    n_resamples: int = N_RESAMPLES, level: float = LEVEL) -> tuple[float, float, float]:
    """(observed, lo, hi) of `metric` of variant 0 minus variant 1, `outputs` (m, 2) as
    `bootstrap_cell` takes them: the same paired percentile bootstrap as the interval table, for a
    pair the table does not hold (an upload, a variant added after the build)."""
    cell = bootstrap_cell(task, gold, outputs, rng, n_resamples, level)
    i = cell.metrics.index(metric)
    return float(cell.delta[i, 0, 1]), float(cell.delta_lo[i, 0, 1]), float(cell.delta_hi[i, 0, 1])


def mean_interval(values: np.ndarray, rng: np.random.Generator, n_resamples: int = N_RESAMPLES,
                  level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, lo, hi): percentile bootstrap of the mean of a per-example quantity (an additive
    one, such as a paired correctness or squared-error difference)."""
    values = np.asarray(values, dtype=np.float64)
    m = len(values)
    if m < 2:
        return (float(values.mean()) if m else math.nan), math.nan, math.nan
    means = []
    batch = max(1, min(n_resamples, 2_000_000 // m))
    for start in range(0, n_resamples, batch):
        index = rng.integers(0, m, size=(min(batch, n_resamples - start), m))
        means.append(values[index].mean(axis=1))
    lo, hi = percentile_interval(np.concatenate(means), level)
    return float(values.mean()), float(lo), float(hi)


def metric_draws(task: str, metric: str, gold: np.ndarray, outputs: np.ndarray, rng: np.random.Generator,
                 n_resamples: int = N_RESAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """(observed (V,), draws (V, n_resamples)) of one metric of every variant in `outputs` (m, V),
    as `bootstrap_cell` takes them, on the same resampled examples for all (so any two are paired,
    and so is any statistic of several, such as `group_gap`)."""
    m = len(gold)
    observed = weighted_metrics(task, gold, outputs, np.ones((m, 1)), only=(metric,))[metric][:, 0]
    if m < 2:
        return observed, np.full((outputs.shape[1], n_resamples), np.nan)
    draws = []
    batch = max(1, min(n_resamples, 2_000_000 // m))
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN on a resample without a class etc.
        for start in range(0, n_resamples, batch):
            index = rng.integers(0, m, size=(min(batch, n_resamples - start), m))
            draws.append(weighted_metrics(task, gold, outputs, _counts(index, m), only=(metric,))[metric])
    return observed, np.concatenate(draws, axis=1)


def group_gap(observed: np.ndarray, draws: np.ndarray, upper: list[int], lower: list[int], level: float = LEVEL,
              ) -> dict:
    """The smallest gap between two groups of variants: min over u in `upper`, l in `lower` of
    metric(u) - metric(l), from `metric_draws`' rows. Its percentile interval comes from the
    minimum on each resample (every pair on the same examples), so a lower bound above 0 says, at
    `level`, that every variant of `upper` beats every variant of `lower`: one interval for the
    whole family, no per-pair correction needed. Returns gap, lo, hi and the closest pair
    (indices into the rows)."""
    up, low = np.asarray(upper), np.asarray(lower)
    pairs = observed[up][:, None] - observed[low][None, :]
    k = np.unravel_index(int(np.nanargmin(pairs)), pairs.shape)
    smallest = (draws[up][:, None, :] - draws[low][None, :, :]).min(axis=(0, 1))
    lo, hi = percentile_interval(smallest[np.isfinite(smallest)], level)
    return {"gap": float(pairs[k]), "lo": float(lo), "hi": float(hi), "closest": (int(up[k[0]]), int(low[k[1]]))}


def slice_tests(d: np.ndarray, masks: np.ndarray, level: float = LEVEL) -> dict[str, np.ndarray]:
    """Whether the mean of a per-example quantity `d` (m,) inside each slice differs from its mean
    outside it; `masks` (m, k) bool, one column a slice. Returns arrays (k,): n, mean_in, mean_out,
    effect (mean_in - mean_out), lo, hi, p, and the sums of d and of d squared inside (sum, sum_sq).

    p: two-sided permutation test of the inside sum. Under the null that the slice's rows are a
    random draw of the examples, that sum has the exact mean n·mean(d) and variance
    n·var(d)·(m - n)/(m - 1) (sampling without replacement); p uses the normal approximation of
    that distribution, which needs no resampling, so thousands of slices cost one matrix product,
    except where d is in {-1, 0, 1} and a side of the slice expects fewer than SPARSE_EXPECTED
    nonzero values or the normal p is under EXACT_BELOW: there p is the exact permutation p
    (`_exact_ternary`); and for any other
    d on at most MONTE_CARLO_MAX_ROWS examples (STS), where p is a Monte Carlo permutation p
    (`_monte_carlo`, N_PERMUTATIONS draws).
    The interval is Welch's (the inside and outside spreads apart), at `level`.
    """
    d = np.asarray(d, dtype=np.float64)
    # float32 products: a float64 copy of 20,212 x 1,200 masks is 190 MB; d's values (correctness
    # differences, squared errors up to 25) sum without loss at this size
    x = masks.astype(np.float32)
    m = len(d)
    n = masks.sum(axis=0).astype(np.float64)
    s1 = (d.astype(np.float32) @ x).astype(np.float64)
    s2 = ((d * d).astype(np.float32) @ x).astype(np.float64)
    t1, t2 = d.sum(), (d * d).sum()
    n_out = m - n
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in, mean_out = s1 / n, (t1 - s1) / n_out
        var = t2 / m - (t1 / m) ** 2
        null_sd = np.sqrt(n * var * n_out / (m - 1))
        z = np.where(null_sd > 0, (s1 - n * t1 / m) / np.where(null_sd > 0, null_sd, 1), 0.0)
        var_in = np.maximum(s2 / n - mean_in**2, 0) * n / np.maximum(n - 1, 1)
        var_out = np.maximum((t2 - s2) / n_out - mean_out**2, 0) * n_out / np.maximum(n_out - 1, 1)
        se = np.sqrt(var_in / n + var_out / n_out)
    half = stats.norm.ppf(0.5 + level / 2) * se
    effect = mean_in - mean_out
    p = 2 * stats.norm.sf(np.abs(z))
    if np.isin(d, (-1.0, 0.0, 1.0)).all():
        p = _exact_ternary(d, x, n, p)
    elif m <= MONTE_CARLO_MAX_ROWS:
        p = _monte_carlo(d, x, n, s1)
    return {"n": n.astype(np.int64), "mean_in": mean_in, "mean_out": mean_out, "effect": effect,
            "lo": effect - half, "hi": effect + half, "z": z, "p": p, "sum": s1, "sum_sq": s2}


MONTE_CARLO_MAX_ROWS = 5000  # a continuous d on a set this small is tested by random permutations
N_PERMUTATIONS = 20_000  # the smallest p is 1 / 20,001: small enough to survive BH over ~400 slices


def _monte_carlo(d: np.ndarray, x: np.ndarray, n: np.ndarray, s1: np.ndarray) -> np.ndarray:
    """Two-sided Monte Carlo permutation p of every slice's inside sum, (1 + as extreme) / (R + 1),
    the same R permutations for all slices (fixed seed). A continuous d that is mostly 0 with a
    few large values (STS: extra errors on a few examples) has a tail no normal curve follows: on
    the real STS dev set the normal tail gave a discovery in 8 of 20 seeds of random extra errors."""
    m = len(d)
    rng = np.random.default_rng([SEED, m])
    centre = n * d.mean()
    observed = np.abs(s1 - centre) - 1e-9
    extreme = np.zeros(len(n))
    batch = max(1, min(N_PERMUTATIONS, 2_000_000 // m))
    for start in range(0, N_PERMUTATIONS, batch):
        b = min(batch, N_PERMUTATIONS - start)
        shuffled = rng.permuted(np.broadcast_to(d.astype(np.float32), (b, m)), axis=1)
        extreme += (np.abs(shuffled @ x - centre) >= observed).sum(axis=0)
    return (1 + extreme) / (N_PERMUTATIONS + 1)


SPARSE_EXPECTED = 20  # below this many expected nonzero values on a side, the normal tail is not trusted
EXACT_BELOW = 0.01  # and below this normal p (where discoveries are made) the exact p replaces it
_SPAN = 12  # the exact grid covers each count's mean +- this many sds (and the observed count)


def _exact_ternary(d: np.ndarray, x: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Exact permutation p-values of the inside sum where the normal tail is not to be trusted: a
    side of the slice expects few nonzero values, or the normal p is small (the tail decides
    discoveries, and a count of rare flips is skewed: on the real Quora dev set, random extra
    errors gave a discovery in 5 of 20 seeds under the normal tail). With d in {-1, 0, 1} the
    inside counts of +1 and -1 are multivariate hypergeometric, so the null distribution of the
    sum is a grid, cut to each count's mean +- _SPAN sds (the mass outside is negligible)."""
    m = len(d)
    pos, neg = d > 0, d < 0
    wins, losses = int(pos.sum()), int(neg.sum())
    k = wins + losses
    if k == 0:
        return np.ones_like(p)
    n_int = np.rint(n).astype(np.int64)
    sparse = (n_int * k / m < SPARSE_EXPECTED) | ((m - n_int) * k / m < SPARSE_EXPECTED)
    todo = np.flatnonzero(sparse | (p < EXACT_BELOW))
    if not len(todo):
        return p
    w_obs = np.rint(pos.astype(np.float32) @ x[:, todo]).astype(np.int64)
    l_obs = np.rint(neg.astype(np.float32) @ x[:, todo]).astype(np.int64)
    out = p.copy()
    log_choose = _log_choose_table(m)
    for j, w_seen, l_seen in zip(todo, w_obs, l_obs):
        size = int(n_int[j])
        axes = []
        for count, seen in ((wins, w_seen), (losses, l_seen)):
            mean = size * count / m
            sd = math.sqrt(max(size * (count / m) * (1 - count / m) * (m - size) / max(m - 1, 1), 0))
            lo = max(0, min(int(mean - _SPAN * sd) - 1, int(seen)))
            hi = min(count, size, max(int(mean + _SPAN * sd) + 2, int(seen)))
            axes.append(np.arange(lo, hi + 1))
        w, l_ = np.meshgrid(*axes, indexing="ij", sparse=True)
        rest = size - w - l_
        ok = (rest >= 0) & (rest <= m - k)
        logp = np.where(ok, log_choose(wins, w) + log_choose(losses, l_) +
                        log_choose(m - k, np.clip(rest, 0, m - k)) - log_choose(m, size), -np.inf)
        centre = size * (wins - losses) / m
        far = np.abs((w - l_) - centre) >= abs((w_seen - l_seen) - centre) - 1e-9
        out[j] = min(1.0, float(np.exp(logp)[far].sum()))
    return out


def _log_choose_table(m: int) -> Callable[[np.ndarray | int, np.ndarray | int], np.ndarray]:
    """log C(n, k) for whole numbers 0 <= k <= n <= m, looked up in one table of log n! (a slice
    test asks for thousands of them)."""
    from scipy.special import gammaln

    log_factorial = gammaln(np.arange(m + 1) + 1.0)

    def log_choose(n: np.ndarray | int, k: np.ndarray | int) -> np.ndarray:
        n, k = np.asarray(n), np.asarray(k)
        return log_factorial[n] - log_factorial[k] - log_factorial[n - k]

    return log_choose


def adjust_bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values over every test in `p` (scipy's false_discovery_control)."""
    p = np.asarray(p, dtype=np.float64)
    return stats.false_discovery_control(p, method="bh") if len(p) else p
