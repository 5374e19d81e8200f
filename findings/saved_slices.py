"""The saved slices a reader may see: the one listing the Errors and Slices pickers, the Findings
tab and the "why" report read (`analysis.saved_slices` turns these rows into queries; findings does
not import analysis)."""
from __future__ import annotations

from findings.access import Writer
from findings.store import Store


def visible_slices(store: Store | None, reader: Writer | None, task: str | None = None) -> list[dict]:
    """The rows of the slices table `reader` may see (None: someone not signed in, who sees the
    shared ones; a user also sees their own, an instructor all), of `task` when given, oldest
    first; each {id, name, task, query (the error query's dict as JSON text), author, created_at,
    shared}. Raises FindingsError when the store cannot be read."""
    if store is None:
        return []
    return store.rows("slices", reader, **({"task": task} if task else {}))
