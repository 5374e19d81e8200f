"""Likely label errors in the dev sets, found by confident learning (cleanlab) on the variants'
stored dev predictions. Built by `python -m analysis build`; read by the app's Label errors tab.

    table, provenance = label_error_table(a, "sst", models)   # needs cleanlab (build only)
    write_label_errors(tables_dir, "sst", table, provenance)   # label_errors/sst.parquet
    rows, problems = read_label_errors(a, "sst")               # the app: no cleanlab needed

Which variants are evidence (`evidence_variants`): a model with a checkpoint (an ensemble is the
mean of models that already count; an imported prediction-only table has no checkpoint), whose
stored table covers every dev example with finite scores (class probabilities for SST and Quora),
and whose head `analysis.trust.muted_reason` does not mute on this task. Everything else is
listed in the table's provenance with the reason it was left out.

How their predictions combine: cleanlab takes one matrix of out-of-sample probabilities, so the
evidence variants' probabilities are averaged (`ensemble_mean`, the rule the ensemble itself
uses). An average of several models is better calibrated than any one of them, and one
overconfident variant cannot flag an example alone. Dev predictions are out-of-sample (no variant
trained on dev); Quora's are less so in spirit, since the backbone was pretrained on Quora
duplicate pairs (`schema.QUORA_NOTE`).

- SST, Quora: `cleanlab.filter.find_label_issues` (prune by noise rate) decides `issue`;
  `cleanlab.rank.get_label_quality_scores` (self-confidence: the mean probability of the gold
  label) ranks. `suggested` is the class the mean probability favours.
- STS: `cleanlab.regression.rank.get_label_quality_scores` (OUTRE) on the mean predicted score
  ranks. cleanlab gives regression no issue filter, so `issue` is our own, plain rule: every
  evidence variant is off by more than `STS_TOLERANCE` (1.0); `suggested` is the mean score.

Table `label_errors/<task>.parquet`, one row per dev example, rank 1 = most likely mislabeled:
`id`, `rank` int32, `quality` float32 (cleanlab's label quality, 0..1, low = suspect), `issue`
bool, `suggested` (int8 class, float32 STS score), `gold_prob` and `suggested_prob` float32 (the
mean probability of the gold and the suggested class; NaN for STS), `voters` int16 (evidence
variants), `contradict` int16 (how many of them predict something other than gold: another class,
or for STS a score off by more than 1.0), `contra_conf` float32 (their mean probability for what
they predicted; for STS their mean absolute distance from gold). Its provenance (parquet metadata)
names the evidence variants with their checkpoint hashes, the excluded ones with reasons, the
data and the cleanlab version, so a table built from other predictions is reported as stale.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from minibert.predictor import ensemble_mean
from minibert.tasks import TASK_NAMES
from minibert.tasks import task as get_task

from .core import Analysis, TaskData
from .derived import DerivedAnalysis, Log, Reading
from .schema import SCORE_COLUMNS, STS_TOLERANCE
from .tables import TableError, _read_parquet, _write_parquet
from .trust import muted_heads
from .uncertainty import wilson

LABEL_ERRORS_DIR = "label_errors"
ENSEMBLE = "an ensemble: its members already count"
NO_CHECKPOINT = "no checkpoint (imported predictions): not independent evidence"


def label_errors_relpath(task: str) -> str:
    return f"{LABEL_ERRORS_DIR}/{get_task(task).name}.parquet"


def evidence_variants(a: Analysis, task: str, models: Mapping[str, str],
                      ensembles: Collection[str] = ()) -> tuple[list[str], dict[str, str]]:
    """(evidence variants in table order, {left-out variant: why}). `models` maps each model
    variant that has a checkpoint (not an ensemble) to its checkpoint hash; `ensembles` names
    the ensembles (only for the reason shown)."""
    td = a.task(task)
    muted = muted_heads(a.summary)
    used, excluded = [], {}
    for k, name in enumerate(td.variants):
        scores = _scores(td, name, task)
        if name not in models:
            excluded[name] = ENSEMBLE if name in ensembles else NO_CHECKPOINT
        elif not td.present[:, k].all():
            excluded[name] = f"its table covers {int(td.present[:, k].sum())} of {len(td.examples)} dev examples"
        elif scores is None or not np.isfinite(scores).all():
            excluded[name] = "no finite class probabilities" if not get_task(task).regression else "no finite scores"
        elif task in muted.get(name, {}):
            excluded[name] = f"muted head: {muted[name][task]}"
        else:
            used.append(name)
    return used, excluded


def _scores(td: TaskData, name: str, task: str) -> np.ndarray | None:
    """One variant's outputs in example order: (n, classes) probabilities, or (n,) STS scores."""
    rows = td.frame.iloc[td.rows(name)]
    spec = get_task(task)
    if spec.regression:
        out = np.full(len(td.examples), np.nan, np.float32)
        out[rows["ex"].to_numpy()] = rows["pred"].to_numpy(np.float32)
        return out
    columns = SCORE_COLUMNS[task]
    if any(c not in rows.columns for c in columns):
        return None
    values = rows[list(columns)].to_numpy(np.float32)
    if spec.binary:  # P(duplicate) -> [P(not), P(dup)]
        values = np.column_stack([1.0 - values[:, 0], values[:, 0]])
    out = np.full((len(td.examples), values.shape[1]), np.nan, np.float32)
    out[rows["ex"].to_numpy()] = values
    return out


def score_labels(task: str, gold: np.ndarray, outputs: list[np.ndarray]) -> pd.DataFrame:
    """The label-error columns (all but `id`) from the gold labels and each evidence variant's
    outputs (probabilities (n, k) for a classifier, scores (n,) for STS), in example order."""
    if not outputs:
        raise ValueError(f"{task}: no evidence variants")
    spec = get_task(task)
    mean = ensemble_mean(outputs)
    stack = np.stack(outputs)
    n = len(gold)
    if spec.regression:
        from cleanlab.regression.rank import get_label_quality_scores as regression_quality  # build-only

        gold = gold.astype(np.float32)
        quality = regression_quality(gold, mean)
        distance = np.abs(stack - gold[None, :])
        off = distance > STS_TOLERANCE
        contradict = off.sum(axis=0)
        with np.errstate(invalid="ignore"):
            contra_conf = np.where(contradict > 0, (distance * off).sum(axis=0) / np.maximum(contradict, 1), np.nan)
        out = {"quality": quality, "issue": contradict == len(outputs), "suggested": mean.astype(np.float32),
               "gold_prob": np.full(n, np.nan), "suggested_prob": np.full(n, np.nan)}
    else:
        from cleanlab.filter import find_label_issues  # build-only (requirements-dev.txt): the app reads the tables
        from cleanlab.rank import get_label_quality_scores

        labels = gold.astype(np.int64)
        probs = mean / mean.sum(axis=1, keepdims=True)  # float32 rounding: cleanlab wants rows summing to 1
        issue = find_label_issues(labels, probs)
        quality = get_label_quality_scores(labels, probs)
        votes = stack.argmax(axis=2)  # (variants, n)
        against = votes != labels[None, :]
        contradict = against.sum(axis=0)
        own_conf = stack.max(axis=2)
        with np.errstate(invalid="ignore"):
            contra_conf = np.where(contradict > 0, (own_conf * against).sum(axis=0) / np.maximum(contradict, 1), np.nan)
        suggested = probs.argmax(axis=1)
        out = {"quality": quality, "issue": issue, "suggested": suggested.astype(np.int8),
               "gold_prob": probs[np.arange(n), labels], "suggested_prob": probs[np.arange(n), suggested]}
    table = pd.DataFrame(out)
    # Rank by quality, ties by example order, so equal inputs always give the same table.
    order = np.lexsort((np.arange(n), table["quality"].to_numpy()))
    rank = np.empty(n, np.int32)
    rank[order] = np.arange(1, n + 1, dtype=np.int32)
    table.insert(0, "rank", rank)
    table["voters"] = np.int16(len(outputs))
    table["contradict"] = contradict.astype(np.int16)
    table["contra_conf"] = contra_conf.astype(np.float32)
    for column in ("quality", "gold_prob", "suggested_prob"):
        table[column] = table[column].astype(np.float32)
    return table


def label_error_table(a: Analysis, task: str, models: Mapping[str, str],
                      ensembles: Collection[str] = ()) -> tuple[pd.DataFrame, dict]:
    """The label-error table of one task from the loaded analysis and its provenance. Raises
    ValueError when no variant qualifies as evidence (the message says why each was left out)."""
    import cleanlab  # build-only (requirements-dev.txt): the app reads the tables

    td = a.task(task)
    used, excluded = evidence_variants(a, task, models, ensembles)
    if not used:
        why = "; ".join(f"{k}: {v}" for k, v in excluded.items()) or "no variants"
        raise ValueError(f"{task}: no variant qualifies as label-error evidence ({why})")
    outputs = [_scores(td, name, task) for name in used]
    table = score_labels(task, td.examples["gold"].to_numpy(), outputs)
    table.insert(0, "id", td.examples["id"].astype(str).to_numpy())
    data = {e["data"]["sha256"] for rel, e in a.manifest["tables"].items() if e.get("task") == task
            and e.get("variant") in used}
    provenance = {
        "kind": "label_errors", "task": task, "cleanlab": cleanlab.__version__,
        "method": "regression OUTRE on the mean score" if get_task(task).regression
        else "find_label_issues (prune_by_noise_rate) + self_confidence on the mean probabilities",
        "variants": {name: models[name] for name in used}, "excluded": excluded, "data": sorted(data),
    }
    return table, provenance


def write_label_errors(tables_dir: Path, task: str, table: pd.DataFrame, provenance: dict) -> tuple[Path, int]:
    """Write `label_errors/<task>.parquet`; returns (path, bytes)."""
    path = Path(tables_dir) / label_errors_relpath(task)
    _, size = _write_parquet(table, provenance, path)
    return path, size


def read_label_errors(a: Analysis, task: str) -> tuple[pd.DataFrame | None, dict, list[str]]:
    """(the task's label-error table joined with its examples and sorted by rank, its provenance,
    problems). None with a problem when there is no table or it was built from other predictions
    than the ones loaded (a stale table would blame labels for another model's mistakes)."""
    path = Path(a.tables_dir) / label_errors_relpath(task)
    if not path.is_file():
        return None, {}, [f"no label-error table at {path}: run `python -m analysis build` with cleanlab installed"]
    try:
        table, provenance = _read_parquet(path)
    except TableError as error:
        return None, {}, [str(error)]
    loaded = {e.get("variant"): (e.get("checkpoint") or {}).get("hash") for e in a.manifest["tables"].values()
              if e.get("task") == task}
    changed = [name for name, digest in (provenance.get("variants") or {}).items() if loaded.get(name) != digest]
    if changed:
        return None, provenance, [f"{path} was built from other predictions of {', '.join(changed)}: stale; "
                                  "rebuild with `python -m analysis build`"]
    examples = a.task(task).examples
    joined = table.merge(examples.drop(columns=["text"], errors="ignore"), on="id", how="inner", validate="1:1")
    if len(joined) != len(table):
        return None, provenance, [f"{path}: {len(table) - len(joined)} ids are not in the dev examples: stale; "
                                  "rebuild with `python -m analysis build`"]
    return joined.sort_values("rank", kind="stable").reset_index(drop=True), provenance, []


class LabelErrorAnalysis(DerivedAnalysis):
    """Likely label errors as a derived analysis: `label_errors/<task>.parquet` per task; its
    reading's data is {task: the ranked table joined with its examples}, provenance per task."""
    name, title, requires = "label_errors", "Label errors", "cleanlab"

    def build(self, a: Analysis, variants: Mapping[str, object], tables_dir: Path, log: Log) -> list[str]:
        models = {name: v.checkpoint_hash for name, v in variants.items() if not v.members}
        ensembles = {name for name, v in variants.items() if v.members}
        written = []
        for task in a.tasks:
            try:
                table, provenance = label_error_table(a, task, models, ensembles)
            except ValueError as error:
                log(f"label errors for {task} skipped: {error}")
                continue
            path, size = write_label_errors(tables_dir, task, table, provenance)
            written.append(str(path))
            log(f"wrote {path} ({int(table['issue'].sum())} flagged of {len(table)}, evidence from "
                f"{len(provenance['variants'])} variants, {size / 1e3:.0f} kB)")
        return written

    def read(self, a: Analysis | None) -> Reading:
        if a is None:
            return Reading(problems=["no analysis tables"])
        out = Reading(data={})
        for task in [t for t in TASK_NAMES if a.has(t)]:
            rows, provenance, problems = read_label_errors(a, task)
            out.problems += [f"{task}: {p}" for p in problems]
            if rows is not None:
                out.data[task], out.provenance[task] = rows, provenance
        if not out.data:
            out.data = None
        return out


ANALYSIS = LabelErrorAnalysis()


# --- how far gold and suggestion lie apart; what a person's reading of the top found -----------

ONE_APART, TWO_APART, OPPOSITE = "one class apart", "two classes apart", "opposite polarity"
READING_FILE = "label_error_reading.json"  # beside this module
READING_PATH = Path(__file__).with_name(READING_FILE)
MISLABELLED, AMBIGUOUS, LABEL_RIGHT = "mislabelled", "ambiguous", "label right"
VERDICTS = (MISLABELLED, AMBIGUOUS, LABEL_RIGHT)


def how_far(task: str, gold: np.ndarray, suggested: np.ndarray) -> np.ndarray | None:
    """SST only (None otherwise): per example, OPPOSITE when gold and suggestion lie on opposite
    sides of neutral (a disagreement about polarity), else ONE_APART or TWO_APART (neighbouring
    classes: often a matter of degree, where annotators themselves disagree)."""
    spec = get_task(task)
    if spec.regression or spec.binary:
        return None
    gold, suggested = np.asarray(gold, int), np.asarray(suggested, int)
    middle = (len(spec.classes) - 1) // 2
    opposite = (gold - middle) * (suggested - middle) < 0
    return np.where(opposite, OPPOSITE, np.where(np.abs(gold - suggested) <= 1, ONE_APART, TWO_APART))


@dataclass(frozen=True)
class LabelReading:
    """One person's verdicts on the top of a task's ranking (analysis/label_error_reading.json),
    matched to the current table."""
    task: str
    verdicts: dict[str, tuple[str, str]]  # id -> (verdict, note)
    about: dict
    flagged: int                          # how many of the read examples the current table still flags

    @property
    def read(self) -> int:
        return len(self.verdicts)

    def count(self, *kinds: str) -> int:
        return sum(v in kinds for v, _ in self.verdicts.values())

    def precision(self, *kinds: str) -> tuple[int, int, tuple[float, float]]:
        """(k, n, 95 % Wilson interval): how many of the read examples got one of `kinds`."""
        k = self.count(*kinds)
        return k, self.read, wilson(k, self.read)

    def by_group(self, groups: Mapping[str, str], kind: str = MISLABELLED) -> dict[str, tuple[int, int]]:
        """{group: (how many read examples of that group got `kind`, how many were read)}."""
        out: dict[str, tuple[int, int]] = {}
        for example, (verdict, _) in self.verdicts.items():
            k, n = out.get(groups.get(example, ""), (0, 0))
            out[groups.get(example, "")] = (k + (verdict == kind), n + 1)
        return out


def read_reading(task: str, table: pd.DataFrame | None = None, path: Path = READING_PATH) -> LabelReading | None:
    """The stored reading of `task`'s top flagged examples, or None when there is none. `table`
    (the task's label-error table) says how many of them it still flags: a rebuild from other
    predictions may rank other examples first, and the reading then covers fewer of them."""
    try:
        stored = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rows = (stored.get("tasks") or {}).get(task) or []
    verdicts = {str(r["id"]): (str(r["verdict"]), str(r.get("note", ""))) for r in rows
                if r.get("verdict") in VERDICTS}
    if not verdicts:
        return None
    flagged = len(verdicts)
    if table is not None:
        present = table["id"].astype(str).isin(list(verdicts))
        if not present.any():  # a reading of other data (another dev set): it says nothing here
            return None
        flagged = int(table.loc[present, "issue"].sum())
    return LabelReading(task, verdicts, dict(stored.get("about") or {}), flagged)
