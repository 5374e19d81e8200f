"""`checkpoints/NAME/`: safetensors shards (each under 10 MB) and a `config.json`.

The config records the recipe, the backbone's identity and hash, storage details, dev metrics and
the training history. What the checkpoint shares with the backbone package (a frozen encoder, or
frozen word embeddings) is not stored: it is taken from the package at load time, after checking
that the package's weights hash matches the one recorded. The config itself, its hashes and the
folder scan are in `checkpoint_config.py` (no torch there).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .backbone import WORD_EMBEDDINGS_KEY, backbone_identity, resolve_backbone
from .checkpoint_config import CheckpointConfig, CheckpointError, file_sha256
from .model import BertConfig, BertModel, WeightMismatch, encoder_weights, load_state
from .network import MultitaskModel
from .recipes import Recipe
from .tokenizer import Tokenizer

SHARD_BYTES = 9_500_000  # every committed file stays under 10 MB
WORD_EMBEDDINGS = "encoder." + WORD_EMBEDDINGS_KEY
_SCALE = ".__int8_scale"
_DELTA_SCALE = ".__int8_delta_scale"
_ROWS = ".__rows"
INT8_GROUP = 64
INT8_MIN_ELEMENTS = 65536  # smaller tensors (biases, norms, small heads) stay fp16: they barely count
STORAGE_DTYPES = ("fp32", "fp16", "int8", "int8-delta")


def shared_prefixes(recipe: Recipe) -> tuple[str, ...]:
    """State-dict prefixes taken from the backbone package instead of the checkpoint."""
    if recipe.encoder == "frozen":
        return ("encoder.",)
    if recipe.encoder == "finetune" and recipe.freeze_word_embeddings:
        return (WORD_EMBEDDINGS,)
    return ()


def delta_base(recipe: Recipe, backbone_weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What `int8-delta` stores differences from: the backbone's weights (as read from its file)
    rounded to fp16. Rounding makes the base the same whether a run started from the package's
    fp32 weights or from the fp16 copy carried to the GPU machine. Empty for a recipe that does
    not start from the backbone (`scratch`): its weights are stored whole."""
    if recipe.encoder != "finetune":
        return {}
    return {f"encoder.{k}": v.half().float() for k, v in encoder_weights(backbone_weights).items()}


def _quantize(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Symmetric int8, one scale per group of INT8_GROUP inputs of each output row (a whole row
    # when the width does not divide): on the backbone this keeps sentence embeddings at
    # cosine >= 0.9997 of fp32, against 0.9993 with one scale per row.
    rows, cols = v.shape
    group = INT8_GROUP if cols % INT8_GROUP == 0 else cols
    grouped = v.float().reshape(rows, cols // group, group)
    scale = grouped.abs().amax(dim=-1, keepdim=True).clamp(min=1e-12) / 127.0
    return torch.round(grouped / scale).to(torch.int8).reshape(rows, cols).contiguous(), scale.squeeze(-1).contiguous()


def _dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    rows, cols = q.shape
    return (q.float().reshape(rows, scale.shape[1], -1) * scale.float()[..., None]).reshape(rows, cols)


def _encode(state: dict[str, torch.Tensor], dtype: str, base: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    if dtype == "fp32":
        return {k: v.float().contiguous() for k, v in state.items()}
    if dtype == "fp16":
        return {k: v.half().contiguous() for k, v in state.items()}
    if dtype not in ("int8", "int8-delta"):
        raise ValueError(f"storage dtype {dtype!r}: expected one of {', '.join(STORAGE_DTYPES)}")
    base = (base or {}) if dtype == "int8-delta" else {}
    out = {}
    for k, v in state.items():
        if v.ndim != 2 or v.numel() < INT8_MIN_ELEMENTS:
            out[k] = v.half().contiguous()
        elif k in base:
            # Fine-tuning moves weights little, so the difference from the pretrained weights is
            # far smaller than the weights: the same 8 bits then resolve it far more finely.
            out[k], out[k + _DELTA_SCALE] = _quantize(v.float() - base[k])
        else:
            out[k], out[k + _SCALE] = _quantize(v)
    return out


def _decode(stored: dict[str, torch.Tensor], base: dict[str, torch.Tensor] | None = None,
            source: str = "checkpoint") -> dict[str, torch.Tensor]:
    out = {}
    for k, v in stored.items():
        if k.endswith((_SCALE, _DELTA_SCALE)):
            continue
        if k + _SCALE in stored:
            out[k] = _dequantize(v, stored[k + _SCALE])
        elif k + _DELTA_SCALE in stored:
            if base is None or k not in base:
                raise CheckpointError(f"{source}: {k} is stored as a difference from the backbone's "
                                      "weights, but no backbone weights were given for it")
            out[k] = base[k] + _dequantize(v, stored[k + _DELTA_SCALE])
        else:
            out[k] = v.float()
    return out


def _split_rows(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cut any tensor over the file budget into row blocks (`key.__rows<start>`), so no shard
    file passes 10 MB; `_join_rows` puts them back together at load time."""
    out = {}
    for k, v in state.items():
        nbytes = v.numel() * v.element_size()
        if nbytes <= SHARD_BYTES:
            out[k] = v
            continue
        rows = max(1, SHARD_BYTES // (nbytes // v.shape[0]))
        for start in range(0, v.shape[0], rows):
            out[f"{k}{_ROWS}{start}"] = v[start:start + rows].contiguous()
    return out


def _join_rows(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out, parts = {}, {}
    for k, v in stored.items():
        if _ROWS in k:
            base, start = k.split(_ROWS)
            parts.setdefault(base, []).append((int(start), v))
        else:
            out[k] = v
    for base, blocks in parts.items():
        out[base] = torch.cat([v for _, v in sorted(blocks, key=lambda b: b[0])])
    return out


def _shards(state: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    shards, current, size = [], {}, 0
    for k, v in _split_rows(state).items():
        nbytes = v.numel() * v.element_size()
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = {}, 0
        current[k] = v
        size += nbytes
    if current:
        shards.append(current)
    return shards


def save_checkpoint(directory: Path, model: MultitaskModel, backbone_dir: Path, *, storage: str = "fp32",
                    metrics: dict | None = None, history: list | None = None, training: dict | None = None) -> Path:
    """Write atomically: a crash or Ctrl-C mid-write leaves the previous checkpoint intact."""
    directory = Path(directory)
    recipe = model.recipe
    skip = shared_prefixes(recipe)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items() if not (skip and k.startswith(skip))}
    base = None
    if storage == "int8-delta":
        base = delta_base(recipe, load_file(str(Path(backbone_dir) / "model.safetensors")))
    stored = _encode(state, storage, base)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        files = {}
        shards = _shards(stored)
        for i, shard in enumerate(shards, 1):
            name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            save_file(shard, str(tmp / name), metadata={"format": "pt"})
            files[name] = file_sha256(tmp / name)
        CheckpointConfig(
            name=directory.name,
            recipe=recipe.to_dict(),
            backbone={**backbone_identity(backbone_dir), "config": model.encoder.config.to_dict()},
            storage={"dtype": storage, "shared_from_backbone": list(skip), "files": files},
            metrics=metrics or {},
            history=history or [],
            training=training or {},
        ).write(tmp)
        # mkdtemp makes private files; a checkpoint is meant to be shared and committed.
        tmp.chmod(0o755)
        for f in tmp.iterdir():
            f.chmod(0o644)
        _replace_dir(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return directory


def save_ensemble(directory: Path, recipe: Recipe, members: list[str] | dict[str, list[str]],
                  training: dict | None = None) -> Path:
    """An ensemble's config.json: `members` one list for every task, or {task: list}; `training`
    holds records of how they were chosen, which its hash leaves out."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stored = {t: list(names) for t, names in members.items()} if isinstance(members, dict) else list(members)
    CheckpointConfig(name=directory.name, recipe={**recipe.to_dict(), "members": stored},
                     metrics={}, history=[], training=dict(training or {})).write(directory)
    return directory


def _replace_dir(new: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}-old-{os.getpid()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(directory: Path, device: str | torch.device = "cpu",
                    ) -> tuple[MultitaskModel, Tokenizer, CheckpointConfig]:
    """Load a model checkpoint; every problem becomes a `CheckpointError` naming the file."""
    directory = Path(directory)
    config = CheckpointConfig.read(directory)
    try:
        recipe = Recipe.from_dict(config.recipe)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{directory / 'config.json'}: bad recipe ({exc})") from exc
    if recipe.kind != "model":
        raise CheckpointError(f"{directory}: recipe kind {recipe.kind!r} has no weights to load")
    if config.backbone is None or config.storage is None:
        raise CheckpointError(f"{directory / 'config.json'}: a model checkpoint needs 'backbone' and 'storage'")
    backbone_dir = resolve_backbone(config.backbone["name"])
    if not (backbone_dir / "model.safetensors").is_file():
        raise CheckpointError(f"{directory}: its backbone {backbone_dir} is not available")
    want = config.backbone.get("weights_sha256")
    have = backbone_identity(backbone_dir)["weights_sha256"]
    if want != have:
        raise CheckpointError(f"{directory}: trained on backbone weights sha256 {str(want)[:12]}..., "
                              f"but {backbone_dir / 'model.safetensors'} has {have[:12]}...")
    stored = {}
    for name, sha in config.weight_files.items():
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing")
        if file_sha256(path) != sha:
            raise CheckpointError(f"{path}: sha256 does not match config.json (corrupt or truncated file)")
        try:
            stored.update(load_file(str(path)))
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{path}: unreadable safetensors ({exc})") from exc
    backbone_file = backbone_dir / "model.safetensors"
    backbone_weights = load_file(str(backbone_file)) if recipe.encoder != "scratch" else {}
    try:
        model = _model_to_load(recipe, backbone_dir, backbone_weights, str(backbone_file))
        stored = _join_rows(stored)
        base = delta_base(recipe, backbone_weights) if any(k.endswith(_DELTA_SCALE) for k in stored) else None
        weights = _decode(stored, base, str(directory))
        unused = load_state(model, weights, str(directory),
                            allow_missing=tuple(config.storage["shared_from_backbone"]))
    except WeightMismatch as exc:
        raise CheckpointError(str(exc)) from exc
    if unused:
        raise CheckpointError(f"{directory}: weights the recipe has no place for (first: {', '.join(unused[:3])})")
    model.to(device).eval()
    return model, Tokenizer(backbone_dir, max_length=recipe.max_length), config


def _model_to_load(recipe: Recipe, backbone_dir: Path, backbone_weights: dict[str, torch.Tensor],
                   source: str) -> MultitaskModel:
    """The recipe's model holding the backbone's weights (none for `scratch`), without BERT's
    random initialisation: a checkpoint replaces every other weight (`load_state` refuses one it
    lacks), so drawing them, as `build_model` does for training, would be wasted (about 0.1 s a
    variant on a 2-core CPU). The global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        model = MultitaskModel(recipe, BertModel(BertConfig.from_folder(backbone_dir), init_weights=False))
    if recipe.encoder != "scratch":
        load_state(model.encoder, backbone_weights, source)
    return model
