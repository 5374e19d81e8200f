"""The findings store: tags, notes, saved slices, random samples and kept uploads in SQLite (WAL,
synchronous=FULL) or any SQLAlchemy URL. Every write is one short transaction, committed before it is acknowledged;
every failure is a `FindingsError` whose message can be shown as it is."""
from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, delete, event, func, insert, inspect, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, NoSuchModuleError, SQLAlchemyError

from findings.access import Writer
from findings.kept import KeptFile, UploadCaps, megabytes, pack, unpack
from findings.schema import FINDINGS, TABLES, notes, samples, slices, tags, uploads

MIGRATIONS = Path(__file__).with_name("migrations")
MAX_TAG = 40
MAX_NOTE = 2000
MAX_NAME = 80
MAX_QUERY = 4000
MAX_ID = 64
MAX_SAMPLE = 1000
MAX_UPLOAD_NAME = 40
MAX_FILE_NAME = 200
# Exports of an older revision that import as they are: the tables each may hold, unchanged since
# (0002 only added `uploads`).
OLDER_EXPORTS = {"0001": frozenset(FINDINGS)}
STARTER_TAGS = ("needs world knowledge", "sarcasm", "negation", "label error", "ambiguous", "idiom",
                "long-range dependency", "rare words", "comparison", "hedging")
RETRY_S = 10.0          # an unreachable database is tried again at most this often
# The advisory lock every PostgreSQL write holds for its transaction (any fixed 64-bit key).
_WRITE_LOCK = 0x6D696E6962657274
_TASK = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class FindingsError(Exception):
    """A write or read that did not happen; the message is for the user."""


class Unavailable(FindingsError):
    pass


class NotAllowed(FindingsError):
    pass


class Full(FindingsError):
    pass


class BadValue(FindingsError):
    pass


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shown_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(an unreadable database URL)"


def make_engine(url: str) -> Engine:
    """An engine for `url`. SQLite: the file's folder is created; WAL and synchronous=FULL on every
    connection (a committed write survives a SIGKILL and a power cut); writers take the write lock
    when they begin (BEGIN IMMEDIATE), so two writers queue on the busy timeout instead of one
    failing at once with "database is locked"."""
    try:
        if url.startswith("sqlite"):
            return _sqlite_engine(url)
        kwargs: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20, "pool_timeout": 60}
        if url.startswith("postgresql"):
            # An unreachable server is reported in seconds, not after the OS's TCP timeout.
            kwargs["connect_args"] = {"connect_timeout": 5}
        return create_engine(url, **kwargs)
    except (ModuleNotFoundError, NoSuchModuleError) as e:
        if "psycopg" in str(e) or url.startswith("postgresql"):
            raise Unavailable("MINIBERT_DB_URL names PostgreSQL, whose driver is not installed: "
                              "pip install 'psycopg[binary]' (pinned in requirements-dev.txt)") from e
        raise Unavailable(f"no SQLAlchemy driver for {shown_url(url)}: {e}") from e
    except SQLAlchemyError as e:
        raise Unavailable(f"cannot use the findings database {shown_url(url)}: {e}") from e


def _sqlite_engine(url: str) -> Engine:
    from sqlalchemy.engine import make_url
    u = make_url(url)
    if u.database and u.database != ":memory:":
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=10, max_overflow=40, pool_timeout=60, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any):
        # The driver's own transaction handling is switched off so that `_begin` decides how a
        # transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("findings_write") else "BEGIN")

    return engine


_UPGRADING = threading.Lock()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest alembic revision (a class's rows are kept); `revision`, an
    older one, is for the tests of an upgrade."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # alembic's migration context is a module-level global: two stores upgrading at once in one
    # process would run in each other's context (seen: KeyError 'config' with 50 threads).
    with _UPGRADING, engine.execution_options(findings_write=True).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _clean(value: object, what: str, limit: int, allow_newlines: bool = False) -> str:
    if not isinstance(value, str):
        raise BadValue(f"{what} must be text.")
    s = value.strip()
    if not allow_newlines:
        s = " ".join(s.split())
    if not s:
        raise BadValue(f"{what} is empty.")
    if len(s) > limit:
        raise BadValue(f"{what} is {len(s):,} characters; at most {limit:,} are kept.")
    if _CONTROL.search(s):
        raise BadValue(f"{what} holds control characters.")
    return s


def _task(value: object) -> str:
    if not isinstance(value, str) or not _TASK.match(value):
        raise BadValue("unknown task.")
    return value


def _variant(value: object) -> str:
    if value in (None, ""):
        return ""
    return _clean(value, "The variant name", MAX_ID)


class Store:
    """The findings of one deployment. Opening never raises: an unreachable or unusable database
    leaves `available` False with `error` saying why, and it is tried again on the next call."""

    def __init__(self, url: str, max_per_user: int = 5000, max_rows: int = 200_000,
                 upload_caps: UploadCaps | None = None) -> None:
        self.url = url
        self.max_per_user = max_per_user
        self.max_rows = max_rows
        self.upload_caps = upload_caps or UploadCaps()
        self.error: str | None = None
        self._engine: Engine | None = None
        self._ready = False
        self._tried = 0.0
        self._lock = threading.Lock()
        self._ensure()

    @property
    def available(self) -> bool:
        return self._ensure()

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def _ensure(self) -> bool:
        if self._ready:
            return True
        with self._lock:
            if self._ready:
                return True
            if time.monotonic() - self._tried < RETRY_S and self._tried:
                return False
            self._tried = time.monotonic()
            try:
                if self._engine is None:
                    self._engine = make_engine(self.url)
                upgrade(self._engine)
            except FindingsError as e:
                self.error = str(e)
                return False
            except Exception as e:  # the driver's own errors differ by database; all mean "not now"
                self.error = f"the findings database {shown_url(self.url)} cannot be used: {_reason(e)}"
                return False
            self._ready, self.error = True, None
            return True

    def _engine_or_raise(self, write: bool) -> Engine:
        if not self._ensure():
            raise Unavailable(f"Findings are unavailable: {self.error}" if write
                              else f"Findings cannot be read: {self.error}")
        assert self._engine is not None
        return self._engine.execution_options(findings_write=True) if write else self._engine

    def _write(self, fn: Callable[[Connection], Any], on_conflict: Callable[[], Any] | None = None) -> Any:
        engine = self._engine_or_raise(write=True)
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # Caps are counted and then written in one transaction; under PostgreSQL's default
                    # isolation two writers could both pass a cap, so writes take turns (SQLite's
                    # writers already do).
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})
                return fn(conn)
        except FindingsError:
            raise
        except IntegrityError as e:
            if on_conflict is not None:
                return on_conflict()
            raise BadValue(f"That conflicts with a finding already saved: {_reason(e)}") from e
        except DBAPIError as e:
            raise Unavailable(f"Writes are unavailable now (nothing was saved): {_reason(e)}") from e

    def _read(self, fn: Callable[[Connection], Any]) -> Any:
        engine = self._engine_or_raise(write=False)
        try:
            with engine.connect() as conn:
                return fn(conn)
        except DBAPIError as e:
            raise Unavailable(f"Findings cannot be read now: {_reason(e)}") from e

    # ---- caps -----------------------------------------------------------------------------------

    def _check_room(self, conn: Connection, who: Writer, adding: int = 1) -> None:
        mine = sum(conn.execute(select(func.count()).select_from(t).where(t.c.author == who.name)).scalar_one()
                   for t in FINDINGS.values())
        if mine + adding > self.max_per_user:
            raise Full(f"You have {mine:,} findings, the most one user may keep here ({self.max_per_user:,}). "
                       "Delete some (or export them) before adding more.")
        total = sum(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in FINDINGS.values())
        if total + adding > self.max_rows:
            raise Full(f"This deployment holds {total:,} findings, its limit ({self.max_rows:,}); nothing more can "
                       "be saved until an instructor or the host makes room.")

    @staticmethod
    def _own(conn: Connection, table: Table, row_id: object, who: Writer) -> dict:
        if not isinstance(row_id, int) or isinstance(row_id, bool):
            raise BadValue("no such row.")
        row = conn.execute(select(table).where(table.c.id == row_id)).mappings().first()
        if row is None:
            raise BadValue("That finding no longer exists.")
        if not who.may_change(row["author"]):
            raise NotAllowed("You can change only your own findings.")
        return dict(row)

    def _delete(self, who: Writer, table: Table, row_id: int) -> None:
        def go(conn: Connection):
            self._own(conn, table, row_id, who)
            conn.execute(delete(table).where(table.c.id == row_id))
        self._write(go)

    def _insert(self, who: Writer, table: Table, row: dict) -> dict:
        def go(conn: Connection):
            self._check_room(conn, who)
            return {**row, "id": conn.execute(insert(table).values(**row)).inserted_primary_key[0]}
        return self._write(go)

    # ---- writes ---------------------------------------------------------------------------------

    def add_tag(self, who: Writer, task: str, example_id: str, tag: str, variant: str | None = "",
                sample_id: int | None = None, shared: bool = True) -> dict:
        """Tag an example (one click: tagging it again with the same tag is no new row)."""
        row = {"task": _task(task), "example_id": _clean(example_id, "The example id", MAX_ID),
               "tag": _clean(tag, "The tag", MAX_TAG).lower(), "variant": _variant(variant),
               "sample_id": sample_id if isinstance(sample_id, int) else None,
               "author": who.name, "created_at": now(), "shared": bool(shared)}
        key = [tags.c[k] == row[k] for k in ("task", "example_id", "variant", "tag", "author")]

        def go(conn: Connection):
            found = conn.execute(select(tags).where(*key)).mappings().first()
            if found is not None:
                return dict(found)
            self._check_room(conn, who)
            row_id = conn.execute(insert(tags).values(**row)).inserted_primary_key[0]
            return {**row, "id": row_id}
        # The same tag by the same user at the same moment: one row, already there.
        return self._write(go, on_conflict=lambda: self._read(
            lambda conn: dict(conn.execute(select(tags).where(*key)).mappings().one())))

    def add_tags(self, who: Writer, task: str, example_ids: Iterable[str], tag: str, variant: str | None = "",
                 sample_id: int | None = None, shared: bool = True) -> int:
        """Tag many examples in one transaction (all or none); returns how many rows were added."""
        ids = list(dict.fromkeys(_clean(i, "The example id", MAX_ID) for i in example_ids))
        task, tag, variant = _task(task), _clean(tag, "The tag", MAX_TAG).lower(), _variant(variant)

        def go(conn: Connection):
            have = set(conn.execute(select(tags.c.example_id).where(
                tags.c.task == task, tags.c.tag == tag, tags.c.variant == variant,
                tags.c.author == who.name)).scalars())
            new = [i for i in ids if i not in have]
            if not new:
                return 0
            self._check_room(conn, who, len(new))
            stamp = now()
            conn.execute(insert(tags), [{"task": task, "example_id": i, "tag": tag, "variant": variant,
                                         "sample_id": sample_id, "author": who.name, "created_at": stamp,
                                         "shared": bool(shared)} for i in new])
            return len(new)
        return self._write(go)

    def remove_tag(self, who: Writer, tag_id: int) -> None:
        self._delete(who, tags, tag_id)

    def add_note(self, who: Writer, task: str, example_id: str, note: str, variant: str | None = "",
                 shared: bool = True) -> dict:
        stamp = now()
        row = {"task": _task(task), "example_id": _clean(example_id, "The example id", MAX_ID),
               "variant": _variant(variant), "text": _clean(note, "The note", MAX_NOTE, allow_newlines=True),
               "author": who.name, "created_at": stamp, "updated_at": stamp, "shared": bool(shared)}

        return self._insert(who, notes, row)

    def edit_note(self, who: Writer, note_id: int, note: str) -> None:
        body = _clean(note, "The note", MAX_NOTE, allow_newlines=True)

        def go(conn: Connection):
            self._own(conn, notes, note_id, who)
            conn.execute(update(notes).where(notes.c.id == note_id).values(text=body, updated_at=now()))
        self._write(go)

    def delete_note(self, who: Writer, note_id: int) -> None:
        self._delete(who, notes, note_id)

    def save_slice(self, who: Writer, name: str, task: str, query: Mapping[str, Any], shared: bool = True) -> dict:
        """Save an error query (the dict of the shared query type) under a name of the user's own."""
        name = _clean(name, "The slice name", MAX_NAME)
        try:
            body = json.dumps(dict(query), sort_keys=True, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise BadValue(f"That filter cannot be saved: {e}") from e
        if len(body) > MAX_QUERY:
            raise BadValue(f"That filter is {len(body):,} characters as saved; at most {MAX_QUERY:,}.")
        row = {"name": name, "task": _task(task), "query": body, "author": who.name, "created_at": now(),
               "shared": bool(shared)}

        if self.rows("slices", who, author=who.name, name=name):
            raise BadValue(f"You already have a slice named {name!r}; choose another name or delete it first.")
        # Two saves of one name at the same moment: the unique constraint refuses the second.
        return self._insert(who, slices, row)

    def delete_slice(self, who: Writer, slice_id: int) -> None:
        self._delete(who, slices, slice_id)

    def record_sample(self, who: Writer, task: str, variant: str, seed: int, population: int,
                      example_ids: list[str]) -> dict:
        """Keep a random draw of a variant's errors (its seed and the ids drawn), so that tags made
        on it can be told from hand-picked ones and the draw can be repeated."""
        if len(example_ids) > MAX_SAMPLE:
            raise BadValue(f"At most {MAX_SAMPLE:,} examples are drawn at once.")
        ids = [_clean(i, "The example id", MAX_ID) for i in example_ids]
        row = {"task": _task(task), "variant": _clean(variant, "The variant name", MAX_ID), "seed": int(seed),
               "n": len(ids), "population": int(population), "example_ids": json.dumps(ids),
               "author": who.name, "created_at": now(), "shared": True}

        return self._insert(who, samples, row)

    # ---- reads ----------------------------------------------------------------------------------

    @staticmethod
    def _visible(table: Table, reader: Writer | None) -> Any:
        if reader is not None and reader.moderator:
            return True
        if reader is None:
            return table.c.shared.is_(True)
        return or_(table.c.shared.is_(True), table.c.author == reader.name)

    def rows(self, table_name: str, reader: Writer | None, **where: object) -> list[dict]:
        """The rows of one findings table that `reader` may see (None: a reader who is not signed in),
        by id. Kept uploads are read through `kept_uploads` and `kept_upload` only."""
        table = FINDINGS[table_name]
        clauses = [self._visible(table, reader)] + [table.c[k] == v for k, v in where.items()]
        return self._read(lambda conn: [dict(r) for r in conn.execute(
            select(table).where(*clauses).order_by(table.c.id)).mappings()])

    def count(self) -> dict[str, int]:
        return self._read(lambda conn: {name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                                        for name, t in TABLES.items()})

    # ---- kept uploads (a user's own; never shared, not even with a moderator) ---------------------

    @staticmethod
    def _keeper(who: Writer | None) -> Writer:
        if who is None:
            raise NotAllowed("Only a signed-in user (or the local user) keeps uploads.")
        return who

    def keep_upload(self, who: Writer | None, name: str, files: Sequence[KeptFile]) -> dict:
        """Keep an upload's checked files for `who`, all of them or none; its summary (as
        `kept_uploads` lists it). Refused with `Full` past a cap, `BadValue` when the name is taken."""
        who = self._keeper(who)
        name = _clean(name, "The upload's name", MAX_UPLOAD_NAME)
        caps = self.upload_caps
        if not files:
            raise BadValue("That upload has no files to keep.")
        stamp, rows = now(), []
        for f in files:
            if any(r["task"] == f.task for r in rows):
                raise BadValue(f"Two {f.task} files in one upload.")
            body = pack(f.body)
            rows.append({"task": _task(f.task), "name": name, "file_name": _clean(f.file_name, "The file name",
                                                                                 MAX_FILE_NAME),
                         "n_rows": int(f.n_rows), "size": len(body), "predictions": body, "author": who.name,
                         "created_at": stamp})
        size, n_rows = sum(r["size"] for r in rows), sum(r["n_rows"] for r in rows)
        if n_rows > caps.upload_rows:
            raise Full(f"That upload has {n_rows:,} rows; at most {caps.upload_rows:,} are kept for one upload.")
        if size > caps.upload_bytes:
            raise Full(f"That upload takes {megabytes(size)} when packed; at most {megabytes(caps.upload_bytes)} "
                       "is kept for one upload.")
        taken = f"You already keep an upload named {name!r}: delete it first, or upload again under another name."

        def go(conn: Connection):
            mine = conn.execute(select(uploads.c.name, uploads.c.size).where(uploads.c.author == who.name)).all()
            if any(r.name == name for r in mine):
                raise BadValue(taken)
            kept = len({r.name for r in mine})
            if kept + 1 > caps.per_user:
                raise Full(f"You keep {kept} uploads, the most one user may keep here ({caps.per_user}). "
                           "Delete one before keeping another.")
            used = sum(r.size for r in mine)
            if used + size > caps.user_bytes:
                raise Full(f"Your kept uploads take {megabytes(used)}; this one ({megabytes(size)}) would pass the "
                           f"{megabytes(caps.user_bytes)} one user may keep. Delete one first.")
            total = conn.execute(select(func.coalesce(func.sum(uploads.c.size), 0))).scalar_one()
            if total + size > caps.total_bytes:
                raise Full(f"This deployment's kept uploads take {megabytes(total)}, its limit "
                           f"({megabytes(caps.total_bytes)}); nothing more can be kept until the host makes room.")
            conn.execute(insert(uploads), rows)

        def conflict():
            # The same name kept twice at the same moment: the unique constraint refused the second.
            raise BadValue(taken)
        self._write(go, on_conflict=conflict)
        return {"name": name, "tasks": [r["task"] for r in rows], "n_rows": n_rows, "size": size,
                "created_at": stamp}

    def kept_uploads(self, who: Writer | None) -> list[dict]:
        """`who`'s kept uploads, oldest first: name, tasks, n_rows, size (packed) and created_at."""
        if who is None:
            return []
        found = self._read(lambda conn: conn.execute(
            select(uploads.c.name, uploads.c.task, uploads.c.n_rows, uploads.c.size, uploads.c.created_at)
            .where(uploads.c.author == who.name).order_by(uploads.c.id)).all())
        out: dict[str, dict] = {}
        for r in found:
            entry = out.setdefault(r.name, {"name": r.name, "tasks": [], "n_rows": 0, "size": 0,
                                            "created_at": r.created_at})
            entry["tasks"].append(r.task)
            entry["n_rows"] += r.n_rows
            entry["size"] += r.size
        return list(out.values())

    def kept_upload(self, who: Writer | None, name: object) -> list[KeptFile]:
        """The files of `who`'s kept upload `name`, unpacked (not checked: the caller parses them)."""
        who, name = self._keeper(who), _kept_name(name)
        found = self._read(lambda conn: conn.execute(
            select(uploads).where(uploads.c.author == who.name, uploads.c.name == name)
            .order_by(uploads.c.id)).mappings().all())
        if not found:
            raise BadValue(f"You keep no upload named {name!r}.")
        files = []
        for r in found:
            try:
                files.append(KeptFile(r["task"], r["file_name"], unpack(r["predictions"]), r["n_rows"]))
            except ValueError as e:
                raise BadValue(f"The kept upload {name!r} cannot be read back: its {r['task']} file is damaged "
                               f"({e}). Delete it and upload the files again.") from None
        return files

    def delete_kept_upload(self, who: Writer | None, name: object) -> None:
        """Delete `who`'s own kept upload `name` (nobody else's, whoever asks)."""
        who, name = self._keeper(who), _kept_name(name)

        def go(conn: Connection):
            gone = conn.execute(delete(uploads).where(uploads.c.author == who.name, uploads.c.name == name))
            if not gone.rowcount:
                raise BadValue(f"You keep no upload named {name!r}.")
        self._write(go)

    # ---- export and import ----------------------------------------------------------------------

    def export(self) -> dict:
        """Everything, table by table in id order (for the host or an instructor)."""
        def go(conn: Connection):
            return {"findings_export": 1, "revision": head_revision(),
                    "tables": {name: [dict(r) for r in conn.execute(select(t).order_by(t.c.id)).mappings()]
                               for name, t in TABLES.items()}}
        return self._read(go)

    def import_(self, data: Mapping) -> dict[str, int]:
        """Load an export into this database, which must be empty (ids are kept, so exporting again
        gives the same files)."""
        if data.get("findings_export") != 1:
            raise BadValue("not a findings export (its 'findings_export' field is missing or unknown).")
        revision = data.get("revision")
        if revision != head_revision() and revision not in OLDER_EXPORTS:
            raise BadValue(f"the export is of schema revision {revision!r}; this database is at "
                           f"{head_revision()!r}. Import it with the version that wrote it, then upgrade.")
        tables = data.get("tables") or {}
        unknown = set(tables) - set(OLDER_EXPORTS.get(revision, TABLES))
        if unknown:
            raise BadValue(f"unknown tables in the export: {sorted(unknown)}")

        def go(conn: Connection):
            if any(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in TABLES.values()):
                raise BadValue("import goes into an empty database only; this one already holds findings.")
            counts = {}
            for name, t in TABLES.items():
                rows = list(tables.get(name, []))
                cols = {c.name for c in t.columns}
                for r in rows:
                    if set(r) != cols:
                        raise BadValue(f"{name}: a row's columns {sorted(r)} are not {sorted(cols)}.")
                if rows:
                    conn.execute(insert(t), rows)
                counts[name] = len(rows)
                if conn.dialect.name == "postgresql" and rows:
                    # Explicit ids leave PostgreSQL's sequence behind; the next insert would collide.
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                      f"(SELECT max(id) FROM {name}))"))
            return counts
        return self._write(go)

    def schema_matches(self) -> list[str]:
        """Differences between the upgraded database and `findings.schema` (empty when they agree)."""
        engine = self._engine_or_raise(write=False)
        insp = inspect(engine)
        problems = []
        for name, t in TABLES.items():
            have = {c["name"] for c in insp.get_columns(name)}
            want = {c.name for c in t.columns}
            if have != want:
                problems.append(f"{name}: database {sorted(have)} != schema {sorted(want)}")
        return problems


def _kept_name(name: object) -> str:
    """A name asked for (a list's choice, or anything sent to the endpoint): no kept upload's name
    is over MAX_UPLOAD_NAME or holds control characters or broken Unicode, so such a name is
    answered without asking the database."""
    if not isinstance(name, str) or not name.strip():
        raise BadValue("Choose one of your kept uploads.")
    name = name.strip()
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise BadValue("That is no name of a kept upload (not valid Unicode).") from None
    if len(name) > MAX_UPLOAD_NAME or _CONTROL.search(name):
        raise BadValue(f"You keep no upload named {name[:MAX_UPLOAD_NAME]!r}.")
    return name


def _reason(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    return " ".join(str(orig).split())[:300] or type(orig).__name__
