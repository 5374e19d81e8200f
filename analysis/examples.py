"""Dev-set examples (text + gold) and their per-example features: defined here and nowhere else.

Examples come from the data directory (read with `minibert.data.read_split`) or from the
shipped per-task table `examples/<task>.parquet`, which `python -m analysis build` writes with
`add_features` from the same data file. Every example frame has the columns
`id, sentence1, sentence2 ("" for SST), gold` and, after `add_features`:

    words1, words2   word counts of each sentence (words2 = 0 for SST)
    words            words1 + words2: the "length" used by filters and length slices
    negation         a negation word (not, no, never, n't, ...) occurs in either sentence
    overlap          Jaccard overlap of the two sentences' lowercase word sets (pairs; NaN for SST)
    text             lowercase "sentence1 \\n sentence2", what text search looks in

The shipped table stores `stored_columns(task)`: everything but `text` (cheap to recompute),
and for SST none of the pair-only columns; `from_stored` restores the full frame.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from minibert.data import read_split, texts_sha256
from minibert.tasks import task as get_task

from .schema import PAIR_TASKS

NEGATION_WORDS = (
    "not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "nowhere", "cannot",
    "without", "hardly", "barely",
)  # fmt: skip
# "n't" covers PTB-split SST ("does n't") and plain contractions ("doesn't", "don’t").
NEGATION_PATTERN = r"(?:\b(?:" + "|".join(NEGATION_WORDS) + r")\b|n['’]t\b)"
WORD_PATTERN = r"\S*[A-Za-z0-9]\S*"  # a whitespace token with at least one letter or digit
_OVERLAP_TOKEN = re.compile(r"[a-z0-9]+")

FEATURE_DTYPES = {"words1": np.int16, "words2": np.int16, "words": np.int16, "negation": bool, "overlap": np.float32}
BASE_DTYPES = {"id": "str", "sentence1": "str", "sentence2": "str", "gold": np.float32}
PAIR_ONLY = ("sentence2", "words2", "overlap")


def read_dev_split(task: str, data_dir: Path) -> tuple[pd.DataFrame, dict, list[str]]:
    """One dev split from the data directory: (frame, {"file", "path", "sha256", "read_sha256"},
    bad-row lines). `read_sha256` hashes the rows as the reader gives them, so tables built from
    them go stale when the reader changes (as when SST's PTB tokens were rejoined), not only when
    the file does.

    Raises minibert.data.DataFileMissing / BadDataError with their own clear messages.
    """
    split = read_split(task, "dev", data_dir)
    ex = split.examples
    ids = [e.id for e in ex]
    if not get_task(task).pair:
        s1 = [e.sentence for e in ex]
        s2 = [""] * len(ex)
    else:
        s1 = [e.sentence1 for e in ex]
        s2 = [e.sentence2 for e in ex]
    frame = pd.DataFrame(
        {
            "id": pd.array(ids, dtype="str"),
            "sentence1": pd.array(s1, dtype="str"),
            "sentence2": pd.array(s2, dtype="str"),
            "gold": np.array([e.label for e in ex], dtype=np.float32),
        }
    )
    labels = [repr(e.label) for e in ex]
    read = texts_sha256(field for row in zip(ids, s1, s2, labels) for field in row)
    info = {"file": split.path.name, "path": str(split.path), "sha256": split.sha256, "read_sha256": read}
    return frame, info, [str(row) for row in split.bad_rows]


def data_identity(info: dict) -> dict:
    """What tables record of the dev data they were built from (see `read_dev_split`)."""
    return {key: info[key] for key in ("file", "sha256", "read_sha256")}


def overlap(s1: pd.Series, s2: pd.Series) -> np.ndarray:
    """Jaccard overlap of lowercase word sets, per row (0 when both are empty)."""
    out = np.empty(len(s1), dtype=np.float32)
    for i, (a, b) in enumerate(zip(s1.str.lower().tolist(), s2.str.lower().tolist())):
        wa, wb = set(_OVERLAP_TOKEN.findall(a)), set(_OVERLAP_TOKEN.findall(b))
        union = len(wa | wb)
        out[i] = len(wa & wb) / union if union else 0.0
    return out


def search_text(s1: pd.Series, s2: pd.Series, task: str) -> pd.Series:
    return s1.str.lower() if task not in PAIR_TASKS else (s1 + "\n" + s2).str.lower()


def add_features(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """`frame` (id, sentence1, sentence2, gold) plus the feature columns listed above."""
    out = frame.reset_index(drop=True).copy()
    s1 = out["sentence1"].astype("str")
    s2 = out["sentence2"].astype("str")
    out["sentence1"], out["sentence2"] = s1, s2
    out["words1"] = s1.str.count(WORD_PATTERN).to_numpy()
    out["words2"] = s2.str.count(WORD_PATTERN).to_numpy()
    out["words"] = out["words1"] + out["words2"]
    text = search_text(s1, s2, task)
    out["negation"] = text.str.contains(NEGATION_PATTERN, regex=True).to_numpy()
    out["overlap"] = overlap(s1, s2) if task in PAIR_TASKS else np.nan
    out = out.astype(FEATURE_DTYPES)
    out["text"] = text
    return out


def stored_columns(task: str) -> list[str]:
    """The columns of a task's shipped examples table."""
    columns = [*BASE_DTYPES, *FEATURE_DTYPES]
    return columns if task in PAIR_TASKS else [c for c in columns if c not in PAIR_ONLY]


def from_stored(stored: pd.DataFrame, task: str) -> pd.DataFrame:
    """A shipped examples table (`stored_columns(task)`) as the frame `add_features` returns."""
    out = stored.reset_index(drop=True).copy()
    if task not in PAIR_TASKS:
        out = out.assign(sentence2="", words2=0, overlap=np.nan)
    out = out[[*BASE_DTYPES, *FEATURE_DTYPES]].astype({**BASE_DTYPES, **FEATURE_DTYPES})
    out["text"] = search_text(out["sentence1"], out["sentence2"], task)
    return out
