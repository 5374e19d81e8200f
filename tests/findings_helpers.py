"""Stores for the findings tests: SQLite in a temporary folder, and the PostgreSQL server that
.ci/run starts (MINIBERT_TEST_PG_URL), emptied before each test. No mock database."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from findings.schema import TABLES

PG_URL = os.environ.get("MINIBERT_TEST_PG_URL", "").strip()
PG_SKIP = ("no PostgreSQL server: set MINIBERT_TEST_PG_URL (.ci/run starts one with "
           "scripts/pg_throwaway.sh; Debian's postgresql package)")


def empty_postgres(url: str = PG_URL) -> str:
    """Drop the findings tables and alembic's version table, so the store starts from nothing."""
    if not url:
        pytest.skip(PG_SKIP)
    engine = create_engine(url)
    with engine.begin() as conn:
        for name in [*TABLES, "alembic_version"]:
            conn.execute(text(f"DROP TABLE IF EXISTS {name} CASCADE"))
    engine.dispose()
    return url


def url_for(backend: str, tmp_path) -> str:
    if backend == "postgresql":
        return empty_postgres()
    return f"sqlite:///{tmp_path / 'findings.sqlite'}"
