"""The first findings schema: tags, notes, saved slices and random samples.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _common() -> list[sa.Column]:
    return [sa.Column("author", sa.String(64), nullable=False),
            sa.Column("created_at", sa.String(32), nullable=False),
            sa.Column("shared", sa.Boolean, nullable=False)]


def _keyed() -> list[sa.Column]:
    return [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("task", sa.String(16), nullable=False)]


def _about_example() -> list[sa.Column]:
    return [*_keyed(), sa.Column("example_id", sa.String(64), nullable=False),
            sa.Column("variant", sa.String(64), nullable=False)]


def upgrade() -> None:
    # Written out, not imported from findings.schema: a revision must keep creating the schema as
    # it was then, whatever the module says later.
    op.create_table(
        "tags",
        *_about_example(),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.Column("sample_id", sa.Integer, nullable=True),
        *_common(),
        sa.UniqueConstraint("task", "example_id", "variant", "tag", "author", name="uq_tags_one_per_author"),
    )
    op.create_index("ix_tags_example", "tags", ["task", "example_id"])
    op.create_table(
        "notes",
        *_about_example(),
        sa.Column("text", sa.Text, nullable=False),
        *_common(),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_notes_example", "notes", ["task", "example_id"])
    op.create_table(
        "slices",
        *_keyed(),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        *_common(),
        sa.UniqueConstraint("author", "name", name="uq_slices_name_per_author"),
    )
    op.create_table(
        "samples",
        *_keyed(),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("example_ids", sa.Text, nullable=False),
        *_common(),
    )


def downgrade() -> None:
    for name in ("samples", "slices", "notes", "tags"):
        op.drop_table(name)
