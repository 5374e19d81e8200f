"""A visitor's own CS224N dev prediction files, analysed in their browser session only (no Gradio here).

An upload is read by the one parser (`analysis.imported`), checked against the dev ids of the
loaded analysis, and kept as an `Upload`: only the uploaded predictions (for Quora's 20,214 ids
about 2 MB), never a copy of the shared tables. Each query joins it with the shared analysis
(`joined`), one task at a time: only the upload's rows are built, and the text of the shared rows
is shared, not copied (`analysis.assemble.with_variant`: a joined Quora task holds about 19 MB of its
own, SST and STS about 1 MB each; `python -m benchmarks.bench_upload_join`). The joined tasks
are kept in a cache shared by all sessions, least recently used first out, bounded in bytes
($MINIBERT_JOIN_CACHE_MB) so that memory does not grow with the number of visitors, and dropped when their
session ends.

A signed-in (or the local) user may also keep an upload in the findings database for themselves
(`keep`, `kept_names`, `load_kept`, `delete_kept`; `findings.Store` holds it, capped): loaded back,
it is read and checked again like a new upload, so a damaged row is a message, never a crash. The
upload of a tab stays what it was: that tab's, for an hour at most.

The host turns uploads off with MINIBERT_UPLOADS=0 (or off / false / no).
"""
from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

import analysis as A
from analysis import (
    MAX_FILE_BYTES,
    PredictionFile,
    PredictionFileError,
    TaskData,
    added_bytes,
    check_name,
    read_prediction_files,
    with_predictions,
)
from findings import FindingsError, Store, Writer
from findings.kept import KeptFile, megabytes
from minibert.settings import settings
from minibert.tasks import TASK_NAMES

MAX_FILES = 3
DEFAULT_NAME = "my-model"
# The joined tasks kept, in MB of their own arrays (`analysis.assemble.added_bytes`; the default of
# minibert.settings, 128, holds every task of 6 sessions that uploaded all three files: 20.9 MB each
# with the shipped tables). Never more, except one task larger than the whole budget (kept alone).
JOIN_CACHE_ENV = "MINIBERT_JOIN_CACHE_MB"
# A browser tab's upload is dropped when the tab closes or reloads (Gradio's heartbeat ends the
# session); a client without a heartbeat (the REST API) would keep it for ever, so it also goes
# this long after it was made.
TIME_TO_LIVE_S = 3600
FORGOTTEN = ("Held in this browser tab only: other visitors never see it, and a reload (or closing the tab) "
             "forgets it, as does an hour's time.")


def uploads_enabled() -> bool:
    return settings().uploads


def join_cache_bytes() -> int:
    return settings().join_cache_bytes


def max_file_size() -> int:
    """For `launch(max_file_size=...)`: Gradio refuses a larger file before it is read."""
    return MAX_FILE_BYTES


_tokens = itertools.count(1)


@dataclass(eq=False)
class Upload:
    name: str
    files: dict[str, PredictionFile]  # by task
    summary: list[str] = field(default_factory=list)
    token: int = field(default_factory=lambda: next(_tokens))  # keys the join cache (an id() may be reused)

    @property
    def hard(self) -> set[str]:
        return {t for t, f in self.files.items() if f.probabilities is None and t != "sts"}


def _read(paths: list[str]) -> list[tuple[str, bytes]]:
    """The uploaded files' bytes. Gradio's copies are not ours to delete: it keys them by content,
    so two sessions uploading the same file share one copy (deleting it after reading broke the
    other session's upload under load); its cache sweep (`demo.serving.cache_sweep`) removes them."""
    out = []
    for path in paths:
        p = Path(path)
        try:
            out.append((p.name, p.read_bytes()))
        except FileNotFoundError:  # swept between the upload and now (a long queue)
            raise PredictionFileError([f"{p.name}: the uploaded copy was cleaned up before it could be read; "
                                       "upload it again"]) from None
    return out


def read_upload(a: A.Analysis, paths: list[str], name: str) -> Upload:
    """Check the uploaded files against `a`'s dev ids; PredictionFileError lists every problem."""
    paths = [str(p) for p in (paths or [])]
    return _checked(a, _read(paths), name)


def _dev_ids(a: A.Analysis) -> dict[str, pd.Index]:
    return {t: pd.Index(a.task(t).examples["id"].astype(str)) for t in TASK_NAMES if a.has(t)}


def _checked(a: A.Analysis, files: list[tuple[str, bytes]], name: str) -> Upload:
    name = (name or DEFAULT_NAME).strip()
    why = check_name(name, a.variants())
    if why:
        raise PredictionFileError([why.replace("a shipped variant's", "taken by a variant of this app")])
    if len(files) > MAX_FILES:
        raise PredictionFileError([f"{len(files)} files: give at most {MAX_FILES}, one per task"])
    parsed = read_prediction_files(files, _dev_ids(a))
    upload = Upload(name, parsed)
    for task in TASK_NAMES:
        if task in parsed:
            examples = a.task(task).examples
            gold = pd.Series(examples["gold"].to_numpy(), index=examples["id"].astype(str))
            upload.summary.append(parsed[task].summary(gold))
    return upload


@dataclass(frozen=True)
class _Join:
    base: TaskData  # the shared task it was joined with
    task: TaskData
    nbytes: int


_cache: OrderedDict[tuple[int, str], _Join] = OrderedDict()  # (upload token, task) -> joined task
_lock = threading.Lock()


def _joined_task(a: A.Analysis, upload: Upload, task: str) -> TaskData:
    key, base = (upload.token, task), a.tasks[task]
    with _lock:
        found = _cache.get(key)
        if found is not None and found.base is base:
            _cache.move_to_end(key)
            return found.task
    td = with_predictions(a, upload.name, {task: upload.files[task].table()}, upload.hard, [task]).tasks[task]
    with _lock:
        _cache[key] = _Join(base, td, added_bytes(td, base))
        _cache.move_to_end(key)
        budget = join_cache_bytes()
        evicted = []
        while len(_cache) > 1 and sum(j.nbytes for j in _cache.values()) > budget:
            evicted.append(_cache.popitem(last=False))
    if evicted:
        _release(evicted)
    return td


def _release(dropped: list) -> None:
    """Free dropped joins now and hand their memory back (see `demo.context.trim_malloc`)."""
    from .context import trim_malloc

    dropped.clear()
    trim_malloc()


def joined(a: A.Analysis, upload: Upload | None, task: str | None = None) -> A.Analysis:
    """`a` with the session's upload joined for `task` (every task when None); `a` when there is none."""
    if upload is None or not isinstance(upload, Upload):
        return a
    tasks = [t for t in ([task] if task else TASK_NAMES) if t in upload.files and a.has(t)]
    if not tasks:
        return a
    return replace(a, tasks={**a.tasks, **{t: _joined_task(a, upload, t) for t in tasks}})


def forget(upload: Upload | None) -> None:
    """Drop an ended session's joins (Gradio calls this when the session's State is deleted)."""
    if isinstance(upload, Upload):
        with _lock:
            dropped = [_cache.pop(k) for k in [k for k in _cache if k[0] == upload.token]]
        if dropped:
            _release(dropped)


def cached_joins() -> tuple[int, int]:
    """(joined tasks held, their bytes)."""
    with _lock:
        return len(_cache), sum(j.nbytes for j in _cache.values())


def summary_text(upload: Upload, kept: bool = False) -> str:
    from .inputs import escape_md

    return f"Read **{escape_md(upload.name)}**: " + "; ".join(upload.summary) + f". {KEPT_NOTE if kept else FORGOTTEN}"


# --- kept uploads -----------------------------------------------------------------------------

KEEP = "keep uploads"
KEPT_NOTE = ("Loaded from your kept uploads: in this browser tab for an hour at most, like any upload; it stays "
             "kept (only you see it) until you delete it.")


def kept_files(a: A.Analysis, upload: Upload) -> list[KeptFile]:
    """The upload's files as they are kept: each re-written in the course's layout and read back
    here first, so what is kept is what a later load will accept."""
    files, dev_ids = [], _dev_ids(a)
    for task in [t for t in TASK_NAMES if t in upload.files]:
        f = upload.files[task]
        body = f.text()
        try:
            back = read_prediction_files([(f.name, body)], dev_ids).get(task)
        except PredictionFileError:
            back = None
        same = back is not None and back.ids == f.ids and bool((back.pred == f.pred).all()) and (
            (back.probabilities is None) == (f.probabilities is None)
            and (f.probabilities is None or bool((back.probabilities == f.probabilities).all())))
        if not same:
            # Seen with a Quora probability a hair below 0.5: held as float32 it is 0.5 itself,
            # which the reader no longer accepts beside the prediction 0.
            raise PredictionFileError([f"{f.name}: its rows do not read back the same once stored (a probability "
                                       "within float32 rounding of a class boundary), so it cannot be kept"])
        files.append(KeptFile(task, f.name, body, len(f.ids)))
    return files


def keep(a: A.Analysis, store: Store, who: Writer | None, why_not: str, upload: Upload | None) -> str:
    """Keep the tab's upload for `who`; the message to show (escaped)."""
    from .inputs import escape_md

    if who is None:
        return why_not
    if not isinstance(upload, Upload):
        return "Nothing to keep: add your prediction files to the analysis first (above)."
    try:
        row = store.keep_upload(who, upload.name, kept_files(a, upload))
        mine = store.kept_uploads(who)
    except PredictionFileError as e:
        return "Not kept: " + "; ".join(escape_md(p) for p in e.problems)
    except FindingsError as e:
        return f"Not kept: {escape_md(e)}"
    caps = store.upload_caps
    return (f"Kept **{escape_md(row['name'])}** ({', '.join(row['tasks'])}; {megabytes(row['size'])}) for "
            f"{escape_md(who.name)}: {len(mine)} of your {caps.per_user} kept uploads, "
            f"{megabytes(sum(m['size'] for m in mine))} of {megabytes(caps.user_bytes)}. Load it from the list in "
            "any later visit.")


def kept_names(store: Store | None, who: Writer | None) -> list[str]:
    """The names of `who`'s kept uploads (nobody else's), oldest first; none when unavailable."""
    if store is None or who is None:
        return []
    try:
        return [k["name"] for k in store.kept_uploads(who)]
    except FindingsError:
        return []


def load_kept(a: A.Analysis, store: Store, who: Writer | None, name: object) -> Upload:
    """`who`'s kept upload `name`, read and checked again against `a` as a new upload is:
    PredictionFileError (every problem) or FindingsError (the message) when it cannot be."""
    files = store.kept_upload(who, name)
    return _checked(a, [(f.file_name, f.body) for f in files], str(name))


def delete_kept(store: Store, who: Writer | None, why_not: str, name: object) -> str:
    from .inputs import escape_md

    if who is None:
        return why_not
    try:
        store.delete_kept_upload(who, name)
    except FindingsError as e:
        return f"Not deleted: {escape_md(e)}"
    return f"Deleted your kept upload **{escape_md(name)}**."


def missing_variant_note(a: A.Analysis, task: str, name: object) -> str | None:
    """What to say when a link or a request names a variant this session does not have, and the
    name could be an upload's (another tab's, or this tab's before a reload); None otherwise."""
    if not isinstance(name, str) or check_name(name) is not None or (a.has(task) and name in a.variants(task)):
        return None
    return (f"Unknown variant {name!r}: it may have been uploaded in another browser tab, and an upload lives only "
            "in the tab that made it (a shared link or a reload opens without it). Upload its prediction files "
            "again under \"Analyse your own model's predictions\", or pick a shipped variant.")


def format_text() -> str:
    """The files the upload takes, as Markdown (from `analysis.file_formats`, the reader's own rules)."""
    lines = []
    for f in A.file_formats():
        lines.append(f"{f['file']}   header: {f['header']}")
        lines.append(f"{' ' * len(f['file'])}   lines:  {f['line']}")
        if f["probabilities"]:
            lines.append(f"{' ' * len(f['file'])}   or, with {f['meaning']}:")
            lines.append(f"{' ' * len(f['file'])}   header: {f['header']} {f['probabilities']}")
            lines.append(f"{' ' * len(f['file'])}   lines:  {f['line']}{f['probability_line']}")
    return ("**File format** (what the course's scripts write; `\\t` is a tab, spaces around it and around "
            "`,` are optional; one line per dev id; one, two or all three files):\n\n```text\n"
            + "\n".join(lines) + "\n```")
