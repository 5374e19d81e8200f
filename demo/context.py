"""What the app loads once at start-up: every variant, the load failures, the analysis tables.

    ctx = load_context(checkpoints="checkpoints", tables=None, data=None)
    ctx.variants     {name: Predictor (a Variant or an Ensemble)}, in a stable display order
    ctx.failures     [LoadFailure(name, path, reason)]
    ctx.analysis     analysis.Analysis, or None when the tables could not be read at all
    ctx.load_seconds time to load the variants (and the tables)

Nothing here is Gradio: the tests and the benchmark build a context the same way the app does.
"""
from __future__ import annotations

import ctypes
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from minibert.checkpoint_config import default_checkpoints_dir
from minibert.predict import LoadFailure, default_device, load_variants
from minibert.settings import settings


def _mallopt(param: int, value: int, host_value: str | None) -> bool:
    """glibc's `mallopt(param, value)`, unless the host already set it through glibc's environment
    variable (`host_value`; glibc reads it at start-up). Returns whether it was set (False off glibc)."""
    if host_value:
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(param, value))
    except (OSError, AttributeError):
        return False


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (unless $MALLOC_ARENA_MAX already does). glibc gives threads that
    allocate arenas of their own, up to 8 per core; with Gradio's pool of worker threads, memory
    freed in one arena is not reused by the others and the app's RSS crept up under load
    (`python -m benchmarks.bench_load`, 50 x 20: +17.8 % with the default, +9.0 % with 2 arenas).
    Returns whether the cap was set (False off glibc)."""
    return _mallopt(-8, arenas, settings().malloc_arena_max)  # -8: M_ARENA_MAX


def map_large_blocks(threshold: int = 1 << 20) -> bool:
    """Serve every malloc of `threshold` bytes or more with its own mapping (unless
    $MALLOC_MMAP_THRESHOLD_ already sets it), so that freeing it gives the pages back at once.
    By default glibc raises this threshold to 32 MB as large blocks are freed, after which a
    query's temporary arrays (a Quora column of every variant is about 1-2 MB) come from the heap
    and stay in the RSS once freed. Returns whether it was set (False off glibc)."""
    return _mallopt(-3, threshold, settings().malloc_mmap_threshold)  # -3: M_MMAP_THRESHOLD


def trim_malloc() -> bool:
    """Hand the memory glibc's malloc holds free back to the system (`malloc_trim(0)`), and
    Arrow's (`release_arrow_memory`). Arrays under its mmap threshold (1 MB once
    `map_large_blocks` fixed it; otherwise it grows to 32 MB as large blocks are freed) come from
    the heap, and freeing them leaves free pages there that still count as the process's RSS.
    Called when a large structure is dropped (an evicted upload join) and after every attribution.
    Returns glibc's answer (False off glibc)."""
    release_arrow_memory()
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def release_arrow_memory() -> bool:
    """Hand back what Arrow's default memory pool holds free (`release_unused`). pyarrow's wheels
    pool through mimalloc, which keeps freed pages resident in a reservation of its own, out of
    glibc's reach: the analysis tables' filters and exports grew it in a load run (figures in
    docs/BENCHMARKS.md, issue 30). Nothing to do, and False, where pyarrow is not loaded (it is
    not imported here for this)."""
    pa = sys.modules.get("pyarrow")
    if pa is None:
        return False
    pa.default_memory_pool().release_unused()
    return True


def configure_threads(threads: int | None = None) -> int:
    """Torch intra-op threads: $MINIBERT_THREADS, else half the cores this process may use (at
    least 1, at most 8). One click scores a handful of short sentences, which gains little from
    intra-op threads; on a shared 2-core machine two threads made a click 10-30x slower than one
    (measured: 3.2 s vs 0.1 s with the other core busy), because every op waits for both cores."""
    if threads is None:
        threads = settings().threads
    if threads is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cores = os.cpu_count() or 1
        threads = max(1, min(cores // 2, 8))
    torch.set_num_threads(threads)
    return threads


@dataclass
class AppContext:
    checkpoints_dir: Path
    tables_dir: Path | None
    data_dir: Path | None
    device: str
    variants: dict = field(default_factory=dict)
    failures: list[LoadFailure] = field(default_factory=list)
    analysis: object | None = None
    analysis_error: str | None = None
    load_seconds: float = 0.0
    tables_seconds: float = 0.0
    findings: object | None = None             # findings.Store (tags, notes, saved slices), opened at start
    findings_settings: object | None = None    # findings.FindingsSettings: where it lives, who may write

    @property
    def names(self) -> list[str]:
        return list(self.variants)

    def model_names(self) -> list[str]:
        """Variants with their own gradients (not ensembles, not live models): for attributions."""
        return [n for n, v in self.variants.items() if v.can_explain]

    def trust(self) -> dict:
        """{variant: {task: HeadTrust}} from the analysis summary (demo.trust_view); empty without one."""
        from .trust_view import trust_of

        summary = getattr(self.analysis, "summary", None)
        return trust_of(self.variants, summary) if summary else {}

    def status_line(self) -> str:
        parts = []
        if self.variants:
            parts.append(f"{len(self.variants)} variant{'s' if len(self.variants) != 1 else ''} loaded on "
                         f"{self.device} in {self.load_seconds:.1f} s")
        else:
            parts.append(f"no variants loaded from `{self.checkpoints_dir}`")
        if self.failures:
            parts.append(f"{len(self.failures)} failed to load")
        a = self.analysis
        if a is not None and getattr(a, "tasks", None):
            parts.append(f"dev-set analysis of {len(a.variants())} variants")
        return " · ".join(parts)


def order_variants(variants: dict) -> dict:
    """Models first in name order, ensembles last (they are composed from the others)."""
    models = sorted(n for n, v in variants.items() if not v.members)
    ensembles = sorted(n for n, v in variants.items() if v.members)
    return {n: variants[n] for n in models + ensembles}


def load_context(checkpoints: str | os.PathLike | None = None, tables: str | os.PathLike | None = None,
                 data: str | os.PathLike | None = None, device: str | None = None,
                 with_analysis: bool = True, live: list[str] | None = None, with_findings: bool = True,
                 host: str | None = None) -> AppContext:
    """Load every variant once (on the GPU when there is one) and the analysis tables, and the
    live models the host asked for (`live` specs, then $MINIBERT_LIVE; `minibert.live`).
    Never raises for a bad checkpoint, live model or missing tables: each is reported in the context."""
    checkpoints_dir = Path(checkpoints) if checkpoints else default_checkpoints_dir()
    tables_dir = tables or settings().tables
    data_dir = data or settings().data
    device = device or default_device()
    ctx = AppContext(checkpoints_dir=checkpoints_dir, tables_dir=Path(tables_dir) if tables_dir else None,
                     data_dir=Path(data_dir) if data_dir else None, device=device)
    start = time.perf_counter()
    try:
        variants, failures = load_variants(checkpoints_dir, device=device)
    except Exception as exc:  # a broken folder must not stop the app from starting
        variants, failures = {}, [LoadFailure(checkpoints_dir.name, checkpoints_dir, f"{type(exc).__name__}: {exc}")]
    from minibert.live import LiveModelError, live_specs, load_live

    for spec in live_specs(live):  # the host's own code, run because the host asked for it
        try:
            model = load_live(spec, list(variants))
        except LiveModelError as exc:
            failures.append(LoadFailure(spec, Path(spec), str(exc)))
            continue
        variants[model.name] = model
    ctx.variants, ctx.failures = order_variants(variants), failures
    ctx.load_seconds = time.perf_counter() - start
    if with_analysis:
        start = time.perf_counter()
        try:
            import analysis

            hashes = {n: v.checkpoint_hash for n, v in ctx.variants.items()}
            # With no loaded variants there is nothing to check staleness against: show the tables.
            ctx.analysis = analysis.load(ctx.tables_dir, ctx.data_dir, hashes if hashes else False)
        except Exception as exc:
            ctx.analysis, ctx.analysis_error = None, f"{type(exc).__name__}: {exc}"
        ctx.tables_seconds = time.perf_counter() - start
    if with_findings:
        from findings import FindingsSettings, open_store

        # Opening upgrades the schema (alembic); an unreachable database is reported on the page,
        # and everything else is served as usual.
        ctx.findings_settings = FindingsSettings.from_env(host=host)
        ctx.findings = open_store(ctx.findings_settings)
    return ctx
