"""Seed replicates of one variant: the spread a reader needs to tell a real difference between
variants from noise (SST dev has 1,101 rows, so one point of accuracy is within it)."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from .checkpoint import read_config

METRICS = ("sst_acc", "quora_acc", "sts_pearson", "overall")


def record_replicates(shipped: Path, replicates: list[Path]) -> str:
    """Write every seed's stored dev metrics (the shipped checkpoint's first) with their mean and
    sample standard deviation into the shipped checkpoint's `training.seed_replicates`; return a
    one-line summary. The replicates' weights are not shipped."""
    config = read_config(shipped)
    runs = [config] + [read_config(r) for r in replicates]
    for path, run in zip([shipped, *replicates], runs):
        if run["recipe"]["name"] != config["recipe"]["name"] or "dev" not in run.get("metrics", {}):
            raise ValueError(f"{path}: not a finished run of {config['recipe']['name']}")
    dev = [{m: run["metrics"]["dev"][m] for m in METRICS} for run in runs]
    replicates_record = {
        "seeds": [run["training"].get("seed", run["recipe"]["seed"]) for run in runs],
        "dev": dev,
        "mean": {m: statistics.fmean(d[m] for d in dev) for m in METRICS},
        "sd": {m: statistics.stdev(d[m] for d in dev) if len(dev) > 1 else 0.0 for m in METRICS},
        "wall_seconds": [run["training"].get("wall_seconds") for run in runs],
    }
    config["training"]["seed_replicates"] = replicates_record
    (Path(shipped) / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return describe(config["recipe"]["name"], replicates_record)


def describe(name: str, record: dict) -> str:
    cells = ", ".join(f"{m} {record['mean'][m]:.4f} ± {record['sd'][m]:.4f}" for m in METRICS)
    return f"{name} over {len(record['seeds'])} seeds ({', '.join(map(str, record['seeds']))}): {cells} (mean ± sd)"
