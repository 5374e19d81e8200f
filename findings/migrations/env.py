"""alembic's entry point for the findings schema. The app runs it through `findings.store.upgrade`
with an open connection; `alembic -c findings/alembic.ini upgrade head` works too (it reads
$MINIBERT_DB_URL through minibert.settings)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from findings.schema import metadata
from minibert.settings import settings

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = settings().db_url or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def run_migrations_offline() -> None:
    url = settings().db_url or config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
