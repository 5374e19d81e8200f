"""`python -m analysis build`: run every variant over the three dev sets and write the tables.

Unless `force`, only the (variant, task) prediction tables whose checkpoint hash or dev data
(the file's hash, or the hash of its rows as the reader gives them) changed, and the per-task
examples tables whose dev data changed, are rebuilt, and any whose file is missing or does not
match the manifest. Tables of variants that are gone from the checkpoints folder are removed (a
variant that failed to load keeps its tables).
The manifest is saved after every table, so an interrupted build keeps what it finished.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from minibert.checkpoint_config import default_checkpoints_dir
from minibert.data import read_split, resolve_data_dir
from minibert.predictor import Predictor, ensemble_mean, members_for
from minibert.tasks import task as get_task

from .core import Analysis
from .dev_metrics import summarize
from .examples import data_identity, read_dev_split
from .imported import imported_variants
from .load import load
from .registry import build_derived
from .schema import (
    DEFAULT_TABLES_DIR,
    INTERVALS_NAME,
    MANIFEST_NAME,
    QUORA_THRESHOLD,
    SCORE_COLUMNS,
    SUMMARY_NAME,
    TASKS,
    examples_relpath,
    table_relpath,
)
from .tables import (
    current_intervals,
    embedded_provenance,
    empty_manifest,
    read_manifest,
    remove_table,
    write_examples,
    write_intervals,
    write_json,
    write_manifest,
    write_table,
)
from .uncertainty import METHOD, interval_table

CHUNK = 1024  # examples per call to a variant (the unit of the progress bar)


class BuildError(RuntimeError):
    """The build cannot start (no data, no checkpoints); the message says what and where."""


@dataclass
class BuildReport:
    tables_dir: Path
    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    examples_written: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)


def _up_to_date(path: Path, entry: dict | None, **expected) -> bool:
    """`path` exists, and both its manifest entry and the provenance inside it hold `expected`."""
    if not entry or not path.is_file():
        return False
    embedded = embedded_provenance(path)
    return all(entry.get(key) == value and embedded.get(key) == value for key, value in expected.items())


def predict_table(variant: Predictor, task: str, frame: pd.DataFrame,
                  advance: Callable[[int], None] = lambda n: None) -> pd.DataFrame:
    """Run one variant over a dev frame (id, sentence1, sentence2) -> table (id, pred, scores)."""
    spec = get_task(task)
    s1 = frame["sentence1"].tolist()
    inputs = list(zip(s1, frame["sentence2"].tolist())) if spec.pair else s1
    outputs = []
    for start in range(0, len(inputs), CHUNK):
        outputs.append(np.asarray(variant.score(task, inputs[start : start + CHUNK]), dtype=np.float32))
        advance(len(outputs[-1]))
    scores = np.concatenate(outputs) if outputs else np.zeros((0, len(spec.classes)) if spec.multiclass else 0, np.float32)
    return table_from_scores(variant.name, task, frame, scores)


def table_from_scores(name: str, task: str, frame: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    expected = (len(frame), 5) if get_task(task).multiclass else (len(frame),)
    if scores.shape != expected:
        raise BuildError(f"variant {name!r} returned shape {scores.shape} for {task}, expected {expected}")
    table = pd.DataFrame({"id": frame["id"].astype(str).to_numpy()})
    if get_task(task).multiclass:
        table["pred"] = scores.argmax(axis=1).astype(np.int8)
        for k in range(5):
            table[f"p{k}"] = scores[:, k]
    elif get_task(task).binary:
        table["pred"] = (scores >= QUORA_THRESHOLD).astype(np.int8)
        table["prob"] = scores
    else:
        table["pred"] = scores
    return table


def compose_ensemble_table(ensemble: Predictor, task: str, frame: pd.DataFrame, tables_dir: Path, manifest: dict,
                           data: dict) -> pd.DataFrame | None:
    """An ensemble's table as the mean of its members' current tables for this task
    (`ensemble_mean`, the rule `Ensemble` applies to their outputs), without running a model; None
    when a member's table is not current (then the caller runs the ensemble)."""
    columns = SCORE_COLUMNS[task] or ("pred",)  # the STS score is its prediction
    hashes = {m.name: m.checkpoint_hash for m in ensemble.members}
    outputs = []
    for member in members_for(ensemble, task):
        rel = table_relpath(member, task)
        current = {"name": member, "hash": hashes[member]}
        if not _up_to_date(tables_dir / rel, manifest["tables"].get(rel), checkpoint=current, data=data):
            return None
        table = pd.read_parquet(tables_dir / rel).set_index("id")
        try:
            values = table.loc[frame["id"].astype(str), columns].to_numpy(np.float32)
        except KeyError:
            return None
        outputs.append(values if get_task(task).multiclass else values[:, 0])
    return table_from_scores(ensemble.name, task, frame, ensemble_mean(outputs))


def _read_dev_data(data_path: Path, log: Callable[[str], None]) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """({task: dev frame}, {task: data identity}): what everything else is built from."""
    frames, data = {}, {}
    for task in TASKS:
        try:
            frames[task], info, bad_rows = read_dev_split(task, data_path)
        except Exception as error:  # DataFileMissing / BadDataError name the file
            raise BuildError(f"cannot build the analysis tables: {error}") from error
        data[task] = data_identity(info)
        if bad_rows:
            log(f"{task}: {len(bad_rows)} bad row(s) in {info['path']} skipped (first: {bad_rows[0]})")
    return frames, data


def _start_manifest(tables_dir: Path, force: bool, log: Callable[[str], None]) -> dict:
    """The manifest to update: the stored one (a new one when it is unreadable); with `force`, a
    fresh one that keeps only the prediction tables' entries, so that the tables of variants that
    are gone are still found and removed."""
    manifest, found = read_manifest(tables_dir)
    if found and (tables_dir / MANIFEST_NAME).exists():
        log(f"starting a new manifest: {found[0]}")
    if force:
        manifest = {**empty_manifest(), "tables": manifest["tables"]}
    return manifest


def _write_examples_tables(tables_dir: Path, manifest: dict, frames: dict[str, pd.DataFrame], data: dict[str, dict],
                           report: BuildReport, log: Callable[[str], None]) -> None:
    for task in TASKS:
        rel = examples_relpath(task)
        if not _up_to_date(tables_dir / rel, manifest["examples"].get(task), data=data[task]):
            entry = write_examples(tables_dir, manifest, task, frames[task], data[task])
            write_manifest(tables_dir, manifest)
            report.examples_written.append(rel)
            log(f"wrote {tables_dir / rel} ({entry['rows']} examples, {entry['bytes'] / 1e6:.2f} MB)")


def _load_variants(checkpoints: Path, device: str | None, report: BuildReport,
                   log: Callable[[str], None]) -> tuple[dict[str, Predictor], list]:
    """The variants to run, and those that failed to load (their old tables are kept)."""
    from minibert.predict import load_variants  # torch: analysis imports without it

    if not checkpoints.is_dir():
        raise BuildError(f"checkpoints folder not found: {checkpoints} (pass --checkpoints DIR or set MINIBERT_CHECKPOINTS)")
    variants, failures = load_variants(checkpoints, device)
    for failure in failures:
        report.failures.append(f"{failure.name} ({failure.path}): {failure.reason}")
        log(f"cannot load variant {failure.name} from {failure.path}: {failure.reason}; its old tables are kept")
    if not variants:
        raise BuildError(f"no loadable checkpoints in {checkpoints}" + (f" ({len(failures)} failed)" if failures else ""))
    return variants, failures


def _plan_predictions(variants: dict[str, Predictor], tables_dir: Path, manifest: dict, data: dict[str, dict],
                      force: bool, report: BuildReport) -> list[tuple[str, Predictor, str, str]]:
    """(name, variant, task, table path) of every prediction table to (re)write."""
    jobs = []
    # Models first: an ensemble's table is then composed from its members' fresh tables.
    for name, variant in sorted(variants.items(), key=lambda item: bool(item[1].members)):
        for task in TASKS:
            rel = table_relpath(name, task)
            entry = manifest["tables"].get(rel)
            checkpoint = {"name": name, "hash": variant.checkpoint_hash}
            if not force and _up_to_date(tables_dir / rel, entry, checkpoint=checkpoint, data=data[task]):
                report.skipped.append(rel)
            else:
                jobs.append((name, variant, task, rel))
    return jobs


def _write_predictions(jobs: list[tuple[str, Predictor, str, str]], variants: dict[str, Predictor], data_path: Path,
                       tables_dir: Path, manifest: dict, frames: dict[str, pd.DataFrame], data: dict[str, dict],
                       report: BuildReport, progress: bool) -> None:
    if jobs:
        # Frozen-encoder variants share sentence features: reuse the training run's disk cache.
        # (Only when something is predicted: encoding Quora dev takes minutes on a CPU.)
        from minibert.predict import warm_frozen_features  # torch: analysis imports without it

        warm_frozen_features(variants, [read_split(task, "dev", data_path) for task in TASKS])

    total = sum(len(frames[task]) for _, _, task, _ in jobs)
    with tqdm(total=total, unit="ex", desc="predicting", disable=not progress or not jobs) as bar:
        for name, variant, task, rel in jobs:
            bar.set_postfix_str(f"{name}/{task}")
            table = None
            if variant.members:
                table = compose_ensemble_table(variant, task, frames[task], tables_dir, manifest, data[task])
            if table is None:
                table = predict_table(variant, task, frames[task], bar.update)
            else:
                bar.update(len(table))
            write_table(
                tables_dir, manifest, variant=name, task=task, frame=table, checkpoint_name=name,
                checkpoint_hash=variant.checkpoint_hash, data=data[task],
            )
            write_manifest(tables_dir, manifest)
            report.built.append(rel)


def _remove_gone_variants(tables_dir: Path, manifest: dict, keep: set[str], checkpoints: Path, report: BuildReport,
                          log: Callable[[str], None]) -> None:
    """Drop the tables of variants that are not in `keep`."""
    for rel, entry in list(manifest["tables"].items()):
        if entry.get("variant") not in keep:
            remove_table(tables_dir, manifest, rel)
            report.removed.append(rel)
            log(f"removed {tables_dir / rel}: no checkpoint {entry.get('variant')!r} in {checkpoints} any more")
    write_manifest(tables_dir, manifest)


def _write_summary(variants: dict[str, Predictor], data_path: Path, tables_dir: Path, manifest: dict,
                   report: BuildReport, log: Callable[[str], None]) -> Analysis:
    """The intervals (when their tables changed) and the numbers-only summary, computed from the
    tables just written; returns the analysis they were computed from."""
    hashes = {name: v.checkpoint_hash for name, v in variants.items()}
    analysis = load(tables_dir, data_path, checkpoints=hashes)
    if not current_intervals(tables_dir, manifest, METHOD):
        log("computing the 95 % intervals (bootstrap over the dev examples)")
        entry = write_intervals(tables_dir, manifest, interval_table(analysis), METHOD)
        write_manifest(tables_dir, manifest)
        log(f"wrote {tables_dir / INTERVALS_NAME} ({entry['rows']} intervals, {entry['bytes'] / 1e6:.2f} MB)")
        analysis = load(tables_dir, data_path, checkpoints=hashes)
    report.problems = [p for p in analysis.problems if "summary" not in p]
    training = {name: dict(v.config.get("training") or {}) for name, v in variants.items()}
    analysis.summary = summarize(analysis, training)
    write_json(tables_dir / SUMMARY_NAME, analysis.summary)
    return analysis


def build(
    checkpoints_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    tables_dir: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    device: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> BuildReport:
    tables_dir = Path(tables_dir) if tables_dir else DEFAULT_TABLES_DIR
    checkpoints = Path(checkpoints_dir) if checkpoints_dir else default_checkpoints_dir()
    data_path = resolve_data_dir(data_dir)
    report = BuildReport(tables_dir)

    frames, data = _read_dev_data(data_path, log)
    manifest = _start_manifest(tables_dir, force, log)
    _write_examples_tables(tables_dir, manifest, frames, data, report, log)
    variants, failures = _load_variants(checkpoints, device, report, log)
    jobs = _plan_predictions(variants, tables_dir, manifest, data, force, report)
    _write_predictions(jobs, variants, data_path, tables_dir, manifest, frames, data, report, progress)
    keep = set(variants) | {f.name for f in failures} | imported_variants(manifest)  # an import has no checkpoint
    _remove_gone_variants(tables_dir, manifest, keep, checkpoints, report, log)
    analysis = _write_summary(variants, data_path, tables_dir, manifest, report, log)
    report.derived = build_derived(analysis, variants, tables_dir, log)
    log(
        f"built {len(report.built)} table(s), {len(report.skipped)} up to date, {len(report.removed)} removed; "
        f"summary at {tables_dir / SUMMARY_NAME}"
    )
    for problem in report.problems:
        log(f"problem: {problem}")
    return report
