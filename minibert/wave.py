"""Issue 23's GPU wave: the multitask-cls fix and each trial of `recipes.TRIALS`, two seeds each,
all at once as separate processes within one time budget, then each trial beside its base.

    python -m minibert.wave --checkpoints CKPT --out RUNS/wave --jobs 14 --max-minutes 9

The fixed multitask-cls's first seed (the recipe's) trains into CKPT/multitask-cls, replacing the
shipped one (its recipe changed, so it is retrained and its tables rebuilt); its second seed is
recorded there as its seed spread. The trials train under OUT/seed<S>/ and are not shipped: their
dev metrics go into OUT/summary.json and OUT/summary.txt beside their base recipe's, read from
CKPT before anything is replaced. An option that helps beyond the seed spread moves into its base
recipe in a later run, which combines the winners.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

from .recipes import TRIALS, Recipe, get_recipe
from .reruns import METRICS

SEEDS = (11711, 11712)
FIXED = "multitask-cls"
# At most 14 processes (issue 23): 2 for the fix, 2 for each of the 6 trials.
WAVE = [(FIXED, s) for s in SEEDS] + [(t, s) for t in TRIALS for s in SEEDS]


def base_of(name: str) -> str:
    """The shipped recipe a trial varies (the fix is compared with what it replaces)."""
    if name == FIXED:
        return FIXED
    return next(b for b in ("pcgrad", "cross-encoder") if name.startswith(b + "-"))


def run_folder(name: str, seed: int, checkpoints: Path, out: Path) -> Path:
    """Where a wave run's checkpoint folder goes (train_variant writes FOLDER/NAME)."""
    if name == FIXED and seed == get_recipe(FIXED).seed:
        return checkpoints
    return out / f"seed{seed}"


def wave_runs(checkpoints: Path, out: Path, passthrough: list[str]) -> dict[str, list[str]]:
    """`python -m minibert train` arguments of each run, by a name that is also its log's."""
    return {f"{name}-seed{seed}": ["--variant", name, "--seed", str(seed), *passthrough,
                                        "--checkpoints", str(run_folder(name, seed, checkpoints, out))]
            for name, seed in WAVE}


def base_metrics(checkpoints: Path) -> dict:
    """Each base's dev metrics as shipped: the seed replicates' mean and sd where recorded, else
    its one run (sd unknown)."""
    bases = {}
    for name in sorted({base_of(n) for n, _ in WAVE}):
        config = json.loads((checkpoints / name / "config.json").read_text())
        reps = config.get("training", {}).get("seed_replicates")
        if reps:
            bases[name] = {"n": len(reps["seeds"]), "mean": reps["mean"], "sd": reps["sd"]}
        else:
            bases[name] = {"n": 1, "mean": {m: config["metrics"]["dev"][m] for m in METRICS}, "sd": None}
    return bases


def summarize(runs: dict[str, dict], bases: dict) -> dict:
    """`runs`: (recipe name) -> {seed: dev metrics}. Per recipe: its seeds' mean and sd, and per
    metric the difference from its base with a standard error, sqrt(sd_t^2 / n_t + sd_b^2 / n_b)
    (a base with one run borrows the trial's sd); `beyond_spread` when the difference passes
    twice that. With two or three seeds a side this is a rough screen, not a test."""
    out = {}
    for name, by_seed in runs.items():
        dev = list(by_seed.values())
        n = len(dev)
        mean = {m: statistics.fmean(d[m] for d in dev) for m in METRICS}
        sd = {m: statistics.stdev(d[m] for d in dev) if n > 1 else None for m in METRICS}
        base = bases[base_of(name)]
        versus = {}
        for m in METRICS:
            sd_t, sd_b = sd[m], base["sd"][m] if base["sd"] else sd[m]
            se = math.sqrt(sd_t ** 2 / n + sd_b ** 2 / base["n"]) if sd_t is not None and sd_b is not None else None
            diff = mean[m] - base["mean"][m]
            versus[m] = {"diff": diff, "se": se, "beyond_spread": se is not None and abs(diff) > 2 * se}
        out[name] = {"base": base_of(name), "seeds": sorted(by_seed), "dev": dev, "mean": mean, "sd": sd,
                     "options": get_recipe(name).options(), "versus_base": versus}
    return out


def format_summary(summary: dict, bases: dict) -> str:
    lines = [f"{'recipe':<20} {'seeds':>5} " + " ".join(f"{m:>22}" for m in METRICS) + "  (mean ± sd; diff from base ± se)"]
    for name, base in bases.items():
        cells = " ".join(f"{base['mean'][m]:>13.4f} ± {base['sd'][m] if base['sd'] else float('nan'):.4f}" for m in METRICS)
        lines.append(f"{name + ' (shipped)':<20} {base['n']:>5} {cells}")
    for name, s in summary.items():
        cells = " ".join(f"{s['mean'][m]:>13.4f} ± {s['sd'][m] if s['sd'][m] is not None else float('nan'):.4f}"
                         for m in METRICS)
        lines.append(f"{name:<20} {len(s['seeds']):>5} {cells}")
        diffs = " ".join(f"{v['diff']:>+13.4f} ± {v['se'] if v['se'] is not None else float('nan'):.4f}"
                         + ("*" if v["beyond_spread"] else " ") for v in s["versus_base"].values())
        lines.append(f"{'  vs ' + s['base']:<20} {'':>5} {diffs}")
    lines.append("* beyond twice the standard error of the difference: a screen over 2-3 seeds, not a test")
    return "\n".join(lines)


def collect(checkpoints: Path, out: Path) -> dict[str, dict]:
    runs: dict[str, dict] = {}
    for name, seed in WAVE:
        path = run_folder(name, seed, checkpoints, out) / name / "config.json"
        if not path.is_file():
            continue
        config = json.loads(path.read_text())
        recipe = Recipe.from_dict(config["recipe"])
        # The same options as the wave's recipe: a shipped multitask-cls left in place by a failed
        # run of the fix has none, and is not counted as the fix.
        if ("dev" in config.get("metrics", {}) and recipe.name == name and recipe.seed == seed
                and recipe.options() == get_recipe(name).options()):
            runs.setdefault(name, {})[seed] = {m: config["metrics"]["dev"][m] for m in METRICS}
    return runs


def main(argv: list[str] | None = None) -> int:
    from .orchestrate import run_processes  # the process pool `train --all` uses

    p = argparse.ArgumentParser(prog="python -m minibert.wave", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoints", required=True, help="the shipped checkpoints (a copy: the fix replaces multitask-cls)")
    p.add_argument("--out", required=True, help="folder for the trials' checkpoints, logs and the summary")
    p.add_argument("--jobs", type=int, default=len(WAVE))
    p.add_argument("--max-minutes", type=float, help="the whole wave's budget (each run gets the time left)")
    p.add_argument("--summary-only", action="store_true", help="train nothing: summarise what OUT holds")
    args, passthrough = p.parse_known_args(argv)
    checkpoints, out = Path(args.checkpoints), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    bases_path = out / "bases.json"
    if not bases_path.is_file():  # read before the fix replaces the shipped multitask-cls
        bases_path.write_text(json.dumps(base_metrics(checkpoints), indent=2) + "\n")
    bases = json.loads(bases_path.read_text())
    failed = []
    if not args.summary_only:
        deadline = None if args.max_minutes is None else started + args.max_minutes * 60
        failed = run_processes(wave_runs(checkpoints, out, passthrough), out, args.jobs, started, deadline)
    runs = collect(checkpoints, out)
    fixed = runs.get(FIXED, {})
    if len(fixed) == len(SEEDS):
        from .reruns import record_replicates
        print(record_replicates(checkpoints / FIXED, [run_folder(FIXED, s, checkpoints, out) / FIXED
                                                      for s in SEEDS[1:]]), flush=True)
    summary = summarize(runs, bases)
    (out / "summary.json").write_text(json.dumps({"bases": bases, "recipes": summary}, indent=2) + "\n")
    text = format_summary(summary, bases)
    (out / "summary.txt").write_text(text + "\n")
    print(text)
    print(f"all done in {time.perf_counter() - started:.0f} s; failed: {', '.join(failed) or 'none'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
