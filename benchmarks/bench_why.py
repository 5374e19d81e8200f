"""The "why" report's speed on Quora (20,212 pairs), and its honesty under the null on the real dev sets.

    python -m benchmarks.bench_why [--repeats 5] [--cold 3] [--null] [--features] [--features-in-build]
                                   [--encoding-alternatives]

Prints: loading the shipped tables; the first pcgrad vs cross-encoder report in a process (it
reads the why-features table, kept afterwards); later reports with the tables loaded
(median); and the whole cold CLI, `python -m analysis why --task quora pcgrad cross-encoder
--json`, as a fresh process (median). Targets: under 2 s with the tables loaded, under 10 s cold.

--features: only the build's why-features step (`analysis.why.feature_table`) on the shipped
variants and the real dev sets, into a scratch folder, with no vectors cached: the text features,
and the frozen backbone's vectors and clusters of every dev example, per task.
--features-in-build: what the step adds to a forced `analysis build` into an empty folder, whose
prediction step encodes the same sentences for the frozen variants (`_features_in_build`). Target
of both: under 2 minutes.
--encoding-alternatives: the speed-ups weighed and left out (`_encoding_alternatives`).

--null: on the real dev sets, 20 seeds (0-19) each: a per-example gap on random examples (how
many seeds yield a discovery at adjusted 0.05 among every slice tested, shown or pruned); a
variant equal to pcgrad except for extra errors on random right answers of pcgrad (the same
count); and extra errors planted in one feature-defined subgroup (the rank of that subgroup, or
of a slice sharing 80 % of its rows). STS twice: noise, and errors (see `_null_sts`).
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
        uniform += search(d, predicates).n_discoveries(0.05) > 0
        for planted in (False, True):
            # an extra error needs a right answer to spoil: drawn from pcgrad's right answers, so a
            # slice where pcgrad is right more often gets more of them (a real, if dull, difference)
            pool = np.flatnonzero(right & target) if planted else np.flatnonzero(right)
            other = right.copy()
            other[rng.choice(pool, size=min(n_extra, len(pool)), replace=False)] = False
            found = search(right.astype(float) - other, predicates)
            tested = found.n_tested
            if not planted:
                discoveries += found.n_discoveries(0.05) > 0
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


def _null_sts(a, planted_feature: str, seeds: range = range(20), kind: str = "noise") -> str:
    """STS, the quantity the squared-error difference; B is pcgrad changed on 5 % of the examples,
    at random or inside one subgroup. kind "noise": noise of sd 0.7 added (clipped to 0-5), which
    may as well bring a prediction closer to gold; kind "errors": right answers of pcgrad's
    (|pred - gold| <= 1) made wrong, moved 1.5 from gold on pcgrad's side of it (the other side
    where that leaves 0-5), as SST's and Quora's extra errors spoil right answers."""
    from analysis.why.features import task_features
    from analysis.why.search import search

    td = a.task("sts")
    gold = td.examples["gold"].to_numpy(float)
    pa = td.pred[:, td.variant_index("pcgrad")]
    right = np.abs(pa - gold) <= 1.0
    predicates = task_features(td, a.tables_dir, a.data_dir).predicates
    target = next(p for p in predicates if p.name == planted_feature).mask
    size = int(0.05 * len(pa))
    discoveries, ranks, tested = 0, [], 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for planted in (False, True):
            inside = target if planted else np.ones(len(pa), dtype=bool)
            pool = np.flatnonzero(inside & right) if kind == "errors" else np.flatnonzero(inside)
            idx = rng.choice(pool, size=min(size, len(pool)), replace=False)
            pb = pa.copy()
            if kind == "errors":
                side = np.where(pa[idx] >= gold[idx], 1.0, -1.0)
                moved = gold[idx] + 1.5 * side
                pb[idx] = np.where((moved < 0) | (moved > 5), gold[idx] - 1.5 * side, moved)
            else:
                pb[idx] = np.clip(pb[idx] + rng.normal(0, 0.7, len(idx)), 0, 5)
            found = search((pb - gold) ** 2 - (pa - gold) ** 2, predicates)
            tested = found.n_tested
            if not planted:
                discoveries += found.n_discoveries(0.05) > 0
                continue
            ranks.append(next((k for k, s in enumerate(found.slices, 1)
                               if (found.mask(s) & target).sum() / max(found.mask(s).sum(), target.sum()) >= 0.8),
                              None))
    what = "noise of sd 0.7" if kind == "noise" else "an error of 1.5 from gold on right answers"
    return (f"sts ({kind}): {tested} slices tested a seed; {what} on {size} examples. At random: a discovery at "
            f"adjusted 0.05 (any slice tested) in {discoveries} of {len(seeds)} seeds. Planted in "
            f"\"{planted_feature}\" ({int(target.sum())} examples): its rank per seed {ranks}")


def _scratch_cache(folder) -> None:
    """Frozen-encoder vectors cached under `folder`: a run starts with none cached, as on a fresh machine."""
    from minibert.settings import settings

    os.environ["MINIBERT_CACHE"] = str(folder)
    settings.reload()


def _same_as_shipped(tables) -> str:
    from analysis.schema import DEFAULT_TABLES_DIR
    from analysis.why.feature_table import FEATURES_DIR

    same = [p.name for p in sorted((tables / FEATURES_DIR).glob("*.parquet"))
            if p.read_bytes() == (DEFAULT_TABLES_DIR / FEATURES_DIR / p.name).read_bytes()]
    return f"byte for byte the shipped table: {', '.join(same) or 'none'}"


def _features() -> None:
    """The step alone, nothing cached: every dev sentence encoded by the step itself."""
    import tempfile
    from pathlib import Path

    import torch

    from analysis.load import load
    from analysis.why.feature_table import ANALYSIS
    from minibert.predict import load_variants

    a = load(checkpoints=False)
    variants, _ = load_variants(device="cpu")
    print(f"torch threads: {torch.get_num_threads()}; data dir: {a.data_dir}")
    with tempfile.TemporaryDirectory() as out:
        _scratch_cache(Path(out) / "cache")
        start, cpu = time.perf_counter(), time.process_time()
        ANALYSIS.run(a, variants, Path(out), print)
        print(f"why-features step alone, no vectors cached: {time.perf_counter() - start:.1f} s wall, "
              f"{time.process_time() - cpu:.1f} s CPU; {_same_as_shipped(Path(out))}")


def _features_in_build() -> None:
    """What the step adds to a forced build into an empty folder, nothing cached: the shipped
    frozen-encoder variants (the ones whose prediction step encodes every dev sentence with the
    backbone the clusters use), built without the step, then with it, then without it again. The
    other derived analyses are left out of all three: they neither feed nor read the step."""
    import tempfile
    from pathlib import Path

    from analysis import registry
    from analysis.build import build
    from analysis.why.feature_table import ANALYSIS
    from minibert.predict import load_variants

    variants, _ = load_variants(device="cpu")
    frozen = sorted(name for name, v in variants.items() if getattr(v, "memo", None) is not None)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        _scratch_cache(scratch / "cache")
        (scratch / "checkpoints").mkdir()
        for name in frozen:
            (scratch / "checkpoints" / name).symlink_to(variants[name].directory.resolve(), target_is_directory=True)
        print(f"forced builds of {', '.join(frozen)} into empty folders; the feature cache starts empty")
        runs = (("without the step (vectors encoded)", ()), ("with the step (vectors read)", (ANALYSIS,)),
                ("without the step (vectors read)", ()))
        for run, (label, steps) in enumerate(runs):
            registry.DERIVED = steps
            logs: list[str] = []
            start = time.perf_counter()
            build(scratch / "checkpoints", None, scratch / f"tables-{run}", force=True, device="cpu", progress=False,
                  log=logs.append)
            print(f"build {label}: {time.perf_counter() - start:.1f} s wall")
            for line in logs:
                if line.startswith("why features:"):
                    print(f"  {line}")
            if steps:
                print(f"  {_same_as_shipped(scratch / f'tables-{run}')}")


def _encoding_alternatives() -> None:
    """Quora's cluster vectors encoded two ways, in float32 (the build's way) and under bf16
    autocast, each timed, and the k-means labels of each against the shipped table's; and how
    many of the sentences' tokens a length cap would keep (its saving at most)."""
    import pandas as pd
    import torch

    from analysis.load import load
    from analysis.why.clusters import CLUSTER_SEED, N_CLUSTERS, frozen_memo, kmeans
    from analysis.why.feature_table import CLUSTER, table_path
    from minibert.batching import map_in_batches
    from minibert.heads import mean_pool
    from minibert.predict import load_variants

    a = load(checkpoints=False)
    td = a.task("quora")
    memo, _ = frozen_memo(load_variants(device="cpu")[0])
    s1, s2 = td.examples["sentence1"].tolist(), td.examples["sentence2"].tolist()
    texts = list(dict.fromkeys(t for row in zip(s1, s2) for t in row))  # as `clusters.example_vectors` orders them
    tokens = memo.tokenizer(texts).attention_mask.sum(axis=1).numpy()
    print(f"{len(texts):,} sentences, {tokens.sum():,} tokens; torch threads {torch.get_num_threads()}")
    for cap in (16, 24, 32, 48, 64):
        print(f"  a cap of {cap} tokens cuts {(tokens > cap).sum():,} sentences and keeps "
              f"{np.minimum(tokens, cap).sum() / tokens.sum():.1%} of the tokens")
    stored = pd.read_parquet(table_path(a.tables_dir, "quora")).set_index("id").loc[td.examples["id"], CLUSTER]

    @torch.no_grad()
    def mean_vectors(chunk: list[str], bf16: bool) -> torch.Tensor:
        batch = memo.tokenizer(chunk)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = memo.encoder(batch.input_ids, batch.attention_mask, batch.token_type_ids)
        return mean_pool(out.last_hidden_state.float(), batch.attention_mask)

    labels = {}
    for name, bf16 in (("float32", False), ("bf16 autocast", True)):
        start = time.perf_counter()
        v = map_in_batches(texts, [len(t) for t in texts], memo.batch_size, lambda c, b=bf16: mean_vectors(c, b)).numpy()
        took = time.perf_counter() - start
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        row = {t: i for i, t in enumerate(texts)}
        x = ((v[[row[t] for t in s1]] + v[[row[t] for t in s2]]) / 2).astype(np.float32)
        labels[name], _ = kmeans(x, N_CLUSTERS, CLUSTER_SEED)
        print(f"{name}: encoded in {took:.1f} s; cluster labels unlike the shipped table's: "
              f"{int((labels[name] != stored.to_numpy()).sum()):,} of {len(x):,}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--null", action="store_true")
    parser.add_argument("--features", action="store_true", help="time only the build's why-features step")
    parser.add_argument("--features-in-build", action="store_true",
                        help="time what the why-features step adds to a forced build of the frozen variants")
    parser.add_argument("--encoding-alternatives", action="store_true",
                        help="Quora's cluster vectors in float32 and bf16: time, labels changed; length caps")
    args = parser.parse_args()
    if args.features:
        _features()
        return
    if args.features_in_build:
        _features_in_build()
        return
    if args.encoding_alternatives:
        _encoding_alternatives()
        return

    start = time.perf_counter()
    from analysis.load import load
    from analysis.why import why_report

    a = load(checkpoints=False)
    print(f"load (imports and tables): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    why_report(a, "quora", "pcgrad", "cross-encoder")
    print(f"first report in the process (features read): {time.perf_counter() - start:.2f} s")
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
        print(_null_sts(a, "negation: negation", kind="noise"))
        print(_null_sts(a, "negation: negation", kind="errors"))


if __name__ == "__main__":
    main()
