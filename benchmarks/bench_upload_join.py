"""Benchmark of joining an upload with the shipped analysis (issue 20's uploads, issue 16's load run).

    python -m benchmarks.bench_upload_join [--repeats 7]

Loads the shipped tables, reads the example prediction files of tests/data/my-model as an upload
(demo.uploads.read_upload), and times, per task, the join the app makes now
(`analysis.assemble.with_variant`: only the upload's rows are built, the rest shared) against
assembling every variant again (`analysis.assemble.reassembled`, the way before), with the memory each
holds of its own. Then how many sessions' joins fit in the app's join cache.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

import analysis as A  # noqa: E402
from analysis.assemble import added_bytes, reassembled, with_variant  # noqa: E402
from analysis.schema import SCORE_COLUMNS  # noqa: E402
from demo import uploads as U  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(str(p) for p in (ROOT / "tests" / "data" / "my-model").glob("*-dev-output.csv"))


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def held_bytes(td) -> int:
    """Everything a TaskData holds but its examples table: what a join the old way built anew."""
    arrays = [td.present, td.pred, td.correct, td.cols["ex"], td.cols["var"]] + ([] if td.score is None else [td.score])
    return int(td.frame.memory_usage(deep=True).sum() + sum(a.nbytes for a in arrays)
               + sum(s.memory_usage(deep=True) for s in td.slices.values()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    a = A.load(ROOT / "analysis" / "tables", ROOT / "no-data-here", checkpoints=False)
    upload = U.read_upload(a, FILES, "my-model")
    per_session = 0
    print(f"the shipped tables ({len(a.variants())} variants) joined with {', '.join(Path(f).name for f in FILES)}; "
          f"median of {args.repeats}")
    for task, pf in upload.files.items():
        base, table = a.tasks[task], pf.table()
        ex = pd.Index(base.examples["id"].astype(str)).get_indexer(table["id"].astype(str))
        rows, hard = table[["id", "pred", *SCORE_COLUMNS[task]]], task in upload.hard
        join = partial(with_variant, base, "my-model", ex, rows, hard)
        again = partial(reassembled, base, "my-model", ex, rows, hard)
        new_ms, old_ms = median_ms(join, args.repeats), median_ms(again, args.repeats)
        own, old = added_bytes(join(), base), held_bytes(again())
        per_session += own
        print(f"  {task:<6} {len(base.frame) + len(rows):>8,} rows: join {new_ms:6.1f} ms, {own / 2**20:5.1f} MB of its own;"
              f" every variant again {old_ms:6.1f} ms, {old / 2**20:5.1f} MB")
    budget = U.join_cache_bytes()
    print(f"one session's joins (every task): {per_session / 2**20:.1f} MB; the join cache "
          f"({U.JOIN_CACHE_ENV}, {budget / 2**20:.0f} MB) holds {budget // per_session} such sessions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
