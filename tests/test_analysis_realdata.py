"""`analysis` over the real CS224N dev files (random predictions): runs only when $MINIBERT_DATA
names the data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import analysis as A
from analysis import synthetic
from analysis.examples import add_features, read_dev_split

DATA = os.environ.get("MINIBERT_DATA")
pytestmark = pytest.mark.skipif(
    not DATA or not (Path(DATA) / "quora-dev.csv").is_file(),
    reason="needs the real data: set MINIBERT_DATA to the folder holding quora-dev.csv",
)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real") / "tables"
    synthetic.make_tables(folder, Path(DATA), ("a", "b"))
    return folder


@pytest.mark.slow  # the real dev files, read and hashed
def test_real_dev_sets_join_and_fall_back(tables, tmp_path):
    a = A.load(tables, DATA, checkpoints=False)
    assert [p for p in a.problems if "no summary" not in p] == []
    assert len(a.examples("sst")) == 1101 and len(a.examples("sts")) == 863
    assert len(a.examples("quora")) == 20212  # 20,214 rows, 2 without a label
    assert any("2 bad row(s)" in n and "quora-dev.csv" in n for n in a.notes)
    assert not a.examples("sst")["sentence1"].str.contains("-LRB-", regex=False).any()  # PTB unescaped
    assert 0.05 < a.examples("sst")["negation"].mean() < 0.5
    assert len(A.errors(a, "quora", "a", search="what", only_errors=False)) > 1000
    assert all((tables / f"examples/{task}.parquet").is_file() for task in A.TASKS)
    assert all(p.stat().st_size < 10 * 2**20 for p in tables.rglob("*.parquet"))

    shipped = A.load(tables, tmp_path / "no-data", checkpoints=False)
    assert all(s.startswith("examples table") for s in shipped.sources.values())
    for task in A.TASKS:
        pd.testing.assert_frame_equal(shipped.examples(task), a.examples(task))
        frame, _, _ = read_dev_split(task, DATA)  # the stored features are add_features' own
        pd.testing.assert_frame_equal(shipped.task(task).examples, add_features(frame, task))
    assert A.overall(a).equals(A.overall(shipped))
