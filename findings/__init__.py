"""Findings: what users tag, note and save (issue 31), and the uploads they keep, in a real database.

A layer beside `analysis/` (no Gradio): SQLAlchemy Core tables (`schema`), alembic revisions
(`migrations/`, applied when the store opens), the store and its caps (`store`), who may write by
deployment (`access`), where the database lives (`config`), export/import (`exchange`) and the
packed form and caps of kept uploads (`kept`); the saved slices a reader may see
(`saved_slices.visible_slices`).
`python -m findings export|import|upgrade` works on the database the app would use.
"""
from findings.access import LOCAL_USER, Deployment, Writer
from findings.config import FindingsSettings
from findings.saved_slices import visible_slices
from findings.store import STARTER_TAGS, BadValue, FindingsError, Full, NotAllowed, Store, Unavailable

__all__ = ["LOCAL_USER", "STARTER_TAGS", "BadValue", "Deployment", "FindingsError", "FindingsSettings", "Full",
           "NotAllowed", "Store", "Unavailable", "Writer", "open_store", "visible_slices"]


def open_store(settings: FindingsSettings | None = None) -> Store:
    """The deployment's store (never raises; see `Store.available` and `Store.error`)."""
    settings = settings or FindingsSettings.from_env()
    return Store(settings.url, settings.max_per_user, settings.max_rows, settings.upload_caps)
