"""What the app and the analysis layer may ask of a loaded variant, a model or an ensemble alike,
and the one rule that makes an ensemble's output: per task, the mean of that task's members'. No
torch here: the analysis layer averages stored tables with the same rule."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .recipes import Recipe


class Predictor(Protocol):
    """A loaded variant (`minibert.predict.Variant` or `Ensemble`). Readers branch on what it
    declares (`members`, `can_explain`), never on its class."""

    name: str
    directory: Path
    config: dict            # config.json's content, as stored
    checkpoint_hash: str    # what the analysis tables were predicted with
    # The models whose outputs it averages on some task; empty for a model, which predicts by itself.
    # An ensemble also has `task_members`, {task: member names}: read it through `members_for`.
    members: Sequence[Predictor]
    # Whether `minibert.explain` can attribute its outputs: an ensemble has no single model.
    can_explain: bool

    @property
    def recipe(self) -> Recipe: ...

    def score_tasks(self, inputs: dict[str, Sequence]) -> dict[str, np.ndarray]:
        """{task: sentences or pairs} -> {task: outputs}: SST (n, 5) probabilities, Quora (n,)
        P(duplicate), STS (n,) score in [0, 5]."""
        ...

    def score(self, task: str, inputs: Sequence) -> np.ndarray: ...


def members_for(predictor: Predictor, task: str) -> list[str]:
    """The names of the members whose outputs `predictor` averages on `task`: an ensemble's own
    for that task (issue 32: a head muted on a task is no member there), none for a model."""
    if not predictor.members:
        return []
    return list(predictor.task_members[task])


def ensemble_outputs(predictor: Predictor, outputs: Mapping[str, Mapping[str, np.ndarray]],
                     tasks: Iterable[str]) -> dict[str, np.ndarray]:
    """An ensemble's outputs on `tasks` from its members' ({member name: {task: outputs}}, for the
    same inputs): per task, `ensemble_mean` of that task's members."""
    return {t: ensemble_mean([outputs[m][t] for m in members_for(predictor, t)]) for t in tasks}


def ensemble_mean(outputs: Sequence[np.ndarray]) -> np.ndarray:
    """An ensemble's output from its members' outputs for the same inputs (one array each, in
    member order): their mean, as float32."""
    return np.mean(outputs, axis=0).astype(np.float32)
