"""Many training processes at once: `train --all`. Each variant trains in its own
`python -m minibert train` process (one process is launch-bound on a GPU, so several at once use it
better than one after another), within one wall-clock budget; then the best variant's reruns (seed
replicates, learning-rate tries), whose records `reruns.py` writes, and the ensemble."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from .recipes import get_recipe, trainable_recipes
from .settings import settings


def train_all(args: argparse.Namespace, folder: Path) -> int:
    """`train --all`: each variant in its own process, `args.jobs` at a time, into `folder`; then
    the best one's reruns (`--seeds`, `--lr-tries`) and the ensemble. Returns the exit status."""
    skip = {s for s in args.skip.split(",") if s}
    names = [r.name for r in trainable_recipes() if r.name not in skip]
    passthrough = []
    for flag in ("data_dir", "device", "rows_per_task", "epochs", "lr", "head_lr", "batch_size", "storage"):
        value = getattr(args, flag)
        if value is not None:
            passthrough += [f"--{flag.replace('_', '-')}", str(value)]
    if args.strict:
        passthrough.append("--strict")
    logs = runs_dir()
    logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    deadline = None if args.max_minutes is None else started + args.max_minutes * 60
    seed = [] if args.seed is None else ["--seed", str(args.seed)]
    if args.reruns_only:
        if args.seeds < 2 and not args.lr_tries:
            raise SystemExit("--reruns-only needs --seeds 2 or more, or --lr-tries")
        stored = [n for n in names if (folder / n / "config.json").is_file()]
        if not stored:
            raise SystemExit(f"--reruns-only: no stored variant in {folder}")
        # Asked for explicitly: each rerun still gets the time left as its budget, and one cut
        # short says so in its record.
        failed = rerun_best(stored, passthrough, args, folder, logs, started, deadline, check_fit=False)
    else:
        failed = run_processes({name: ["--variant", name, *passthrough, *seed, "--checkpoints", str(folder)]
                                 for name in names}, logs, args.jobs, started, deadline)
        if args.seeds > 1 or args.lr_tries:
            failed += rerun_best([n for n in names if n not in failed], passthrough, args, folder, logs, started,
                             deadline)
        if not (args.skip and "ensemble" in skip):
            from .checkpoint import save_ensemble
            members = [m for m in (args.members or "").split(",") if m]
            save_ensemble(folder / "ensemble", get_recipe("ensemble"), members)
    print(f"all done in {time.perf_counter() - started:.0f} s; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


def runs_dir() -> Path:
    """Where training logs and the reruns' checkpoints go: $MINIBERT_RUNS, else runs/."""
    return settings().runs


def replicate_folder(runs: Path, seed: int) -> Path:
    """The checkpoints folder of a seed replicate (not shipped; its metrics are recorded)."""
    return runs / "seeds" / f"seed{seed}"


def visible_gpus() -> list[str]:
    """The GPUs this process may use, each as CUDA_VISIBLE_DEVICES names it for a child."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    listed = list(settings().cuda_visible_devices)
    return listed[:count] if listed else [str(i) for i in range(count)]


# Of a run's share of a --max-minutes budget, what its start (imports, data, model) and its final
# storage check take besides its epochs.
RUN_OVERHEAD_SECONDS = 45


def run_processes(runs: dict[str, list[str]], logs: Path, jobs: int, started: float,
                  deadline: float | None = None) -> list[str]:
    """`python -m minibert train ARGS` for each run, `jobs` at a time, each logged to
    `logs/NAME.log`; returns the names of the runs that failed. With a `deadline`
    (perf_counter time), each run gets the time left as its budget, and none starts without
    time for one epoch's worth. With several GPUs visible, each run goes to the one running
    fewest (CUDA_VISIBLE_DEVICES of its own), so the runs spread one per GPU before doubling up."""
    gpus = visible_gpus()
    place = len(gpus) > 1
    pending, running, failed = list(runs), {}, []
    while pending or running:
        while pending and len(running) < max(1, jobs):
            name = pending.pop(0)
            budget = []
            if deadline is not None:
                left = deadline - time.perf_counter() - RUN_OVERHEAD_SECONDS
                if left <= RUN_OVERHEAD_SECONDS:
                    print(f"{name}: not started, the time budget is spent", flush=True)
                    failed.append(name)
                    continue
                budget = ["--max-minutes", f"{left / 60:.2f}"]
            log_path = logs / f"{name}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "w")
            cmd = [sys.executable, "-m", "minibert", "train", "--no-progress", *runs[name], *budget]
            env, gpu, where = None, None, ""
            if place:
                busy = [g for _, _, g in running.values()]
                gpu = min(gpus, key=busy.count)  # the first of the least used
                env, where = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}, f" on GPU {gpu}"
            running[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log, gpu)
            print(f"started {name}{where} (log: {log_path})", flush=True)
        time.sleep(1.0)
        for name, (proc, log, _) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                del running[name]
                if proc.returncode:
                    failed.append(name)
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                print(f"{name}: {status} after {time.perf_counter() - started:.0f} s", flush=True)
    return failed


def rerun_best(names: list[str], passthrough: list[str], args: argparse.Namespace, root: Path, logs: Path,
               started: float, deadline: float | None, check_fit: bool = True) -> list[str]:
    """Retrain the best variant of this run (by stored dev overall) with further seeds and with
    the learning rates of `--lr-tries`, all at once, into `logs/seeds/` (not shipped); record every
    seed's dev metrics (the spread that tells a real difference between variants from noise) and
    every learning rate's in its checkpoint's config (under `root`). Failures are named `seeds/...`: they leave
    what ships untouched."""
    from .checkpoint_config import CheckpointConfig, CheckpointError
    from .reruns import record_lr_tries, record_replicates, tuned_lr_field

    configs = {n: CheckpointConfig.read(root / n) for n in names}
    overall = {n: c.metrics["dev"]["overall"] for n, c in configs.items()}
    if not overall:
        return []
    best = max(overall, key=overall.get)
    config = configs[best]
    if deadline is not None and check_fit:
        # A rerun cut short by the budget would compare nothing: start them only if the best
        # variant's own run (start and storage check included) fits in the time left.
        needed = config.training.get("wall_seconds", 0) + 2 * RUN_OVERHEAD_SECONDS
        if deadline - time.perf_counter() < needed:
            print(f"best variant {best}: no seed replicates or learning-rate tries, {needed:.0f} s needed and the "
                  f"time budget has {max(0.0, deadline - time.perf_counter()):.0f} s left", flush=True)
            return ["seeds/no-time"]
    base_seed = args.seed if args.seed is not None else get_recipe(best).seed
    seeds = [base_seed + i for i in range(1, args.seeds)]
    field = tuned_lr_field(config.recipe)
    rates = [config.recipe[field] * m for m in args.lr_tries]
    flag = "--" + field.replace("_", "-")
    seed_dirs = {f"seeds/{best}-seed{s}": (s, replicate_folder(logs, s)) for s in seeds}
    rate_dirs = {f"seeds/{best}-{field}{r:.1e}": (r, logs / "seeds" / f"{field}{r:.1e}") for r in rates}
    runs = {name: ["--variant", best, *passthrough, "--seed", str(s), "--checkpoints", str(folder)]
            for name, (s, folder) in seed_dirs.items()}
    runs.update({name: ["--variant", best, *passthrough, "--seed", str(base_seed), flag, repr(r),
                        "--checkpoints", str(folder)] for name, (r, folder) in rate_dirs.items()})
    print(f"best variant {best} (dev overall {overall[best]:.4f}): training "
          + "; ".join(filter(None, [seeds and "seeds " + ", ".join(map(str, seeds)),
                                    rates and f"{field} " + ", ".join(f"{r:.1e}" for r in rates)])), flush=True)
    failed = run_processes(runs, logs, args.jobs, started, deadline)
    if seeds and not any(name in failed for name in seed_dirs):
        try:
            print(record_replicates(root / best, [folder / best for _, folder in seed_dirs.values()]), flush=True)
        except (CheckpointError, ValueError, KeyError) as error:  # what ships is trained: say so, go on
            print(f"seed spread not recorded: {error}", flush=True)
            failed.append("seeds/record")
    finished = [folder / best for name, (_, folder) in rate_dirs.items() if name not in failed]
    if finished:
        try:
            print(record_lr_tries(root / best, finished), flush=True)
        except (CheckpointError, ValueError, KeyError) as error:
            print(f"learning-rate tries not recorded: {error}", flush=True)
            failed.append("seeds/record-lr")
    return failed

# --- a job array (SLURM): one task per variant and seed, then one job that records -----------

def array_runs(seeds: int, skip: set[str]) -> list[tuple[str, int, int]]:
    """Each array task's (variant, seed, replicate): every trainable recipe not in `skip`, with
    its own seed (replicate 0, shipped) and `seeds - 1` further ones; all first seeds first."""
    return [(r.name, r.seed + i, i) for i in range(seeds) for r in trainable_recipes() if r.name not in skip]


def array_task_args(task: int, seeds: int, skip: set[str], folder: Path, runs: Path) -> list[str]:
    """`train` arguments of array task `task` (0-based, as SLURM_ARRAY_TASK_ID counts): a first
    seed trains into `folder`, a replicate into its folder under `runs`."""
    tasks = array_runs(seeds, skip)
    if not 0 <= task < len(tasks):
        raise SystemExit(f"array task {task}: expected 0 to {len(tasks) - 1} ({len(tasks)} tasks)")
    name, seed, replicate = tasks[task]
    target = folder if replicate == 0 else replicate_folder(runs, seed)
    return ["--variant", name, "--seed", str(seed), "--checkpoints", str(target)]


def finish_array(seeds: int, skip: set[str], folder: Path, runs: Path, members: list[str]) -> list[str]:
    """After every array task: each variant's seed replicates recorded in its checkpoint, then
    the ensemble composed. Returns what failed (a variant not trained, a record not written)."""
    from .checkpoint import save_ensemble
    from .checkpoint_config import CheckpointError
    from .reruns import record_replicates

    failed = []
    for name in dict.fromkeys(name for name, _, _ in array_runs(seeds, skip)):
        if not (folder / name / "config.json").is_file():
            print(f"{name}: not trained", flush=True)
            failed.append(name)
        elif seeds > 1:
            base = get_recipe(name).seed
            try:
                print(record_replicates(folder / name, [replicate_folder(runs, base + i) / name
                                                        for i in range(1, seeds)]), flush=True)
            except (CheckpointError, ValueError, KeyError) as error:  # a replicate that did not finish
                print(f"{name}: seed spread not recorded: {error}", flush=True)
                failed.append(f"seeds/{name}")
    if "ensemble" not in skip:
        save_ensemble(folder / "ensemble", get_recipe("ensemble"), members)
    print(f"array recorded; failed: {', '.join(failed) or 'none'}", flush=True)
    return failed
