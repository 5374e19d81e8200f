"""Benchmark of the findings store under concurrent writers (issue 31, criterion 7).

    python -m benchmarks.bench_findings [--writers 50] [--writes 20] [--processes] [--pg-url URL]

50 writers (threads of one process, as in the app; --processes: a process each) each save 20
notes at once into a fresh SQLite file (WAL, synchronous=FULL) and, when a PostgreSQL URL is given
(--pg-url or $MINIBERT_TEST_PG_URL; its findings tables are dropped first), into PostgreSQL. Then
every acknowledged write is looked for. Prints per backend: acknowledged, failed (an error was
returned), lost (acknowledged but not in the database), extra rows, wall time and writes/s.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from findings import FindingsError, Store, Writer  # noqa: E402

_STORES: dict[str, Store] = {}
_LOCK = threading.Lock()


def _store(url: str) -> Store:
    """One store (one connection pool) per process, as in the app."""
    with _LOCK:
        if url not in _STORES:
            _STORES[url] = Store(url, max_per_user=10_000, max_rows=1_000_000)
        return _STORES[url]


def writer(url: str, i: int, writes: int) -> tuple[list[str], list[str]]:
    store = _store(url)
    acked, failed = [], []
    for j in range(writes):
        body = f"writer {i} write {j}"
        try:
            store.add_note(Writer(f"w{i}"), "sst", f"ex{j}", body)
            acked.append(body)
        except FindingsError as e:
            failed.append(f"{body}: {e}")
    return acked, failed


def run(url: str, writers: int, writes: int, processes: bool) -> dict:
    Store(url).close()          # the schema, before the writers race to create it
    pool = ProcessPoolExecutor(writers) if processes else ThreadPoolExecutor(writers)
    started = time.perf_counter()
    with pool:
        results = list(pool.map(writer, [url] * writers, range(writers), [writes] * writers))
    wall = time.perf_counter() - started
    acked = [b for a, _ in results for b in a]
    failed = [f for _, fs in results for f in fs]
    check = Store(url)
    stored = [r["text"] for r in check.rows("notes", Writer("bench", moderator=True))]
    check.close()
    lost = set(acked) - set(stored)
    return {"acked": len(acked), "failed": len(failed), "lost": len(lost), "extra": len(stored) - len(acked),
            "wall_s": wall, "per_s": len(acked) / wall, "first_failure": failed[:1]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--writers", type=int, default=50)
    p.add_argument("--writes", type=int, default=20)
    p.add_argument("--processes", action="store_true", help="a process per writer instead of a thread")
    p.add_argument("--pg-url", default=os.environ.get("MINIBERT_TEST_PG_URL", ""))
    args = p.parse_args(argv)
    targets = [("sqlite", f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-findings-')) / 'findings.sqlite'}")]
    if args.pg_url:
        from tests.findings_helpers import empty_postgres
        targets.append(("postgresql", empty_postgres(args.pg_url)))
    else:
        print("postgresql: skipped (no --pg-url and no $MINIBERT_TEST_PG_URL)")
    bad = 0
    for name, url in targets:
        r = run(url, args.writers, args.writes, args.processes)
        mode = "processes" if args.processes else "threads"
        print(f"{name}: {args.writers} writers ({mode}) x {args.writes} writes: acknowledged {r['acked']}, "
              f"failed {r['failed']}, lost {r['lost']}, extra {r['extra']}; {r['wall_s']:.2f} s, "
              f"{r['per_s']:.0f} writes/s" + (f"; first failure: {r['first_failure'][0]}" if r["failed"] else ""))
        bad += r["failed"] + r["lost"] + abs(r["extra"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
