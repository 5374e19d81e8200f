"""The embedding map: per variant and task, a 2-D UMAP projection of the vector each dev example's
head reads (`Scorer.head_inputs`: the pooled sentence vector for SST; for a pair, the
cross-encoder's joint vector or a bi-encoder's pair features). Every SST and STS dev example, and
a fixed seeded sample of Quora's (`QUORA_SAMPLE` pairs). An ensemble averages its members'
outputs and has no vector of its own: it is left out, with that reason in the provenance.

    inputs = map_inputs(a)                        # {task: (example rows, sentences or pairs)}
    xy = project(vectors, seed=SEED)              # (n, 2) float32, umap-learn (build only)
    with Projector(background=True) as projector: # the same, beside the caller (the build step)
        xy, cpu_s, in_worker = projector.result(projector.submit(vectors, SEED), vectors, SEED)
    write_map(tables_dir, points, provenance)     # embedding_map/points.parquet
    points, provenance, problems = read_map(tables_dir, checkpoints)
    inside = in_region(points, (x0, x1), (y0, y1))

umap-learn is in requirements-dev.txt only: `project` imports it; nothing else here needs it.
"""
from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from minibert.tasks import TASK_NAMES
from minibert.tasks import task as get_task

from .core import Analysis
from .derived import DerivedAnalysis, Log, Reading
from .tables import TableError, _read_parquet, _write_parquet, drop_stale

SEED = 0
QUORA_SAMPLE = 2000
# UMAP's defaults, named: how many neighbours shape the layout and how tightly points may pack.
N_NEIGHBORS = 15
MIN_DIST = 0.1
MAP_DIR = "embedding_map"
POINTS_FILE = f"{MAP_DIR}/points.parquet"
# Below this many points a map step projects inline: a worker process would pay its start and
# numba's compilation of UMAP (about 14 s of CPU) again for fits of a second or less.
BACKGROUND_MIN_POINTS = 1000
ENSEMBLE_REASON = "an ensemble averages its members' outputs and has no vector of its own: see its members' maps"


def sample_rows(task: str, n: int, seed: int = SEED, quora_sample: int = QUORA_SAMPLE) -> np.ndarray:
    """The dev rows the map covers: all of them, except Quora's, of which a seeded sample, sorted."""
    if task != "quora" or n <= quora_sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, quora_sample, replace=False))


def map_inputs(a: Analysis, seed: int = SEED, quora_sample: int = QUORA_SAMPLE) -> dict[str, tuple[np.ndarray, list]]:
    """{task: (example rows, their inputs)}: sentences for SST, (sentence1, sentence2) pairs otherwise."""
    out = {}
    for task in a.tasks:
        examples = a.task(task).examples
        rows = sample_rows(task, len(examples), seed, quora_sample)
        s1 = examples["sentence1"].to_numpy()[rows].tolist()
        out[task] = (rows, list(zip(s1, examples["sentence2"].to_numpy()[rows].tolist())) if get_task(task).pair else s1)
    return out


def inputs_digest(inputs: Mapping[str, tuple[np.ndarray, list]], seed: int) -> str:
    """What a stored projection depends on besides the checkpoint: the inputs, the seed, UMAP's settings."""
    h = hashlib.sha256(json.dumps({"seed": seed, "n_neighbors": N_NEIGHBORS, "min_dist": MIN_DIST}).encode())
    for task in sorted(inputs):
        h.update(task.encode())
        h.update(json.dumps(inputs[task][1]).encode())
    return h.hexdigest()


def project(vectors: np.ndarray, seed: int = SEED) -> np.ndarray:
    """(n, d) -> (n, 2) float32 by UMAP with a fixed seed (which makes umap-learn run single-threaded
    and repeatable). Euclidean distance: the heads read these vectors linearly or through an MLP."""
    import umap  # build-only (requirements-dev.txt), and slow to import: the app never needs it

    n = len(vectors)
    if n < 4:
        raise ValueError(f"a map needs at least 4 points, not {n}")
    reducer = umap.UMAP(n_components=2, n_neighbors=min(N_NEIGHBORS, n - 1), min_dist=MIN_DIST,
                        metric="euclidean", random_state=seed, init="spectral" if n > 16 else "random")
    with warnings.catch_warnings():  # it warns that a seed means one thread: that is the point
        warnings.filterwarnings("ignore", message=".*overridden to 1 by setting random_state.*")
        return reducer.fit_transform(np.asarray(vectors, dtype=np.float32)).astype(np.float32)


def timed(fn: Callable[[np.ndarray, int], np.ndarray], vectors: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """(fn(vectors, seed), the CPU seconds it took in the process that ran it)."""
    start = time.process_time()
    return fn(vectors, seed), time.process_time() - start


def _one_blas_thread() -> None:
    # The worker's core is the one the caller's encoder does not need; BLAS threads of its own
    # would only take turns with the encoder's (one thread or two give the same numbers).
    from threadpoolctl import threadpool_limits  # build-only (requirements-dev.txt)

    threadpool_limits(1)


class Projector:
    """Runs `project` (or `fn`) beside the caller: `submit` hands back a Future, `result` its
    points. With `background`, in one worker process, first in first out: UMAP with a seed runs on
    one core, so a variant's projections go on while the build encodes the next variant on the
    other core, and numba compiles UMAP there rather than in the caller (same inputs, same code:
    the same points bit for bit). Inline otherwise: for small maps a process start and a second
    compilation cost more than they save."""

    def __init__(self, background: bool, fn: Callable[[np.ndarray, int], np.ndarray] = project):
        self.fn = fn
        self.stopped: str | None = None  # why the worker process is gone, once it is
        self._pool = ProcessPoolExecutor(1, get_context("spawn"), initializer=_one_blas_thread) if background else None

    def submit(self, vectors: np.ndarray, seed: int) -> Future:
        done: Future = Future()
        try:
            if self._pool is not None:
                return self._pool.submit(timed, self.fn, vectors, seed)
            done.set_result(timed(self.fn, vectors, seed))
        except Exception as error:  # a broken worker too: `result` reads it from the Future
            done.set_exception(error)
        return done

    def result(self, future: Future, vectors: np.ndarray, seed: int) -> tuple[np.ndarray, float, bool]:
        """(points, CPU seconds, whether the worker process made them). When the worker process is
        gone (killed, or started from a script without the `if __name__ == "__main__":` guard a
        spawned process needs), this and every later projection runs inline: slower, same points."""
        try:
            xy, cpu = future.result()
            return xy, cpu, self._pool is not None
        except BrokenProcessPool as error:
            if self._pool is not None:
                self.stopped = str(error)
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            return (*timed(self.fn, vectors, seed), False)

    def __enter__(self) -> Projector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def feature_description(recipe: object, task: str) -> str:
    """In words, the vector a variant's `task` head reads (shown beside its map)."""
    if not get_task(task).pair:
        return f"pooled sentence vector ({recipe.pooling})"
    if recipe.pair_encoding == "cross":
        return f"joint vector of the pair ({recipe.pooling} pooling of one cross-encoded sequence)"
    head = recipe.para_head if task == "quora" else recipe.sts_head
    return {"diff-linear": "|u − v| (what its diff-linear head reads)",
            "concat-linear": "[|u − v|, u ⊙ v] (what its concat-linear head reads)",
            "concat-mlp": "[|u − v|, u ⊙ v] (what its concat-MLP head reads)",
            "cosine": "û ⊙ v̂, the product of the unit vectors (its sum is the cosine the head scores)",
            "dot-product": "Pu ⊙ Pv, the product of the projections (its sum, through ReLU, is the score)",
            }.get(head, head)


def write_map(tables_dir: Path, points: pd.DataFrame, provenance: dict) -> tuple[Path, int]:
    """`embedding_map/points.parquet`: variant, task, ex (the dev example's row), x, y (float16,
    ample for a scatter); the provenance holds each variant's checkpoint hash, the inputs' digest,
    the seed and sample size, each map's feature description and the variants left out."""
    path = Path(tables_dir) / POINTS_FILE
    frame = points.astype({"ex": np.int32, "x": np.float16, "y": np.float16})
    for column in ("variant", "task"):
        frame[column] = frame[column].astype("category")
    _, size = _write_parquet(frame.reset_index(drop=True), {"kind": "embedding map", **provenance}, path)
    return path, size


def read_map(tables_dir: Path, checkpoints: Mapping[str, str | None] | None = None
             ) -> tuple[pd.DataFrame | None, dict, list[str]]:
    """(points, provenance, problems). With `checkpoints` ({variant: hash}), a variant mapped from
    another checkpoint is left out with a problem."""
    path = Path(tables_dir) / POINTS_FILE
    if not path.is_file():
        return None, {}, [f"no embedding map in {path.parent}: run `python -m analysis build` with umap-learn "
                          "installed (pip install -r requirements-dev.txt)"]
    try:
        points, provenance = _read_parquet(path)
    except TableError as error:
        return None, {}, [str(error)]
    points = points.astype({"variant": str, "task": str, "x": np.float32, "y": np.float32})
    points, problems = drop_stale(points, provenance, checkpoints, "the maps")
    return points.reset_index(drop=True), provenance, problems


def in_region(x: np.ndarray, y: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float]) -> np.ndarray:
    """Which points lie in the closed box x_range × y_range (either bound order accepted)."""
    (x0, x1), (y0, y1) = sorted(x_range), sorted(y_range)
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)



class EmbeddingMapAnalysis(DerivedAnalysis):
    """The embedding map as a derived analysis: `embedding_map/points.parquet`; its reading's data
    is the points of the variants loaded (others are left out with a problem)."""
    name, title, requires, package, uses_models = "embedding_map", "Embedding map", "umap", "umap-learn", True

    def build(self, a: Analysis, variants: Mapping[str, object], tables_dir: Path, log: Log,
              background: bool | None = None, project_fn: Callable | None = None) -> list[str]:
        """Project every model's head inputs (`Scorer.head_inputs`) to 2-D per task. A model whose
        checkpoint and the inputs are unchanged keeps its stored points; the table is rewritten after
        each variant, so an interrupted build keeps the maps it finished. The projections run in a
        worker process beside the next variant's encoder pass (`Projector`) when there are several
        real-sized maps to make (`background` None), or as `background` says; `project_fn` stands in
        for UMAP (tests)."""
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
    def read(self, a: Analysis | None) -> Reading:
        if a is None:
            return Reading(problems=["no analysis tables"])
        points, provenance, problems = read_map(a.tables_dir, a.checkpoint_hashes())
        return Reading(points, provenance, problems)

    def tasks(self, reading: Reading) -> list[str]:
        mapped = set() if reading.data is None else set(reading.data["task"])
        return [t for t in TASK_NAMES if t in mapped]

    def frame(self, reading: Reading, task: str) -> pd.DataFrame | None:
        return None if reading.data is None else reading.data[reading.data["task"] == task]


ANALYSIS = EmbeddingMapAnalysis()
