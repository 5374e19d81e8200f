"""Interpretable per-example features of a task's dev set, as predicates the slice search reads.

A predicate is one yes/no question about an example ("a contrast word in either sentence",
"16-20 words", "gold 4-5"), with its definition text and a description of its rows the app's
Errors tab can open. The example-only slices of `analysis.slices` (length, negation, overlap,
gold) come first, one predicate per bucket, so a slice reads the same here and in the Slices tab;
the rest (`text_predicates`: the examples' text, WordPiece splits, words rare in the training
split) and the embedding clusters (`analysis.why.clusters`) are computed once per task by
`python -m analysis build` into the why-features table (`analysis.why.feature_table`), which a
report reads. One left out at build (no training split, say) is named in `missing` with why.

    feats = task_features(td, tables_dir)   # read once per examples frame, then reused
    feats.predicates, feats.missing, feats.n_features
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from minibert.tasks import task as get_task

from ..core import TaskData
from ..examples import NEGATION_PATTERN
from ..slices import SLICES

# the example-only slices reused as features (the others read the variants' predictions)
SLICE_FEATURES = ("length", "negation", "overlap", "gold")
RARE_MAX_COUNT = 1  # a word seen at most this often in the training split is rare

_WORD = re.compile(r"[a-z0-9]+")
_NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion"
# (name, definition, pattern searched in the lowercase text of both sentences)
WORD_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("contrast", "a contrast word (but, although, though, however, yet, whereas, despite)",
     r"\b(?:but|although|though|however|yet|whereas|despite)\b"),
    ("intensifier", "an intensifier (very, really, extremely, so, too, absolutely, totally, incredibly)",
     r"\b(?:very|really|extremely|so|too|absolutely|totally|incredibly|utterly|completely)\b"),
    ("hedge", "a hedge (maybe, perhaps, might, seems, somewhat, probably, possibly, rather, kind of)",
     r"\b(?:maybe|perhaps|might|seems?|somewhat|probably|possibly|rather|kind of|sort of|likely)\b"),
    ("number", "a number (digits or a number word)", r"\d|\b(?:" + _NUMBER_WORDS + r")\b"),
    ("first person", "a first-person word (i, me, my, we, our)", r"\b(?:i|me|my|mine|we|us|our)\b"),
    ("second person", "a second-person word (you, your)", r"\b(?:you|your|yours)\b"),
    ("comparative", "a comparative or superlative (more, most, less, better, best, worse, worst, than)",
     r"\b(?:more|most|less|least|better|best|worse|worst|than)\b"),
    ("modal", "a modal verb (can, could, should, would, must, will)",
     r"\b(?:can|could|should|would|must|will|shall)\b"),
    ("demonstrative", "a demonstrative (this, that, these, those)", r"\b(?:this|that|these|those)\b"),
    ("question mark", "a question mark", r"\?"),
    ("exclamation", "an exclamation mark", r"!"),
    ("quote or bracket", "a quotation mark or a bracket", r"[\"'`“”(\[]\s*\w.*[\"'`“”)\]]|-lrb-|-rrb-"),
    ("colon or dash", "a colon, semicolon, dash or ellipsis", r"[:;]|\s-{1,2}\s|\.\.\.|…"),
    ("several clauses", "two or more commas", r",.*,"),
    ("long word", "a word of 13 letters or more", r"[a-z]{13,}"),
)
QUESTION_WORDS = ("what", "how", "why", "who", "which", "where", "when", "is", "can", "do", "does", "should")


@dataclass(frozen=True)
class Predicate:
    """One yes/no question about an example. `query` describes its rows for the Errors tab: a
    registry slice and bucket when it is one, else the feature's name and value with the rows'
    example ids (`ids` filled in by the report, which knows the task)."""

    feature: str
    value: str
    definition: str
    mask: np.ndarray
    query: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.feature}: {self.value}"


@dataclass
class TaskFeatures:
    predicates: list[Predicate]
    missing: list[str]  # "feature: why it could not be computed"

    @property
    def n_features(self) -> int:
        return len({p.feature for p in self.predicates})


# {id(examples frame): (a weak reference to it, its features)}; a frame is not hashable
_CACHE: dict[int, tuple[weakref.ref, TaskFeatures]] = {}


def task_features(td: TaskData, tables_dir: Path | None = None, data_dir: Path | None = None) -> TaskFeatures:
    """Every predicate of `td`'s examples: the example-only slices, then the features the build
    stored in the why-features table (`analysis.why.feature_table`), read once per examples frame
    (the cache follows the frame, so an upload joined onto the same examples reuses it). Without
    an up-to-date table, the text features are computed here instead and the clusters, which
    need the backbone, are named missing with the fix."""
    key = td.examples
    hit = _CACHE.get(id(key))
    if hit is not None and hit[0]() is key:
        return hit[1]
    features = _load(td, tables_dir, data_dir)
    _CACHE[id(key)] = (weakref.ref(key), features)
    weakref.finalize(key, _CACHE.pop, id(key), None)
    return features


def _load(td: TaskData, tables_dir: Path | None, data_dir: Path | None) -> TaskFeatures:
    from .feature_table import read_features

    stored, missing, problem = read_features(td, tables_dir)
    if stored is None:
        stored, missing = text_predicates(td, data_dir)
        missing = [*missing, f"embedding cluster: {problem}"]
    return TaskFeatures(slice_predicates(td) + stored, missing)


def slice_predicates(td: TaskData) -> list[Predicate]:
    """One predicate per bucket of the example-only slices (read live: the loader computes them)."""
    preds = []
    for name in SLICE_FEATURES:
        if name not in td.slices:
            continue
        labels = td.slices[name]
        codes = labels.cat.codes.to_numpy()
        for code, bucket in enumerate(labels.cat.categories):
            if name == "negation" and bucket != "negation":
                continue  # its complement is the same test, mirrored
            preds.append(Predicate(name, str(bucket), f"{SLICES[name].doc}: {bucket}", codes == code,
                                   {"slice": [name, str(bucket)]}))
    return preds


def text_predicates(td: TaskData, data_dir: Path | None) -> tuple[list[Predicate], list[str]]:
    """(the features read from the examples' text and the training split, each as yes/no
    predicates; "feature: why it could not be computed" for each left out)."""
    spec = get_task(td.task)
    ex = td.examples
    s1 = ex["sentence1"].astype(str).str.lower()
    s2 = ex["sentence2"].astype(str).str.lower() if spec.pair else None
    text = ex["text"] if "text" in ex else (s1 if s2 is None else s1 + "\n" + s2)
    preds: list[Predicate] = []
    missing: list[str] = []

    both = "in either sentence" if spec.pair else "in the sentence"
    for name, doc, pattern in WORD_FEATURES:
        preds.append(_feature(name, "yes", f"{doc} {both}", text.str.contains(pattern, regex=True).to_numpy()))

    original = ex["sentence1"].astype(str) + ("\n" + ex["sentence2"].astype(str) if spec.pair else "")
    preds.append(_feature("capitalised name", "yes", f"a capitalised word that does not start a sentence {both}",
                          original.str.contains(r"[a-z,]\s+[A-Z][a-z]+", regex=True).to_numpy()))
    preds.append(_feature("all-caps word", "yes", f"a word of 2+ capital letters only {both}",
                          original.str.contains(r"\b[A-Z]{2,}\b", regex=True).to_numpy()))
    first = s1.str.extract(r"^\W*([a-z]+)", expand=False).fillna("")
    for word in QUESTION_WORDS:
        preds.append(_feature("first word", word, f"the {'first ' if spec.pair else ''}sentence starts with "
                              f"\"{word}\"", (first == word).to_numpy()))
    several = ex["sentence1"].astype(str).str.contains(r"[.!?]\s+[A-Za-z]", regex=True).to_numpy().copy()
    if spec.pair:
        several |= ex["sentence2"].astype(str).str.contains(r"[.!?]\s+[A-Za-z]", regex=True).to_numpy()
    preds.append(_feature("several sentences", "yes", f"more than one sentence {both}", several))
    preds.extend(_fragmentation(text))
    if spec.pair:
        preds.extend(_pair_features(ex, s1, s2))

    rare = _rare_words(td.task, text, data_dir)
    if isinstance(rare, str):
        missing.append(f"rare words: {rare}")
    else:
        preds.append(_feature("rare word", "yes", f"a word seen at most {RARE_MAX_COUNT} time(s) in the training "
                              f"split {both}", rare))
    return preds, missing


def _feature(feature: str, value: str, definition: str, mask: np.ndarray) -> Predicate:
    return Predicate(feature, value, definition, np.asarray(mask, dtype=bool), {"feature": [feature, value]})


def _words(text: pd.Series) -> list[list[str]]:
    return [_WORD.findall(t) for t in text.tolist()]


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str] | None:
    try:
        from minibert.backbone import default_backbone_dir

        lines = (default_backbone_dir() / "vocab.txt").read_text(encoding="utf-8").split("\n")
    except (OSError, RuntimeError):
        return None
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("##"))


def _fragmentation(text: pd.Series) -> list[Predicate]:
    vocab = _vocabulary()
    if vocab is None:
        return []
    split = np.array([sum(w not in vocab for w in words) for words in _words(text)])
    doc = "words the backbone's WordPiece vocabulary lacks whole (each split into pieces)"
    return [_feature("wordpiece splits", "none", f"no {doc}", split == 0),
            _feature("wordpiece splits", "1", f"one of the {doc}", split == 1),
            _feature("wordpiece splits", "2+", f"two or more {doc}", split >= 2)]


def _tokens(series: pd.Series, pattern: str) -> list[set[str]]:
    compiled = re.compile(pattern)
    return [set(compiled.findall(s)) for s in series.tolist()]


def _pair_features(ex: pd.DataFrame, s1: pd.Series, s2: pd.Series) -> list[Predicate]:
    w1, w2 = ex["words1"].to_numpy(np.float64), ex["words2"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.maximum(w1, w2) > 0, np.minimum(w1, w2) / np.maximum(w1, w2), 1.0)
    out = [_feature("length ratio", "under 0.5", "the shorter sentence has under half the longer one's words",
                    ratio < 0.5),
           _feature("length ratio", "0.5-0.8", "the shorter sentence has 50-80 % of the longer one's words",
                    (ratio >= 0.5) & (ratio < 0.8)),
           _feature("length ratio", "0.8-1", "the two sentences have nearly the same length", ratio >= 0.8)]
    names = r"(?<=[a-z,] )[A-Z][a-z]+"
    o1, o2 = ex["sentence1"].astype(str), ex["sentence2"].astype(str)
    n1, n2 = _tokens(o1, names), _tokens(o2, names)
    d1, d2 = _tokens(s1, r"\d+(?:[.,]\d+)?"), _tokens(s2, r"\d+(?:[.,]\d+)?")
    name_diff = np.array([bool(a ^ b) and bool(a) and bool(b) for a, b in zip(n1, n2)])
    num_diff = np.array([bool(a ^ b) and bool(a) and bool(b) for a, b in zip(d1, d2)])
    neg1 = s1.str.contains(NEGATION_PATTERN, regex=True).to_numpy()
    neg2 = s2.str.contains(NEGATION_PATTERN, regex=True).to_numpy()
    f1 = s1.str.extract(r"^\W*([a-z]+)", expand=False).fillna("")
    f2 = s2.str.extract(r"^\W*([a-z]+)", expand=False).fillna("")
    out += [_feature("name differs", "yes", "both sentences have capitalised names and one name is in one only",
                     name_diff),
            _feature("number differs", "yes", "both sentences have numbers and one number is in one only", num_diff),
            _feature("negation differs", "yes", "a negation word in one sentence only", neg1 != neg2),
            _feature("first word differs", "yes", "the two sentences start with different words",
                     (f1 != f2).to_numpy())]
    return out


def _rare_words(task: str, text: pd.Series, data_dir: Path | None) -> np.ndarray | str:
    from minibert.data import resolve_data_dir

    folder = resolve_data_dir(str(data_dir) if data_dir else None)
    try:
        counts = _train_counts(task, str(folder))
    except Exception as error:  # noqa: BLE001 - any reason the train split cannot be read is reported, not raised
        return (f"needs the training split in the data directory ({folder}): {type(error).__name__}; "
                "set MINIBERT_DATA")
    return np.array([any(counts.get(w, 0) <= RARE_MAX_COUNT for w in words) for words in _words(text)])


@lru_cache(maxsize=3)
def _train_counts(task: str, folder: str) -> dict[str, int]:
    from collections import Counter

    from minibert.data import read_split

    counts: Counter = Counter()
    for e in read_split(task, "train", Path(folder)).examples:
        for sentence in (e.sentence,) if not get_task(task).pair else (e.sentence1, e.sentence2):
            counts.update(_WORD.findall(sentence.lower()))
    return dict(counts)
