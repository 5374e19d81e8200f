"""The three CS224N minBERT tasks as one type: what each one reads, predicts and is scored by.

    from minibert.tasks import TASKS, task
    task("quora").pair            -> True
    task("sst").label_text(3)     -> "3 positive"
    [t.name for t in TASKS]       -> ["sst", "quora", "sts"]

Every layer (data, training, analysis, the app) asks a `Task` instead of branching on its name.
Pure Python: `analysis` and the app import it without torch.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

LabelResult = tuple[int | float | None, str | None]

# The threshold that turns P(duplicate) into a Quora decision.
QUORA_THRESHOLD = 0.5


def _parse_class(classes: int) -> Callable[[str, str], LabelResult]:
    def parse(name: str, value: str) -> LabelResult:
        if not value:
            return None, f"{name} is empty"
        try:
            label = int(value)
        except ValueError:
            return None, f"{name} {value!r} is not an integer"
        if not 0 <= label < classes:
            return None, f"{name} {value!r} not in 0..{classes - 1}"
        return label, None
    return parse


def _parse_duplicate(name: str, value: str) -> LabelResult:
    # Quora's file writes its labels as 0/1 or 0.0/1.0; they are read as floats, as stored.
    if not value:
        return None, f"{name} is empty"
    if value in ("0", "0.0"):
        return 0.0, None
    if value in ("1", "1.0"):
        return 1.0, None
    return None, f"{name} {value!r} is not 0 or 1"


def _parse_similarity(name: str, value: str) -> LabelResult:
    if not value:
        return None, f"{name} is empty"
    try:
        label = float(value)
    except ValueError:
        return None, f"{name} {value!r} is not a number"
    if not math.isfinite(label):
        return None, f"{name} {value!r} is not a finite number"
    if not 0.0 <= label <= 5.0:
        return None, f"{name} {value!r} not in 0.0..5.0"
    return label, None


@dataclass(frozen=True)
class Task:
    name: str                        # "sst": the key in files, configs and tables
    title: str                       # "Sentiment": what the app calls it
    dataset: str                     # "SST"
    pair: bool                       # two sentences, or one
    classes: tuple[str, ...]         # class names; () for regression (STS)
    files: tuple[tuple[str, str], ...]  # (split, file name) in the CS224N data folder
    text_columns: tuple[str, ...]
    label_column: str
    metric: str                      # its dev metric: "accuracy" or "pearson"
    score_columns: tuple[str, ...]   # model scores stored in a prediction table besides `pred`
    parse_label: Callable[[str, str], LabelResult]  # (column name, raw text) -> (label, problem)
    output_prefix: str               # the CS224N prediction files: {prefix}-{split}-output.csv

    @property
    def long_title(self) -> str:
        return f"{self.title} ({self.dataset})"

    @property
    def regression(self) -> bool:
        return not self.classes

    @property
    def binary(self) -> bool:
        """A yes/no answer, decided by a threshold on one probability (Quora)."""
        return len(self.classes) == 2

    @property
    def multiclass(self) -> bool:
        """One of several graded classes, decided by the most probable (SST)."""
        return len(self.classes) > 2

    def file_name(self, split: str) -> str:
        return dict(self.files)[split]

    def decide(self, output: object) -> int | float:
        """How a model's output becomes an answer: the most probable class (SST's five
        probabilities), duplicate when P(duplicate) >= QUORA_THRESHOLD, the score itself (STS)."""
        if self.regression:
            return output  # as given: a float32 stays one, and prints as the model gave it
        if self.binary:
            return int(float(output) >= QUORA_THRESHOLD)
        return max(range(len(self.classes)), key=lambda c: float(output[c]))

    def class_probabilities(self, output: object) -> list[float]:
        """A classifier's output as one probability per class (Quora's P(duplicate) p is [1-p, p])."""
        if self.regression:
            raise ValueError(f"{self.name} is a regression task: it has no classes")
        if self.binary:
            return [1.0 - float(output), float(output)]
        return [float(output[c]) for c in range(len(self.classes))]

    def label_text(self, value: float | int | None) -> str:
        """A label or prediction as a person reads it ("3 positive", "duplicate", "2.40");
        ValueError for a class outside the task's."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if self.regression:
            return f"{float(value):.2f}"
        if not 0 <= int(value) < len(self.classes):
            raise ValueError(f"{self.name} class {value!r} is not one of 0..{len(self.classes) - 1}")
        # a graded scale reads with its number ("3 positive"); a yes/no answer without ("duplicate")
        return f"{int(value)} {self.classes[int(value)]}" if self.multiclass else self.classes[int(value)]


SST = Task("sst", "Sentiment", "SST", False,
           ("very negative", "negative", "neutral", "positive", "very positive"),
           (("train", "ids-sst-train.csv"), ("dev", "ids-sst-dev.csv"), ("test", "ids-sst-test-student.csv")),
           ("sentence",), "sentiment", "accuracy", ("p0", "p1", "p2", "p3", "p4"), _parse_class(5), "sst")
QUORA = Task("quora", "Paraphrase", "Quora", True, ("not duplicate", "duplicate"),
             (("train", "quora-train.csv"), ("dev", "quora-dev.csv"), ("test", "quora-test-student.csv")),
             ("sentence1", "sentence2"), "is_duplicate", "accuracy", ("prob",), _parse_duplicate, "para")
STS = Task("sts", "Similarity", "STS", True, (),
           (("train", "sts-train.csv"), ("dev", "sts-dev.csv"), ("test", "sts-test-student.csv")),
           ("sentence1", "sentence2"), "similarity", "pearson", (), _parse_similarity, "sts")

TASKS: tuple[Task, ...] = (SST, QUORA, STS)
TASK_NAMES: tuple[str, ...] = tuple(t.name for t in TASKS)
PAIR_TASKS: tuple[str, ...] = tuple(t.name for t in TASKS if t.pair)
_BY_NAME = {t.name: t for t in TASKS}
_BY_TITLE = {t.title: t for t in TASKS} | {t.long_title: t for t in TASKS}


def task(name: str) -> Task:
    """The task called `name` ("sst", "quora", "sts"); ValueError naming the three otherwise."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(TASK_NAMES)}") from None


def task_titled(title: str) -> Task | None:
    """The task the app shows as `title` ("Sentiment" or "Sentiment (SST)"), or None."""
    return _BY_TITLE.get(title) if isinstance(title, str) else None
