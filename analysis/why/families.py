"""Recipe families: whether the gap between A and B is shared by every variant built like A
against every variant built like B (pair encoding, pooling, task sharing, heads, ...).

    families(a, td, rows, "pcgrad", "cross-encoder", missing, checkpoints, seed)  # list of dicts

Each family comparison is one interval: the smallest gap between a member of the winning side's
family and a member of the other (`analysis.uncertainty.group_gap`, paired bootstrap over the
examples). "Shared by the whole family" is said only when that interval lies above 0.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from minibert.tasks import task as get_task

from ..core import Analysis, TaskData
from ..formatting import signed
from ..trust import muted_heads
from ..uncertainty import LEVEL, N_RESAMPLES, SEED, group_gap, metric_draws

FAMILY_FIELDS = (("pair_encoding", "pair encoding"), ("encoder", "encoder"), ("pooling", "pooling"),
                 ("sharing", "task sharing"), ("sts_head", "STS head"), ("para_head", "paraphrase head"))


def recipes(a: Analysis, checkpoints: str | Path | None) -> dict[str, dict]:
    """Each model variant's recipe from its checkpoint's config.json (none for imports, uploads,
    ensembles)."""
    from minibert.checkpoint_config import default_checkpoints_dir

    folder = Path(checkpoints) if checkpoints else default_checkpoints_dir()
    out = {}
    for v in a.variants():
        try:
            config = json.loads((folder / v / "config.json").read_text())
        except (OSError, ValueError):
            continue
        if (config.get("recipe") or {}).get("kind", "model") == "model":
            out[v] = config["recipe"]
    return out


def _outputs(td: TaskData, columns: list[int], rows: np.ndarray) -> np.ndarray:
    """(rows, variants) as the interval table bootstraps them: Quora's P(duplicate), else the prediction."""
    return (td.score if get_task(td.task).binary else td.pred)[np.ix_(rows, columns)]


def families(a: Analysis, td: TaskData, rows: np.ndarray, an: str, bn: str, missing: list[str],
             checkpoints: str | Path | None, seed: int = 0) -> list[dict]:
    """Every recipe field on which A and B differ, with families of at least two on one side: the
    members (trusted heads with a prediction on every row compared), the smallest gap between the
    winning family and the other with its 95 % paired-bootstrap interval, and the sentence the
    report prints."""
    task = td.task
    have = recipes(a, checkpoints)
    lacking = [v for v in (an, bn) if v not in have]
    if lacking:
        missing.append(f"families: no recipe for {', '.join(lacking)} (an import, an upload, an ensemble or no "
                       "checkpoint folder)")
        return []
    muted = muted_heads(a.summary)
    metric = get_task(task).metric
    # A and B always take part: the family is theirs, even where a head of theirs is muted
    members = [v for v in td.variants if v in have and td.present[rows, td.variant_index(v)].all()
               and (task not in muted.get(v, {}) or v in (an, bn))]
    split = [(key, label) for key, label in FAMILY_FIELDS if have[an].get(key) != have[bn].get(key)]
    if not split:
        return [{"field": "", "label": "", "shared": False,
                 "text": "the two recipes share pair encoding, encoder, pooling, sharing and heads: no family "
                         "separates them"}]
    gold = td.examples["gold"].to_numpy(np.float64)[rows]
    rng = np.random.default_rng([SEED, zlib.crc32("/".join(("why", task, "families", str(seed))).encode())])
    observed, draws = metric_draws(task, metric, gold, _outputs(td, [td.variant_index(v) for v in members], rows),
                                   rng)
    at = {v: k for k, v in enumerate(members)}
    a_ahead = observed[at[an]] >= observed[at[bn]]
    out = []
    for key, label in split:
        va, vb = have[an].get(key), have[bn].get(key)
        fa = sorted(v for v in members if have[v].get(key) == va)
        fb = sorted(v for v in members if have[v].get(key) == vb)
        if max(len(fa), len(fb)) < 2:
            continue  # two families of one are the two variants themselves: the headline says it
        (win_value, win), (lose_value, lose) = ((va, fa), (vb, fb)) if a_ahead else ((vb, fb), (va, fa))
        g = group_gap(observed, draws, [at[v] for v in win], [at[v] for v in lose])
        shared = g["lo"] > 0
        row = {"field": key, "label": label, "a_value": va, "b_value": vb, "metric": metric,
               "upper_value": win_value, "upper": win, "lower_value": lose_value, "lower": lose,
               "gap": g["gap"], "lo": g["lo"], "hi": g["hi"],
               "closest": [members[g["closest"][0]], members[g["closest"][1]]], "shared": bool(shared),
               "level": LEVEL, "method": f"paired bootstrap of the smallest gap ({N_RESAMPLES} resamples, seed {seed})"}
        row["text"] = _sentence(row)
        out.append(row)
    return out


def _group(value: str, names: list[str]) -> str:
    return f"{names[0]}, the only {value} variant," if len(names) == 1 else f"every {value} variant ({', '.join(names)})"


def _sentence(f: dict) -> str:
    gap = (f"smallest gap {f['closest'][0]} minus {f['closest'][1]} {signed(f['gap'])}, 95 % interval "
           f"{signed(f['lo'])} to {signed(f['hi'])}")
    if f["shared"]:
        return (f"{f['label']}: {_group(f['upper_value'], f['upper'])} scores above {_group(f['lower_value'], f['lower'])} "
                f"on {f['metric']} (trusted heads only; {gap}): the gap is shared by the whole "
                f"famil{'y' if min(len(f['upper']), len(f['lower'])) == 1 else 'ies'}")
    if f["gap"] > 0:
        return (f"{f['label']}: {_group(f['upper_value'], f['upper'])} scores above {_group(f['lower_value'], f['lower'])} "
                f"on {f['metric']}, but not clearly ({gap}, which reaches 0): not established as a family-wide gap")
    return (f"{f['label']}: {_named(f['upper_value'], f['upper'])} and {_named(f['lower_value'], f['lower'])} "
            f"overlap on {f['metric']} ({gap}): not a family-wide gap")


def _named(value: str, names: list[str]) -> str:
    return f"{value} (only {names[0]})" if len(names) == 1 else f"{value} ({', '.join(names)})"
