"""A user's own CS224N dev prediction files, read, checked and turned into prediction tables.

The one place that reads `sst-dev-output.csv`, `para-dev-output.csv` and `sts-dev-output.csv`
as the course's scripts write them (`minibert.submission` writes the same layout):

    id \\t Predicted_Sentiment            (Predicted_Is_Paraphrase, Predicted_Similiary: sic)
    <id> , <prediction>

The spaces around the tab and the separator, and the space before the newline, are optional
here; the task is read from the header, not the file name. A file may carry class
probabilities too, as extra columns named in the header and extra ` , ` fields on each line:

    id \\t Predicted_Sentiment \\t p0 \\t p1 \\t p2 \\t p3 \\t p4      five probabilities summing to 1
    id \\t Predicted_Is_Paraphrase \\t prob                         P(duplicate)

(the column names of the stored tables). Without them a variant has hard labels only: no
confidence, so it is left out of calibration, label-error evidence and ensemble selection.

All or nothing: `read_prediction_files` checks every file completely before anything is
returned, and raises `PredictionFileError` listing every problem as `file:line: problem`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from minibert import metrics as F
from minibert.checkpoint_config import checkpoint_folders
from minibert.submission import HEADERS, SEPARATOR, SUBMISSION_FILES
from minibert.tasks import TASK_NAMES
from minibert.tasks import task as get_task

from .assemble import with_variant
from .core import Analysis
from .schema import QUORA_THRESHOLD, SCORE_COLUMNS
from .tables import TableError, read_examples, read_manifest, remove_table, write_manifest, write_table

MAX_FILE_BYTES = 10 * 2**20  # a CS224N dev file is about 0.9 MB (Quora); ten times that is no prediction file
MAX_PROBLEMS_PER_FILE = 8    # listed; the rest are counted
MAX_LISTED_IDS = 3
NAME_RULE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
# The header's prediction column names each task; the course's spelling of Similiary kept.
HEADER_COLUMNS = {HEADERS[t].split("\t")[1].strip(): t for t in TASK_NAMES}
PROBABILITY_COLUMNS = {t: SCORE_COLUMNS[t] for t in TASK_NAMES if SCORE_COLUMNS[t]}
PROBABILITY_TOLERANCE = 1e-3  # five rounded probabilities may sum to 0.999 or 1.001


# What a line of each file holds after its id, for people (the upload panel shows `file_formats`).
PREDICTION_FIELDS = {"sst": "<class 0-4>", "quora": "<0 or 1>", "sts": "<score 0-5>"}
PROBABILITY_MEANING = {"sst": "five probabilities summing to 1", "quora": "P(duplicate)"}


def file_formats() -> list[dict[str, str]]:
    """Each task's dev prediction file as this module reads it, one dict per task: `file`,
    `header` (tabs shown as \\t), `line`, and the optional probability columns (`probabilities`,
    `probability_line`, `meaning`; empty for STS)."""
    out = []
    for t in TASK_NAMES:
        columns = PROBABILITY_COLUMNS.get(t, ())
        header = HEADERS[t].strip().replace("\t", "\\t")
        line = f"<id> , {PREDICTION_FIELDS[t]}"
        out.append({"task": t, "file": SUBMISSION_FILES[(t, "dev")], "header": header, "line": line,
                    "probabilities": " ".join(f"\\t {c}" for c in columns),
                    "probability_line": "".join(f" , <{c}>" for c in columns),
                    "meaning": PROBABILITY_MEANING.get(t, "") if columns else ""})
    return out


class PredictionFileError(ValueError):
    """One or more unusable prediction files; `problems` holds one `file:line: problem` each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class PredictionFile:
    """One checked dev prediction file: every dev id of its task, once, in the file's order."""

    name: str            # the file name as given (no folder), for messages and provenance
    sha256: str
    task: str
    ids: list[str]
    pred: np.ndarray     # int8 classes (SST, Quora) or float32 scores (STS)
    probabilities: np.ndarray | None  # (n, 5) SST, (n,) Quora P(duplicate); None when not given

    def table(self) -> pd.DataFrame:
        """The prediction table (id, pred, score columns): NaN scores when the file has none."""
        table = pd.DataFrame({"id": self.ids, "pred": self.pred})
        columns = SCORE_COLUMNS[self.task]
        values = self.probabilities
        if values is None:
            values = np.full((len(self.ids), len(columns)), np.nan, np.float32)
        values = np.asarray(values, np.float32).reshape(len(self.ids), len(columns))
        for k, column in enumerate(columns):
            table[column] = values[:, k]
        return table

    def text(self) -> bytes:
        """The file in the course's layout (`minibert.submission`), probability columns kept:
        `parse_prediction_file` reads it back to the same rows, each number written as the
        shortest text that gives the same float32."""
        columns = SCORE_COLUMNS[self.task] if self.probabilities is not None else ()
        header = "".join(f" \t {c}" for c in columns)
        lines = [HEADERS[self.task].rstrip(" \n") + header + " \n"]
        probabilities = (np.asarray(self.probabilities).reshape(len(self.ids), -1) if columns
                         else np.empty((len(self.ids), 0)))
        regression = get_task(self.task).regression
        for example_id, pred, row in zip(self.ids, self.pred, probabilities):
            fields = [example_id, _shortest(pred) if regression else str(int(pred)), *map(_shortest, row)]
            lines.append(SEPARATOR.join(fields) + " \n")
        return "".join(lines).encode("utf-8")

    def summary(self, gold: pd.Series | None = None) -> str:
        """`sst: 1,101 of 1,101 ids matched, accuracy 0.512` (Pearson for STS); gold indexed by id."""
        n = len(self.ids)
        text = f"{self.task}: {n:,} of {n:,} ids matched"
        if gold is not None:
            g = gold.reindex(self.ids).to_numpy()
            if get_task(self.task).regression:
                text += f", Pearson {F.pearson(g, self.pred):.3f}"
            else:
                text += f", accuracy {F.accuracy(g.astype(np.int64), self.pred.astype(np.int64)):.3f}"
        return text + ("" if self.probabilities is None else ", with probabilities")


def _shortest(value: object) -> str:
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def check_name(name: str, taken: Iterable[str] = ()) -> str | None:
    """Why `name` cannot name an imported variant, or None when it can."""
    if not isinstance(name, str) or not NAME_RULE.fullmatch(name):
        return (f"variant name {name!r}: use 1 to 40 lowercase letters, digits and hyphens, "
                "starting with a letter or digit")
    if name in set(taken):
        return f"variant name {name!r} is a shipped variant's; choose another"
    return None


def _is_binary(data: bytes) -> bool:
    if b"\0" in data[:65536]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _fields(line: str) -> list[str]:
    return [part.strip() for part in line.split(",")]


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class _Problems:
    """The problems of one file, listed up to a limit and counted after it."""

    def __init__(self, name: str) -> None:
        self.name, self.items, self.more = name, [], 0

    def add(self, line: int | None, text: str) -> None:
        if len(self.items) >= MAX_PROBLEMS_PER_FILE:
            self.more += 1
            return
        self.items.append(f"{self.name}:{line}: {text}" if line else f"{self.name}: {text}")

    def lines(self) -> list[str]:
        return self.items + ([f"{self.name}: ... and {self.more} more problem(s)"] if self.more else [])


def _header(text: str, problems: _Problems) -> tuple[str | None, tuple[str, ...]]:
    """(task, probability columns) from the header line."""
    columns = [c.strip() for c in text.split("\t")]
    expected = "; ".join(HEADERS[t].strip().replace("\t", "\\t") for t in TASK_NAMES)
    if len(columns) < 2 or columns[0] != "id" or columns[1] not in HEADER_COLUMNS:
        problems.add(1, f"header {text.strip()!r} is not a CS224N prediction header (expected one of: {expected})")
        return None, ()
    task = HEADER_COLUMNS[columns[1]]
    extra = tuple(columns[2:])
    allowed = PROBABILITY_COLUMNS.get(task)
    if extra and extra != allowed:
        want = " \\t ".join(allowed) if allowed else "none (STS predictions are scores)"
        problems.add(1, f"{task} probability columns {' '.join(extra)!r}: expected {want}")
        return None, ()
    return task, extra


def parse_prediction_file(name: str, data: bytes, dev_ids: Mapping[str, pd.Index]) -> PredictionFile:
    """Check one file against the dev ids of each task ({task: Index of ids}); PredictionFileError
    lists what is wrong, each with the file and line."""
    problems = _Problems(name)
    if len(data) > MAX_FILE_BYTES:
        problems.add(None, f"{len(data) / 2**20:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit for a "
                           "prediction file")
        raise PredictionFileError(problems.lines())
    if not data.strip():
        problems.add(None, "the file is empty (expected a header line and one line per dev example)")
        raise PredictionFileError(problems.lines())
    if _is_binary(data):
        problems.add(None, "a binary file, not a CS224N prediction file (UTF-8 text)")
        raise PredictionFileError(problems.lines())
    lines = data.decode("utf-8").lstrip("\ufeff").split("\n")
    task, extra = _header(lines[0].rstrip("\r"), problems)
    if task is None:
        raise PredictionFileError(problems.lines())
    if re.search(r"-test-output", name):
        problems.add(None, f"a test-set file (its name says so); give the dev file "
                           f"{get_task(task).output_prefix}-dev-output.csv")
    spec = get_task(task)
    if task not in dev_ids:
        problems.add(None, f"a {task} file, but no {task} dev examples are loaded here to check it against")
        raise PredictionFileError(problems.lines())
    width = 2 + len(extra)
    ids, preds, probs, seen = [], [], [], {}
    known = dev_ids[task]
    unknown: list[tuple[int, str]] = []
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        fields = _fields(line)
        if len(fields) != width:
            problems.add(number, f"expected {width} fields separated by ' , ' (id, prediction"
                                 f"{', ' + ', '.join(extra) if extra else ''}), got {len(fields)}: {line.strip()!r}")
            continue
        example_id, value = fields[0], fields[1]
        if example_id in seen:
            problems.add(number, f"id {example_id} repeated (first on line {seen[example_id]})")
            continue
        seen[example_id] = number
        if example_id not in known:
            unknown.append((number, example_id))
        label = _prediction(spec.name, value)
        if isinstance(label, str):
            problems.add(number, label)
            continue
        row_probs = _probabilities(spec.name, label, fields[2:]) if extra else None
        if isinstance(row_probs, str):
            problems.add(number, row_probs)
            continue
        ids.append(example_id)
        preds.append(label)
        probs.append(row_probs)
    if not seen:
        problems.add(None, "a header but no predictions")
    if seen:
        if unknown and len(unknown) == len(seen):
            problems.add(unknown[0][0], f"none of the {len(seen):,} ids is a {task} dev id (e.g. {unknown[0][1]}): "
                                        "is this a test-set file? The dev file is "
                                        f"{spec.output_prefix}-dev-output.csv")
        else:
            for number, example_id in unknown:
                problems.add(number, f"id {example_id} is not in the {task} dev set")
            missing = [i for i in known if i not in seen]
            if missing:
                problems.add(None, f"{len(missing):,} of the {len(known):,} {task} dev ids have no prediction "
                                   f"(e.g. {', '.join(missing[:MAX_LISTED_IDS])}); a file must cover the whole dev set")
    if problems.items:
        raise PredictionFileError(problems.lines())
    pred = np.asarray(preds, np.float32 if spec.regression else np.int8)
    probabilities = np.asarray(probs, np.float32) if extra else None
    return PredictionFile(name, hashlib.sha256(data).hexdigest(), task, ids, pred, probabilities)


def _prediction(task: str, value: str) -> int | float | str:
    """The prediction as a number, or a problem."""
    spec = get_task(task)
    number = _float(value)
    if number is None:
        return f"prediction {value!r} is not a number"
    if spec.regression:
        return number if 0.0 <= number <= 5.0 else f"similarity {value!r} is out of range 0..5 (clip the model's scores)"
    if not number.is_integer() or not 0 <= number < len(spec.classes):
        return f"{spec.label_column} {value!r} is not a class 0..{len(spec.classes) - 1}"
    return int(number)


def _probabilities(task: str, label: int, texts: list[str]) -> list[float] | str:
    values = [_float(t) for t in texts]
    if any(v is None or not 0.0 <= v <= 1.0 for v in values):
        return f"probabilities {', '.join(texts)}: each must be a number in 0..1"
    if get_task(task).multiclass:
        if abs(sum(values) - 1.0) > PROBABILITY_TOLERANCE:
            return f"probabilities {', '.join(texts)} sum to {sum(values):.4f}, not 1"
        if values[label] < max(values) - PROBABILITY_TOLERANCE:
            return f"prediction {label} is not the most probable class of {', '.join(texts)}"
        return values
    if int(values[0] >= QUORA_THRESHOLD) != label:
        return f"prediction {label} disagrees with P(duplicate) {texts[0]} at threshold {QUORA_THRESHOLD}"
    return values[0]


def read_prediction_files(files: Iterable[tuple[str, bytes]], dev_ids: Mapping[str, pd.Index],
                          ) -> dict[str, PredictionFile]:
    """Check every (name, content) pair; {task: PredictionFile}, or PredictionFileError listing
    every problem of every file (nothing is returned half-checked)."""
    problems: list[str] = []
    found: dict[str, PredictionFile] = {}
    given = list(files)
    if not given:
        raise PredictionFileError(["no prediction files given (expected 1 to 3 of sst-dev-output.csv, "
                                   "para-dev-output.csv, sts-dev-output.csv)"])
    for name, data in given:
        try:
            parsed = parse_prediction_file(name, data, dev_ids)
        except PredictionFileError as error:
            problems += error.problems
            continue
        if parsed.task in found:
            problems.append(f"{name}: a second {parsed.task} file (the first was {found[parsed.task].name}); "
                            "give one file per task")
            continue
        found[parsed.task] = parsed
    if problems:
        raise PredictionFileError(problems)
    return found


# --- imported variants in the tables folder ---------------------------------------------------

IMPORTED = "imported"  # the manifest entry's "kind" of a table read from a user's files


def is_imported(entry: Mapping) -> bool:
    """Whether a manifest entry is an imported table: predictions only, no checkpoint, never
    rescored, no calibration, no ensemble membership, no label-error evidence."""
    return entry.get("kind") == IMPORTED


def has_probabilities(entry: Mapping) -> bool:
    """Whether a manifest entry's table carries model scores: every built table does (STS's score
    is its prediction); an imported one only when its file had probability columns (or is STS)."""
    return not is_imported(entry) or bool(entry.get("probabilities"))


def imported_variants(manifest: Mapping) -> set[str]:
    return {e.get("variant") for e in manifest.get("tables", {}).values() if is_imported(e)}


def imported_sources(manifest: Mapping) -> dict[str, list[dict]]:
    """{variant: [{"task", "file", "sha256", "probabilities"}, ...]} of every imported variant, in task order."""
    out: dict[str, list[dict]] = {}
    for entry in manifest.get("tables", {}).values():
        if is_imported(entry):
            source = entry.get("source") or {}
            out.setdefault(entry.get("variant"), []).append(
                {"task": entry.get("task"), "file": source.get("file"), "sha256": source.get("sha256"),
                 "probabilities": has_probabilities(entry)})
    order = {t: k for k, t in enumerate(TASK_NAMES)}
    return {v: sorted(items, key=lambda i: order.get(i["task"], 9)) for v, items in sorted(out.items())}


def dev_ids_of(tables_dir: Path) -> tuple[dict[str, pd.Index], dict[str, dict], dict[str, pd.Series]]:
    """({task: dev ids}, {task: data identity}, {task: gold by id}) from the shipped examples tables."""
    manifest, found = read_manifest(tables_dir)
    if found:
        raise PredictionFileError(found)
    ids, data, gold = {}, {}, {}
    for task in TASK_NAMES:
        entry = manifest["examples"].get(task)
        try:
            frame, provenance = read_examples(tables_dir, task)
        except TableError as error:
            if entry:
                raise PredictionFileError([str(error)]) from error
            continue
        ids[task] = pd.Index(frame["id"].astype(str))
        data[task] = provenance.get("data", {})
        gold[task] = pd.Series(frame["gold"].to_numpy(), index=ids[task])
    return ids, data, gold


def taken_names(manifest: Mapping, checkpoints_dir: Path | None) -> set[str]:
    """Names an import may not use: every checkpoint folder and every built (non-imported) table."""
    names = {e.get("variant") for e in manifest.get("tables", {}).values() if not is_imported(e)}
    if checkpoints_dir is not None:
        names |= {p.name for p in checkpoint_folders(checkpoints_dir)}
    return names


def import_variant(name: str, files: Iterable[tuple[str, bytes]], tables_dir: Path,
                   checkpoints_dir: Path | None = None, *, replace: bool = False) -> list[str]:
    """Check the files, then write NAME's prediction tables and manifest entries; returns one
    summary line per task. PredictionFileError when anything is wrong (nothing is written)."""
    tables_dir = Path(tables_dir)
    manifest, found = read_manifest(tables_dir)
    if found:
        raise PredictionFileError(found)
    why = check_name(name, taken_names(manifest, checkpoints_dir))
    if why:
        raise PredictionFileError([why])
    if name in imported_variants(manifest) and not replace:
        raise PredictionFileError([f"variant {name!r} was imported before; pass --replace to replace it"])
    ids, data, gold = dev_ids_of(tables_dir)
    parsed = read_prediction_files(files, ids)
    for rel, entry in list(manifest["tables"].items()):
        if entry.get("variant") == name:
            remove_table(tables_dir, manifest, rel)
    lines = []
    for task, pf in sorted(parsed.items(), key=lambda kv: TASK_NAMES.index(kv[0])):
        provenance = {"kind": IMPORTED, "probabilities": pf.probabilities is not None or get_task(task).regression,
                      "source": {"file": pf.name, "sha256": pf.sha256}}
        write_table(tables_dir, manifest, variant=name, task=task, frame=pf.table(), checkpoint_name=None,
                    checkpoint_hash=None, data=data[task], extra=provenance)
        lines.append(pf.summary(gold.get(task)))
    write_manifest(tables_dir, manifest)
    return lines


def with_predictions(a: Analysis, name: str, tables: Mapping[str, pd.DataFrame], hard: Iterable[str] = (),
                     tasks: Iterable[str] | None = None) -> Analysis:
    """`a` with one more imported variant held in memory (an upload), joined by id with the dev
    examples of `tasks` (default: every task `tables` has); `hard`: the tasks it has hard labels
    for. Only the upload's rows are built (`analysis.assemble.with_variant`); the rest is shared with
    `a`, not copied, and `a` itself is unchanged."""
    joined = dict(a.tasks)
    hard = set(hard)
    for task in tables if tasks is None else tasks:
        if task not in tables or task not in a.tasks:
            continue
        td, table = a.tasks[task], tables[task]
        ex = pd.Index(td.examples["id"].astype(str)).get_indexer(table["id"].astype(str))
        keep = ex >= 0
        rows = table.loc[keep, ["id", "pred", *SCORE_COLUMNS[task]]].reset_index(drop=True)
        joined[task] = with_variant(td, name, ex[keep], rows, task in hard)
    return dataclasses.replace(a, tasks=joined)
