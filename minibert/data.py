"""Readers for the CS224N minBERT task files (SST, Quora, STS).

Every row that cannot be used becomes a `BadRow` with its file and line, so a
caller can always say how many rows were skipped and why; nothing is dropped
without a trace. See docs/DESIGN.md ("Data contract") and the data README.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .settings import settings
from .tasks import task as get_task

SPLITS = ("train", "dev", "test")
DATA_ENV = "MINIBERT_DATA"
DEFAULT_DATA_DIR = "data"

HOW_TO_SUPPLY = f"supply the data folder with --data-dir DIR or {DATA_ENV}=DIR"
MAX_LISTED_BAD_ROWS = 5


class DataFileMissing(FileNotFoundError):
    """A data file or the data directory does not exist."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.filename = str(path)

    def __str__(self) -> str:
        # FileNotFoundError's own __str__ would prepend "[Errno ...]" noise.
        return str(self.args[0])


class BadDataError(ValueError):
    """A file cannot be read at all, or (with strict=True) holds bad rows."""


@dataclass(frozen=True)
class SentenceExample:
    id: str
    sentence: str
    label: int | None
    line: int


@dataclass(frozen=True)
class PairExample:
    id: str
    sentence1: str
    sentence2: str
    label: float | None
    line: int


Example = SentenceExample | PairExample


@dataclass(frozen=True)
class BadRow:
    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class Split:
    task: str
    split: str
    path: Path
    sha256: str
    examples: list[Example]
    bad_rows: list[BadRow]
    # Set when reading stopped early; then bad_rows covers only the part read.
    limit: int | None = field(default=None)

    def __len__(self) -> int:
        return len(self.examples)

    def summary(self) -> str:
        text = f"{self.task} {self.split}: {_plural(len(self.examples), 'example')}"
        if self.limit is not None:
            text += f" (limit {self.limit})"
        text += f", {_plural(len(self.bad_rows), 'bad row')}"
        if self.bad_rows:
            text += f" (first: {self.bad_rows[0]})"
        return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# --- PTB text back to plain text ---------------------------------------------

_PTB_ESCAPES = {
    "-LRB-": "(",
    "-RRB-": ")",
    "-LSB-": "[",
    "-RSB-": "]",
    "-LCB-": "{",
    "-RCB-": "}",
    "``": '"',
    "''": '"',
    "\\/": "/",
    "\\*": "*",
}
# One pass with one pattern, so a replacement can never feed another one.
_PTB_PATTERN = re.compile("|".join(re.escape(token) for token in _PTB_ESCAPES))

# PTB splits a clitic from its word ("does n't", "ca n't", "it 's") and a punctuation mark from
# the word before it. The clitics matter to the model: WordPiece reads "does n't" as
# [does, n, ', t] but "doesn't" as [doesn, ', t], which is what a person types into the app.
# Punctuation and brackets only matter to a reader: BERT splits them off either way.
_PTB_JOINS = (
    (re.compile(r"(?<=\S) (n't|'s|'re|'ve|'ll|'d|'m)(?=\s|$)", re.IGNORECASE), r"\1"),
    (re.compile(r"(?<=\S) ([.,;:!?%]+|\.\.\.)(?=\s|$)"), r"\1"),
    (re.compile(r"(-LRB-|-LSB-|-LCB-|``) (?=\S)"), r"\1"),
    (re.compile(r"(?<=\S) (-RRB-|-RSB-|-RCB-|'')"), r"\1"),
    (re.compile(r"(?<!\S)\$ (?=\d)"), "$"),
)


def unescape_ptb(text: str) -> str:
    """Undo the Penn Treebank escapes in SST sentences; leaves everything else alone."""
    return _PTB_PATTERN.sub(lambda match: _PTB_ESCAPES[match.group(0)], text)


def ptb_to_plain(text: str) -> str:
    """An SST sentence as a person would type it: escapes undone, clitics and punctuation rejoined."""
    for pattern, replacement in _PTB_JOINS:
        text = pattern.sub(replacement, text)
    return unescape_ptb(text)


def texts_sha256(texts: Iterable[str]) -> str:
    """sha256 of a sequence of strings as read: what a cache of anything computed from them is keyed by."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")  # a separator no text holds, so ["ab"] and ["a", "b"] differ
    return digest.hexdigest()


# --- locating files ---------------------------------------------------------


def resolve_data_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: `value` if given, else $MINIBERT_DATA, else `data`."""
    if _given(value):
        return Path(value)  # type: ignore[arg-type]
    return settings().data or Path(DEFAULT_DATA_DIR)


def _given(value: str | os.PathLike[str] | None) -> bool:
    # An empty --data-dir (e.g. from an unset shell variable) means "not given".
    return value is not None and str(value) != ""


def _data_dir_origin(value: str | os.PathLike[str] | None) -> str:
    # Saying where the folder came from makes a stale $MINIBERT_DATA easy to spot.
    if _given(value):
        return "as given"
    if settings().data is not None:
        return f"from ${DATA_ENV}"
    return f"the default, ./{DEFAULT_DATA_DIR}"


def split_path(task: str, split: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the file for `task`/`split` should be (it may not exist)."""
    _check_task_split(task, split)
    return resolve_data_dir(data_dir).resolve() / get_task(task).file_name(split)


def _check_task_split(task: str, split: str) -> None:
    get_task(task)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


def _require_file(task: str, split: str, data_dir: str | os.PathLike[str] | None) -> Path:
    folder = resolve_data_dir(data_dir).resolve()
    if not folder.is_dir():
        raise DataFileMissing(
            f"data directory not found: {folder} ({_data_dir_origin(data_dir)}); {HOW_TO_SUPPLY}",
            folder,
        )
    path = split_path(task, split, folder)
    if not path.is_file():
        raise DataFileMissing(
            f"{task} {split} data file not found: {path} "
            f"(put {path.name} there, or {HOW_TO_SUPPLY})",
            path,
        )
    return path


# --- reading ----------------------------------------------------------------


def read_split(
    task: str,
    split: str,
    data_dir: str | os.PathLike[str] | None = None,
    strict: bool = False,
    limit: int | None = None,
) -> Split:
    """Read one task file into examples, with every unusable row reported as a BadRow.

    Columns are found by header name, so the odd SST test header and any extra
    index columns do not matter. Text fields are stripped of surrounding
    whitespace; SST sentences are turned from PTB tokens back into plain text
    (`ptb_to_plain`). `limit` stops after that many good examples (bad rows are
    then only those seen so far). With `strict=True` any bad row raises
    BadDataError.
    """
    _check_task_split(task, split)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    path = _require_file(task, split, data_dir)
    raw = path.read_bytes()
    text = _decode(raw, path)

    examples: list[Example] = []
    bad_rows: list[BadRow] = []
    rows = _rows_with_lines(text, path)
    first = next(rows, None)
    if first is None:
        raise BadDataError(f"{path}: the file is empty (expected a header row)")
    build = _row_builder(task, split, path, header=first[2])
    seen_ids: dict[str, int] = {}

    for start, end, row in rows:
        if limit is not None and len(examples) >= limit:
            break
        if not row:
            continue  # a blank line holds no data, so skipping it loses nothing
        result = build(row, start, end)
        if isinstance(result, str):
            bad_rows.append(BadRow(path, start, result))
        elif result.id in seen_ids:
            reason = f"duplicate id {result.id!r} (first on line {seen_ids[result.id]})"
            bad_rows.append(BadRow(path, start, reason))
        else:
            seen_ids[result.id] = start
            examples.append(result)

    loaded = Split(task, split, path, hashlib.sha256(raw).hexdigest(), examples, bad_rows, limit)
    if strict and bad_rows:
        raise BadDataError(_bad_rows_message(loaded))
    return loaded


def _decode(raw: bytes, path: Path) -> str:
    try:
        # utf-8-sig: a file re-saved by a spreadsheet may start with a BOM.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise BadDataError(f"{path}:{line}: not valid UTF-8 ({error.reason})") from error


def _rows_with_lines(text: str, path: Path) -> Iterator[tuple[int, int, list[str]]]:
    """Yield (first line, last line, fields) per row; a quoted field may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quotechar='"')
    previous_end = 0
    try:
        for row in reader:
            yield previous_end + 1, reader.line_num, row
            previous_end = reader.line_num
    except csv.Error as error:
        # e.g. an unbalanced quote that swallows the rest of the file into one field
        raise BadDataError(f"{path}:{previous_end + 1}: unreadable CSV row ({error})") from error


RowBuilder = Callable[[list[str], int, int], Example | str]


def _row_builder(task: str, split: str, path: Path, header: list[str]) -> RowBuilder:
    """A function turning one row into an example, or into the reason it is bad."""
    spec = get_task(task)
    text_names = ["id", *spec.text_columns]
    label_name = spec.label_column if split != "test" else None
    positions = _locate_columns(header, text_names + ([label_name] if label_name else []), path)
    parse_label = spec.parse_label
    width = len(header)

    def build(row: list[str], start: int, end: int) -> Example | str:
        if len(row) != width:
            reason = f"expected {width} columns, found {len(row)}"
            if end > start:
                # A row running over several lines usually means an unbalanced quote.
                reason += f" (row spans lines {start}-{end})"
            return reason
        texts = {name: row[positions[name]].strip() for name in text_names}
        problems = [f"{name} is empty" for name, value in texts.items() if not value]
        label = None
        if label_name is not None:
            label, problem = parse_label(label_name, row[positions[label_name]].strip())
            if problem:
                problems.append(problem)
        if problems:
            return "; ".join(problems)
        if not spec.pair:
            return SentenceExample(texts["id"], ptb_to_plain(texts["sentence"]), label, start)
        return PairExample(texts["id"], texts["sentence1"], texts["sentence2"], label, start)

    return build


def _locate_columns(header: list[str], names: list[str], path: Path) -> dict[str, int]:
    cleaned = [name.strip() for name in header]
    missing = [name for name in names if name not in cleaned]
    if missing:
        raise BadDataError(
            f"{path}:1: header lacks column(s) {', '.join(missing)}; found {cleaned}"
        )
    return {name: cleaned.index(name) for name in names}


def _bad_rows_message(loaded: Split) -> str:
    count = len(loaded.bad_rows)
    listed = "\n".join(f"  {row}" for row in loaded.bad_rows[:MAX_LISTED_BAD_ROWS])
    more = count - MAX_LISTED_BAD_ROWS
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return f"{loaded.path}: {_plural(count, 'bad row')} ({loaded.task} {loaded.split}):\n{listed}{tail}"
