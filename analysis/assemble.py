"""One task's predictions and examples joined into a `TaskData`: the long frame, the wide arrays
and the slices, from per-variant parts; and one more (imported) variant joined onto a built one.
`load` builds every task with it; an upload (`imported.with_predictions`) adds its variant."""

from __future__ import annotations

import numpy as np
import pandas as pd

from minibert.tasks import task as get_task

from . import slices as _slices
from .core import TaskData
from .schema import SCORE_COLUMNS, STS_TOLERANCE


def assemble(task: str, source: str, examples: pd.DataFrame, parts: list[tuple[str, np.ndarray, pd.DataFrame]],
              imported: set[str] = frozenset(), hard: set[str] = frozenset(), slices: bool = True) -> TaskData:
    """Build the long frame and the wide arrays from per-variant (name, ex, table) parts.
    `imported`: variants read from a user's files; `hard`: those of them with hard labels only
    (their NaN probabilities give NaN confidence; a Quora hard label stands in for its P(duplicate),
    so thresholds and errors read the label)."""
    variants = [name for name, _, _ in parts]
    n_ex, n_var = len(examples), len(variants)
    ranges, start = {}, 0
    for name, ex, _ in parts:
        ranges[name] = (start, start + len(ex))
        start += len(ex)
    ex = np.concatenate([p[1] for p in parts]).astype(np.int64) if parts else np.zeros(0, np.int64)
    var = np.concatenate([np.full(len(p[1]), i, np.int16) for i, p in enumerate(parts)]) if parts else np.zeros(0, np.int16)
    gold = examples["gold"].to_numpy()[ex]

    cols: dict[str, np.ndarray] = {"ex": ex, "var": var}
    if get_task(task).regression:
        pred = np.concatenate([p[2]["pred"].to_numpy(np.float32) for p in parts]) if parts else np.zeros(0, np.float32)
        error = pred - gold
        abs_error = np.abs(error)
        correct = abs_error <= STS_TOLERANCE
        conf = np.full(len(pred), np.nan, dtype=np.float32)
        scores = {}
    else:
        pred = np.concatenate([p[2]["pred"].to_numpy(np.int8) for p in parts]) if parts else np.zeros(0, np.int8)
        scores = {
            c: (np.concatenate([p[2][c].to_numpy(np.float32) for p in parts]) if parts else np.zeros(0, np.float32))
            for c in SCORE_COLUMNS[task]
        }
        if get_task(task).binary and hard:
            prob = scores["prob"]
            scores["prob"] = np.where(np.isnan(prob), pred, prob).astype(np.float32)
        gold = gold.astype(np.int8)
        correct = pred == gold
        if get_task(task).multiclass:
            probs = np.stack([scores[c] for c in SCORE_COLUMNS["sst"]], axis=1)
            conf = probs[np.arange(len(pred)), pred.astype(np.int64)] if len(pred) else np.zeros(0, np.float32)
            error = (pred - gold).astype(np.int8)
            abs_error = np.abs(error).astype(np.int8)
        else:
            prob = scores["prob"]
            conf = np.where(pred == 1, prob, 1.0 - prob).astype(np.float32)
            if hard:  # a hard label carries no confidence
                conf[np.isin(var, [variants.index(v) for v in hard])] = np.nan
            error = (prob - gold).astype(np.float32)
            abs_error = np.abs(error)
    columns = {
        "variant": pd.Categorical.from_codes(var, categories=variants) if n_var else pd.Categorical([]),
        "ex": ex.astype(np.int32),
        "id": examples["id"].take(ex).to_numpy(),
        "pred": pred,
        **scores,
        "gold": gold,
        "correct": correct,
        "error": error,
        "abs_error": abs_error,
        "conf": conf,
    }
    frame = pd.DataFrame(columns)
    for column in ("sentence1", "sentence2", "words", "words1", "words2", "negation", "overlap"):
        frame[column] = examples[column].take(ex).reset_index(drop=True)
    if get_task(task).multiclass:
        frame = frame.drop(columns=["sentence2", "words2", "overlap"])
    cols.update({c: frame[c].to_numpy() for c in ("pred", "gold", "correct", "error", "abs_error", "conf", *scores)})

    present = np.zeros((n_ex, n_var), dtype=bool)
    present[ex, var] = True
    wide_pred = np.full((n_ex, n_var), np.nan)
    wide_pred[ex, var] = pred
    wide_correct = np.zeros((n_ex, n_var), dtype=bool)
    wide_correct[ex, var] = correct
    wide_score = None
    if not get_task(task).multiclass:
        wide_score = np.full((n_ex, n_var), np.nan)
        wide_score[ex, var] = scores["prob"] if get_task(task).binary else pred
    td = TaskData(
        task=task, source=source, examples=examples, frame=frame, variants=variants, ranges=ranges,
        present=present, pred=wide_pred, score=wide_score, correct=wide_correct, cols=cols,
        imported=frozenset(imported), hard_labels=frozenset(hard),
    )
    if slices:
        td.slices = _slices.compute_all(td)
    return td


def parts_of(td: TaskData) -> list[tuple[str, np.ndarray, pd.DataFrame]]:
    """`td`'s variants as `assemble` parts again: (name, example positions, prediction columns)."""
    columns = ["id", "pred", *SCORE_COLUMNS[td.task]]
    parts = []
    for variant in td.variants:
        rows = td.frame.iloc[td.rows(variant)]
        parts.append((variant, rows["ex"].to_numpy(), rows[columns].reset_index(drop=True)))
    return parts


def reassembled(td: TaskData, name: str, ex: np.ndarray, table: pd.DataFrame, hard: bool) -> TaskData:
    """`td` with one more imported variant, assembled again from every variant's rows (the
    reference `with_variant` is equal to, and its fallback)."""
    return assemble(td.task, td.source, td.examples, [*parts_of(td), (name, ex, table)], set(td.imported) | {name},
                     set(td.hard_labels) | ({name} if hard else set()))


def with_variant(td: TaskData, name: str, ex: np.ndarray, table: pd.DataFrame, hard: bool) -> TaskData:
    """`td` with one more imported variant, `name` (rows `table` at example positions `ex`; `hard`:
    labels without probabilities), appended last: equal to `reassembled`, which builds every
    variant's rows again, but only the new variant's rows are built here. The long frame's text
    columns (pyarrow strings) share `td`'s buffers, and `td.examples` is shared; the number
    columns and wide arrays are new (a column must be contiguous). `td` itself is unchanged."""
    if name in td.variants:
        raise ValueError(f"{td.task} already has a variant {name!r}")
    if hard and get_task(td.task).binary and np.isnan(td.cols["prob"]).any():
        # `assemble` fills a missing P(duplicate) with the label in every variant's rows once any
        # variant has hard labels; none of `td`'s rows needs it unless one lacks a probability
        return reassembled(td, name, ex, table, hard)
    own = assemble(td.task, td.source, td.examples, [(name, ex, table)], {name}, {name} if hard else set(), False)
    variants = [*td.variants, name]
    start = len(td.frame)
    columns = {}
    for column in td.frame.columns:
        if column == "variant":
            codes = np.concatenate([td.frame["variant"].cat.codes.to_numpy(), np.full(len(own.frame), len(td.variants))])
            columns[column] = pd.Categorical.from_codes(codes, categories=variants)
        else:  # pyarrow string arrays concatenate by chunks: no text is copied
            columns[column] = pd.concat([td.frame[column], own.frame[column]], ignore_index=True)
    frame = pd.DataFrame(columns, copy=False)
    cols = {"ex": np.concatenate([td.cols["ex"], own.cols["ex"]]),
            "var": np.concatenate([td.cols["var"], np.full(len(own.frame), len(td.variants), td.cols["var"].dtype)])}
    cols.update({c: frame[c].to_numpy() for c in td.cols if c not in cols})
    wide = {k: np.concatenate([getattr(td, k), getattr(own, k)], axis=1) for k in ("present", "pred", "correct")}
    joined = TaskData(
        task=td.task, source=td.source, examples=td.examples, frame=frame, variants=variants,
        ranges={**td.ranges, name: (start, start + len(own.frame))}, present=wide["present"], pred=wide["pred"],
        score=None if td.score is None else np.concatenate([td.score, own.score], axis=1),
        correct=wide["correct"], cols=cols, imported=td.imported | {name},
        hard_labels=td.hard_labels | ({name} if hard else frozenset()),
    )
    joined.slices = _slices.compute_all(joined, td.slices)
    return joined


def added_bytes(joined: TaskData, base: TaskData) -> int:
    """The memory `with_variant(base, ...)` holds beyond `base`: every number column and wide array
    (new arrays), and the new variant's text (the rest of the text is `base`'s)."""
    total = sum(a.nbytes for a in (joined.present, joined.pred, joined.correct, joined.cols["ex"], joined.cols["var"]))
    total += 0 if joined.score is None else joined.score.nbytes
    for column in joined.frame.columns:
        values = joined.frame[column].array
        shared = isinstance(values, pd.arrays.ArrowStringArray) and column in base.frame.columns
        total += values.nbytes - (base.frame[column].array.nbytes if shared else 0)
    own_slices = [s for name, s in joined.slices.items() if s is not base.slices.get(name)]
    return int(total + sum(s.memory_usage(deep=True) for s in own_slices))
