"""Benchmark of `analysis`: load time and the time of every query on Quora-dev-sized tables.

    python benchmarks/bench_analysis.py [--variants 12] [--repeats 7]

Synthesizes prediction tables for 12 variants over the three dev sets (Quora: 20,214 pairs). With
$MINIBERT_DATA naming the real data folder, the real dev files (real text) are used; otherwise
synthetic files of the same sizes. Prints the median of several runs of each step, and exits 1
if loading takes 2 s or more or any query 200 ms or more.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import analysis as A  # noqa: E402
from analysis import synthetic  # noqa: E402

LOAD_BUDGET_S = 2.0
QUERY_BUDGET_S = 0.2
SIZES = {"sst": 1101, "quora": 20214, "sts": 863}


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (first-call imports, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-analysis-"))
    real = os.environ.get("MINIBERT_DATA")
    if real and (Path(real) / "quora-dev.csv").is_file():
        data_dir, text = Path(real), f"real dev files from {real}"
    else:
        data_dir, text = work / "data", "synthetic text"
        synthetic.make_data_dir(data_dir, SIZES)
    variants = [f"variant{k:02d}" for k in range(args.variants - 1)] + ["ensemble"]
    start = time.perf_counter()
    synthetic.make_tables(work / "tables", data_dir, variants)
    print(f"tables: {len(variants)} variants x 3 tasks, {text}; written in {time.perf_counter() - start:.1f} s")

    load_s = median_time(lambda: A.load(work / "tables", data_dir, checkpoints=False), max(3, args.repeats // 2))
    a = A.load(work / "tables", data_dir, checkpoints=False)
    assert not [p for p in a.problems if "summary" not in p], a.problems
    n_rows = len(a.frame("quora"))
    va, vb = variants[0], variants[-1]
    some_id = a.frame("quora")["id"].iloc[123]
    q = "quora"
    queries = {
        "metrics_table(quora)": lambda: A.metrics_table(a, q),
        "metrics(quora, v)": lambda: A.metrics(a, q, va),
        "metrics_table(quora, threshold=0.3)": lambda: A.metrics_table(a, q, threshold=0.3),
        "confusion(quora, v, threshold=0.7)": lambda: A.confusion(a, q, va, threshold=0.7),
        "calibration(quora, v)": lambda: A.calibration(a, q, va),
        "overall()": lambda: A.overall(a),
        "errors FP sorted by confidence": lambda: A.errors(a, q, va, direction="fp"),
        "errors FN sorted by error": lambda: A.errors(a, q, va, direction="fn", sort="error"),
        "errors, all variants": lambda: A.errors(a, q),
        "errors, confusion cell (1, 0)": lambda: A.errors(a, q, va, cell=(1, 0)),
        "errors, text search 'what'": lambda: A.errors(a, q, va, search="what"),
        "errors, text search, all variants": lambda: A.errors(a, q, None, search="how do i"),
        "errors, 10-20 words": lambda: A.errors(a, q, va, min_words=10, max_words=20),
        "A right, B wrong": lambda: A.errors(a, q, va, other=vb, relation="a_right_b_wrong"),
        "A and B disagree": lambda: A.errors(a, q, va, other=vb, relation="disagree"),
        "errors, slice all_wrong": lambda: A.errors(a, q, va, slice=("all_wrong", "wrong for every variant")),
        "errors, everything combined": lambda: A.errors(
            a, q, va, direction="fp", search="what", min_words=5, other=vb, relation="a_wrong_b_right",
            only_errors=True, threshold=0.4, limit=50),
        "example_across_variants": lambda: A.example_across_variants(a, q, some_id),
        "errors(sst, off by >= 2)": lambda: A.errors(a, "sst", va, min_error=2),
        "errors(sts, |error| > 1.5)": lambda: A.errors(a, "sts", va, min_error=1.5),
        **{f"slice_metrics(quora, {name})": (lambda name=name: A.slice_metrics(a, q, name)) for name in A.slice_names(q)},
    }
    queries.update(derived_queries(a, variants))
    queries.update(map_queries(a, variants))
    print(f"load (3 tasks, {n_rows:,} Quora rows = {SIZES['quora']:,} pairs x {len(variants)} variants): "
          f"{load_s * 1000:.0f} ms (budget {LOAD_BUDGET_S * 1000:.0f} ms)")
    worst = 0.0
    for name, fn in queries.items():
        t = median_time(fn, args.repeats)
        worst = max(worst, t)
        flag = "" if t < QUERY_BUDGET_S else "  OVER BUDGET"
        print(f"  {t * 1000:7.1f} ms  {name}{flag}")
    print(f"slowest query {worst * 1000:.1f} ms (budget {QUERY_BUDGET_S * 1000:.0f} ms)")
    ok = load_s < LOAD_BUDGET_S and worst < QUERY_BUDGET_S
    print("OK" if ok else "OVER BUDGET")
    return 0 if ok else 1


def derived_queries(a: A.Analysis, variants: list[str]) -> dict:
    """The Label errors tab's queries on tables derived from these predictions (skipped, with a
    line saying so, without the build-only library)."""
    try:
        import cleanlab  # noqa: F401
    except ImportError:
        print("label-error queries skipped: cleanlab is not installed (pip install -r requirements-dev.txt)")
        return {}
    from analysis.label_errors import label_error_table, write_label_errors
    from demo import label_errors_view as L

    models = {v: f"hash-{v}" for v in variants if v != "ensemble"}
    for task in a.tasks:
        write_label_errors(a.tables_dir, task, *label_error_table(a, task, models, {"ensemble"}))
    le = L.LabelErrors.load(a)
    return {**behaviour_queries(a, variants),
        "label errors: load the three tables": lambda: L.LabelErrors.load(a),
        "label errors(quora), flagged": lambda: L.view(le, "quora", L.FLAGGED, "", None),
        "label errors(quora), every example ranked": lambda: L.view(le, "quora", L.ALL_RANKED, "", None),
        "label errors(quora), search + min 5 against": lambda: L.view(le, "quora", L.ALL_RANKED, "how do i", 5),
    }


def behaviour_queries(a: A.Analysis, variants: list[str]) -> dict:
    """The Tests tab's queries on results for the real suite, every case scored by a random fake
    (no model: the tab reads stored results, whatever made them)."""
    import numpy as np
    import pandas as pd

    from analysis.behaviour import make_suite, suite_hash, write_behaviour
    from demo import behaviour_view as B

    suite = make_suite({t: a.task(t).examples for t in a.tasks})
    rng = np.random.default_rng(0)
    results = pd.concat([pd.DataFrame({"variant": v, "case": suite["case"], "decision_a": rng.integers(0, 2, len(suite)),
                                       "value_a": rng.random(len(suite)), "decision_b": 1.0, "value_b": 0.5,
                                       "passed": rng.random(len(suite)) < 0.8}) for v in variants], ignore_index=True)
    write_behaviour(a.tables_dir, suite, results, {"suite": suite_hash(suite), "variants": {}})
    b = B.Behaviour.load(a)
    return {
        "tests: load results, every rate and interval": lambda: B.Behaviour.load(a),
        "tests: grid(quora)": lambda: B.grid(b, "quora"),
        "tests: failing cases of one variant and test": lambda: B.failing(b, "quora", "typo", variants[0]),
    }


def map_queries(a: A.Analysis, variants: list[str]) -> dict:
    """The Map tab's views on a map table of the real size (every SST and STS example, the Quora
    sample, for each model), with random coordinates: the tab reads stored points, whatever
    projected them, so this needs no umap-learn."""
    import numpy as np
    import pandas as pd

    from analysis.embedding_map import ENSEMBLE_REASON, map_inputs, write_map
    from demo import embedding_map_view as M

    rng = np.random.default_rng(0)
    models = [v for v in variants if v != "ensemble"]
    parts = [pd.DataFrame({"variant": v, "task": task, "ex": rows, "x": rng.normal(size=len(rows)) * 5,
                           "y": rng.normal(size=len(rows)) * 5})
             for v in models for task, (rows, _) in map_inputs(a).items()]
    write_map(a.tables_dir, pd.concat(parts, ignore_index=True),
              {"variants": {}, "features": {}, "left_out": {"ensemble": ENSEMBLE_REASON}, "seed": 0, "quora_sample": 2000})
    m = M.EmbeddingMap.load(a)
    va, vb = models[0], models[-1]
    box = ((-3.0, 3.0), (-2.0, 4.0))
    return {
        "map: load the table": lambda: M.EmbeddingMap.load(a),
        "map(sst): two maps by gold label, no box": lambda: M.view(a, m, "sst", va, vb, M.GOLD, None),
        "map(quora): two maps by error, a box": lambda: M.view(a, m, "quora", va, vb, M.ERROR, box),
        "map(quora): by slice all_wrong, a box": lambda: M.view(a, m, "quora", va, vb, M.SLICE_PREFIX + "all_wrong", box),
        "map(sts): two maps by prediction, a box": lambda: M.view(a, m, "sts", va, vb, M.PRED, box),
    }


if __name__ == "__main__":
    sys.exit(main())
