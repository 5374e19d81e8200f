"""The findings tables (SQLAlchemy Core). The alembic revisions in `findings/migrations` create and
change them; this module is what the code reads and writes through, and a test checks that the
upgraded database and this metadata agree."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()


def _common() -> list[Column]:
    # Every row names its author (a Hugging Face user name on a Space, "local" on one's own
    # machine) and when it was written, as ISO-8601 UTC text: the same characters on SQLite and
    # PostgreSQL, so an export read back and exported again is the same file.
    return [Column("author", String(64), nullable=False),
            Column("created_at", String(32), nullable=False),
            Column("shared", Boolean, nullable=False)]


def _keyed() -> list[Column]:
    return [Column("id", Integer, primary_key=True, autoincrement=True), Column("task", String(16), nullable=False)]


def _about_example() -> list[Column]:
    # What a tag or a note is about: an example (task, id) and the variant whose error it explains
    # ("" for the example itself).
    return [*_keyed(), Column("example_id", String(64), nullable=False), Column("variant", String(64), nullable=False)]


tags = Table(
    "tags", metadata,
    *_about_example(),
    Column("tag", String(64), nullable=False),
    # The random draw the tag was made from (samples.id), or NULL for a hand-picked example.
    Column("sample_id", Integer, nullable=True),
    *_common(),
    UniqueConstraint("task", "example_id", "variant", "tag", "author", name="uq_tags_one_per_author"),
    Index("ix_tags_example", "task", "example_id"),
)

notes = Table(
    "notes", metadata,
    *_about_example(),
    Column("text", Text, nullable=False),
    *_common(),
    Column("updated_at", String(32), nullable=False),
    Index("ix_notes_example", "task", "example_id"),
)

slices = Table(
    "slices", metadata,
    *_keyed(),
    Column("name", String(80), nullable=False),
    # The error query as JSON (the dict of analysis' shared query type), so a slice replays as a filter.
    Column("query", Text, nullable=False),
    *_common(),
    UniqueConstraint("author", "name", name="uq_slices_name_per_author"),
)

samples = Table(
    "samples", metadata,
    *_keyed(),
    Column("variant", String(64), nullable=False),
    Column("seed", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    # How many errors the variant had when drawn, and the ids drawn (JSON list, in draw order).
    Column("population", Integer, nullable=False),
    Column("example_ids", Text, nullable=False),
    *_common(),
)

# A user's uploaded prediction files, kept for themselves (revision 0002): one row per task file of a
# kept upload, all rows of one upload sharing (author, name). Never shared: only its author lists,
# loads and deletes it.
uploads = Table(
    "uploads", metadata,
    *_keyed(),
    Column("name", String(40), nullable=False),          # the variant name it joins the tabs under
    Column("file_name", String(200), nullable=False),    # as uploaded, for the messages of a re-check
    Column("n_rows", Integer, nullable=False),
    Column("size", Integer, nullable=False),             # characters of `predictions`, what the caps count
    # The checked rows as a CS224N prediction file (probability columns kept), zlib-compressed and
    # base64-encoded: text, so that it exports to CSV and JSON as it is (findings.kept).
    Column("predictions", Text, nullable=False),
    Column("author", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("author", "name", "task", name="uq_uploads_one_file_per_task"),
)

# What users tag, note and save: the tables the findings caps count and `Store.rows` reads.
FINDINGS = {t.name: t for t in (tags, notes, slices, samples)}
# Every table, for export, import and the schema check.
TABLES = {**FINDINGS, uploads.name: uploads}
