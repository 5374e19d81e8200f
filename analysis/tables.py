"""The files under `analysis/tables/`: prediction tables, the manifest, dev examples, summary.

Layout (all paths relative to the tables folder):

    manifest.json                       what every table was built from (see below)
    predictions/<variant>/<task>.parquet one row per dev example: id, pred, scores
    dev_examples.parquet                task, id, sentence1, sentence2 ("" for SST), gold
    summary.json                        numbers only, for when no data is at hand

A prediction table holds no text and no gold label. Its columns are `id` (string), `pred`
(int8 class for SST / Quora at threshold 0.5, float32 score for STS) and the scores
(`p0`..`p4` float32 for SST, `prob` float32 = P(duplicate) for Quora, none for STS). The
parquet file also carries its own provenance (variant, task, checkpoint name + hash, data
file + sha256) under the schema metadata key `analysis`, so a file copied in from elsewhere
is caught even when the manifest says otherwise.

manifest.json:

    {"format": 1,
     "tables": {"predictions/<variant>/<task>.parquet": {
         "variant", "task", "checkpoint": {"name", "hash"}, "data": {"file", "sha256"},
         "rows", "bytes", "built"}},
     "dev_examples": {"file", "bytes", "rows", "data": {<task>: {"file", "sha256"}}}}
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

from .schema import (
    DEV_EXAMPLES_NAME,
    FORMAT_VERSION,
    MANIFEST_NAME,
    MAX_TABLE_BYTES,
    PREDICTIONS_DIR,
    SCORE_COLUMNS,
    SUMMARY_NAME,
    TASKS,
    check_task,
    table_relpath,
)

META_KEY = b"analysis"


class TableError(ValueError):
    """A table file that cannot be used; the message names the file and the reason."""


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    return {"format": FORMAT_VERSION, "tables": {}, "dev_examples": None}


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
    except (OSError, ValueError) as error:
        return empty_manifest(), [f"unreadable manifest {path}: {error}; rebuild with `python -m analysis build --force`"]
    if manifest.get("format") != FORMAT_VERSION:
        return empty_manifest(), [
            f"manifest {path} has format {manifest.get('format')!r}, this code reads format {FORMAT_VERSION}; "
            "rebuild with `python -m analysis build --force`"
        ]
    manifest.setdefault("dev_examples", None)
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
    out["pred"] = frame["pred"].to_numpy().astype(np.float32 if task == "sts" else np.int8)
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
    checkpoint_name: str,
    checkpoint_hash: str,
    data_file: str,
    data_sha256: str,
) -> dict:
    """Write one prediction table and record it in `manifest` (the caller saves the manifest)."""
    rel = table_relpath(variant, task)
    path = Path(tables_dir) / rel
    provenance = {
        "variant": variant,
        "task": task,
        "checkpoint": {"name": checkpoint_name, "hash": checkpoint_hash},
        "data": {"file": data_file, "sha256": data_sha256},
    }
    table = pa.Table.from_pandas(normalize_table(task, frame), preserve_index=False)
    table = table.replace_schema_metadata({META_KEY: json.dumps(provenance).encode()})
    size = _write_parquet(table, path)
    entry = {**provenance, "rows": table.num_rows, "bytes": size, "built": now()}
    manifest["tables"][rel] = entry
    return entry


def read_table(tables_dir: Path, rel: str) -> tuple[pd.DataFrame, dict]:
    """A prediction table and the provenance stored inside it; TableError names what is wrong."""
    path = Path(tables_dir) / rel
    if not path.is_file():
        raise TableError(f"missing table {path} (listed in {MANIFEST_NAME}); run `python -m analysis build`")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as error:
        raise TableError(f"unreadable table {path}: {error}; run `python -m analysis build --force`") from error
    raw = (table.schema.metadata or {}).get(META_KEY)
    try:
        provenance = json.loads(raw) if raw else {}
    except ValueError:
        provenance = {}
    if not provenance:
        raise TableError(f"table {path} carries no provenance metadata; rebuild it with `python -m analysis build`")
    frame = table.to_pandas()
    task = provenance.get("task")
    if task in TASKS:
        missing = [c for c in table_columns(task) if c not in frame.columns]
        if missing:
            raise TableError(f"table {path} lacks column(s) {', '.join(missing)}")
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

DEV_COLUMNS = ["task", "id", "sentence1", "sentence2", "gold"]


def write_dev_examples(tables_dir: Path, manifest: dict, frames: dict[str, pd.DataFrame], data: dict[str, dict]) -> dict:
    """Write dev_examples.parquet from per-task frames (id, sentence1, sentence2, gold)."""
    parts = []
    for task in TASKS:
        if task not in frames:
            continue
        f = frames[task]
        parts.append(
            pd.DataFrame(
                {
                    "task": task,
                    "id": f["id"].astype(str).to_numpy(),
                    "sentence1": f["sentence1"].astype(str).to_numpy(),
                    "sentence2": f["sentence2"].astype(str).to_numpy() if "sentence2" in f else "",
                    "gold": f["gold"].to_numpy().astype(np.float32),
                }
            )
        )
    combined = pd.concat(parts, ignore_index=True)
    table = pa.Table.from_pandas(combined, preserve_index=False)
    table = table.replace_schema_metadata({META_KEY: json.dumps({"data": data}).encode()})
    path = Path(tables_dir) / DEV_EXAMPLES_NAME
    size = _write_parquet(table, path)
    entry = {"file": DEV_EXAMPLES_NAME, "rows": len(combined), "bytes": size, "data": data, "built": now()}
    manifest["dev_examples"] = entry
    return entry


def _write_parquet(table: pa.Table, path: Path) -> int:
    """Write atomically and enforce the per-file size budget; returns the size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=9)
    os.replace(tmp, path)
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise TableError(f"{path} is {size / 2**20:.1f} MB, over the {MAX_TABLE_BYTES // 2**20} MB limit")
    return size


def read_dev_examples(tables_dir: Path) -> tuple[pd.DataFrame, dict]:
    """dev_examples.parquet and the data-file hashes stored in it; TableError if unusable."""
    path = Path(tables_dir) / DEV_EXAMPLES_NAME
    if not path.is_file():
        raise TableError(f"no {DEV_EXAMPLES_NAME} at {path}")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as error:
        raise TableError(f"unreadable {path}: {error}") from error
    missing = [c for c in DEV_COLUMNS if c not in table.column_names]
    if missing:
        raise TableError(f"{path} lacks column(s) {', '.join(missing)}")
    raw = (table.schema.metadata or {}).get(META_KEY)
    try:
        data = json.loads(raw).get("data", {}) if raw else {}
    except ValueError:
        data = {}
    return table.to_pandas(), data


# --- summary --------------------------------------------------------------------------------


def read_summary(tables_dir: Path) -> tuple[dict | None, list[str]]:
    path = Path(tables_dir) / SUMMARY_NAME
    if not path.is_file():
        return None, [f"no summary at {path}; run `python -m analysis build`"]
    try:
        return json.loads(path.read_text()), []
    except (OSError, ValueError) as error:
        return None, [f"unreadable summary {path}: {error}"]
