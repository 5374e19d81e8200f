"""Error lists and per-example views over a loaded `Analysis` (vectorized numpy over the
long frame; nothing here runs a model)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from numbers import Integral

import numpy as np
import pandas as pd

from minibert.tasks import task as get_task

from .core import Analysis, TaskData
from .dev_metrics import sts_bin
from .schema import QUORA_THRESHOLD, STS_TOLERANCE
from .slices import SLICES
from .text_rules import MAX_WORD, check_regex, feature_mask, regex_mask, word_mask

MAX_WITHIN = 3  # how deep `within` may nest (a saved slice of a saved slice of a saved slice)
RELATIONS = ("agree", "disagree", "a_right_b_wrong", "a_wrong_b_right", "both_right", "both_wrong")
DIRECTIONS = {"over": "over", "under": "under", "fp": "over", "fn": "under"}
SORTS = ("confidence", "error", "id", None)

# A named error kind -> the filter arguments of `errors` it stands for (the first is the default).
ERROR_KINDS: dict[str, dict[str, dict]] = {
    "sst": {
        "wrong": {},
        "over": {"direction": "over"},
        "under": {"direction": "under"},
        "off_by_2": {"min_error": 2},
        "all": {"only_errors": False},
    },
    "quora": {
        "wrong": {},
        "fp": {"direction": "fp"},
        "fn": {"direction": "fn"},
        "all": {"only_errors": False},
    },
    "sts": {
        "wrong": {},
        "error_gt_2": {"min_error": 2.0},
        "over": {"direction": "over"},
        "under": {"direction": "under"},
        "all": {"only_errors": False},
    },
}


def grid_size(task: str) -> int:
    """Rows (= columns) of `task`'s confusion grid: its classes, or STS's scores rounded to 0..5."""
    return len(get_task(task).classes) or 6


@dataclass(frozen=True)
class ErrorQuery:
    """Which rows of a task's long frame to show: the one description of an error slice that the
    Errors tab builds, `errors` runs and a stored finding keeps (`to_dict` / `from_dict`, JSON).

    task       "sst" | "quora" | "sts".
    variant    one variant's rows; None = every variant's.
    kind       a key of `ERROR_KINDS[task]` ("wrong", "over", "fp", "all", ...).
    cell       (gold, pred) of a confusion cell; it decides the rows by itself: the kind is then
               not applied.
    other, relation   compare `variant` with `other` per example (a key of `RELATIONS`); like a
               cell, it decides the rows by itself (with a cell, both apply).
    slice      (slice name, bucket).
    search     case-insensitive substring of either sentence ("" = none).
    min_words, max_words   inclusive bounds on the words of the example.
    word       a whole word or phrase in either sentence, case-insensitive ("" = none).
    regex      a regular expression searched in either sentence, case-insensitive, under the caps
               of `text_rules` ("" = none).
    feature    (feature, value) of `why.features`, e.g. ("contrast", "yes").
    within     another query on the same task: only the examples it lists (a saved slice used as
               a filter); nested at most MAX_WITHIN deep.
    threshold  Quora's decision threshold.

    Variant, other and slice names are checked against the tables when the query runs.
    """

    task: str
    variant: str | None = None
    kind: str = "wrong"
    cell: tuple[int, int] | None = None
    other: str | None = None
    relation: str = "disagree"
    slice: tuple[str, str] | None = None
    search: str = ""
    min_words: int | None = None
    max_words: int | None = None
    threshold: float = QUORA_THRESHOLD
    word: str = ""
    regex: str = ""
    feature: tuple[str, str] | None = None
    within: ErrorQuery | None = None

    def __post_init__(self) -> None:
        if self.task not in ERROR_KINDS:
            raise ValueError(f"task must be one of {', '.join(ERROR_KINDS)}, not {self.task!r}")
        kinds = ERROR_KINDS[self.task]
        if self.kind not in kinds:
            raise ValueError(f"a {self.task} error kind is one of {', '.join(kinds)}, not {self.kind!r}")
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {', '.join(RELATIONS)}, not {self.relation!r}")
        if self.other is not None and self.variant is None:
            raise ValueError("a comparison with another variant needs one variant to compare")
        if self.other is not None and self.other == self.variant:
            raise ValueError(f"{self.variant!r} compared with itself")
        if self.cell is not None:
            n = grid_size(self.task)
            if len(self.cell) != 2 or not all(isinstance(x, Integral) and 0 <= x < n for x in self.cell):
                raise ValueError(f"a {self.task} cell is (gold, pred), each a whole number 0 to {n - 1}, "
                                 f"not {self.cell!r}")
            object.__setattr__(self, "cell", tuple(int(x) for x in self.cell))
        if self.slice is not None:
            if len(self.slice) != 2 or not all(isinstance(x, str) for x in self.slice):
                raise ValueError(f"a slice is (name, bucket), not {self.slice!r}")
            object.__setattr__(self, "slice", tuple(self.slice))
        if not isinstance(self.search, str):
            raise ValueError(f"search is text, not {self.search!r}")
        for key in ("min_words", "max_words"):
            value = getattr(self, key)
            if value is not None and not (isinstance(value, int) and value >= 0):
                raise ValueError(f"{key} is a whole number of at least 0, not {value!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold is between 0 and 1, not {self.threshold!r}")
        if not isinstance(self.word, str) or len(self.word) > MAX_WORD:
            raise ValueError(f"word is text of at most {MAX_WORD} characters, not {str(self.word)[:40]!r}")
        if not isinstance(self.regex, str):
            raise ValueError(f"regex is text, not {self.regex!r}")
        if self.regex.strip():
            check_regex(self.regex.strip())
        if self.feature is not None:
            if len(self.feature) != 2 or not all(isinstance(x, str) for x in self.feature):
                raise ValueError(f"a feature is (name, value), not {self.feature!r}")
            object.__setattr__(self, "feature", tuple(self.feature))
        if isinstance(self.within, dict):
            object.__setattr__(self, "within", ErrorQuery.from_dict(self.within))
        if self.within is not None:
            if not isinstance(self.within, ErrorQuery):
                raise ValueError(f"within is another error query, not {self.within!r}")
            if self.within.task != self.task:
                raise ValueError(f"within is a query on {self.within.task}, not on {self.task}")
            if self.within.depth() >= MAX_WITHIN:
                raise ValueError(f"saved slices nest at most {MAX_WITHIN} deep")

    def depth(self) -> int:
        """How many queries this one holds through `within` (0: none)."""
        return 0 if self.within is None else 1 + self.within.depth()

    def by_predictions(self) -> bool:
        """Whether the examples this query lists depend on the variants' predictions (an error
        kind, a cell or a comparison), not on the examples alone: a slice chosen so favours or
        disfavours the variants it names."""
        own = self.kind != "all" or self.cell is not None or self.other is not None
        return own or (self.within is not None and self.within.by_predictions())

    def decided_by(self) -> str | None:
        """What, instead of the error kind, decides which rows show (None: the kind does)."""
        if self.cell is not None and self.other is not None:
            return "the cell and the comparison"
        if self.cell is not None:
            return "the confusion cell"
        if self.other is not None:
            return "the comparison"
        return None

    def notes(self) -> list[str]:
        """What a reader should know about how the query reads (a kind that is not applied)."""
        override = self.decided_by()
        if override and self.kind != "wrong":
            return [f"The error kind is not applied: {override} decides which rows show."]
        return []

    def filters(self) -> dict:
        """The keyword arguments of `errors` this query stands for (besides task and variant)."""
        kw = {} if self.decided_by() else dict(ERROR_KINDS[self.task][self.kind])
        if self.cell is not None:
            kw["cell"] = self.cell
        if self.other is not None:
            kw["other"], kw["relation"] = self.other, self.relation
        kw |= self.example_filters()
        if self.threshold != QUORA_THRESHOLD:
            kw["threshold"] = self.threshold
        if self.within is not None:
            kw["within"] = self.within
        return kw

    def example_filters(self) -> dict:
        """The parts that pick examples whatever any variant answers (text, length, a built-in slice),
        as `example_mask` takes them; a saved slice tested in the "why" report is these rows."""
        kw: dict = {"search": self.search.strip()} if self.search.strip() else {}
        for key in ("min_words", "max_words"):
            if getattr(self, key):  # 0 reads as "no bound", as the app's number boxes send it
                kw[key] = getattr(self, key)
        if self.slice is not None:
            kw["slice"] = self.slice
        if self.word.strip():
            kw["word"] = self.word.strip()
        if self.regex.strip():
            kw["regex"] = self.regex.strip()
        if self.feature is not None:
            kw["feature"] = self.feature
        return kw

    def by_answers(self) -> list[str]:
        """The parts that pick rows by a variant's answers (its error kind, a confusion cell, a
        comparison with another variant), in words; [] when there are none."""
        out = []
        if self.variant is not None and not self.decided_by() and self.kind != "all":
            out.append(f"{self.variant}'s {self.kind} rows")
        if self.cell is not None:
            out.append(f"the confusion cell {self.cell}")
        if self.other is not None:
            out.append(f"{self.variant} against {self.other} ({self.relation})")
        if self.within is not None:  # a query of its own: not an example filter of this one
            out.append("the saved slice it is filtered by")
        return out

    def to_dict(self) -> dict:
        """Plain JSON values (tuples as lists); `from_dict` reads it back."""
        out = asdict(self)
        for key in ("cell", "slice", "feature"):
            if out[key] is not None:
                out[key] = list(out[key])
        out["within"] = None if self.within is None else self.within.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ErrorQuery:
        """The query `to_dict` wrote; unknown keys are an error (a typo would otherwise widen it)."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown error-query fields: {', '.join(sorted(unknown))}")
        data = dict(data)
        for key in ("cell", "slice", "feature"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        if isinstance(data.get("within"), dict):
            if _depth(data["within"]) >= MAX_WITHIN:
                raise ValueError(f"saved slices nest at most {MAX_WITHIN} deep")
            data["within"] = cls.from_dict(data["within"])
        return cls(**data)


def _depth(data: dict) -> int:
    """How deep a query's dict nests through "within", without building it (a stored dict may be
    written by anyone: it is measured before it is read)."""
    n = 0
    while isinstance(data, dict) and isinstance(data.get("within"), dict) and n <= MAX_WITHIN:
        data, n = data["within"], n + 1
    return n


def _pred_correct(td: TaskData, rows: np.ndarray | slice, threshold: float):
    """pred and correct of the given long-frame rows (Quora at `threshold`)."""
    c = td.cols
    if get_task(td.task).binary and threshold != QUORA_THRESHOLD:
        pred = (c["prob"][rows] >= threshold).astype(np.int8)
        return pred, pred == c["gold"][rows]
    return c["pred"][rows], c["correct"][rows]


def _wide_pred_correct(td: TaskData, vi: int, threshold: float):
    if get_task(td.task).binary and threshold != QUORA_THRESHOLD:
        pred = np.where(td.present[:, vi], (td.score[:, vi] >= threshold).astype(np.float64), np.nan)
        gold = td.examples["gold"].to_numpy()
        return pred, (pred == gold) & td.present[:, vi]
    return td.pred[:, vi], td.correct[:, vi]


def example_mask(
    td: TaskData,
    *,
    search: str | None = None,
    min_words: int | None = None,
    max_words: int | None = None,
    slice: tuple[str, str] | None = None,
    word: str | None = None,
    regex: str | None = None,
    feature: tuple[str, str] | None = None,
    tables_dir: object = None,
    data_dir: object = None,
) -> np.ndarray | None:
    """Boolean mask over examples for the per-example filters (None when there are none). A
    feature needing a folder (rare words, the embedding clusters) reads `tables_dir` / `data_dir`,
    unless the features were computed with them before (they are kept per examples frame)."""
    mask = None

    def both(m: pd.DataFrame):
        nonlocal mask
        mask = m if mask is None else (mask & m)

    if search:
        both(td.examples["text"].str.contains(search.lower(), regex=False).to_numpy(dtype=bool))
    if word:
        both(word_mask(td.examples, word))
    if regex:
        both(regex_mask(td.examples, regex))
    if feature is not None:
        both(feature_mask(td, feature, tables_dir, data_dir))
    words = td.examples["words"].to_numpy()
    if min_words is not None:
        both(words >= min_words)
    if max_words is not None:
        both(words <= max_words)
    if slice is not None:
        name, bucket = slice
        if name not in td.slices:
            raise KeyError(f"no slice {name!r} for {td.task}; have: {', '.join(td.slices)}")
        labels = td.slices[name]
        if bucket in labels.cat.categories:
            both(labels.cat.codes.to_numpy() == labels.cat.categories.get_loc(bucket))
        elif bucket in (SLICES[name].order or ()):  # a bucket no example falls in
            both(np.zeros(len(labels), dtype=bool))
        else:
            raise KeyError(f"slice {name!r} has no bucket {bucket!r}; have: {', '.join(labels.cat.categories)}")
    return mask


def errors(
    a: Analysis,
    task: str | ErrorQuery,
    variant: str | None = None,
    *,
    only_errors: bool | None = None,
    min_error: float | None = None,
    direction: str | None = None,
    cell: tuple[float, float] | None = None,
    search: str | None = None,
    min_words: int | None = None,
    max_words: int | None = None,
    other: str | None = None,
    relation: str | None = None,
    slice: tuple[str, str] | None = None,
    word: str | None = None,
    regex: str | None = None,
    feature: tuple[str, str] | None = None,
    within: ErrorQuery | None = None,
    sort: str | None = "auto",
    ascending: bool = False,
    threshold: float = QUORA_THRESHOLD,
    limit: int | None = None,
) -> pd.DataFrame:
    """Rows of the long frame of `task` (one per variant and example) that pass every filter.

    variant      one variant's rows; None = every variant's.
    only_errors  keep only wrong predictions. Default (None): True, unless `cell` or `relation`
                 is given (they say by themselves which examples they want).
    min_error    what counts as an error: SST |pred - gold| >= min_error classes (default 1);
                 STS |pred - gold| > min_error (default STS_TOLERANCE = 1.0); Quora pred != gold.
    direction    "over" (pred > gold: SST too positive, Quora false positive, STS too high) or
                 "under"; "fp" / "fn" are aliases of over / under.
    cell         (gold, pred) cell of `confusion()`: SST classes, Quora 0/1 at `threshold`, STS
                 rounded scores.
    search       case-insensitive substring of either sentence.
    min_words, max_words   bounds (inclusive) on the `words` column (both sentences for pairs).
    other, relation        compare `variant` (A) with `other` (B) per example: "agree",
                 "disagree", "a_right_b_wrong", "a_wrong_b_right", "both_right", "both_wrong"
                 (STS: agree = |A - B| <= STS_TOLERANCE, right = |error| <= STS_TOLERANCE).
                 Adds columns other_pred and other_correct.
    slice        (slice name, bucket) from `slices.py`, e.g. ("negation", "negation").
    word, regex, feature   text rules (`text_rules`): a whole word or phrase, a regular
                 expression (capped: ValueError when refused), a (feature, value) of `why.features`.
    within       an ErrorQuery: only the examples it lists.
    sort         "confidence" (SST, Quora: probability of the predicted class), "error" (size of
                 the error: SST classes off, Quora |P(dup) - gold|, STS |pred - gold|), "id", or
                 None (frame order); "auto" = confidence for classifiers, error for STS.
    ascending    sort order (default: most confident / largest error first).
    threshold    Quora decision threshold for pred / correct / errors / cell.
    limit        at most this many rows.

    `task` may be an `ErrorQuery` instead: it then says every filter, and only sort, ascending
    and limit may be given besides.
    """
    if isinstance(task, ErrorQuery):
        given = {"variant": variant, "only_errors": only_errors, "min_error": min_error, "direction": direction,
                 "cell": cell, "search": search, "min_words": min_words, "max_words": max_words, "other": other,
                 "relation": relation, "slice": slice, "word": word, "regex": regex, "feature": feature,
                 "within": within}
        mixed = [k for k, v in given.items() if v is not None] + (["threshold"] if threshold != QUORA_THRESHOLD else [])
        if mixed:
            raise TypeError(f"an ErrorQuery says every filter; do not also pass {', '.join(mixed)}")
        q = task
        return errors(a, q.task, q.variant, **q.filters(), sort=sort, ascending=ascending, limit=limit)
    td = a.task(task)
    if direction is not None and direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    if relation is not None and relation not in RELATIONS:
        raise ValueError(f"relation must be one of {', '.join(RELATIONS)}, not {relation!r}")
    if (relation is None) != (other is None):
        raise ValueError("relation and other go together: errors(..., other='B', relation='a_right_b_wrong')")
    if relation is not None and variant is None:
        raise ValueError("a relation compares `variant` (A) with `other` (B): give both")
    if sort == "auto":
        sort = "error" if get_task(task).regression else "confidence"
    if sort not in SORTS:
        raise ValueError(f"sort must be one of confidence, error, id, None, not {sort!r}")
    if sort == "confidence" and get_task(task).regression:
        raise ValueError("STS predictions have no confidence: sort by 'error'")

    c = td.cols
    rows = td.rows(variant)
    start = rows.start
    ex = c["ex"][rows]
    pred, correct = _pred_correct(td, rows, threshold)
    gold = c["gold"][rows]
    keep = np.ones(len(ex), dtype=bool)

    if only_errors is None:
        only_errors = cell is None and relation is None
    if only_errors:
        if get_task(task).multiclass:
            keep &= np.abs(pred.astype(np.int16) - gold) >= (1 if min_error is None else min_error)
        elif get_task(task).regression:
            keep &= c["abs_error"][rows] > (STS_TOLERANCE if min_error is None else min_error)
        else:
            keep &= ~correct
    if direction is not None:
        keep &= (pred > gold) if DIRECTIONS[direction] == "over" else (pred < gold)
    if cell is not None:
        g, p = cell
        if get_task(task).regression:
            keep &= (sts_bin(gold) == g) & (sts_bin(pred) == p)
        else:
            keep &= (gold == g) & (pred == p)

    mask = example_mask(td, search=search, min_words=min_words, max_words=max_words, slice=slice, word=word,
                        regex=regex, feature=feature, tables_dir=a.tables_dir, data_dir=a.data_dir)
    if within is not None:
        listed = td.examples["id"].isin(errors(a, within, sort=None)["id"].unique()).to_numpy()
        mask = listed if mask is None else mask & listed
    if mask is not None:
        keep &= mask[ex]

    other_pred = other_correct = None
    if relation is not None:
        bi = td.variant_index(other)
        b_pred_wide, b_correct_wide = _wide_pred_correct(td, bi, threshold)
        b_present = td.present[ex, bi]
        b_pred, b_correct = b_pred_wide[ex], b_correct_wide[ex]
        if get_task(task).regression:
            agree = np.abs(pred - b_pred) <= STS_TOLERANCE
        else:
            agree = pred == b_pred
        rel = {
            "agree": agree,
            "disagree": ~agree,
            "a_right_b_wrong": correct & ~b_correct,
            "a_wrong_b_right": ~correct & b_correct,
            "both_right": correct & b_correct,
            "both_wrong": ~correct & ~b_correct,
        }[relation]
        keep &= rel & b_present
        other_pred, other_correct = b_pred, b_correct

    local = np.flatnonzero(keep)
    if sort in ("confidence", "error"):
        key = (c["conf"] if sort == "confidence" else c["abs_error"])[rows][local].astype(np.float64)
        local = local[np.argsort(key if ascending else -key, kind="stable")]
    elif sort == "id":  # always ascending
        local = local[np.argsort(td.frame["id"].to_numpy()[start + local], kind="stable")]
    if limit is not None:
        local = local[:limit]
    out = td.frame.iloc[start + local].reset_index(drop=True)
    if get_task(task).binary and threshold != QUORA_THRESHOLD:
        out["pred"] = pred[local]
        out["correct"] = correct[local]
        prob = out["prob"].to_numpy()
        out["conf"] = np.where(out["pred"].to_numpy() == 1, prob, 1 - prob)
    if other_pred is not None:
        out["other"] = other
        out["other_pred"] = other_pred[local]
        out["other_correct"] = other_correct[local]
    return out


def example_across_variants(a: Analysis, task: str, example_id: str, threshold: float = QUORA_THRESHOLD) -> pd.DataFrame:
    """Every variant's prediction on one example, side by side: one row per variant with
    variant, pred, scores, correct, error, conf, and the example's id, gold and text."""
    td = a.task(task)
    index = td.examples.index[td.examples["id"] == example_id]
    if not len(index):
        raise KeyError(f"no {task} dev example with id {example_id!r}")
    e = int(index[0])
    rows = np.flatnonzero(td.cols["ex"] == e)
    out = td.frame.iloc[rows].reset_index(drop=True)
    if get_task(task).binary and threshold != QUORA_THRESHOLD:
        pred, correct = _pred_correct(td, rows, threshold)
        out["pred"], out["correct"] = pred, correct
    out["variant"] = out["variant"].astype(str)
    return out
