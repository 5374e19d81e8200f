"""The files under `analysis/tables/`: prediction tables, the manifest, dev examples, summary.

Layout (all paths relative to the tables folder):

    manifest.json                       what every table was built from (see below)
    predictions/<variant>/<task>.parquet one row per dev example: id, pred, scores
    examples/<task>.parquet             one row per dev example: text, gold, features
    summary.json                        numbers only, for when no data is at hand
    intervals.parquet                   95 % intervals (analysis.uncertainty), from the predictions
    label_errors/<task>.parquet         derived: likely label errors (analysis.label_errors)

A prediction table holds no text and no gold label. Its columns are `id` (string), `pred`
(int8 class for SST / Quora at threshold 0.5, float32 score for STS) and the scores
(`p0`..`p4` float32 for SST, `prob` float32 = P(duplicate) for Quora, none for STS). The
parquet file also carries its own provenance (variant, task, checkpoint name + hash, data
file + sha256 + sha256 of its rows as read) under the schema metadata key `analysis`, so a file copied in from elsewhere
is caught even when the manifest says otherwise.

An examples table (the one piece of the data we ship, so a Space without a data directory can
still show errors) holds `analysis.examples.stored_columns(task)`: `id`, `sentence1`,
`sentence2` (pairs), `gold` float32, and the features `words1`, `words2` (pairs), `words` int16,
`negation` bool, `overlap` float32 (pairs), computed by `analysis.examples.add_features`. Its
provenance (task, split "dev", data as above) is stored under the same metadata key.

manifest.json:

    {"format": 2,
     "tables": {"predictions/<variant>/<task>.parquet": {
         "variant", "task", "checkpoint": {"name", "hash"}, "data": {"file", "sha256", "read_sha256"},
         "rows", "bytes", "built"}},
     "examples": {<task>: {"file": "examples/<task>.parquet", "rows", "bytes",
                           "data": {"file", "sha256", "read_sha256"}, "built"}},
     "intervals": {"file", "rows", "bytes", "built", "method": {"n_resamples", "seed", "level"},
                   "sources": {<prediction table>: digest of its manifest entry}}}

A table imported from a user's prediction files (`python -m analysis import`, `analysis.imported`)
has checkpoint {"name": null, "hash": null} and three more keys: "kind": "imported",
"probabilities" (false when the file had hard labels only: its score columns are NaN) and
"source": {"file", "sha256"}. `analysis.imported.is_imported(entry)` and
`has_probabilities(entry)` are the predicates to ask.

The intervals table is computed from the prediction tables in its `sources`. The build
recomputes it unless those are exactly the tables the manifest lists; the loader uses it unless
one of them has changed (a manifest that lists fewer, as a deploy without the imported variants
writes, or more, as an import writes, still matches: the new tables have no intervals, and a
slice whose buckets depend on the set of variants is checked by its size, see
`analysis.uncertainty.Intervals`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minibert.tasks import task as get_task

from .examples import add_features, from_stored, stored_columns
from .schema import (
    FORMAT_VERSION,
    INTERVALS_NAME,
    MANIFEST_NAME,
    MAX_TABLE_BYTES,
    PREDICTIONS_DIR,
    SCORE_COLUMNS,
    SUMMARY_NAME,
    TASKS,
    check_task,
    examples_relpath,
    table_relpath,
)

META_KEY = b"analysis"


class TableError(ValueError):
    """A table file that cannot be used; the message names the file and the reason."""


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def jsonable(obj: Any) -> Any:
    """`obj` with numpy scalars turned into Python ones and NaN / inf into None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_json(path: Path, obj: Any) -> None:
    text = json.dumps(jsonable(obj), indent=1, sort_keys=True, allow_nan=False)
    _atomic_write_bytes(path, (text + "\n").encode())


# --- manifest -------------------------------------------------------------------------------


def empty_manifest() -> dict:
    return {"format": FORMAT_VERSION, "tables": {}, "examples": {}}


def read_manifest(tables_dir: Path) -> tuple[dict, list[str]]:
    """The manifest, or an empty one plus the reason it could not be read."""
    path = Path(tables_dir) / MANIFEST_NAME
    if not path.is_file():
        where = "tables folder absent" if not Path(tables_dir).is_dir() else "no manifest"
        return empty_manifest(), [
            f"{where}: {path} not found; run `python -m analysis build` to create the prediction tables"
        ]
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
            raise ValueError("expected an object with a 'tables' object")
        if not isinstance(manifest.setdefault("examples", {}), dict):
            raise ValueError("'examples' must be an object")
    except (OSError, ValueError) as error:
        return empty_manifest(), [f"unreadable manifest {path}: {error}; rebuild with `python -m analysis build --force`"]
    if manifest.get("format") != FORMAT_VERSION:
        return empty_manifest(), [
            f"manifest {path} has format {manifest.get('format')!r}, this code reads format {FORMAT_VERSION}; "
            "rebuild with `python -m analysis build --force`"
        ]
    return manifest, []


def write_manifest(tables_dir: Path, manifest: dict) -> None:
    write_json(Path(tables_dir) / MANIFEST_NAME, manifest)


# --- prediction tables ----------------------------------------------------------------------


def table_columns(task: str) -> list[str]:
    return ["id", "pred", *SCORE_COLUMNS[check_task(task)]]


def normalize_table(task: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The stored dtypes: id str, pred int8 (float32 for STS), scores float32."""
    missing = [c for c in table_columns(task) if c not in frame.columns]
    if missing:
        raise TableError(f"{task} table lacks column(s) {', '.join(missing)}")
    out = pd.DataFrame({"id": frame["id"].astype(str).to_numpy()})
    out["pred"] = frame["pred"].to_numpy().astype(np.float32 if get_task(task).regression else np.int8)
    for column in SCORE_COLUMNS[task]:
        out[column] = frame[column].to_numpy().astype(np.float32)
    return out


def write_table(
    tables_dir: Path,
    manifest: dict,
    *,
    variant: str,
    task: str,
    frame: pd.DataFrame,
    checkpoint_name: str | None,
    checkpoint_hash: str | None,
    data: dict,
    extra: dict | None = None,
) -> dict:
    """Write one prediction table and record it in `manifest` (the caller saves the manifest).
    `data` names the dev file it was predicted from: {"file", "sha256"[, "read_sha256"]};
    `extra` is more provenance (an imported table's kind, source file and sha256; see
    `analysis.imported`)."""
    rel = table_relpath(variant, task)
    path = Path(tables_dir) / rel
    provenance = {
        "variant": variant,
        "task": task,
        "checkpoint": {"name": checkpoint_name, "hash": checkpoint_hash},
        "data": dict(data),
        **(extra or {}),
    }
    rows, size = _write_parquet(normalize_table(task, frame), provenance, path)
    entry = {**provenance, "rows": rows, "bytes": size, "built": now()}
    manifest["tables"][rel] = entry
    return entry


def read_table(tables_dir: Path, rel: str) -> tuple[pd.DataFrame, dict]:
    """A prediction table and the provenance stored inside it; TableError names what is wrong."""
    path = Path(tables_dir) / rel
    if not path.is_file():
        raise TableError(f"missing table {path} (listed in {MANIFEST_NAME}); run `python -m analysis build`")
    frame, provenance = _read_parquet(path)
    task = provenance.get("task")
    if task in TASKS:
        _require_columns(path, frame, table_columns(task))
    return frame, provenance


def listed_tables(manifest: dict, task: str | None = None) -> dict[str, dict]:
    return {rel: e for rel, e in manifest["tables"].items() if task is None or e.get("task") == task}


def unlisted_tables(tables_dir: Path, manifest: dict) -> list[Path]:
    """Parquet files under predictions/ that the manifest does not know."""
    root = Path(tables_dir) / PREDICTIONS_DIR
    if not root.is_dir():
        return []
    known = set(manifest["tables"])
    return sorted(p for p in root.glob("*/*.parquet") if p.relative_to(tables_dir).as_posix() not in known)


def remove_table(tables_dir: Path, manifest: dict, rel: str) -> None:
    path = Path(tables_dir) / rel
    if path.exists():
        path.unlink()
    try:
        path.parent.rmdir()  # only when empty
    except OSError:
        pass
    manifest["tables"].pop(rel, None)


# --- dev examples ---------------------------------------------------------------------------


def write_examples(tables_dir: Path, manifest: dict, task: str, frame: pd.DataFrame, data: dict) -> dict:
    """Write `examples/<task>.parquet` from a dev frame (id, sentence1, sentence2, gold) read from
    the data file `data` ({"file", "sha256"}), with its features, and record it in `manifest`."""
    rel = examples_relpath(task)
    stored = add_features(frame, task)[stored_columns(task)]
    rows, size = _write_parquet(stored, {"task": task, "split": "dev", "data": data}, Path(tables_dir) / rel)
    entry = {"file": rel, "rows": rows, "bytes": size, "data": data, "built": now()}
    manifest["examples"][task] = entry
    return entry


def read_examples(tables_dir: Path, task: str) -> tuple[pd.DataFrame, dict]:
    """A task's examples table as `add_features` frames it, and its provenance; TableError if unusable."""
    path = Path(tables_dir) / examples_relpath(task)
    if not path.is_file():
        raise TableError(f"missing examples table {path}; run `python -m analysis build` to write it")
    frame, provenance = _read_parquet(path)
    if (provenance.get("task"), provenance.get("split")) != (task, "dev"):
        raise TableError(
            f"examples table {path} holds {provenance.get('task')!r} {provenance.get('split')!r} examples, "
            f"not {task!r} 'dev'; rebuild with `python -m analysis build --force`"
        )
    _require_columns(path, frame, stored_columns(task))
    return from_stored(frame, task), provenance


# --- parquet with provenance ----------------------------------------------------------------


def _write_parquet(frame: pd.DataFrame, provenance: dict, path: Path) -> tuple[int, int]:
    """Write `frame` with its provenance atomically, enforcing the per-file size budget;
    returns (rows, bytes)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({META_KEY: json.dumps(provenance).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=9)
    size = tmp.stat().st_size
    if size > MAX_TABLE_BYTES:
        tmp.unlink()
        raise TableError(f"{path} would be {size / 2**20:.1f} MB, over the {MAX_TABLE_BYTES // 2**20} MB limit")
    os.replace(tmp, path)
    return table.num_rows, size


def _read_parquet(path: Path) -> tuple[pd.DataFrame, dict]:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as error:
        raise TableError(f"unreadable table {path}: {error}; run `python -m analysis build --force`") from error
    provenance = _provenance(table.schema)
    if not provenance:
        raise TableError(f"table {path} carries no provenance metadata; rebuild it with `python -m analysis build`")
    return table.to_pandas(), provenance


def stale_variants(provenance: dict, checkpoints: dict) -> list[str]:
    """The variants a derived table's provenance ({"variants": {name: checkpoint hash}}) records
    with another hash than `checkpoints` gives now (a variant with no hash there is not stale)."""
    return [v for v, digest in provenance.get("variants", {}).items()
            if checkpoints.get(v) is not None and checkpoints.get(v) != digest]


def drop_stale(frame: pd.DataFrame, provenance: dict, checkpoints: dict | None, what: str,
               ) -> tuple[pd.DataFrame, list[str]]:
    """`frame` without the rows of `stale_variants` (its "variant" column), and the problem line
    naming them ("<what> of a, b come from other checkpoints: left out; ..."); as given without
    `checkpoints`."""
    stale = stale_variants(provenance, checkpoints) if checkpoints is not None else []
    if not stale:
        return frame, []
    return frame[~frame["variant"].isin(stale)], [
        f"{what} of {', '.join(stale)} come from other checkpoints: left out; rebuild with `python -m analysis build`"]


def _provenance(schema: pa.Schema) -> dict:
    try:
        provenance = json.loads((schema.metadata or {}).get(META_KEY) or b"{}")
    except ValueError:
        return {}
    return provenance if isinstance(provenance, dict) else {}


def embedded_provenance(path: Path) -> dict:
    """The provenance stored inside a parquet file, {} when it has none or cannot be read."""
    try:
        return _provenance(pq.read_schema(path))
    except (OSError, pa.ArrowException):
        return {}


def _require_columns(path: Path, frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TableError(f"table {path} lacks column(s) {', '.join(missing)}; rebuild with `python -m analysis build --force`")


# --- intervals ------------------------------------------------------------------------------


def interval_sources(manifest: dict) -> dict[str, str]:
    """What the intervals are computed from: a digest of each prediction table's manifest entry
    (checkpoint, data, rows, ...; not when it was written)."""
    def digest(entry: dict) -> str:
        kept = {k: v for k, v in entry.items() if k != "built"}
        return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]

    return {rel: digest(entry) for rel, entry in sorted(manifest["tables"].items())}


def write_intervals(tables_dir: Path, manifest: dict, frame: pd.DataFrame, method: dict) -> dict:
    """Write `intervals.parquet` (computed from the tables `manifest` lists) and record it."""
    sources = interval_sources(manifest)
    rows, size = _write_parquet(frame, {"kind": "intervals", "method": method, "sources": sources},
                                Path(tables_dir) / INTERVALS_NAME)
    entry = {"file": INTERVALS_NAME, "rows": rows, "bytes": size, "built": now(), "method": method,
             "sources": sources}
    manifest["intervals"] = entry
    return entry


def current_intervals(tables_dir: Path, manifest: dict, method: dict | None = None, exact: bool = True) -> bool:
    """Whether `intervals.parquet` exists and was computed from the prediction tables the
    manifest lists now (`exact`), or else from none of them as they were before a change (a table
    added since, as `python -m analysis import` adds one, simply has no intervals); and, when
    given, with `method`."""
    entry = manifest.get("intervals") or {}
    path = Path(tables_dir) / INTERVALS_NAME
    sources, now_listed = entry.get("sources") or {}, interval_sources(manifest)
    if not path.is_file() or not isinstance(sources, dict):
        return False
    changed = any(rel in sources and sources[rel] != d for rel, d in now_listed.items())
    if sources != now_listed if exact else changed:
        return False
    embedded = embedded_provenance(path)
    same = embedded.get("sources") == sources and embedded.get("method") == entry.get("method")
    return same and (method is None or entry.get("method") == method)


def read_intervals(tables_dir: Path, manifest: dict) -> tuple[pd.DataFrame | None, list[str], list[str]]:
    """(the intervals table or None, problems, notes)."""
    path = Path(tables_dir) / INTERVALS_NAME
    if not path.is_file():
        return None, [], [f"no intervals table at {path}: numbers are shown without intervals; "
                          "run `python -m analysis build`"]
    if not current_intervals(tables_dir, manifest, exact=False):
        return None, [f"{path} was computed from other prediction tables than {MANIFEST_NAME} lists: left out; "
                      "run `python -m analysis build`"], []
    try:
        frame, _ = _read_parquet(path)
    except TableError as error:
        return None, [str(error)], []
    missing = sorted(set(manifest["tables"]) - set(manifest["intervals"]["sources"]))
    notes = [f"no intervals yet for {', '.join(missing)}: run `python -m analysis build`"] if missing else []
    return frame, [], notes


# --- summary --------------------------------------------------------------------------------


def read_summary(tables_dir: Path) -> tuple[dict | None, list[str]]:
    path = Path(tables_dir) / SUMMARY_NAME
    if not path.is_file():
        return None, [f"no summary at {path}; run `python -m analysis build`"]
    try:
        return json.loads(path.read_text()), []
    except (OSError, ValueError) as error:
        return None, [f"unreadable summary {path}: {error}"]
