"""The "why" report: one call from a loaded `Analysis` to findings, prose and a take-away zip."""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from minibert.tasks import task as get_task

from ..core import Analysis, TaskData
from ..schema import STS_TOLERANCE
from ..trust import muted_heads
from ..uncertainty import (
    EXACT_BELOW,
    LEVEL,
    MONTE_CARLO_MAX_ROWS,
    N_PERMUTATIONS,
    N_RESAMPLES,
    SEED,
    SMALL_N,
    SPARSE_EXPECTED,
    adjust_bh,
    mcnemar_exact,
    mean_interval,
    paired_interval,
    wilson,
)
from .families import families as family_gaps
from .features import Predicate, task_features
from .hypotheses import SavedSlice, saved_family
from .search import MIN_SUPPORT, search

SHOWN = 10  # findings printed; every slice tested still counts in the adjustment
ALPHA = 0.05
N_EXAMPLES = 3
# summary.json's seed-replicate keys of each task's headline metric
SEED_KEYS = {"sst": "sst_acc", "quora": "quora_acc", "sts": "sts_pearson"}


@dataclass
class Finding:
    """One slice: where the per-example quantity (the gap, or A's errors) is concentrated."""

    name: str
    definition: str
    n: int
    small: bool  # n < 100
    effect: float  # mean inside minus mean outside, in the quantity's units
    lo: float
    hi: float
    mean_in: float
    mean_out: float
    p: float
    p_adjusted: float
    share: float | None  # its part of the whole (None when the whole is not distinguishable from 0)
    query: dict  # what the Errors tab opens: task, variant, other, and the slice or the example ids
    # each variant inside the slice (accuracy; STS: mean squared error), to read an effect by: extra
    # errors can only land where a variant was right, so a slice where A is right more often can
    # carry more of B's
    a_inside: float | None = None
    b_inside: float | None = None


@dataclass
class WhyReport:
    task: str
    a: str
    b: str | None
    metric: str
    quantity: str  # what `effect` and `share` are made of
    headline: dict
    flips: dict
    confident: dict
    same: dict | None
    families: list[dict]  # one per recipe field that separates A and B (analysis.why.families)
    findings: list[Finding]
    tested: dict
    evidence: dict
    missing: list[str]
    notes: list[str] = field(default_factory=list)
    # saved slices (people's hypotheses): tested apart, adjusted among themselves (analysis.why.hypotheses)
    hypotheses: list[Finding] = field(default_factory=list)
    saved: dict = field(default_factory=dict)
    _search: object = field(default=None, repr=False)
    _basis: object = field(default=None, repr=False)  # what `with_saved` tests saved slices on

    def to_dict(self) -> dict:
        out = asdict(replace(self, _search=None, _basis=None))  # the masks and tables stay out of the copy
        out.pop("_search")
        out.pop("_basis")
        return out

    def with_saved(self, saved: Sequence[SavedSlice]) -> WhyReport:
        """This report with people's saved slices tested as their own family (`hypotheses`), on the
        same per-example quantity; the rest is unchanged, so one cached report serves every user."""
        b = self._basis
        found, info = saved_family(b.td, b.rows, b.d, saved, b.names, b.share, b.inside, b.ia, b.ib, ALPHA)
        return replace(self, hypotheses=[Finding(**h) for h in found], saved=info)

    def to_json(self) -> str:
        return json.dumps(_clean(self.to_dict()), indent=1, allow_nan=False)

    def to_markdown(self) -> str:
        from .text import markdown

        return markdown(self)

    def export_zip(self, path: str | Path) -> Path:
        from .export import export_zip

        return export_zip(self, Path(path))


def _clean(value: object) -> object:
    """JSON has no NaN: a number that could not be computed is null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _rng(*names: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32("/".join(("why", *names)).encode())])


def why_report(a: Analysis, task: str, a_name: str, b_name: str | None = None, *, seed: int = 0,
               checkpoints: str | Path | None = None, saved: Sequence[SavedSlice] = ()) -> WhyReport:
    """Why `a_name` beats or trails `b_name` on `task` (or, with one variant, where it fails).
    `seed` fixes the bootstrap resamples of the headline (0: the build's seed, so the interval is
    the one the Models tab shows). `saved`: people's saved slices (any task; this task's are
    tested as a family of their own, `r.hypotheses`)."""
    if a_name == b_name:
        raise ValueError(f"{a_name!r} compared with itself: give two variants, or one to see where it fails")
    td = a.task(task)
    spec = get_task(task)
    ia = td.variant_index(a_name)
    ib = td.variant_index(b_name) if b_name else None
    both = td.present[:, ia] & (td.present[:, ib] if ib is not None else True)
    rows = np.flatnonzero(both)
    missing: list[str] = []
    notes: list[str] = []
    if len(rows) < len(td.examples):
        notes.append(f"{len(td.examples) - len(rows):,} examples lack a prediction from "
                     f"{'one of the two' if ib is not None else a_name}: left out")
    gold = td.examples["gold"].to_numpy(np.float64)[rows]
    pa = td.pred[rows, ia]
    ca = td.correct[rows, ia]
    names = (a_name,) if ib is None else (a_name, b_name)

    feats = task_features(td, a.tables_dir, a.data_dir)
    missing += feats.missing
    preds = [_restrict(p, rows) for p in feats.predicates]

    if ib is None:
        headline = _one_headline(a, td, ia, rows, gold, seed)
        quantity = ("A's squared error (pred - gold)^2" if spec.regression else "A's error (1 wrong, 0 right)")
        d = (pa - gold) ** 2 if spec.regression else (~ca).astype(np.float64)
        whole_excludes_zero = True
        flips: dict = {"errors": int((~ca).sum()), "n": len(rows)}
        confident = _confident_errors(td, ia, rows)
        same = None
        families: list[dict] = []
        evidence: dict = {}
    else:
        pb, cb = td.pred[rows, ib], td.correct[rows, ib]
        headline = _two_headline(a, td, ia, ib, rows, gold, seed)
        if spec.regression:
            quantity = "squared-error difference, B's minus A's (positive: A closer to gold)"
            d = (pb - gold) ** 2 - (pa - gold) ** 2
            additive = headline["additive"]
            whole_excludes_zero = not (additive["lo"] <= 0 <= additive["hi"])
        else:
            quantity = "correctness difference, A's minus B's (1: A right and B wrong)"
            d = ca.astype(np.float64) - cb
            whole_excludes_zero = not (headline["lo"] <= 0 <= headline["hi"])
        flips = _flips(task, ca, cb)
        confident = _confident_flips(td, ia, ib, rows, missing)
        same = _practically_same(a, td, task, a_name, b_name, headline, pa, pb)
        families = family_gaps(a, td, rows, a_name, b_name, missing, checkpoints, seed)
        evidence = _evidence(a, td, task, a_name, b_name, ia, ib, rows, ca, cb, missing)

    found = search(d, preds)
    total = float(d.sum())
    findings = []
    def inside(i: int | None, mask: np.ndarray) -> float | None:
        if i is None:
            return None
        if spec.regression:
            return float(((td.pred[rows, i][mask] - gold[mask]) ** 2).mean())
        return float(td.correct[rows, i][mask].mean())

    for s in found.slices[:SHOWN]:
        mask = found.mask(s)
        share = (s.total_in / total) if whole_excludes_zero and total != 0 else None
        findings.append(Finding(s.name, s.definition, s.n, s.small, s.effect, s.lo, s.hi, s.mean_in, s.mean_out,
                                s.p, s.p_adjusted, share, _query(task, names, [preds[q] for q in s.parts],
                                                                 td.examples["id"].to_numpy()[rows][mask]),
                                inside(ia, mask), inside(ib, mask)))
    if not whole_excludes_zero:
        notes.append("the whole gap's 95 % interval contains 0: the two are not distinguishable on this "
                     "quantity, so no slice is given a share of it")
    tested = {"slices": found.n_tested, "single": found.n_single, "pairs": found.n_pairs, "pruned": found.n_pruned,
              "features": feats.n_features, "predicates": len(preds), "min_support": MIN_SUPPORT,
              "small_n": SMALL_N, "discoveries": sum(s.p_adjusted < ALPHA for s in found.slices),
              "alpha": ALPHA, "correction": "Benjamini-Hochberg over every slice tested",
              "test": _test_text(d)}
    basis = _Basis(td, rows, d, names, ia, ib, inside,
                   lambda total_in: (total_in / total) if whole_excludes_zero and total != 0 else None)
    r = WhyReport(task, a_name, b_name, spec.metric, quantity, headline, flips, confident, same, families,
                  findings, tested, evidence, missing, notes, _search=found, _basis=basis)
    return r.with_saved(saved) if saved else r


@dataclass(frozen=True)
class _Basis:
    """The rows compared and their per-example quantity: what a saved slice is tested on."""

    td: TaskData
    rows: np.ndarray
    d: np.ndarray
    names: tuple[str, ...]
    ia: int
    ib: int | None
    inside: Callable[[int | None, np.ndarray], float | None]
    share: Callable[[float], float | None]


def _test_text(d: np.ndarray) -> str:
    """How `uncertainty.slice_tests` tested this quantity, in words."""
    if np.isin(d, (-1.0, 0.0, 1.0)).all():
        how = (f"exact where the normal tail's p is under {EXACT_BELOW} or a side of the slice expects fewer than "
               f"{SPARSE_EXPECTED} nonzero values, else the normal approximation of its exact permutation mean and "
               "variance")
    elif len(d) <= MONTE_CARLO_MAX_ROWS:
        how = f"Monte Carlo, {N_PERMUTATIONS:,} permutations with a fixed seed"
    else:
        how = "the normal approximation of its exact permutation mean and variance"
    return f"two-sided permutation test of the inside sum ({how}); Welch 95 % interval of inside minus outside"


def _restrict(p: Predicate, rows: np.ndarray) -> Predicate:
    return p if len(rows) == len(p.mask) else replace(p, mask=p.mask[rows])


def _query(task: str, names: tuple[str, ...], parts: list, ids: np.ndarray) -> dict:
    """An ErrorQuery-like description: the Errors tab's variant, other variant and filters; a
    registry slice is named (the tab filters it), any other predicate travels as its example ids."""
    query: dict = {"task": task, "variant": names[0]}
    if len(names) == 2:
        query["other"] = names[1]
    slices = [p.query["slice"] for p in parts if "slice" in p.query]
    if len(parts) == 1 and slices:
        query["slice"] = slices[0]
    else:
        query["ids"] = [str(i) for i in ids]
    query["features"] = [p.name for p in parts]
    # the shared query type's form (analysis.queries.ErrorQuery): the rows where the two disagree
    # (or A's errors) within the slice; a slice the registry lacks is narrowed by `ids` instead
    from ..queries import ErrorQuery

    two = len(names) == 2
    query["error_query"] = ErrorQuery(task, variant=names[0], kind="all" if two else "wrong",
                                      other=names[1] if two else None, relation="disagree",
                                      slice=tuple(query["slice"]) if "slice" in query else None).to_dict()
    return query


# --- headline -----------------------------------------------------------------------------------


def _metric_value(task: str, gold: np.ndarray, out: np.ndarray) -> float:
    from minibert import metrics as F

    spec = get_task(task)
    if spec.regression:
        return float(F.sts_scalars(gold, out)["pearson"])
    return float((out == gold).mean())


def _outputs(td: TaskData, i: int, rows: np.ndarray) -> np.ndarray:
    return (td.score if get_task(td.task).binary else td.pred)[rows, i]


def _one_headline(a: Analysis, td: TaskData, ia: int, rows: np.ndarray, gold: np.ndarray, seed: int) -> dict:
    task, name = td.task, td.variants[ia]
    spec = get_task(task)
    value = _metric_value(task, gold, td.pred[rows, ia])
    interval = a.intervals.value(task, spec.metric, name, n=len(rows)) if a.intervals is not None else None
    if interval is None:
        if spec.regression:
            from ..uncertainty import bootstrap_cell

            cell = bootstrap_cell(task, gold, _outputs(td, ia, rows)[:, None], _rng(task, name, str(seed)))
            k = cell.metrics.index(spec.metric)
            interval = (float(cell.lo[k, 0]), float(cell.hi[k, 0]))
        else:
            interval = wilson(int(td.correct[rows, ia].sum()), len(rows))
    return {"metric": spec.metric, "a": value, "a_lo": interval[0], "a_hi": interval[1], "n": len(rows)}


def _two_headline(a: Analysis, td: TaskData, ia: int, ib: int, rows: np.ndarray, gold: np.ndarray, seed: int,
                  ) -> dict:
    task = td.task
    spec = get_task(task)
    an, bn = td.variants[ia], td.variants[ib]
    va, vb = _metric_value(task, gold, td.pred[rows, ia]), _metric_value(task, gold, td.pred[rows, ib])
    delta = None
    if a.intervals is not None and seed == 0 and len(rows) == len(td.examples):
        delta = a.intervals.delta(task, spec.metric, an, bn, n=len(rows))
        method = "paired bootstrap (the build's interval table)"
    outputs = np.stack([_outputs(td, ia, rows), _outputs(td, ib, rows)], axis=1)
    if delta is None:
        _, lo, hi = paired_interval(task, spec.metric, gold, outputs, _rng(task, an, bn, str(seed)))
        delta, method = (lo, hi), f"paired bootstrap ({N_RESAMPLES} resamples, seed {seed})"
    out = {"metric": spec.metric, "a": va, "b": vb, "difference": va - vb, "lo": delta[0], "hi": delta[1],
           "level": LEVEL, "method": method, "n": len(rows)}
    if spec.regression:
        sq = (td.pred[rows, ib] - gold) ** 2 - (td.pred[rows, ia] - gold) ** 2
        mean, lo, hi = mean_interval(sq, _rng(task, an, bn, "sq", str(seed)))
        out["additive"] = {"what": "mean squared-error difference, B's minus A's (positive: A closer)",
                           "value": mean, "lo": lo, "hi": hi}
    return out


def _flips(task: str, ca: np.ndarray, cb: np.ndarray) -> dict:
    a_only, b_only = int((ca & ~cb).sum()), int((~ca & cb).sum())
    out = {"a_right_b_wrong": a_only, "a_wrong_b_right": b_only, "both_right": int((ca & cb).sum()),
           "both_wrong": int((~ca & ~cb).sum())}
    if get_task(task).regression:
        out["right_means"] = f"|pred - gold| <= {STS_TOLERANCE}"
        out["mcnemar_p"] = None  # STS: the squared-error difference is the paired quantity
    else:
        out["mcnemar_p"] = mcnemar_exact(a_only, b_only)
    return out


def _example(td: TaskData, e: int, **extra) -> dict:
    ex = td.examples
    out = {"id": str(ex["id"].iat[e]), "sentence1": str(ex["sentence1"].iat[e]), "gold": float(ex["gold"].iat[e])}
    if get_task(td.task).pair:
        out["sentence2"] = str(ex["sentence2"].iat[e])
    return {**out, **extra}


def _confidence(td: TaskData, i: int) -> np.ndarray | None:
    """(examples,) confidence of variant i in its predicted class; None for hard labels."""
    if td.variants[i] in td.hard_labels:
        return None
    conf = np.full(len(td.examples), np.nan)
    rows = td.rows(td.variants[i])
    conf[td.cols["ex"][rows]] = td.cols["conf"][rows]
    return conf


def _confident_flips(td: TaskData, ia: int, ib: int, rows: np.ndarray, missing: list[str]) -> dict:
    spec = get_task(td.task)
    ca, cb = td.correct[rows, ia], td.correct[rows, ib]
    out = {}
    if spec.regression:
        gold = td.examples["gold"].to_numpy(np.float64)[rows]
        ea, eb = np.abs(td.pred[rows, ia] - gold), np.abs(td.pred[rows, ib] - gold)
        for key, mask, key_err in (("a_right_b_wrong", ca & ~cb, eb - ea), ("a_wrong_b_right", ~ca & cb, ea - eb)):
            idx = np.flatnonzero(mask)
            idx = idx[np.argsort(-key_err[idx], kind="stable")][:N_EXAMPLES]
            out[key] = [_example(td, int(rows[k]), a_pred=float(td.pred[rows[k], ia]), b_pred=float(td.pred[rows[k], ib]))
                        for k in idx]
        return out
    conf_a, conf_b = _confidence(td, ia), _confidence(td, ib)
    if conf_a is None or conf_b is None:
        hard = [td.variants[i] for i, c in ((ia, conf_a), (ib, conf_b)) if c is None]
        missing.append(f"most confident flips: {', '.join(hard)} has hard labels only (no probabilities)")
        return {}
    # a flip is most telling where the loser was surest of its wrong answer
    for key, mask, loser in (("a_right_b_wrong", ca & ~cb, conf_b), ("a_wrong_b_right", ~ca & cb, conf_a)):
        idx = np.flatnonzero(mask)
        idx = idx[np.argsort(-loser[rows][idx], kind="stable")][:N_EXAMPLES]
        out[key] = [_example(td, int(rows[k]), a_pred=float(td.pred[rows[k], ia]), b_pred=float(td.pred[rows[k], ib]),
                             loser_confidence=float(loser[rows[k]])) for k in idx]
    return out


def _confident_errors(td: TaskData, ia: int, rows: np.ndarray) -> dict:
    wrong = np.flatnonzero(~td.correct[rows, ia])
    if get_task(td.task).regression:
        gold = td.examples["gold"].to_numpy(np.float64)[rows]
        key = np.abs(td.pred[rows, ia] - gold)
    else:
        conf = _confidence(td, ia)
        if conf is None:
            return {}
        key = conf[rows]
    wrong = wrong[np.argsort(-key[wrong], kind="stable")][:N_EXAMPLES]
    return {"a_wrong": [_example(td, int(rows[k]), a_pred=float(td.pred[rows[k], ia])) for k in wrong]}


# --- is there anything to explain? -------------------------------------------------------------


def _practically_same(a: Analysis, td: TaskData, task: str, an: str, bn: str, headline: dict, pa: np.ndarray,
                      pb: np.ndarray) -> dict:
    spec = get_task(task)
    agree = np.abs(pa - pb) <= 0.5 if spec.regression else pa == pb
    agreement = float(agree.mean())
    spreads = {}
    for v in (an, bn):
        training = (((a.summary or {}).get("variants") or {}).get(v) or {}).get("training") or {}
        sd = ((training.get("seed_replicates") or {}).get("sd") or {}).get(SEED_KEYS[task])
        if sd is not None:
            spreads[v] = float(sd)
    inside_zero = headline["lo"] <= 0 <= headline["hi"]
    if spreads:
        sd = max(spreads.values())
        within = abs(headline["difference"]) <= 2 * sd
        rule = f"|difference| <= 2 x the recorded seed sd ({sd:.4f}) and the interval contains 0"
    else:
        within = agreement >= 0.9
        rule = "no seed spread recorded: predictions agree on >= 90 % of examples and the interval contains 0"
    return {"same": bool(inside_zero and within), "agreement": agreement,
            "agreement_means": "same prediction" if not spec.regression else "|A - B| <= 0.5",
            "seed_sd": spreads, "rule": rule}


# --- other evidence -------------------------------------------------------------------------------


def _evidence(a: Analysis, td: TaskData, task: str, an: str, bn: str, ia: int, ib: int, rows: np.ndarray,
              ca: np.ndarray, cb: np.ndarray, missing: list[str]) -> dict:
    out: dict = {}
    tests = _behaviour(a, task, an, bn, missing)
    if tests is not None:
        out["behaviour"] = tests
    if not get_task(task).regression:
        calib = _calibration(td, ia, ib, rows, missing)
        if calib is not None:
            out["calibration"] = calib
    muted = {v for v, tasks in muted_heads(a.summary).items() if task in tasks}
    out["label_errors"] = _label_error_wins(td, ia, ib, rows, ca, cb, missing, muted)
    return out


def _behaviour(a: Analysis, task: str, an: str, bn: str, missing: list[str]) -> list[dict] | None:
    path = Path(a.tables_dir) / "behaviour" / "results.parquet"
    try:
        results = pd.read_parquet(path, columns=["variant", "case", "passed"],
                                  filters=[("variant", "in", [an, bn])])
        cases = pd.read_parquet(Path(a.tables_dir) / "behaviour" / "cases.parquet", columns=["case", "task", "test"])
    except (OSError, ValueError):
        missing.append(f"behavioural tests: no table {path}; run `python -m analysis build`")
        return None
    results = results.merge(cases[cases["task"] == task], on="case")
    have = set(results["variant"].astype(str))
    lacking = [v for v in (an, bn) if v not in have]
    if lacking:
        missing.append(f"behavioural tests: none for {', '.join(lacking)} (they need a checkpoint to run)")
        return None
    wide = results.pivot_table(index=["test", "case"], columns="variant", values="passed", aggfunc="first",
                               observed=True).dropna()
    rows = []
    for test, group in wide.groupby(level="test", observed=True):
        fa, fb = ~group[an].astype(bool), ~group[bn].astype(bool)
        n = len(group)
        lo_a, hi_a = wilson(int(fa.sum()), n)
        lo_b, hi_b = wilson(int(fb.sum()), n)
        rows.append({"test": str(test), "n": n, "a_fail": float(fa.mean()), "a_lo": lo_a, "a_hi": hi_a,
                     "b_fail": float(fb.mean()), "b_lo": lo_b, "b_hi": hi_b,
                     "p": mcnemar_exact(int((fa & ~fb).sum()), int((~fa & fb).sum()))})
    if not rows:
        return []
    adjusted = adjust_bh(np.array([r["p"] for r in rows]))
    for r, adj in zip(rows, adjusted):
        r["p_adjusted"] = float(adj)
    rows.sort(key=lambda r: -abs(r["a_fail"] - r["b_fail"]))
    return rows[:5]


def _ece(conf: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    """ECE with minibert.metrics.reliability's equal-width bins: the sum over bins of
    |sum of (correct - conf)| / n."""
    index = np.clip((conf * n_bins).astype(np.int64), 0, n_bins - 1)
    return float(np.abs(np.bincount(index, weights=correct - conf, minlength=n_bins)).sum() / len(conf))


def _ece_difference_draws(xa: np.ndarray, ca: np.ndarray, xb: np.ndarray, cb: np.ndarray, rng: np.random.Generator,
                          n_bins: int = 10) -> np.ndarray:
    """ECE(A) - ECE(B) on each of N_RESAMPLES paired resamples (the same examples for both). A
    resample is a count per example, so every bin's sum of (correct - confidence) for both
    variants is one product of the counts with a column per (variant, bin)."""
    m = len(xa)
    columns = np.zeros((m, 2 * n_bins))
    for v, (x, c) in enumerate(((xa, ca), (xb, cb))):
        columns[np.arange(m), v * n_bins + np.clip((x * n_bins).astype(np.int64), 0, n_bins - 1)] = c - x
    out = []
    batch = max(1, 2_000_000 // m)
    for start in range(0, N_RESAMPLES, batch):
        b = min(batch, N_RESAMPLES - start)
        index = rng.integers(0, m, size=(b, m))
        counts = np.bincount((index + (np.arange(b) * m)[:, None]).ravel(), minlength=b * m).reshape(b, m)
        ece = np.abs(counts.astype(np.float64) @ columns).reshape(b, 2, n_bins).sum(axis=2) / m
        out.append(ece[:, 0] - ece[:, 1])
    return np.concatenate(out)


def _calibration(td: TaskData, ia: int, ib: int, rows: np.ndarray, missing: list[str]) -> dict | None:
    conf_a, conf_b = _confidence(td, ia), _confidence(td, ib)
    if conf_a is None or conf_b is None:
        hard = [td.variants[i] for i, c in ((ia, conf_a), (ib, conf_b)) if c is None]
        missing.append(f"calibration: {', '.join(hard)} has hard labels only (no confidence to calibrate)")
        return None
    ca, cb = td.correct[rows, ia].astype(np.float64), td.correct[rows, ib].astype(np.float64)
    xa, xb = conf_a[rows], conf_b[rows]
    ece_a, ece_b = _ece(xa, ca), _ece(xb, cb)
    diffs = _ece_difference_draws(xa, ca, xb, cb, _rng(td.task, td.variants[ia], td.variants[ib], "ece"))
    alpha = (1 - LEVEL) / 2
    return {"a_ece": ece_a, "b_ece": ece_b, "difference": ece_a - ece_b,
            "lo": float(np.quantile(diffs, alpha)), "hi": float(np.quantile(diffs, 1 - alpha)),
            "method": f"paired bootstrap, {N_RESAMPLES} resamples, 10 equal-width bins"}


def _label_error_wins(td: TaskData, ia: int, ib: int, rows: np.ndarray, ca: np.ndarray, cb: np.ndarray,
                      missing: list[str], muted: set[str] = frozenset()) -> dict:
    """How many of each side's wins fall on examples the *other* variants call mislabelled: every
    trusted, non-ensemble variant but A and B wrong, and (with probabilities) their mean
    probability of the gold answer under 0.2. A's own votes would make the flag circular."""
    spec = get_task(td.task)
    # an ensemble's members may include A or B, and a muted head (analysis.trust) is no evidence
    skip = td.imported | td.hard_labels | set(muted)
    others = [i for i, v in enumerate(td.variants)
              if i not in (ia, ib) and v not in skip and "ensemble" not in v and td.present[rows, i].all()]
    if len(others) < 3:
        missing.append(f"label-error check: {len(others)} other variants with predictions (needs 3)")
        return {}
    wrong_all = (~td.correct[rows][:, others]).all(axis=1)
    gold = td.examples["gold"].to_numpy(np.float64)[rows]
    if spec.regression:
        err = td.pred[rows][:, others] - gold[:, None]
        flag = wrong_all & ((err > 0).all(axis=1) | (err < 0).all(axis=1))
        rule = f"every one of the {len(others)} other variants is off by more than {STS_TOLERANCE}, all the same way"
    elif spec.binary:
        p_gold = np.where(gold[:, None] == 1, td.score[rows][:, others], 1 - td.score[rows][:, others])
        flag = wrong_all & (p_gold.mean(axis=1) < 0.2)
        rule = f"every one of the {len(others)} other variants is wrong, their mean P(gold) under 0.2"
    else:
        flag = wrong_all
        rule = f"every one of the {len(others)} other variants is wrong"
    return {"rule": rule, "others": [td.variants[i] for i in others], "flagged": int(flag.sum()),
            "a_wins_flagged": int((ca & ~cb & flag).sum()), "a_wins": int((ca & ~cb).sum()),
            "b_wins_flagged": int((~ca & cb & flag).sum()), "b_wins": int((~ca & cb).sum())}
