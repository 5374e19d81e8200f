"""Names and constants shared by every part of `analysis` (one place to change them)."""

from __future__ import annotations

from pathlib import Path

from minibert.tasks import PAIR_TASKS as PAIR_TASKS  # re-exported: the names analysis uses
from minibert.tasks import QUORA, SST, TASK_NAMES
from minibert.tasks import QUORA_THRESHOLD as QUORA_THRESHOLD
from minibert.tasks import TASKS as _TASKS
from minibert.tasks import task as _task

# The tasks are defined once, in minibert.tasks; these are the names analysis has always used.
TASKS = TASK_NAMES
# Model scores stored per task besides `pred` (for STS the 0-5 score *is* the prediction).
SCORE_COLUMNS: dict[str, tuple[str, ...]] = {t.name: t.score_columns for t in _TASKS}
SST_CLASSES = SST.classes
QUORA_CLASSES = QUORA.classes

# QUORA_THRESHOLD (from minibert.tasks) turns P(duplicate) into the stored Quora `pred` column.
# An STS prediction counts as "right" when |pred - gold| <= this; two STS predictions
# "agree" when they differ by at most this.
STS_TOLERANCE = 1.0

FORMAT_VERSION = 2
PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_TABLES_DIR = PACKAGE_DIR / "tables"
MANIFEST_NAME = "manifest.json"
SUMMARY_NAME = "summary.json"
INTERVALS_NAME = "intervals.parquet"  # 95 % intervals of every metric, slice and pair (analysis.uncertainty)
EXAMPLES_DIR = "examples"
PREDICTIONS_DIR = "predictions"
MAX_TABLE_BYTES = 10 * 1024 * 1024

QUORA_NOTE = (
    "Quora numbers are optimistic: the all-MiniLM-L6-v2 backbone was trained contrastively on "
    "data that includes 103,663 Quora duplicate pairs; the local Quora train split is partial "
    "(22,646 of 141,506 pairs)."
)


def check_task(task: str) -> str:
    return _task(task).name


def table_relpath(variant: str, task: str) -> str:
    """Where a prediction table lives, relative to the tables folder (also its manifest key)."""
    return f"{PREDICTIONS_DIR}/{variant}/{task}.parquet"


def examples_relpath(task: str) -> str:
    """Where a task's shipped dev-examples table lives, relative to the tables folder."""
    return f"{EXAMPLES_DIR}/{check_task(task)}.parquet"
