"""Writers (and a reader) for the CS224N submission files.

The layout copies what the course's scripts write, byte for byte, including the
tab in the header, the trailing spaces and the misspelt `Predicted_Similiary`,
so that the files are accepted wherever the course's own files are.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from minibert.tasks import TASKS
from minibert.tasks import task as get_task

SUBMISSION_FILES: dict[tuple[str, str], str] = {
    (t.name, split): f"{t.output_prefix}-{split}-output.csv" for t in TASKS for split in ("dev", "test")}

HEADERS: dict[str, str] = {
    "sst": "id \t Predicted_Sentiment \n",
    "quora": "id \t Predicted_Is_Paraphrase \n",
    "sts": "id \t Predicted_Similiary \n",  # sic: the course's spelling
}

SEPARATOR = " , "


def submission_path(folder: str | os.PathLike[str], task: str, split: str) -> Path:
    """Where the course expects the file for `task`/`split` inside `folder`."""
    if (task, split) not in SUBMISSION_FILES:
        raise ValueError(
            f"no submission file for task {task!r} split {split!r}; "
            f"expected one of {sorted(SUBMISSION_FILES)}"
        )
    return Path(folder) / SUBMISSION_FILES[(task, split)]


def write_submission(
    path: str | os.PathLike[str],
    task: str,
    ids: Sequence[str],
    predictions: Iterable[object],
) -> Path:
    """Validate every prediction, then write the file (parent folders are created)."""
    get_task(task)
    ids = list(ids)
    predictions = list(predictions)
    if len(ids) != len(predictions):
        raise ValueError(f"{len(ids)} ids but {len(predictions)} predictions for {task}")
    _check_ids(ids)
    formatted = [_FORMATTERS[task](example_id, value) for example_id, value in zip(ids, predictions)]

    # Everything is checked before the file is opened, so a bad value never
    # leaves a half-written submission behind.
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(HEADERS[task])
        for example_id, text in zip(ids, formatted):
            handle.write(f"{example_id}{SEPARATOR}{text} \n")
    return target


def read_submission(path: str | os.PathLike[str]) -> tuple[str, list[str], list[str]]:
    """Read a submission file back: (task, ids, predictions as written)."""
    source = Path(path)
    with source.open(encoding="utf-8", newline="") as handle:
        lines = handle.read().split("\n")
    header = lines[0] + "\n"
    task = next((name for name, text in HEADERS.items() if text == header), None)
    if task is None:
        raise ValueError(f"{source}:1: not a CS224N submission header: {lines[0]!r}")
    ids: list[str] = []
    values: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        if line == "":
            continue  # the newline after the last row
        example_id, separator, rest = line.partition(SEPARATOR)
        if not separator or not rest.endswith(" "):
            raise ValueError(f"{source}:{number}: expected '<id> , <prediction> ', got {line!r}")
        ids.append(example_id)
        values.append(rest[:-1])
    return task, ids, values


def _check_ids(ids: list[str]) -> None:
    seen: set[str] = set()
    for example_id in ids:
        # A separator or line break inside an id would corrupt the file's layout.
        if not isinstance(example_id, str) or not example_id or any(
            bad in example_id for bad in ("\n", "\r", "\t", SEPARATOR)
        ):
            raise ValueError(f"id {example_id!r} cannot be written to a submission file")
        if example_id in seen:
            raise ValueError(f"id {example_id!r} appears more than once")
        seen.add(example_id)


def _as_integer(value: object) -> int | None:
    """`value` as an int if it is a whole number (3, 3.0, numpy ints, bools), else None."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()  # numpy.bool_ (from `probs > 0.5`) is not a numbers.Integral
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
        return int(float(value))
    return None


def _format_sentiment(example_id: str, value: object) -> str:
    label = _as_integer(value)
    if label is None or not 0 <= label <= 4:
        raise ValueError(f"sentiment prediction for id {example_id!r} is {value!r}, not a class 0..4")
    return str(label)


def _format_paraphrase(example_id: str, value: object) -> str:
    label = _as_integer(value)
    if label not in (0, 1):
        raise ValueError(f"paraphrase prediction for id {example_id!r} is {value!r}, not 0 or 1")
    return str(label)


def _format_similarity(example_id: str, value: object) -> str:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(float(value)):
        raise ValueError(f"similarity prediction for id {example_id!r} is {value!r}, not a finite number")
    # str() of a numpy float32 is its shortest round-trip form ("3.4"); going through
    # Python's float would write float32 noise ("3.4000000953674316").
    return str(value) if type(value).__module__ == "numpy" else repr(float(value))


_FORMATTERS = {
    "sst": _format_sentiment,
    "quora": _format_paraphrase,
    "sts": _format_similarity,
}
