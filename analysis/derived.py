"""The build's last step: tables derived from the fresh prediction tables and the variants
(label errors; behavioural tests; the embedding map), written beside them. A part that needs a library only the
build installs (requirements-dev.txt) is skipped without it, with a message, and its old tables
stay as they were.

    written = build_derived(analysis, variants, tables_dir, log)   # called by analysis.build
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from .core import Analysis

# Below this many points a map step projects inline: a worker process would pay its start and
# numba's compilation of UMAP (about 14 s of CPU) again for fits of a second or less.
BACKGROUND_MIN_POINTS = 1000


def missing_library(module: str) -> str | None:
    """None when `module` imports, else why not (for the skip message)."""
    try:
        __import__(module)
    except ImportError as error:
        return str(error)
    return None


def forget_frozen_features(variants: Mapping[str, object]) -> None:
    """Empty the sentence memos that frozen-encoder variants share. A vector differs in its last
    bits with the batch its sentence was encoded in, so a memo filled by an earlier step (the
    predictions, the behavioural tests) would make a step's table depend on which steps ran
    before it in this process; each model step starts from an empty memo instead."""
    from minibert.predict import frozen_memos

    for memo in frozen_memos(variants):
        memo.clear()


def build_label_errors(a: Analysis, variants: Mapping[str, object], tables_dir: Path,
                       log: Callable[[str], None]) -> list[str]:
    from .label_errors import label_error_table, write_label_errors

    why = missing_library("cleanlab")
    if why:
        log(f"label errors skipped: cleanlab is not installed ({why}); the old label_errors/ tables are kept "
            "(pip install -r requirements-dev.txt)")
        return []
    models = {name: v.checkpoint_hash for name, v in variants.items() if not v.members}
    ensembles = {name for name, v in variants.items() if v.members}
    written = []
    for task in a.tasks:
        try:
            table, provenance = label_error_table(a, task, models, ensembles)
        except ValueError as error:
            log(f"label errors for {task} skipped: {error}")
            continue
        path, size = write_label_errors(tables_dir, task, table, provenance)
        written.append(str(path))
        log(f"wrote {path} ({int(table['issue'].sum())} flagged of {len(table)}, evidence from "
            f"{len(provenance['variants'])} variants, {size / 1e3:.0f} kB)")
    return written


def build_behaviour(a: Analysis, variants: Mapping[str, object], tables_dir: Path,
                    log: Callable[[str], None]) -> list[str]:
    """Run the behavioural suite on every variant. A model whose checkpoint and the suite are
    unchanged keeps its stored results; an ensemble is the mean of its members' outputs (the
    rule `Ensemble` applies) when they were scored in this run."""
    import time

    import numpy as np

    from minibert.predictor import ensemble_mean

    from .behaviour import judge, make_suite, read_behaviour, score_suite, suite_hash, suite_inputs, write_behaviour

    examples = {t: a.task(t).examples for t in a.tasks}
    suite = make_suite(examples, [t for t in examples if t != "sts" or "sst" in examples])
    if suite.empty:
        log("behavioural tests skipped: no dev examples to build them from")
        return []
    digest = suite_hash(suite)
    old_cases, old, provenance, _ = read_behaviour(tables_dir)
    old_hashes = provenance.get("variants", {}) if provenance.get("suite") == digest and old is not None else {}
    inputs = suite_inputs(suite)
    forget_frozen_features(variants)
    raw: dict[str, dict] = {}
    parts, hashes, scored_names = [], {}, []
    order = sorted(variants.items(), key=lambda item: bool(item[1].members))  # models first, then ensembles
    for name, variant in order:
        if old_hashes.get(name) == variant.checkpoint_hash:
            parts.append(old[old["variant"] == name])
            hashes[name] = variant.checkpoint_hash
            continue
        start = time.perf_counter()
        members = [m.name for m in variant.members]
        try:
            if members and all(m in raw for m in members):
                outputs = {t: ensemble_mean([raw[m][t] for m in members]) for t in inputs}
            else:
                outputs = variant.score_tasks(inputs)
        except Exception as error:  # one variant's fault must not cost the others their results
            log(f"behavioural tests: {name} failed ({type(error).__name__}: {error}); left out")
            continue
        raw[name], hashes[name] = outputs, variant.checkpoint_hash
        scored = score_suite(suite, outputs)
        table = scored.astype(np.float32)
        table.insert(0, "case", suite["case"].to_numpy())
        table.insert(0, "variant", name)
        table["passed"] = judge(suite, scored)
        parts.append(table.reset_index(drop=True))
        scored_names.append(name)
        log(f"behavioural tests: {name} scored in {time.perf_counter() - start:.1f} s")
    results = pd.concat(parts, ignore_index=True)
    written = write_behaviour(tables_dir, suite, results, {"suite": digest, "variants": hashes})
    counts = suite.groupby("task").size().to_dict()
    log(f"behavioural tests: {len(suite)} cases ({', '.join(f'{t} {n}' for t, n in counts.items())}) on "
        f"{len(hashes)} variants, {len(scored_names)} scored, the others up to date")
    return written


def build_embedding_map(a: Analysis, variants: Mapping[str, object], tables_dir: Path,
                        log: Callable[[str], None], background: bool | None = None,
                        project_fn: Callable | None = None) -> list[str]:
    """Project every model's head inputs (`Scorer.head_inputs`) to 2-D per task. A model whose
    checkpoint and the inputs are unchanged keeps its stored points; the table is rewritten after
    each variant, so an interrupted build keeps the maps it finished. The projections run in a
    worker process beside the next variant's encoder pass (`Projector`) when there are several
    real-sized maps to make (`background` None), or as `background` says; `project_fn` stands in
    for UMAP (tests)."""
    import time
    from collections import deque

    from .embedding_map import (
        ENSEMBLE_REASON,
        QUORA_SAMPLE,
        SEED,
        Projector,
        feature_description,
        inputs_digest,
        map_inputs,
        project,
        read_map,
        write_map,
    )

    why = missing_library("umap")
    if why:
        log(f"embedding map skipped: umap-learn is not installed ({why}); the old embedding_map/ table is kept "
            "(pip install -r requirements-dev.txt)")
        return []
    inputs = map_inputs(a)
    if not inputs:
        log("embedding map skipped: no dev examples")
        return []
    digest = inputs_digest(inputs, SEED)
    old, old_provenance, _ = read_map(tables_dir)
    up_to_date = old_provenance.get("variants", {}) if old is not None and old_provenance.get("inputs") == digest else {}
    provenance = {"inputs": digest, "seed": SEED, "quora_sample": QUORA_SAMPLE, "variants": {}, "features": {},
                  "left_out": {name: ENSEMBLE_REASON for name, v in variants.items() if v.members}}
    models = sorted((name, v) for name, v in variants.items() if not v.members)
    if background is None:
        due = sum(up_to_date.get(name) != v.checkpoint_hash for name, v in models)
        background = due >= 2 and sum(len(rows) for rows, _ in inputs.values()) >= BACKGROUND_MIN_POINTS
    parts, mapped = [], []
    queue: deque = deque()  # (name, variant, stored points or {task: (Future, vectors)}, encoding's wall and CPU s)
    wall0, cpu0, worker_cpu = time.perf_counter(), time.process_time(), 0.0

    def finish(name: str, variant: object, points: object, encoding: tuple[float, float]) -> None:
        """Take in the next variant in name order, once its points are there; write the table."""
        nonlocal worker_cpu
        if isinstance(points, dict):
            stopped = projector.stopped
            try:
                done = {task: projector.result(future, vectors, SEED) for task, (future, vectors) in points.items()}
            except Exception as error:  # one variant's fault must not cost the others their maps
                log(f"embedding map: {name} failed ({type(error).__name__}: {error}); left out")
                return
            finally:
                if projector.stopped and not stopped:
                    log(f"embedding map: the worker process stopped ({projector.stopped}); projecting in this process")
            frames = [pd.DataFrame({"variant": name, "task": task, "ex": inputs[task][0], "x": xy[:, 0], "y": xy[:, 1]})
                      for task, (xy, _, _) in done.items()]
            fit_cpu = sum(cpu for _, cpu, _ in done.values())
            in_worker = all(worker for _, _, worker in done.values())
            worker_cpu += sum(cpu for _, cpu, worker in done.values() if worker)
            parts.append(pd.concat(frames, ignore_index=True))
            mapped.append(name)
            log(f"embedding map: {name} encoded in {encoding[0]:.1f} s wall, {encoding[1]:.1f} s CPU; projected in "
                f"{fit_cpu:.1f} s CPU{' (worker process)' if in_worker else ''}")
        else:
            parts.append(points)
        provenance["variants"][name] = variant.checkpoint_hash
        provenance["features"][name] = {t: feature_description(variant.recipe, t) for t in inputs}
        if mapped and mapped[-1] == name:  # written as it goes: an interrupted build keeps what it finished
            write_map(tables_dir, pd.concat(parts, ignore_index=True), provenance)

    forget_frozen_features(variants)
    with Projector(background, project_fn or project) as projector:
        for name, variant in models:
            if up_to_date.get(name) == variant.checkpoint_hash:
                queue.append((name, variant, old[old["variant"] == name], (0.0, 0.0)))
            else:
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    vectors = variant.head_inputs({t: x for t, (_, x) in inputs.items()})
                except Exception as error:  # one variant's fault must not cost the others their maps
                    log(f"embedding map: {name} failed ({type(error).__name__}: {error}); left out")
                    continue
                encoding = (time.perf_counter() - wall, time.process_time() - cpu)
                pending = {task: (projector.submit(vectors[task], SEED), vectors[task]) for task in inputs}
                queue.append((name, variant, pending, encoding))
            while queue and (not isinstance(queue[0][2], dict) or all(f.done() for f, _ in queue[0][2].values())):
                finish(*queue.popleft())
        while queue:
            finish(*queue.popleft())
    if not parts:
        return []
    path, size = write_map(tables_dir, pd.concat(parts, ignore_index=True), provenance)
    log(f"embedding map: {len(provenance['variants'])} variants, {len(mapped)} projected in "
        f"{time.perf_counter() - wall0:.1f} s wall, {time.process_time() - cpu0:.1f} s CPU"
        f"{f' + {worker_cpu:.1f} s CPU in the worker process' if background else ''}; wrote {path} ({size / 1e3:.0f} kB)")
    return [str(path)]


def build_derived(a: Analysis, variants: Mapping[str, object], tables_dir: Path,
                  log: Callable[[str], None] = print) -> list[str]:
    """Every derived table; returns the paths written."""
    tables_dir = Path(tables_dir)
    return (build_label_errors(a, variants, tables_dir, log) + build_behaviour(a, variants, tables_dir, log)
            + build_embedding_map(a, variants, tables_dir, log))
