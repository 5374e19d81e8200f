"""Synthetic dev data and prediction tables, for tests and the benchmark (no model, no real data).

    make_data_dir(folder, sizes={"sst": 60, "quora": 80, "sts": 50}) -> ids per task
    make_tables(tables_dir, data_dir, variants=("a", "b", "c")) -> manifest

`make_tables` writes what `python -m analysis build` writes, minus the summary: prediction tables
and, per task, the examples table `examples/<task>.parquet` (text, gold, features).

The data files copy the CS224N layout (tab-separated, leading index column, header row), so
they are read by `minibert.data.read_split` exactly like the real ones. Predictions are random
but correlated with the gold labels, so metrics are neither 0 nor 1.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from minibert.tasks import task as get_task

from .examples import data_identity, read_dev_split
from .schema import TASKS
from .tables import empty_manifest, read_manifest, write_examples, write_manifest, write_table

HEADERS = {
    "sst": ["", "id", "sentence", "sentiment"],
    "quora": ["", "id", "sentence1", "sentence2", "is_duplicate"],
    "sts": ["", "id", "sentence1", "sentence2", "similarity"],
}
FILES = {"sst": "ids-sst-dev.csv", "quora": "quora-dev.csv", "sts": "sts-dev.csv"}
WORDS = (
    "the a film movie story good bad great boring funny not no never is was it this that and or but "
    "with without what how why can do does question answer people best way learn water dog cat "
    "run play city phone money time year life love work n't nothing"
).split()


def fake_id(task: str, i: int) -> str:
    return hashlib.sha256(f"{task}-{i}".encode()).hexdigest()[:25]


def _sentence(rng: np.random.Generator, n_words: int) -> str:
    return " ".join(rng.choice(WORDS, size=max(1, n_words))).capitalize() + " ."


def make_data_dir(
    folder: Path,
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    texts: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> dict[str, list[str]]:
    """Write the three dev files into `folder`; returns the ids per task.
    `texts[task]` may supply (sentence1, sentence2) pairs to reuse (cycled)."""
    sizes = {"sst": 60, "quora": 80, "sts": 50, **(sizes or {})}
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = {}
    for task in TASKS:
        n = sizes[task]
        rows, task_ids = [], []
        for i in range(n):
            if texts and task in texts and texts[task]:
                s1, s2 = texts[task][i % len(texts[task])]
            else:
                s1 = _sentence(rng, int(rng.integers(3, 35)))
                shared = s1.split()[: int(rng.integers(0, 6))]
                s2 = " ".join(shared + _sentence(rng, int(rng.integers(3, 20))).split())
            identifier = fake_id(task, i)
            task_ids.append(identifier)
            if get_task(task).multiclass:
                rows.append([i, identifier, s1, int(rng.integers(0, 5))])
            elif get_task(task).binary:
                rows.append([i, identifier, s1, s2, f"{float(rng.random() < 0.37):.1f}"])
            else:
                rows.append([i, identifier, s1, s2, f"{rng.uniform(0, 5):.2f}"])
        with open(folder / FILES[task], "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="\t", quotechar='"', lineterminator="\n")
            writer.writerow(HEADERS[task])
            writer.writerows(rows)
        ids[task] = task_ids
    return ids


def fake_predictions(
    task: str, gold: np.ndarray, rng: np.random.Generator, skill: float = 1.5, shared: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Random predictions that lean towards `gold` (the larger `skill`, the better). `shared`
    (n, 5) noise common to several variants makes them err on the same examples, as models do."""
    n = len(gold)
    common = np.zeros((n, 5)) if shared is None else shared
    if get_task(task).multiclass:
        logits = rng.normal(size=(n, 5)) + 1.5 * common + skill * np.eye(5)[gold.astype(int)]
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        out = {"pred": probs.argmax(axis=1)}
        out.update({f"p{k}": probs[:, k] for k in range(5)})
        return out
    if get_task(task).binary:
        prob = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * common[:, 0] + skill * (2 * gold - 1))))
        return {"pred": (prob >= 0.5).astype(int), "prob": prob}
    return {"pred": np.clip(gold + rng.normal(scale=1.5 / skill, size=n) + common[:, 0], 0, 5)}


def make_tables(
    tables_dir: Path,
    data_dir: Path,
    variants: Sequence[str] = ("a", "b", "c"),
    seed: int = 0,
    checkpoint_hashes: Mapping[str, str] | None = None,
    tasks: Sequence[str] = TASKS,
) -> dict:
    """Write the examples tables and random prediction tables of `variants` for the dev files in
    `data_dir`, and record them in the manifest (checkpoint hash: `checkpoint_hashes[v]`, else
    "hash-<v>")."""
    rng = np.random.default_rng(seed)
    tables_dir = Path(tables_dir)
    manifest, problems = read_manifest(tables_dir)
    if problems:
        manifest = empty_manifest()
    for task in tasks:
        frame, info, _ = read_dev_split(task, data_dir)
        data = data_identity(info)
        write_examples(tables_dir, manifest, task, frame, data)
        gold = frame["gold"].to_numpy()
        shared = rng.normal(size=(len(gold), 5))
        for k, variant in enumerate(variants):
            predictions = fake_predictions(task, gold, rng, skill=1.0 + 0.3 * k, shared=shared)
            table = pd.DataFrame({"id": frame["id"], **predictions})
            write_table(
                tables_dir, manifest, variant=variant, task=task, frame=table, checkpoint_name=variant,
                checkpoint_hash=(checkpoint_hashes or {}).get(variant, f"hash-{variant}"),
                data=data,
            )
    write_manifest(tables_dir, manifest)
    return manifest
