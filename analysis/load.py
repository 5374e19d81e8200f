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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from minibert.checkpoint_config import checkpoint_hashes, default_checkpoints_dir
from minibert.data import resolve_data_dir

from .assemble import assemble
from .core import Analysis, TaskData
from .examples import add_features, read_dev_split
from .imported import has_probabilities, is_imported
from .schema import DEFAULT_TABLES_DIR, MANIFEST_NAME, TASKS, examples_relpath
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


@dataclass
class _Reading:
    """What one `load` call collects as it goes, and what every per-table check needs."""

    tables_dir: Path
    include_stale: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)
    current: dict[str, str] | None = None     # checkpoint hashes to check staleness against
    checkpoints_label: str = "the given checkpoint hashes"


def _read_checkpoint_hashes(r: _Reading, checkpoints: str | os.PathLike[str] | Mapping[str, str] | bool | None) -> None:
    """`r.current`: the checkpoint hashes a table must match (None: no staleness check)."""
    if isinstance(checkpoints, Mapping):
        r.current = dict(checkpoints)
    elif checkpoints is not False:
        folder = Path(checkpoints) if checkpoints not in (None, True) else default_checkpoints_dir()
        r.checkpoints_label = str(folder)
        if folder.is_dir():
            r.current, found = current_checkpoint_hashes(folder)
            r.problems += found
        elif checkpoints not in (None, True):
            r.problems.append(f"checkpoints folder {folder} not found: tables not checked for staleness")
        else:
            r.notes.append(f"no checkpoints folder at {folder}: tables not checked for staleness")


def _provenance_problem(task: str, where: Path, entry: Mapping, provenance: Mapping) -> str | None:
    """Why a table's own provenance disagrees with its manifest entry (None when it agrees)."""
    variant = entry.get("variant")
    want = entry.get("checkpoint", {})
    have = provenance.get("checkpoint", {})
    if (provenance.get("variant"), provenance.get("task")) == (variant, task) and have == want and (
        provenance.get("data") == entry.get("data")
    ):
        return None
    return (
        f"{task}: {where} holds predictions of {provenance.get('variant')!r} checkpoint "
        f"{have.get('name')!r} (hash {_short(have.get('hash'))}) on {provenance.get('data', {}).get('file')!r}, "
        f"but {MANIFEST_NAME} records {variant!r} checkpoint {want.get('name')!r} "
        f"(hash {_short(want.get('hash'))}): left out; rebuild with `python -m analysis build`"
    )


def _data_problem(task: str, where: Path, entry: Mapping, examples_sha: str, source: str) -> str | None:
    """Why a table cannot be joined with the dev examples in use (None when it can)."""
    table_sha = entry.get("data", {}).get("sha256")
    if table_sha == examples_sha:
        return None
    return (
        f"{task}: {where} was built from data sha256 {_short(table_sha)}, "
        f"the dev examples in use ({source}) are sha256 {_short(examples_sha)}: left out; "
        "rebuild with `python -m analysis build`"
    )


def _fresh_enough(r: _Reading, task: str, rel: str, entry: Mapping) -> bool:
    """Whether a table may be shown as far as its checkpoint goes; a stale one is reported (and
    kept in `r.stale`), and shown only with `include_stale`."""
    if r.current is None or is_imported(entry):  # an import has no checkpoint to go stale
        return True
    where, variant, want = r.tables_dir / rel, entry.get("variant"), entry.get("checkpoint", {})
    if variant not in r.current:
        r.problems.append(
            f"{task}: {where}: no checkpoint {variant!r} in {r.checkpoints_label}; "
            "shown, but it cannot be checked for staleness"
        )
    elif r.current[variant] != want.get("hash"):
        reason = (
            f"{task}: stale table {where}: built from checkpoint {variant!r} hash "
            f"{_short(want.get('hash'))}, but {r.checkpoints_label} now has hash {_short(r.current[variant])}; "
            f"{'shown anyway' if r.include_stale else 'left out'}; rebuild with `python -m analysis build`"
        )
        r.problems.append(reason)
        r.stale[rel] = reason
        return r.include_stale
    return True


def _read_part(r: _Reading, task: str, rel: str, entry: Mapping, id_index: pd.Index, examples_sha: str,
               source: str) -> tuple[str, np.ndarray, pd.DataFrame] | None:
    """One prediction table as an `assemble` part (variant, example positions, rows), or None
    with a problem line when it cannot be used."""
    where = r.tables_dir / rel
    try:
        table, provenance = read_table(r.tables_dir, rel)
    except TableError as error:
        r.problems.append(f"{task}: {error}")
        return None
    problem = _provenance_problem(task, where, entry, provenance) or _data_problem(task, where, entry, examples_sha,
                                                                                 source)
    if problem:
        r.problems.append(problem)
        return None
    if not _fresh_enough(r, task, rel, entry):
        return None
    ex, keep = _match_ids(task, where, table, id_index, r.problems, r.notes)
    if not keep.any():
        r.problems.append(f"{task}: {where} shares no ids with the dev data: left out")
        return None
    return entry.get("variant"), ex[keep], table[keep].reset_index(drop=True)


def _load_task(r: _Reading, task: str, manifest: dict, data_path: Path, data_present: bool,
               sources: dict[str, str]) -> TaskData | None:
    """One task's examples joined with its usable prediction tables (None: the task is left out)."""
    entries = listed_tables(manifest, task)
    if not entries:
        if manifest["tables"]:
            r.problems.append(f"{task}: no prediction tables in {r.tables_dir / MANIFEST_NAME}")
        return None
    built_from = {e.get("data", {}).get("sha256") for e in entries.values()} - {None}
    found_examples = _examples_for(task, r.tables_dir, data_path, data_present, built_from, r.problems, r.notes)
    if found_examples is None:
        return None
    examples, examples_sha, sources[task] = found_examples
    id_index = pd.Index(examples["id"].astype(str))
    parts, imported, hard = [], set(), set()
    for rel, entry in sorted(entries.items(), key=lambda kv: kv[1].get("variant", "")):
        part = _read_part(r, task, rel, entry, id_index, examples_sha, sources[task])
        if part is None:
            continue
        parts.append(part)
        if is_imported(entry):
            imported.add(part[0])
        if not has_probabilities(entry):
            hard.add(part[0])
    if not parts:
        r.problems.append(f"{task}: no usable prediction tables")
        return None
    return assemble(task, sources[task], examples, parts, imported, hard)


def _read_summary_and_intervals(r: _Reading, manifest: dict) -> tuple[dict | None, Intervals | None]:
    summary, found = read_summary(r.tables_dir)
    if not manifest["tables"]:  # an empty folder: nothing is missing yet
        return summary, None
    r.problems += found
    table, found, said = read_intervals(r.tables_dir, manifest)
    r.problems += found
    r.notes += said
    return summary, Intervals(table) if table is not None else None


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
    r = _Reading(Path(tables_dir) if tables_dir else DEFAULT_TABLES_DIR, include_stale)
    manifest, found = read_manifest(r.tables_dir)
    r.problems += found
    data_path = resolve_data_dir(data_dir).resolve()
    data_present = data_path.is_dir()
    _read_checkpoint_hashes(r, checkpoints)
    for path in unlisted_tables(r.tables_dir, manifest):
        r.problems.append(f"ignored table {path}: not listed in {r.tables_dir / MANIFEST_NAME}")

    tasks: dict[str, TaskData] = {}
    sources: dict[str, str] = {}
    for task in TASKS:
        td = _load_task(r, task, manifest, data_path, data_present, sources)
        if td is not None:
            tasks[task] = td
    summary, intervals = _read_summary_and_intervals(r, manifest)
    return Analysis(
        tables_dir=r.tables_dir,
        data_dir=data_path if data_present else None,
        tasks=tasks,
        problems=r.problems,
        notes=r.notes,
        sources=sources,
        stale=r.stale,
        manifest=manifest,
        summary=summary,
        intervals=intervals,
    )


__all__ = ["load", "current_checkpoint_hashes"]
