"""Where the findings live and their limits, from the environment (read once, at start-up).

| variable | default | meaning |
|---|---|---|
| MINIBERT_DB_URL | (unset) | any SQLAlchemy URL (e.g. postgresql+psycopg://user:pw@host/db); unset: SQLite |
| MINIBERT_INSTRUCTORS | (empty) | comma-separated user names who may moderate (edit or delete anyone's rows) |
| MINIBERT_FINDINGS_MAX_PER_USER | 5000 | rows one user may keep, all tables together |
| MINIBERT_FINDINGS_MAX_ROWS | 200000 | rows the whole deployment may keep |
| SPACE_ID | (set by Hugging Face) | on a Space: sign-in to write; SQLite in /data when persistent storage is attached |
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from findings.access import Deployment

LOCAL_FILE = Path(__file__).resolve().parents[1] / "findings.sqlite"
SPACE_DATA = Path("/data")
EPHEMERAL = ("Findings are kept only until this Space restarts: it has no persistent storage (/data). "
             "Export them before you leave, or ask the host to attach storage.")


@dataclass(frozen=True)
class FindingsSettings:
    url: str
    warning: str | None          # shown on the page: where findings may vanish
    deployment: Deployment
    max_per_user: int = 5000
    max_rows: int = 200_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, host: str | None = None, auth: bool = False,
                 data_dir: Path = SPACE_DATA, local_file: Path = LOCAL_FILE) -> FindingsSettings:
        env = os.environ if env is None else env
        host = host or env.get("GRADIO_SERVER_NAME") or "127.0.0.1"
        deployment = Deployment.detect(host, env.get("SPACE_ID"), auth, env.get("MINIBERT_INSTRUCTORS"))
        warning = None
        url = env.get("MINIBERT_DB_URL", "").strip()
        if not url:
            if deployment.kind == "space" and data_dir.is_dir() and os.access(data_dir, os.W_OK):
                url = f"sqlite:///{data_dir / 'findings.sqlite'}"
            else:
                url = f"sqlite:///{local_file}"
                if deployment.kind == "space":
                    warning = EPHEMERAL
        return cls(url, warning, deployment, _int(env, "MINIBERT_FINDINGS_MAX_PER_USER", 5000),
                   _int(env, "MINIBERT_FINDINGS_MAX_ROWS", 200_000))


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise SystemExit(f"{name} must be at least 1 (got {value})")
    return value
