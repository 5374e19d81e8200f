"""The "why" report's speed on Quora (20,212 pairs), and its honesty under the null on the real dev sets.

    python -m benchmarks.bench_why [--repeats 5] [--cold 3] [--null]

Prints: loading the shipped tables; the first pcgrad vs cross-encoder report in a process (it
computes the per-example features, cached afterwards); later reports with the tables loaded
(median); and the whole cold CLI, `python -m analysis why --task quora pcgrad cross-encoder
--json`, as a fresh process (median). Targets: under 2 s with the tables loaded, under 10 s cold.

--null: on the real dev sets, 20 seeds (0-19) each: a per-example gap on random examples (how
many seeds yield a discovery at adjusted 0.05); a variant equal to pcgrad except for extra errors
on random right answers of pcgrad (the same count); and extra errors planted in one
feature-defined subgroup (the rank of that subgroup, or of a slice sharing 80 % of its rows).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def _null(a, task: str, planted_feature: str, seeds: range = range(20)) -> str:
    from analysis.why.features import task_features
    from analysis.why.search import search

    td = a.task(task)
    right = td.correct[:, td.variant_index("pcgrad")]
    predicates = task_features(td, a.tables_dir, a.data_dir).predicates
    target = next(p for p in predicates if p.name == planted_feature).mask
    n_extra = max(10, int(0.02 * len(right)))
    discoveries, ranks, tested, uniform = 0, [], 0, 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        # a gap independent of the features: n_extra examples drawn from all of them
        d = np.zeros(len(right))
        d[rng.choice(len(right), size=n_extra, replace=False)] = 1
        uniform += any(s.p_adjusted < 0.05 for s in search(d, predicates).slices)
        for planted in (False, True):
            # an extra error needs a right answer to spoil: drawn from pcgrad's right answers, so a
            # slice where pcgrad is right more often gets more of them (a real, if dull, difference)
            pool = np.flatnonzero(right & target) if planted else np.flatnonzero(right)
            other = right.copy()
            other[rng.choice(pool, size=min(n_extra, len(pool)), replace=False)] = False
            found = search(right.astype(float) - other, predicates)
            tested = found.n_tested
            if not planted:
                discoveries += any(s.p_adjusted < 0.05 for s in found.slices)
                continue
            for rank, s in enumerate(found.slices, 1):
                mask = found.mask(s)
                if (mask & target).sum() / max(mask.sum(), target.sum()) >= 0.8:
                    ranks.append(rank)
                    break
            else:
                ranks.append(None)
    return (f"{task}: {tested} slices tested a seed; {n_extra} extra errors of pcgrad's. A gap on random examples: "
            f"a discovery at adjusted 0.05 in {uniform} of {len(seeds)} seeds; extra errors on random right answers "
            f"of pcgrad: in {discoveries} of {len(seeds)}. Planted in \"{planted_feature}\" "
            f"({int(target.sum())} examples): its rank per seed {ranks}")


def _null_sts(a, planted_feature: str, seeds: range = range(20)) -> str:
    """STS: pcgrad's predictions with noise (sd 0.7, clipped to 0-5) added on 5 % of the examples,
    at random or inside one subgroup; the quantity is the squared-error difference."""
    from analysis.why.features import task_features
    from analysis.why.search import search

    td = a.task("sts")
    gold = td.examples["gold"].to_numpy(float)
    pa = td.pred[:, td.variant_index("pcgrad")]
    predicates = task_features(td, a.tables_dir, a.data_dir).predicates
    target = next(p for p in predicates if p.name == planted_feature).mask
    size = int(0.05 * len(pa))
    discoveries, ranks, tested = 0, [], 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for planted in (False, True):
            pool = np.flatnonzero(target) if planted else np.arange(len(pa))
            idx = rng.choice(pool, size=min(size, len(pool)), replace=False)
            pb = pa.copy()
            pb[idx] = np.clip(pb[idx] + rng.normal(0, 0.7, len(idx)), 0, 5)
            found = search((pb - gold) ** 2 - (pa - gold) ** 2, predicates)
            tested = found.n_tested
            if not planted:
                discoveries += any(s.p_adjusted < 0.05 for s in found.slices)
                continue
            ranks.append(next((k for k, s in enumerate(found.slices, 1)
                               if (found.mask(s) & target).sum() / max(found.mask(s).sum(), target.sum()) >= 0.8),
                              None))
    return (f"sts: {tested} slices tested a seed; noise on {size} examples. At random: a discovery at adjusted 0.05 "
            f"in {discoveries} of {len(seeds)} seeds. Planted in \"{planted_feature}\" ({int(target.sum())} "
            f"examples): its rank per seed {ranks}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--null", action="store_true")
    args = parser.parse_args()

    start = time.perf_counter()
    from analysis.load import load
    from analysis.why import why_report

    a = load(checkpoints=False)
    print(f"load (imports and tables): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    why_report(a, "quora", "pcgrad", "cross-encoder")
    print(f"first report in the process (features computed): {time.perf_counter() - start:.2f} s")
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        why_report(a, "quora", "pcgrad", "cross-encoder")
        times.append(time.perf_counter() - start)
    print(f"report with the tables loaded: median {statistics.median(times):.2f} s of {args.repeats} "
          f"(min {min(times):.2f}, max {max(times):.2f}); target < 2 s")
    cold = []
    for _ in range(args.cold):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "analysis", "why", "--task", "quora", "pcgrad", "cross-encoder", "--json"],
                       check=True, stdout=subprocess.DEVNULL, env=os.environ)
        cold.append(time.perf_counter() - start)
    print(f"cold CLI: median {statistics.median(cold):.2f} s of {args.cold} (min {min(cold):.2f}, "
          f"max {max(cold):.2f}); target < 10 s")
    if args.null:
        print(_null(a, "sst", "negation: negation"))
        print(_null(a, "quora", "first word: why"))
        print(_null_sts(a, "negation: negation"))


if __name__ == "__main__":
    main()
