"""Reruns of one variant, recorded in its shipped checkpoint: seed replicates, the spread a reader
needs to tell a real difference between variants from noise (SST dev has 1,101 rows, so one point
of accuracy is within it), and learning rates tried on dev, the hyper-parameter a reader most
wants to see varied. The reruns' weights are not shipped."""
from __future__ import annotations

import statistics
from pathlib import Path

from .checkpoint_config import CheckpointConfig, checkpoint_hash

METRICS = ("sst_acc", "quora_acc", "sts_pearson", "overall")


def record_replicates(shipped: Path, replicates: list[Path]) -> str:
    """Write every seed's stored dev metrics (the shipped checkpoint's first) with their mean and
    sample standard deviation into the shipped checkpoint's `training.seed_replicates`; return a
    one-line summary. The replicates' weights are not shipped."""
    config, runs = _finished_runs(shipped, replicates)
    dev = [{m: run.metrics["dev"][m] for m in METRICS} for run in runs]
    replicates_record = {
        "seeds": [(run.training or {}).get("seed", run.recipe["seed"]) for run in runs],
        "dev": dev,
        "mean": {m: statistics.fmean(d[m] for d in dev) for m in METRICS},
        "sd": {m: statistics.stdev(d[m] for d in dev) if len(dev) > 1 else 0.0 for m in METRICS},
        "wall_seconds": [(run.training or {}).get("wall_seconds") for run in runs],
        "stopped_early": [(run.training or {}).get("stopped_early") for run in runs],
    }
    _record(shipped, config, "seed_replicates", replicates_record)
    return describe(config.recipe["name"], replicates_record)


def _finished_runs(shipped: Path, reruns: list[Path]) -> tuple[CheckpointConfig, list[CheckpointConfig]]:
    """The shipped checkpoint's config and every run's (the shipped one first); ValueError
    unless each is a finished run of the shipped recipe."""
    config = CheckpointConfig.read(shipped)
    runs = [config] + [CheckpointConfig.read(r) for r in reruns]
    for path, run in zip([shipped, *reruns], runs):
        if run.recipe["name"] != config.recipe["name"] or "dev" not in (run.metrics or {}):
            raise ValueError(f"{path}: not a finished run of {config.recipe['name']}")
    return config, runs


def _record(shipped: Path, config: CheckpointConfig, key: str, record: object) -> None:
    config.training = {**(config.training or {}), key: record}
    config.write(shipped)


def describe(name: str, record: dict) -> str:
    cells = ", ".join(f"{m} {record['mean'][m]:.4f} ± {record['sd'][m]:.4f}" for m in METRICS)
    cut = sum(1 for why in record.get("stopped_early", []) if why)
    return (f"{name} over {len(record['seeds'])} seeds ({', '.join(map(str, record['seeds']))}): {cells} (mean ± sd)"
            + (f"; {cut} of them cut short by the time budget" if cut else ""))


def tuned_lr_field(recipe: dict) -> str:
    """The learning rate that a rerun varies: the encoder's when it trains, else the heads'."""
    return "head_lr" if recipe.get("encoder") == "frozen" else "lr"


def record_lr_tries(shipped: Path, tries: list[Path]) -> str:
    """Write the shipped run's and each try's learning rate and stored dev metrics, by learning
    rate, into the shipped checkpoint's `training.lr_tries`; return a one-line summary."""
    config, runs = _finished_runs(shipped, tries)
    name, field = config.recipe["name"], tuned_lr_field(config.recipe)
    record = []
    for run in runs:
        training = run.training or {}
        record.append({field: run.recipe[field], "shipped": run is config,
                       "dev": {m: run.metrics["dev"][m] for m in METRICS},
                       "best_epoch": training.get("best_epoch"), "epochs_run": training.get("epochs_run"),
                       "stopped_early": training.get("stopped_early")})
    record.sort(key=lambda r: r[field])
    _record(shipped, config, "lr_tries", record)
    return describe_lr_tries(name, record)


def describe_lr_tries(name: str, record: list[dict]) -> str:
    field = "head_lr" if "head_lr" in record[0] else "lr"
    what = "Head learning rates" if field == "head_lr" else "Learning rates"
    cells = ", ".join(f"{r[field]:.1e} overall {r['dev']['overall']:.4f}" + (" (shipped)" if r["shipped"] else "")
                      + (" (cut by the time budget)" if r.get("stopped_early") else "") for r in record)
    return f"{what} tried on dev for {name} (one seed each): {cells}"


def adopt_records(recorded: Path, shipped: Path) -> list[str]:
    """Copy each config under `recorded` (configs-only copies of `shipped`'s checkpoints, which
    reruns on another machine wrote their records into) over the shipped one it differs from;
    return the names copied. ValueError, before anything is copied, for a config whose recipe or
    weights are not the shipped checkpoint's: only records may change this way."""
    changed = {}
    for folder in sorted(p for p in Path(recorded).iterdir() if p.is_dir()):
        new, old = CheckpointConfig.read(folder), CheckpointConfig.read(Path(shipped) / folder.name)
        if new == old:
            continue
        if checkpoint_hash(new) != checkpoint_hash(old):
            raise ValueError(f"{folder / 'config.json'}: not a config of the shipped {folder.name} (other recipe or weights)")
        changed[folder.name] = new
    for name, config in changed.items():
        config.write(Path(shipped) / name)
    return list(changed)
