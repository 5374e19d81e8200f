"""Kept uploads: a user's uploaded prediction files saved for themselves (issue 31, criterion 9).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A new table only: the rows of 0001's tables are not touched.
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("predictions", sa.Text, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("author", "name", "task", name="uq_uploads_one_file_per_task"),
    )


def downgrade() -> None:
    op.drop_table("uploads")
