"""A checkpoint's `config.json`, its hashes and the scan of a checkpoints folder, without torch.

The analysis layer and the app's status pages read checkpoints through this module only, so they
work where torch is absent; loading weights stays in `checkpoint.py`.

A checkpoint's hash covers its stored recipe, and the analysis tables are keyed by that hash: a
config is therefore read exactly as stored and written back field for field (keys it does not
know included, fields it lacks left out). Rewriting a shipped config with one more field, even at
its default, would mark every shipped table stale.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .recipes import member_union, task_members
from .settings import settings

FORMAT = "minibert-checkpoint/1"
CONFIG_FILE = "config.json"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and what is wrong."""


def default_checkpoints_dir() -> Path:
    """$MINIBERT_CHECKPOINTS, else ./checkpoints."""
    return settings().checkpoints


@lru_cache(maxsize=8)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, memoised on (path, mtime, size): the backbone is hashed at every load."""
    st = Path(path).stat()
    return _sha256(str(path), st.st_mtime_ns, st.st_size)


# Written in this order; a field that is None was absent from the file and stays absent.
_FIELDS = ("format", "name", "recipe", "backbone", "storage", "metrics", "history", "training")


@dataclass
class CheckpointConfig:
    """config.json of a model checkpoint (recipe, backbone identity, stored files, dev metrics,
    training history and records) or of an ensemble (recipe with its members; no weights)."""

    recipe: dict
    name: str | None = None
    backbone: dict | None = None   # {"name", "weights_sha256", "config", ...}; absent for an ensemble
    storage: dict | None = None    # {"dtype", "shared_from_backbone", "files": {file: sha256}, ...}
    metrics: dict | None = None
    history: list | None = None
    training: dict | None = None
    format: str = FORMAT
    extra: dict = field(default_factory=dict)  # top-level keys this version does not know, kept as read

    @property
    def kind(self) -> str:
        return self.recipe.get("kind", "model")

    @property
    def weight_files(self) -> dict[str, str]:
        """{file name: sha256} of the stored weight files."""
        return dict((self.storage or {}).get("files") or {})

    def ensemble_members(self, available: list[str]) -> dict[str, list[str]]:
        """{task: members} of an ensemble: each task its own (issue 32), or one list for every task
        as older configs store; an empty list takes every model variant present."""
        return task_members(self.recipe.get("members") or (), available)

    def to_dict(self) -> dict:
        values = {k: getattr(self, k) for k in _FIELDS}
        return {**{k: v for k, v in values.items() if v is not None}, **self.extra}

    @classmethod
    def from_dict(cls, values: dict, source: str = CONFIG_FILE) -> CheckpointConfig:
        if not isinstance(values, dict):
            raise CheckpointError(f"{source}: a JSON object expected, found {type(values).__name__}")
        if values.get("format") != FORMAT:
            raise CheckpointError(f"{source}: format {values.get('format')!r}, expected {FORMAT!r}")
        if not isinstance(values.get("recipe"), dict):
            raise CheckpointError(f"{source}: no 'recipe' field")
        return cls(**{k: values[k] for k in _FIELDS if k in values},
                   extra={k: v for k, v in values.items() if k not in _FIELDS})

    @classmethod
    def read(cls, directory: str | os.PathLike[str]) -> CheckpointConfig:
        path = Path(directory) / CONFIG_FILE
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (a checkpoint folder needs {CONFIG_FILE})")
        try:
            values = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_dict(values, str(path))

    def write(self, directory: str | os.PathLike[str]) -> Path:
        """The one writer of config.json: for a new checkpoint, or to add records (metrics,
        training) to an existing one, which its hash leaves out."""
        path = Path(directory) / CONFIG_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def checkpoint_hash(config: CheckpointConfig) -> str:
    """Identity of what a model checkpoint predicts with: its recipe and its weight files' hashes.
    Metrics and history are left out, so re-recording them does not mark tables stale."""
    return _digest({"recipe": config.recipe, "files": config.weight_files,
                    "backbone": (config.backbone or {}).get("weights_sha256")})


def ensemble_hash(config: CheckpointConfig, member_hashes: list[str]) -> str:
    return _digest({"recipe": config.recipe, "members": member_hashes})


@dataclass
class FolderScan:
    """The readable configs of a checkpoints folder, models and ensembles apart (an ensemble is
    resolved against the models), and each folder whose config cannot be read, with the error."""

    models: list[tuple[Path, CheckpointConfig]] = field(default_factory=list)
    ensembles: list[tuple[Path, CheckpointConfig]] = field(default_factory=list)
    unreadable: list[tuple[Path, Exception]] = field(default_factory=list)


def checkpoint_folders(root: str | os.PathLike[str]) -> list[Path]:
    """Every candidate checkpoint folder under `root`, by name; hidden ones (a save in progress)
    are not checkpoints."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_checkpoints(root: str | os.PathLike[str]) -> FolderScan:
    scan = FolderScan()
    for directory in checkpoint_folders(root):
        try:
            config = CheckpointConfig.read(directory)
        except (CheckpointError, OSError, ValueError) as error:
            scan.unreadable.append((directory, error))
            continue
        (scan.ensembles if config.kind == "ensemble" else scan.models).append((directory, config))
    return scan


def checkpoint_hashes(root: str | os.PathLike[str]) -> tuple[dict[str, str], list[str]]:
    """Name -> hash of every checkpoint under `root`, from the config files alone (no weights are
    loaded), plus a message for each that cannot be read. Matches `load_variants`' hashes."""
    scan = scan_checkpoints(root)
    problems = [f"{directory}: {error}" for directory, error in scan.unreadable]
    hashes: dict[str, str] = {}
    for directory, config in scan.models:
        try:
            hashes[directory.name] = checkpoint_hash(config)
        except (AttributeError, TypeError) as error:  # a field of the wrong JSON type
            problems.append(f"{directory}: {error}")
    models = dict(hashes)
    for directory, config in scan.ensembles:
        members = member_union(config.ensemble_members(list(models)))
        missing = [m for m in members if m not in models]
        if missing:
            problems.append(f"{directory}: ensemble members missing: {', '.join(missing)}")
            continue
        hashes[directory.name] = ensemble_hash(config, [models[m] for m in members])
    return hashes, problems
