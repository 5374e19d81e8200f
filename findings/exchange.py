"""Findings as files: one JSON document, or one CSV file per table. Reading either back into an
empty database and writing it again gives the same bytes (tests/test_findings.py)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy import Boolean, Column, Integer

from findings.schema import TABLES
from findings.store import BadValue

META = "export.json"
# A kept upload's packed predictions are one CSV field of up to MINIBERT_KEPT_UPLOAD_MB; Python's
# csv module refuses fields over 128 KiB unless told otherwise.
MAX_FIELD = 2**30


def to_json(export: dict) -> str:
    return json.dumps(export, ensure_ascii=False, indent=1) + "\n"


def from_json(body: str) -> dict:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as e:
        raise BadValue(f"not JSON: {e}") from e
    if not isinstance(data, dict):
        raise BadValue("not a findings export.")
    return data


def write_csv(export: dict, folder: str | Path) -> list[Path]:
    """`folder/<table>.csv` for every table, and `export.json` with the format and schema revision."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in TABLES.items():
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        cols = [c.name for c in table.columns]
        w.writerow(cols)
        for row in export["tables"].get(name, []):
            w.writerow(["" if row[c] is None else ("true" if row[c] is True else "false" if row[c] is False
                                                    else row[c]) for c in cols])
        path = folder / f"{name}.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        written.append(path)
    meta = folder / META
    meta.write_text(json.dumps({"findings_export": export["findings_export"], "revision": export["revision"]}) + "\n",
                    encoding="utf-8")
    return [*written, meta]


def read_csv(folder: str | Path) -> dict:
    folder = Path(folder)
    try:
        data = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise BadValue(f"{folder / META}: {e}") from e
    data["tables"] = {}
    for name, table in TABLES.items():
        path = folder / f"{name}.csv"
        if not path.exists():
            continue
        # The limit is the csv module's, for the whole process: put it back, so that the task data
        # readers (minibert.data) still stop at a runaway quoted field.
        limit = csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD))
        try:
            with path.open(encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
        finally:
            csv.field_size_limit(limit)
        data["tables"][name] = [{c.name: _value(c, r.get(c.name), path) for c in table.columns} for r in rows]
    return data


def _value(column: Column, raw: str | None, path: Path) -> object:
    if raw is None:
        raise BadValue(f"{path}: column {column.name} is missing.")
    if raw == "" and column.nullable:
        return None
    if isinstance(column.type, Boolean):
        if raw not in ("true", "false"):
            raise BadValue(f"{path}: {column.name} must be true or false, not {raw!r}.")
        return raw == "true"
    if isinstance(column.type, Integer):
        try:
            return int(raw)
        except ValueError:
            raise BadValue(f"{path}: {column.name} must be a whole number, not {raw!r}.") from None
    return raw
