"""Choose an ensemble's members on the dev sets, from the prediction tables alone.

An `ensemble` checkpoint averages, per task, that task's members' outputs
(`minibert.predictor.ensemble_outputs`: the mean of SST class probabilities, of Quora P(duplicate),
of STS scores), so its dev predictions follow from the members' tables without running a model.

Members are chosen per task (issue 32), since a variant can be good at one task and useless at
another (sst-only's Quora and STS heads were never trained). For each task, `select_members`
runs greedy forward selection (Caruana et al., 2004, without replacement) on that task's dev
metric: start from the best single head, add the head that raises the metric most, stop when
none raises it. Only heads that `analysis.trust` does not mute on that task are candidates for
it, judged on the same examples the selection sees. The CS224N overall score is a sum over
tasks, so choosing each task's members for its own metric is what maximises it.

Members are chosen on dev and the ensemble is then reported on dev, as the CS224N papers did:
its dev score is optimistic by however much the choice fitted dev noise. `cross_fitted` is the
honest figure beside it (issue 23): each task's dev set is cut in two fixed halves, the same rule
(muting included) chooses members on one half and they score the other, and the reverse, so
every example is predicted by an ensemble that was chosen without it; with a bootstrap interval
over the dev examples.

    python -m analysis ensemble                  # print the greedy steps of each task
    python -m analysis ensemble --halves         # the cross-fitted (honest) figure beside the dev-chosen one
    python -m analysis ensemble --write          # write checkpoints/ensemble/config.json: members per
                                                 # task, and both figures as its record
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from minibert import metrics as F
from minibert.predictor import ensemble_mean
from minibert.recipes import task_members
from minibert.tasks import task as get_task

from .core import Analysis, TaskData
from .schema import QUORA_THRESHOLD, SCORE_COLUMNS, TASKS
from .trust import muted_reason

Members = Sequence[str] | Mapping[str, Sequence[str]]  # one list for every task, or {task: list}


@dataclass
class Step:
    """An ensemble (members per task) and its three dev figures."""

    members: dict[str, list[str]]
    sst_accuracy: float
    quora_accuracy: float
    sts_pearson: float

    @property
    def overall(self) -> float:
        return F.overall_score(self.sst_accuracy, self.quora_accuracy, self.sts_pearson)

    def figures(self) -> dict[str, float]:
        return {"sst_accuracy": self.sst_accuracy, "quora_accuracy": self.quora_accuracy,
                "sts_pearson": self.sts_pearson, "overall": self.overall}


@dataclass
class TaskStep:
    """One accepted member of a task's greedy path: the members so far and the task's metric."""

    task: str
    members: list[str]
    value: float


@dataclass
class Selection:
    paths: dict[str, list[TaskStep]]    # task -> its greedy path; the last step holds its members
    muted: dict[str, dict[str, str]]     # task -> {variant: why its head was no candidate}
    chosen: Step

    @property
    def members(self) -> dict[str, list[str]]:
        return self.chosen.members


def _outputs(td: TaskData, variant: str) -> np.ndarray:
    """A variant's outputs in example order, (n_examples, 5) for SST, (n_examples,) otherwise;
    NaN where it has no prediction."""
    rows = td.rows(variant)
    ex = td.cols["ex"][rows]
    if get_task(td.task).multiclass:
        out = np.full((len(td.examples), 5), np.nan)
        out[ex] = np.stack([td.cols[c][rows] for c in SCORE_COLUMNS["sst"]], axis=1)
    else:
        out = np.full(len(td.examples), np.nan)
        out[ex] = td.cols["prob" if get_task(td.task).binary else "pred"][rows]
    return out


class _Scorer:
    """Each candidate's outputs on the examples every candidate covers (within `keep`, a mask
    over each task's dev examples, when given), read once."""

    def __init__(self, a: Analysis, candidates: list[str], keep: dict[str, np.ndarray] | None = None):
        self.outputs, self.gold, self.covered = {}, {}, {}
        for task in TASKS:
            td = a.task(task)
            per_variant = {v: _outputs(td, v) for v in candidates}
            covered = np.ones(len(td.examples), dtype=bool) if keep is None else keep[task].copy()
            for out in per_variant.values():
                covered &= ~np.isnan(out.reshape(len(out), -1)).any(axis=1)
            self.outputs[task] = {v: out[covered] for v, out in per_variant.items()}
            self.gold[task] = td.examples["gold"].to_numpy()[covered]
            self.covered[task] = covered

    def mean(self, members: Members) -> dict[str, np.ndarray]:
        by_task = task_members(members, ())
        return {t: ensemble_mean([self.outputs[t][m] for m in by_task[t]]) for t in TASKS}

    def step(self, members: Members) -> Step:
        return _score(task_members(members, ()), self.mean(members), self.gold)

    def value(self, task: str, members: list[str]) -> float:
        """`task`'s dev metric of the mean of `members` on this scorer's examples."""
        return _metric(task, self.gold[task], ensemble_mean([self.outputs[task][m] for m in members]))

    def muted(self, task: str, variant: str) -> str | None:
        """`analysis.trust`'s verdict on `variant`'s head for `task`, from this scorer's examples
        alone (a half of dev, for the honest figure)."""
        out, gold = self.outputs[task][variant], self.gold[task]
        scalars: dict = {get_task(task).metric: _metric(task, gold, out)}
        if not get_task(task).regression:
            n = out.shape[1] if out.ndim == 2 else 2
            scalars["confusion"] = F.confusion_matrix(gold.astype(np.int64), _answers(task, out), n).tolist()
        return muted_reason(task, scalars)


def _answers(task: str, mean: np.ndarray) -> np.ndarray:
    """What is scored: SST's class, Quora's 0/1 answer, STS's score."""
    if get_task(task).multiclass:
        return mean.argmax(axis=1)
    return (mean >= QUORA_THRESHOLD).astype(np.int64) if get_task(task).binary else mean


def _metric(task: str, gold: np.ndarray, mean: np.ndarray) -> float:
    if get_task(task).regression:
        return F.pearson(gold, mean)
    return F.accuracy(gold.astype(np.int64), _answers(task, mean))


def _score(members: dict[str, list[str]], mean: dict[str, np.ndarray], gold: dict[str, np.ndarray]) -> Step:
    return Step(
        members={t: list(members[t]) for t in TASKS},
        sst_accuracy=_metric("sst", gold["sst"], mean["sst"]),
        quora_accuracy=_metric("quora", gold["quora"], mean["quora"]),
        sts_pearson=_metric("sts", gold["sts"], mean["sts"]),
    )


def candidates_of(a: Analysis, exclude: tuple[str, ...] = ()) -> list[str]:
    """Variants with tables for all three tasks, minus `exclude` (ensembles are excluded by the caller)
    and imported ones."""
    if not all(a.has(task) for task in TASKS):
        missing = [task for task in TASKS if not a.has(task)]
        raise ValueError(f"no tables loaded for {', '.join(missing)}: run `python -m analysis build` first")
    common = set.intersection(*(set(a.task(task).variants) for task in TASKS))
    # an imported variant has no checkpoint an ensemble could load
    return sorted(common - set(exclude) - set(a.imported()))


def select_members(a: Analysis, candidates: list[str], max_members: int | None = None) -> Selection:
    """Per task, the greedy path over the heads not muted on it; `chosen` is the ensemble."""
    if not candidates:
        raise ValueError("no candidate variants to choose ensemble members from")
    return _select(_Scorer(a, candidates), candidates, max_members)


def _select(scorer: _Scorer, candidates: list[str], max_members: int | None) -> Selection:
    paths, muted = {}, {}
    for task in TASKS:
        muted[task] = {c: why for c in candidates if (why := scorer.muted(task, c))}
        eligible = [c for c in candidates if c not in muted[task]]
        if not eligible:
            raise ValueError(f"every candidate's {task} head is muted (no better than a trivial baseline): "
                             "no ensemble member for it")
        paths[task] = _greedy(scorer, task, eligible, max_members)
    members = {t: path[-1].members for t, path in paths.items()}
    return Selection(paths, muted, scorer.step(members))


def _greedy(scorer: _Scorer, task: str, candidates: list[str], max_members: int | None) -> list[TaskStep]:
    path: list[TaskStep] = []
    chosen: list[str] = []
    limit = max_members or len(candidates)
    while len(chosen) < limit:
        trials = [TaskStep(task, chosen + [c], scorer.value(task, chosen + [c])) for c in candidates if c not in chosen]
        best = max(trials, key=lambda s: s.value)
        if path and best.value <= path[-1].value:
            break
        path.append(best)
        chosen = best.members
    return path


def format_selection(selection: Selection) -> str:
    metric = {"sst": "SST acc", "quora": "Quora acc", "sts": "STS r"}
    lines = []
    for task, path in selection.paths.items():
        lines.append(f"{task}: greedy steps ({metric[task]}), among heads not muted on {task}")
        lines += [f"{i:>4}  {s.value:7.4f}  {', '.join(s.members)}" for i, s in enumerate(path, 1)]
        for variant, why in selection.muted[task].items():
            lines.append(f"      muted, no candidate: {variant} ({why})")
    c = selection.chosen
    lines.append(f"{'':<4}  {'overall':>7}  {'SST acc':>7}  {'Quora acc':>9}  {'STS r':>6}")
    lines.append(f"{'':<4}  {c.overall:7.4f}  {c.sst_accuracy:7.4f}  {c.quora_accuracy:9.4f}  {c.sts_pearson:6.4f}")
    return "\n".join(lines)


def format_members(members: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{t}: {', '.join(names)}" for t, names in members.items())


# --- the honest figure: members chosen on one half of dev, scored on the other -------------------

HALVES_SEED = 23  # issue 23; fixed, so the halves are the same on every run and machine


def dev_halves(a: Analysis, seed: int = HALVES_SEED) -> dict[str, np.ndarray]:
    """Per task, a mask over its dev examples marking half A (B is the rest): the examples in
    order of their id, permuted by numpy's default_rng(seed), the first half of that order. By
    id, so the halves do not depend on the order of the data file or the tables."""
    halves = {}
    for task in TASKS:
        ids = a.task(task).examples["id"].astype(str).to_numpy()
        order = np.argsort(ids, kind="stable")[np.random.default_rng(seed).permutation(len(ids))]
        mask = np.zeros(len(ids), dtype=bool)
        mask[order[: len(ids) // 2]] = True
        halves[task] = mask
    return halves


@dataclass
class CrossFit:
    chosen: dict[str, dict[str, list[str]]]  # half -> the members chosen on it, per task
    held_out: dict[str, Step]      # half -> the ensemble chosen on the other half, scored on this one
    dev_chosen: dict[str, Step]    # half -> today's ensemble (chosen on all of dev) scored on this half
    dev_members: dict[str, list[str]]
    intervals: dict[str, tuple[float, float]]  # 95 % bootstrap intervals of the two-half means
    rows: dict[str, int]           # dev examples scored, per task
    n_boot: int
    seed: int

    def mean(self, figures: dict[str, Step]) -> float:
        """The honest figure is the mean of the two halves' overall scores. The halves are not
        pooled into one score: the two ensembles differ (in members, so in STS scale), and a
        Pearson over a mix of two scales charges the mix, not either ensemble."""
        return (figures["A"].overall + figures["B"].overall) / 2

    def mean_figures(self, figures: dict[str, Step]) -> dict[str, float]:
        """Each task's metric as the mean of the two halves' (overall is linear in them, so this
        overall is `mean`)."""
        a, b = figures["A"].figures(), figures["B"].figures()
        return {k: (a[k] + b[k]) / 2 for k in a}

    def record(self) -> dict:
        """What an ensemble's config.json keeps of the honest figure (`python -m analysis report` shows it)."""
        lo, hi = self.intervals["held_out"]
        return {**self.mean_figures(self.held_out), "overall_ci": [lo, hi], "seed": self.seed, "n_boot": self.n_boot,
                "chosen": {half: dict(members) for half, members in self.chosen.items()}}


def cross_fitted(a: Analysis, candidates: list[str], max_members: int | None = None, seed: int = HALVES_SEED,
                 n_boot: int = 2000) -> CrossFit:
    """Choose members per task on half A (`select_members`' rule, muting judged on half A) and
    score them on half B, and the reverse; beside them, today's ensemble (chosen on all of dev)
    scored on the same halves. The intervals resample each task's examples within each half with
    replacement (percentile bootstrap, `n_boot` draws; the same draws for both figures, so their
    difference is paired)."""
    if not candidates:
        raise ValueError("no candidate variants to choose ensemble members from")
    halves = dev_halves(a, seed)
    full = _Scorer(a, candidates)
    in_half = {"A": {t: halves[t][full.covered[t]] for t in TASKS}}  # over the rows `full` scores
    in_half["B"] = {t: ~m for t, m in in_half["A"].items()}
    chosen = {name: _select(_Scorer(a, candidates, {t: m if name == "A" else ~m for t, m in halves.items()}),
                            candidates, max_members).members for name in ("A", "B")}
    dev_members = _select(full, candidates, max_members).members
    held_out, dev_chosen, draws = {}, {}, {"held_out": 0.0, "dev_chosen": 0.0}
    for i, (half, other) in enumerate((("A", "B"), ("B", "A"))):
        rows = in_half[half]
        gold = {t: full.gold[t][rows[t]] for t in TASKS}
        figures = {"held_out": {t: full.mean(chosen[other])[t][rows[t]] for t in TASKS},
                   "dev_chosen": {t: full.mean(dev_members)[t][rows[t]] for t in TASKS}}
        held_out[half] = _score(chosen[other], figures["held_out"], gold)
        dev_chosen[half] = _score(dev_members, figures["dev_chosen"], gold)
        for name, scores in _bootstrap_overall(figures, gold, n_boot, seed + i).items():
            draws[name] = draws[name] + scores / 2
    draws["difference"] = draws["dev_chosen"] - draws["held_out"]
    intervals = {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in draws.items()}
    return CrossFit(chosen, held_out, dev_chosen, dev_members, intervals, {t: len(full.gold[t]) for t in TASKS},
                    n_boot, seed)


def _bootstrap_overall(figures: dict[str, dict[str, np.ndarray]], gold: dict[str, np.ndarray], n_boot: int,
                       seed: int) -> dict[str, np.ndarray]:
    """The overall score of each figure's outputs on `n_boot` resamples of every task's examples
    (the same resamples for every figure), drawn by numpy's default_rng(seed)."""
    rng = np.random.default_rng(seed)
    right = {name: {t: _answers(t, out[t]) == gold[t].astype(np.int64) for t in ("sst", "quora")}
             for name, out in figures.items()}
    scores = {name: np.empty(n_boot) for name in figures}
    for i in range(n_boot):
        idx = {t: rng.integers(0, len(gold[t]), len(gold[t])) for t in TASKS}
        for name, out in figures.items():
            scores[name][i] = F.overall_score(right[name]["sst"][idx["sst"]].mean(), right[name]["quora"][idx["quora"]].mean(),
                                              F.pearson(gold["sts"][idx["sts"]], out["sts"][idx["sts"]]))
    return scores


def format_cross_fit(fit: CrossFit) -> str:
    def row(label: str, s: Step) -> str:
        return f"{label:<46} {s.overall:7.4f}  {s.sst_accuracy:7.4f}  {s.quora_accuracy:9.4f}  {s.sts_pearson:6.4f}"

    def interval(key: str, sign: str = "") -> str:
        lo, hi = fit.intervals[key]
        return f"[{lo:{sign}.4f}, {hi:{sign}.4f}]"

    rows = ", ".join(f"{t} {n}" for t, n in fit.rows.items())
    honest, today = fit.mean(fit.held_out), fit.mean(fit.dev_chosen)
    return "\n".join([
        f"dev halves: each task's examples in order of id, permuted by numpy default_rng({fit.seed}), the first "
        f"half is A ({rows} rows in all)",
        f"members chosen on A: {format_members(fit.chosen['A'])}",
        f"members chosen on B: {format_members(fit.chosen['B'])}",
        f"members chosen on all of dev (today's): {format_members(fit.dev_members)}",
        f"{'':<46} {'overall':>7}  {'SST acc':>7}  {'Quora acc':>9}  {'STS r':>6}",
        row("half A, members chosen on B", fit.held_out["A"]),
        row("half B, members chosen on A", fit.held_out["B"]),
        row("half A, today's members", fit.dev_chosen["A"]),
        row("half B, today's members", fit.dev_chosen["B"]),
        f"chosen on the other half (honest), mean of the halves: overall {honest:.4f}, 95 % interval "
        f"{interval('held_out')}",
        f"chosen on all of dev (today's), mean of the halves:   overall {today:.4f}, 95 % interval "
        f"{interval('dev_chosen')}",
        f"today's minus honest: {today - honest:+.4f}, 95 % interval {interval('difference', '+')} "
        f"({fit.n_boot} bootstrap resamples within each half, paired)",
    ])
