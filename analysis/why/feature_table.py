"""The why-features table: each task's per-example features, computed once by `python -m analysis
build` and read by every "why" report (shipped, imported and uploaded variants alike: the rows
are keyed by dev example id, the same for all of them).

    why_features/<task>.parquet   id, one yes/no column per text predicate (`features.text_predicates`),
                                  "embedding cluster" (1..k, `clusters`); the provenance holds each
                                  predicate's definition, the clustering, what was left out and
                                  the digest of everything the table depends on
    stored, missing, problem = read_features(td, tables_dir)   # problem: why there is no usable table

The vectors are those the build's prediction step encodes for the frozen variants (one cache,
`EmbeddingMemo.warm`): after a build that predicted, the step adds only the text features and
k-means. A table is kept while its inputs are unchanged (the dev examples, the backbone, the training
split, this code's FEATURES_VERSION); otherwise it is rebuilt. A report that finds no table, or
one built from other examples, computes the text features itself and names the clusters missing,
with the command that builds them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from minibert.tasks import TASK_NAMES
from minibert.tasks import task as get_task

from ..core import Analysis, TaskData
from ..derived import DerivedAnalysis, Log, Reading
from ..tables import TableError, _read_parquet, _write_parquet
from .clusters import CLUSTER_SEED, N_CLUSTERS
from .features import Predicate, _feature, text_predicates

FEATURES_DIR = "why_features"
# Raised whenever a feature's definition changes: a table of an older version is stale.
FEATURES_VERSION = 2
CLUSTER = "embedding cluster"


def table_path(tables_dir: Path, task: str) -> Path:
    return Path(tables_dir) / FEATURES_DIR / f"{task}.parquet"


def examples_digest(examples: pd.DataFrame, pair: bool) -> str:
    """What the features are computed from: the ids and text of the dev examples, in order."""
    columns = ["id", "sentence1", *(["sentence2"] if pair else [])]
    rows = pd.util.hash_pandas_object(examples[columns].astype(str), index=False).to_numpy()
    return hashlib.sha256(rows.tobytes()).hexdigest()


def _train_identity(task: str, data_dir: Path | None) -> str | None:
    """The sha256 of the training split's file (the rare-word feature counts its words); None without it."""
    from minibert.checkpoint_config import file_sha256
    from minibert.data import split_path

    path = split_path(task, "train", data_dir)
    return file_sha256(path) if path.is_file() else None


def write_features(tables_dir: Path, task: str, ids: pd.Series, predicates: list[Predicate], clusters: np.ndarray | None,
                   provenance: dict) -> tuple[Path, int]:
    """Write one task's table; (its path, its size in bytes)."""
    frame = pd.DataFrame({"id": ids.astype(str).to_numpy(), **{p.name: p.mask for p in predicates}})
    if clusters is not None:
        frame[CLUSTER] = clusters.astype(np.int8)
    provenance = {"kind": "why features", "task": task, **provenance,
                  "predicates": [{"feature": p.feature, "value": p.value, "definition": p.definition}
                                 for p in predicates]}
    path = table_path(tables_dir, task)
    _, size = _write_parquet(frame, provenance, path)
    return path, size


def _stored_provenance(tables_dir: Path, task: str) -> dict:
    """The stored table's provenance ({} when there is none that reads)."""
    import pyarrow.parquet as pq

    from ..tables import _provenance

    try:
        return _provenance(pq.read_schema(table_path(tables_dir, task)))
    except (OSError, ValueError):
        return {}


def read_features(td: TaskData, tables_dir: Path | None) -> tuple[list[Predicate] | None, list[str], str]:
    """(the stored predicates on `td`'s example rows, what the build left out; why not, when the
    table is missing, unreadable or built from other examples or by an older version of this code)."""
    from ..schema import DEFAULT_TABLES_DIR

    path = table_path(Path(tables_dir or DEFAULT_TABLES_DIR), td.task)
    build = "run `python -m analysis build` to compute them once for every report"
    if not path.is_file():
        return None, [], f"no why-features table {path}; {build}"
    try:
        frame, provenance = _read_parquet(path)
    except TableError as error:
        return None, [], f"{error}; {build}"
    pair = get_task(td.task).pair
    if provenance.get("version") != FEATURES_VERSION:
        return None, [], f"the why-features table {path} was written by another version of the features; {build}"
    if provenance.get("examples") != examples_digest(td.examples, pair):
        return None, [], f"the why-features table {path} was built from other dev examples; {build}"
    rows = pd.Index(frame["id"].astype(str)).get_indexer(td.examples["id"].astype(str))
    if (rows < 0).any():
        return None, [], f"the why-features table {path} lacks some dev examples; {build}"
    preds = [_feature(meta["feature"], meta["value"], meta["definition"],
                      frame[f"{meta['feature']}: {meta['value']}"].to_numpy(bool)[rows])
             for meta in provenance["predicates"]]
    missing = list(provenance.get("missing", []))
    if CLUSTER in frame:
        labels = frame[CLUSTER].to_numpy()[rows]
        clustering = provenance["clusters"]
        for k in range(1, clustering["k"] + 1):
            preds.append(_feature(CLUSTER, str(k), f"cluster {k} of {clustering['k']} ({clustering['method']}) of "
                                  f"{clustering['vectors']}", labels == k))
    return preds, missing, ""


class WhyFeatures(DerivedAnalysis):
    """The why-features table as a derived analysis. It has no tab of its own: the Why tab and
    `python -m analysis why` read it."""
    name, title, uses_models, tab = "why_features", "Why features", True, False

    def build(self, a: Analysis, variants: Mapping[str, object], tables_dir: Path, log: Log) -> list[str]:
        """Per task: the text predicates and k-means clusters of the frozen backbone's mean-pooled
        vectors, unless the stored table's inputs are unchanged."""
        written: list[str] = []
        memo = None
        for task in [t for t in TASK_NAMES if t in a.tasks]:
            td = a.task(task)
            spec = get_task(task)
            start, cpu = time.perf_counter(), time.process_time()
            inputs = {"version": FEATURES_VERSION, "examples": examples_digest(td.examples, spec.pair),
                      "train": _train_identity(task, a.data_dir)}
            if memo is None:
                memo, source = _encoder(variants, log)
            inputs["backbone"] = None if memo is None else [memo.backbone_sha, memo.tokenizer.max_length]
            digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
            if _stored_provenance(tables_dir, task).get("inputs") == digest:
                continue
            predicates, missing = text_predicates(td, a.data_dir)
            provenance = {"version": FEATURES_VERSION, "examples": inputs["examples"], "inputs": digest,
                          "missing": missing}
            labels = None
            if memo is None:
                missing.append(f"{CLUSTER}: no backbone could be loaded for the vectors")
            else:
                from .clusters import example_vectors, kmeans

                encoding = time.perf_counter()
                vectors = example_vectors(memo, td.examples, task, spec.pair)
                encoded = time.perf_counter() - encoding
                labels, method = kmeans(vectors, N_CLUSTERS, CLUSTER_SEED)
                what = "the mean of the two sentences' unit vectors" if spec.pair else "its unit vector"
                provenance["clusters"] = {"k": N_CLUSTERS, "seed": CLUSTER_SEED, "method": method,
                                          "vectors": f"the frozen backbone's mean-pooled vectors ({what}; {source})"}
            path, size = write_features(tables_dir, task, td.examples["id"], predicates, labels, provenance)
            written.append(str(path))
            timing = f"; the vectors {encoded:.1f} s of it" if labels is not None else ""
            log(f"why features: {task}, {len(td.examples):,} examples, {len(predicates)} predicates"
                f"{f' + {N_CLUSTERS} clusters' if labels is not None else ''} in {time.perf_counter() - start:.1f} s "
                f"wall, {time.process_time() - cpu:.1f} s CPU{timing}; wrote {path} ({size / 1e3:.0f} kB)")
        return written

    def read(self, a: Analysis | None) -> Reading:
        if a is None:
            return Reading(problems=["no analysis tables"])
        data, problems = {}, []
        for task in a.tasks:
            path = table_path(a.tables_dir, task)
            try:
                data[task], _ = _read_parquet(path)
            except TableError as error:
                problems.append(str(error) if path.is_file() else f"no why-features table {path}")
        return Reading(data or None, {}, problems)


def _encoder(variants: Mapping[str, object], log: Log) -> tuple[object | None, str]:
    """The frozen backbone's encoder memo (`clusters.frozen_memo`), or (None, why) when none loads."""
    from .clusters import frozen_memo

    try:
        return frozen_memo(variants)
    except (OSError, RuntimeError, ValueError) as error:
        log(f"why features: no backbone for the clusters ({type(error).__name__}: {error}); they are left out")
        return None, str(error)


ANALYSIS = WhyFeatures()
