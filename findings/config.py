"""Where the findings live and their limits: from `minibert.settings` (MINIBERT_DB_URL,
MINIBERT_INSTRUCTORS, MINIBERT_FINDINGS_MAX_PER_USER, MINIBERT_FINDINGS_MAX_ROWS, the caps on
kept uploads (MINIBERT_KEPT_UPLOAD_MB, MINIBERT_KEPT_UPLOAD_ROWS, MINIBERT_KEPT_UPLOADS_PER_USER,
MINIBERT_KEPT_UPLOADS_USER_MB, MINIBERT_KEPT_UPLOADS_TOTAL_MB), SPACE_ID and GRADIO_SERVER_NAME;
docs/SETTINGS.md).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from findings.access import Deployment
from findings.kept import MB, UploadCaps
from minibert.settings import Settings, settings

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
    upload_caps: UploadCaps = field(default_factory=UploadCaps)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, host: str | None = None, auth: bool = False,
                 data_dir: Path = SPACE_DATA, local_file: Path = LOCAL_FILE) -> FindingsSettings:
        """From the process's settings, or from `env` (a mapping of variables) when given."""
        s = settings() if env is None else Settings.from_environ(env)
        host = host or s.server_name or "127.0.0.1"
        deployment = Deployment.detect(host, s.space_id, auth, s.instructors)
        warning = None
        url = (s.db_url or "").strip()
        if not url:
            if deployment.kind == "space" and data_dir.is_dir() and os.access(data_dir, os.W_OK):
                url = f"sqlite:///{data_dir / 'findings.sqlite'}"
            else:
                url = f"sqlite:///{local_file}"
                if deployment.kind == "space":
                    warning = EPHEMERAL
        caps = UploadCaps(int(s.kept_upload_mb * MB), s.kept_upload_rows, s.kept_uploads_per_user,
                          int(s.kept_uploads_user_mb * MB), int(s.kept_uploads_total_mb * MB))
        return cls(url, warning, deployment, s.findings_max_per_user, s.findings_max_rows, caps)
