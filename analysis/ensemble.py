"""Choose an ensemble's members on the dev sets, from the prediction tables alone.

An `ensemble` checkpoint averages its members' outputs (`minibert.predict.Ensemble`: the mean of
SST class probabilities, of Quora P(duplicate), of STS scores), so its dev predictions follow from
the members' tables without running a model. `select_members` is greedy forward selection
(Caruana et al., 2004, without replacement): start from the best single variant by the CS224N
overall score, add the variant that raises that score most, stop when none raises it.

Members are chosen on dev and the ensemble is then reported on dev, as the CS224N papers did:
its dev score is optimistic by however much the choice fitted dev noise.

    python -m analysis ensemble                  # print the greedy steps
    python -m analysis ensemble --write          # ... and write checkpoints/ensemble/config.json
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import formulas as F
from .core import Analysis, TaskData
from .schema import QUORA_THRESHOLD, SCORE_COLUMNS, TASKS


@dataclass
class Step:
    members: list[str]
    sst_accuracy: float
    quora_accuracy: float
    sts_pearson: float

    @property
    def overall(self) -> float:
        return F.overall_score(self.sst_accuracy, self.quora_accuracy, self.sts_pearson)


def _outputs(td: TaskData, variant: str) -> np.ndarray:
    """A variant's outputs in example order, (n_examples, 5) for SST, (n_examples,) otherwise;
    NaN where it has no prediction."""
    rows = td.rows(variant)
    ex = td.cols["ex"][rows]
    if td.task == "sst":
        out = np.full((len(td.examples), 5), np.nan)
        out[ex] = np.stack([td.cols[c][rows] for c in SCORE_COLUMNS["sst"]], axis=1)
    else:
        out = np.full(len(td.examples), np.nan)
        out[ex] = td.cols["prob" if td.task == "quora" else "pred"][rows]
    return out


class _Scorer:
    """Each candidate's outputs on the examples every candidate covers, read once."""

    def __init__(self, a: Analysis, candidates: list[str]):
        self.outputs, self.gold = {}, {}
        for task in TASKS:
            td = a.task(task)
            per_variant = {v: _outputs(td, v) for v in candidates}
            covered = np.ones(len(td.examples), dtype=bool)
            for out in per_variant.values():
                covered &= ~np.isnan(out.reshape(len(out), -1)).any(axis=1)
            self.outputs[task] = {v: out[covered] for v, out in per_variant.items()}
            self.gold[task] = td.examples["gold"].to_numpy()[covered]

    def step(self, members: list[str]) -> Step:
        mean = {t: np.mean([self.outputs[t][m] for m in members], axis=0).astype(np.float32) for t in TASKS}
        return Step(
            members=list(members),
            sst_accuracy=F.accuracy(self.gold["sst"].astype(np.int64), mean["sst"].argmax(axis=1)),
            quora_accuracy=F.accuracy(self.gold["quora"].astype(np.int64), (mean["quora"] >= QUORA_THRESHOLD).astype(np.int64)),
            sts_pearson=F.pearson(mean["sts"], self.gold["sts"]),
        )


def candidates_of(a: Analysis, exclude: tuple[str, ...] = ()) -> list[str]:
    """Variants with tables for all three tasks, minus `exclude` (ensembles are excluded by the caller)."""
    if not all(a.has(task) for task in TASKS):
        missing = [task for task in TASKS if not a.has(task)]
        raise ValueError(f"no tables loaded for {', '.join(missing)}: run `python -m analysis build` first")
    common = set.intersection(*(set(a.task(task).variants) for task in TASKS))
    return sorted(common - set(exclude))


def select_members(a: Analysis, candidates: list[str], max_members: int | None = None) -> list[Step]:
    """The greedy path: one `Step` per accepted member, the last one being the chosen ensemble."""
    if not candidates:
        raise ValueError("no candidate variants to choose ensemble members from")
    scorer = _Scorer(a, candidates)
    path: list[Step] = []
    chosen: list[str] = []
    limit = max_members or len(candidates)
    while len(chosen) < limit:
        trials = [scorer.step(chosen + [c]) for c in candidates if c not in chosen]
        best = max(trials, key=lambda s: s.overall)
        if path and best.overall <= path[-1].overall:
            break
        path.append(best)
        chosen = best.members
    return path


def format_path(path: list[Step]) -> str:
    lines = [f"{'step':>4}  {'overall':>7}  {'SST acc':>7}  {'Quora acc':>9}  {'STS r':>6}  members"]
    for i, s in enumerate(path, 1):
        lines.append(f"{i:>4}  {s.overall:7.4f}  {s.sst_accuracy:7.4f}  {s.quora_accuracy:9.4f}  "
                     f"{s.sts_pearson:6.4f}  {', '.join(s.members)}")
    return "\n".join(lines)
