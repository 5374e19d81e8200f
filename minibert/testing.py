"""Small real artefacts for tests of minibert, analysis and the app: a tiny BERT backbone folder,
tiny CS224N-format data files, and checkpoints saved through the real code path.

Nothing here is shipped in `checkpoints/`: callers write into a temporary folder.
"""
from __future__ import annotations

import csv
import json
import random
from dataclasses import replace
from pathlib import Path

import torch
from safetensors.torch import save_file

from .checkpoint import save_checkpoint, save_ensemble
from .model import BertConfig, BertModel, load_pretrained
from .network import MultitaskModel
from .recipes import get_recipe

TINY_CONFIG = BertConfig(vocab_size=0, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=64)
WORDS = ("the a film movie good bad great awful not very is was what how why do does can i you "
         "it this that best worst question answer same different dog cat man woman runs plays").split()


def make_tiny_backbone(folder: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-wide BERT with a ~100-token vocabulary: every lowercase word still
    tokenizes (letters and ##letters are in the vocabulary)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *".,!?'\"()-:;", *letters,
             *[f"##{c}" for c in letters], *WORDS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    config = replace(TINY_CONFIG, vocab_size=len(vocab))
    (folder / "config.json").write_text(json.dumps({**config.to_dict(), "hidden_act": "gelu",
                                                    "model_type": "bert"}, indent=2))
    torch.manual_seed(seed)
    model = BertModel(config)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    return folder


def _sentence(rng: random.Random, n: int = 6) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, n)))


def make_tiny_data(folder: Path, rows: int = 24, seed: int = 0) -> Path:
    """Labelled train/dev and unlabelled test files of all three tasks, in the CS224N layout."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)

    def write(name: str, header: str, body: str) -> None:
        with open(folder / name, "w", newline="") as f:
            w = csv.writer(f, delimiter="\t", quotechar='"', lineterminator="\n")
            w.writerow(["", *header])
            for i, row in enumerate(body):
                w.writerow([i, *row])

    for split in ("train", "dev", "test"):
        suffix = "test-student" if split == "test" else split
        labelled = split != "test"
        # 25 hex characters, like the real ids, distinct across splits.
        ids = [f"{'abe'[('train', 'dev', 'test').index(split)]}{i:024x}" for i in range(rows)]
        sst = [[i, _sentence(rng)] + ([rng.randint(0, 4)] if labelled else []) for i in ids]
        write(f"ids-sst-{suffix}.csv", ["id", "sentence"] + (["sentiment"] if labelled else []), sst)
        quora = [[i, _sentence(rng), _sentence(rng)] + ([float(rng.randint(0, 1))] if labelled else []) for i in ids]
        write(f"quora-{suffix}.csv", ["id", "sentence1", "sentence2"] + (["is_duplicate"] if labelled else []), quora)
        sts = [[i, _sentence(rng), _sentence(rng)] + ([round(rng.uniform(0, 5), 1)] if labelled else []) for i in ids]
        write(f"sts-{suffix}.csv", ["id", "sentence1", "sentence2"] + (["similarity"] if labelled else []), sts)
    return folder


TINY_VARIANTS = {"tiny-cls": "multitask-cls", "tiny-mean": "frozen-mean", "tiny-cross": "cross-encoder"}


def make_tiny_checkpoints(folder: Path, backbone: Path | None = None, ensemble: bool = True, seed: int = 0) -> Path:
    """Checkpoints of three tiny variants (random weights, real format) plus an ensemble of them.
    The backbone is written beside them (`folder/../tiny-backbone`) unless one is given."""
    folder = Path(folder)
    backbone = Path(backbone) if backbone else make_tiny_backbone(folder.parent / "tiny-backbone", seed)
    for i, (name, recipe_name) in enumerate(TINY_VARIANTS.items()):
        recipe = replace(get_recipe(recipe_name), name=name, max_length=32)
        torch.manual_seed(seed + i)
        model = MultitaskModel(recipe, load_pretrained(backbone))
        save_checkpoint(folder / name, model, backbone, storage="fp32",
                        training={"device": "cpu", "hardware": "tiny test model (random weights)"})
    if ensemble:
        save_ensemble(folder / "ensemble", get_recipe("ensemble"), list(TINY_VARIANTS))
    return folder
