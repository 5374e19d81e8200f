"""`load()`: read the prediction tables, check them, and join them with the dev examples.

Every check that fails becomes one line in `Analysis.problems` naming the file and what to do,
and only the affected (variant, task) table or task is left out; the rest still loads.

The dev examples of a task (text, gold, features) come from the shipped `examples/<task>.parquet`
or from the data directory, and only ever from a data file with the sha256 the predictions were
built from: a prediction table is never joined with other data, even when the ids would match.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from minibert.checkpoint_config import checkpoint_hashes, default_checkpoints_dir
from minibert.tasks import task as get_task

from . import slices as _slices
from .core import Analysis, TaskData
from .examples import add_features, read_dev_split
from .imported import has_probabilities, is_imported
from .schema import DEFAULT_TABLES_DIR, MANIFEST_NAME, SCORE_COLUMNS, STS_TOLERANCE, TASKS, examples_relpath
from .tables import (
    TableError,
    listed_tables,
    read_examples,
    read_intervals,
    read_manifest,
    read_summary,
    read_table,
    unlisted_tables,
)
from .uncertainty import Intervals

MAX_LISTED_IDS = 3


def _short(digest: str | None) -> str:
    return (digest or "?")[:12]


def current_checkpoint_hashes(checkpoints_dir: str | os.PathLike[str]) -> tuple[dict[str, str], list[str]]:
    """Name -> checkpoint hash of every checkpoint folder, read from config.json (no model loaded)."""
    hashes, problems = checkpoint_hashes(Path(checkpoints_dir))
    return hashes, [f"cannot check tables against checkpoint {p}" for p in problems]


def _examples_for(task: str, tables_dir: Path, data_dir: Path | None, data_present: bool, built_from: dict | None,
                  problems: list[str], notes: list[str]):
    """(examples with features, the data sha256 they come from, source), or None with a problem.

    A source is used only when its data sha256 is one the prediction tables were built from
    (`built_from`). With a matching data file the shipped table is still preferred: its
    features are precomputed."""
    shipped_path = tables_dir / examples_relpath(task)
    try:
        shipped, provenance = read_examples(tables_dir, task)
        shipped_sha, shipped_error = provenance.get("data", {}).get("sha256"), None
    except TableError as error:
        shipped, shipped_sha, shipped_error = None, None, str(error)
    built = ", ".join(sorted(map(_short, built_from)))
    if shipped_error is None and shipped_sha not in built_from:
        shipped_error = (f"{shipped_path} was made from data sha256 {_short(shipped_sha)}, the prediction tables "
                         f"from {built}; rebuild with `python -m analysis build`")

    if not data_present:
        why_not_data = f"data directory {data_dir} not found"
    else:
        try:
            frame, info, bad_rows = read_dev_split(task, data_dir)
        except Exception as error:  # DataFileMissing, BadDataError: both say what and where
            problems.append(f"{task}: {error}")
            why_not_data = f"no usable {task} dev file in {data_dir}"
        else:
            if bad_rows:
                notes.append(f"{task}: {len(bad_rows)} bad row(s) in {info['path']} skipped (first: {bad_rows[0]})")
            data_sha = info["sha256"]
            if data_sha in built_from:
                if data_sha == shipped_sha:
                    return shipped, data_sha, f"examples table: {shipped_path} (same data as {info['path']})"
                why_not_shipped = shipped_error or f"{shipped_path} was made from data sha256 {_short(shipped_sha)}"
                problems.append(f"{task}: {why_not_shipped}; text, gold and features from {info['path']} instead")
                return add_features(frame, task), data_sha, f"data directory: {info['path']}"
            problems.append(
                f"{task}: data file {info['path']} (sha256 {_short(data_sha)}) is not the one the prediction "
                f"tables were built from (sha256 {built}), so it is not used; rebuild with `python -m analysis build`"
            )
            why_not_data = f"{info['path']} is not the predictions' data"
    if shipped_error:
        hint = "" if data_present else "; or set MINIBERT_DATA / pass data_dir"
        problems.append(f"{task}: no dev examples: {why_not_data}, and {shipped_error}{hint}; {task} left out")
        return None
    notes.append(f"{task}: {why_not_data}; text, gold and features from {shipped_path}")
    return shipped, shipped_sha, f"examples table: {shipped_path}"


def _match_ids(task: str, rel_path: str, table: pd.DataFrame, id_index: pd.Index, problems: list[str], notes: list[str]):
    """Example positions of a table's rows; rows whose id is unknown or repeated are dropped."""
    ids = table["id"].astype(str)
    ex = id_index.get_indexer(ids)
    keep = ex >= 0
    unknown = int((~keep).sum())
    if unknown:
        sample = ", ".join(ids[~keep].head(MAX_LISTED_IDS))
        problems.append(
            f"{task}: {unknown} of {len(ids)} ids in {rel_path} are not in the dev data (e.g. {sample}); "
            "those rows are left out; rebuild with `python -m analysis build`"
        )
    dup = keep & pd.Series(ex).duplicated().to_numpy()
    if dup.any():
        problems.append(f"{task}: {rel_path} repeats {int(dup.sum())} id(s); only the first row of each is used")
        keep &= ~dup
    covered = int(keep.sum())
    if 0 < covered < len(id_index):
        notes.append(f"{task}: {rel_path} covers {covered} of {len(id_index)} dev examples")
    return ex, keep


def _assemble(task: str, source: str, examples: pd.DataFrame, parts: list[tuple[str, np.ndarray, pd.DataFrame]],
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


def _parts(td: TaskData) -> list[tuple[str, np.ndarray, pd.DataFrame]]:
    """`td`'s variants as `_assemble` parts again: (name, example positions, prediction columns)."""
    columns = ["id", "pred", *SCORE_COLUMNS[td.task]]
    parts = []
    for variant in td.variants:
        rows = td.frame.iloc[td.rows(variant)]
        parts.append((variant, rows["ex"].to_numpy(), rows[columns].reset_index(drop=True)))
    return parts


def reassembled(td: TaskData, name: str, ex: np.ndarray, table: pd.DataFrame, hard: bool) -> TaskData:
    """`td` with one more imported variant, assembled again from every variant's rows (the
    reference `with_variant` is equal to, and its fallback)."""
    return _assemble(td.task, td.source, td.examples, [*_parts(td), (name, ex, table)], set(td.imported) | {name},
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
        # `_assemble` fills a missing P(duplicate) with the label in every variant's rows once any
        # variant has hard labels; none of `td`'s rows needs it unless one lacks a probability
        return reassembled(td, name, ex, table, hard)
    own = _assemble(td.task, td.source, td.examples, [(name, ex, table)], {name}, {name} if hard else set(), False)
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


def load(
    tables_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    checkpoints: str | os.PathLike[str] | Mapping[str, str] | bool | None = None,
    *,
    include_stale: bool = False,
) -> Analysis:
    """Load every prediction table and join it with the dev examples. Never raises for bad input:
    see `Analysis.problems`. `checkpoints`: None = $MINIBERT_CHECKPOINTS or ./checkpoints if it
    exists, a folder, a {variant: checkpoint_hash} mapping (e.g. from loaded Variants), or False
    to skip the staleness check. Stale tables are left out unless `include_stale`."""
    tables_dir = Path(tables_dir) if tables_dir else DEFAULT_TABLES_DIR
    problems: list[str] = []
    notes: list[str] = []
    manifest, found = read_manifest(tables_dir)
    problems += found

    from minibert.data import resolve_data_dir

    data_path = resolve_data_dir(data_dir).resolve()
    data_present = data_path.is_dir()

    current: dict[str, str] | None = None
    checkpoints_label = "the given checkpoint hashes"
    if isinstance(checkpoints, Mapping):
        current = dict(checkpoints)
    elif checkpoints is not False:
        folder = Path(checkpoints) if checkpoints not in (None, True) else default_checkpoints_dir()
        checkpoints_label = str(folder)
        if folder.is_dir():
            current, found = current_checkpoint_hashes(folder)
            problems += found
        elif checkpoints not in (None, True):
            problems.append(f"checkpoints folder {folder} not found: tables not checked for staleness")
        else:
            notes.append(f"no checkpoints folder at {folder}: tables not checked for staleness")

    for path in unlisted_tables(tables_dir, manifest):
        problems.append(f"ignored table {path}: not listed in {tables_dir / MANIFEST_NAME}")

    tasks: dict[str, TaskData] = {}
    sources: dict[str, str] = {}
    stale: dict[str, str] = {}
    for task in TASKS:
        entries = listed_tables(manifest, task)
        if not entries:
            if manifest["tables"]:
                problems.append(f"{task}: no prediction tables in {tables_dir / MANIFEST_NAME}")
            continue
        built_from = {e.get("data", {}).get("sha256") for e in entries.values()} - {None}
        found_examples = _examples_for(task, tables_dir, data_path, data_present, built_from, problems, notes)
        if found_examples is None:
            continue
        examples, examples_sha, sources[task] = found_examples
        id_index = pd.Index(examples["id"].astype(str))
        parts, imported, hard = [], set(), set()
        for rel, entry in sorted(entries.items(), key=lambda kv: kv[1].get("variant", "")):
            where = tables_dir / rel
            variant = entry.get("variant")
            try:
                table, provenance = read_table(tables_dir, rel)
            except TableError as error:
                problems.append(f"{task}: {error}")
                continue
            want = entry.get("checkpoint", {})
            have = provenance.get("checkpoint", {})
            if (provenance.get("variant"), provenance.get("task")) != (variant, task) or have != want or (
                provenance.get("data") != entry.get("data")
            ):
                problems.append(
                    f"{task}: {where} holds predictions of {provenance.get('variant')!r} checkpoint "
                    f"{have.get('name')!r} (hash {_short(have.get('hash'))}) on {provenance.get('data', {}).get('file')!r}, "
                    f"but {MANIFEST_NAME} records {variant!r} checkpoint {want.get('name')!r} "
                    f"(hash {_short(want.get('hash'))}): left out; rebuild with `python -m analysis build`"
                )
                continue
            table_sha = entry.get("data", {}).get("sha256")
            if table_sha != examples_sha:
                problems.append(
                    f"{task}: {where} was built from data sha256 {_short(table_sha)}, "
                    f"the dev examples in use ({sources[task]}) are sha256 {_short(examples_sha)}: left out; "
                    "rebuild with `python -m analysis build`"
                )
                continue
            if current is not None and not is_imported(entry):  # an import has no checkpoint to go stale
                if variant not in current:
                    problems.append(
                        f"{task}: {where}: no checkpoint {variant!r} in {checkpoints_label}; "
                        "shown, but it cannot be checked for staleness"
                    )
                elif current[variant] != want.get("hash"):
                    reason = (
                        f"{task}: stale table {where}: built from checkpoint {variant!r} hash "
                        f"{_short(want.get('hash'))}, but {checkpoints_label} now has hash {_short(current[variant])}; "
                        f"{'shown anyway' if include_stale else 'left out'}; rebuild with `python -m analysis build`"
                    )
                    problems.append(reason)
                    stale[rel] = reason
                    if not include_stale:
                        continue
            ex, keep = _match_ids(task, where, table, id_index, problems, notes)
            if not keep.any():
                problems.append(f"{task}: {where} shares no ids with the dev data: left out")
                continue
            parts.append((variant, ex[keep], table[keep].reset_index(drop=True)))
            if is_imported(entry):
                imported.add(variant)
            if not has_probabilities(entry):
                hard.add(variant)
        if not parts:
            problems.append(f"{task}: no usable prediction tables")
            continue
        tasks[task] = _assemble(task, sources[task], examples, parts, imported, hard)

    summary, found = read_summary(tables_dir)
    if manifest["tables"]:
        problems += found
    intervals = None
    if manifest["tables"]:
        table, found, said = read_intervals(tables_dir, manifest)
        problems += found
        notes += said
        intervals = Intervals(table) if table is not None else None
    return Analysis(
        tables_dir=tables_dir,
        data_dir=data_path if data_present else None,
        tasks=tasks,
        problems=problems,
        notes=notes,
        sources=sources,
        stale=stale,
        manifest=manifest,
        summary=summary,
        intervals=intervals,
    )


__all__ = ["load", "current_checkpoint_hashes"]
