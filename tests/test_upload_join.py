"""An upload joined with the shared analysis (`analysis.assemble.with_variant`, `demo.uploads.joined`).

The join builds only the upload's rows and shares the rest; the way before it assembled every
variant's rows again (`analysis.assemble.reassembled`). On the shipped tables and the example files of
tests/data/my-model (SST hard labels, Quora and STS with scores) both must give the same TaskData,
array for array, and so the same answer to every query; and the cache of joined tasks stays
within its byte budget."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis as A
from analysis.assemble import added_bytes, assemble, parts_of, reassembled, with_variant
from analysis.schema import SCORE_COLUMNS
from demo import uploads as U

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_FILES = sorted(str(p) for p in (ROOT / "tests" / "data" / "my-model").glob("*-dev-output.csv"))
TASKS = ("sst", "quora", "sts")


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The shipped tables, text from the shipped examples tables (no data directory)."""
    return A.load(ROOT / "analysis" / "tables", tmp_path_factory.mktemp("no-data") / "none", checkpoints=False)


@pytest.fixture(scope="module")
def upload(shipped):
    return U.read_upload(shipped, EXAMPLE_FILES, "my-model")


def upload_rows(td, table):
    ex = pd.Index(td.examples["id"].astype(str)).get_indexer(table["id"].astype(str))
    return ex, table[["id", "pred", *SCORE_COLUMNS[td.task]]]


def assert_same_labels(new: pd.Series, old: pd.Series, name: str) -> None:
    """Categorical series compared by categories and codes (pandas compares their values one by one)."""
    assert new.dtype == old.dtype, name
    assert list(new.cat.categories) == list(old.cat.categories), name
    np.testing.assert_array_equal(new.cat.codes.to_numpy(), old.cat.codes.to_numpy(), err_msg=name)


def assert_same_task(new, old):
    assert list(new.frame.columns) == list(old.frame.columns) and new.frame.index.equals(old.frame.index)
    assert new.frame.dtypes.to_dict() == old.frame.dtypes.to_dict()
    assert_same_labels(new.frame["variant"], old.frame["variant"], "variant")
    others = [c for c in old.frame.columns if c != "variant"]
    if not new.frame[others].equals(old.frame[others]):  # equal values, NaN where NaN; else say where
        pd.testing.assert_frame_equal(new.frame[others], old.frame[others])
    assert (new.variants, new.ranges, new.imported, new.hard_labels) == (old.variants, old.ranges, old.imported,
                                                                         old.hard_labels)
    assert new.examples is old.examples
    assert new.cols.keys() == old.cols.keys()
    for name, values in old.cols.items():
        assert new.cols[name].dtype == values.dtype, name
        np.testing.assert_array_equal(new.cols[name], values, err_msg=name)
    for name in ("present", "pred", "correct", "score"):
        if getattr(old, name) is None:
            assert getattr(new, name) is None
            continue
        assert getattr(new, name).dtype == getattr(old, name).dtype, name
        np.testing.assert_array_equal(getattr(new, name), getattr(old, name), err_msg=name)
    assert list(new.slices) == list(old.slices)
    for name, labels in old.slices.items():
        assert_same_labels(new.slices[name], labels, name)


def assert_same_answers(a_new, a_old, task, variant):
    pd.testing.assert_frame_equal(A.metrics_table(a_new, task), A.metrics_table(a_old, task))
    for other in (None, variant):
        pd.testing.assert_frame_equal(A.errors(a_new, task, other, search="the"), A.errors(a_old, task, other, search="the"))
    shipped_one = a_old.tasks[task].variants[0]
    pd.testing.assert_frame_equal(A.errors(a_new, task, shipped_one, other=variant, relation="disagree"),
                                  A.errors(a_old, task, shipped_one, other=variant, relation="disagree"))
    for name in ("agreement", "all_wrong", "length"):
        pd.testing.assert_frame_equal(A.slice_metrics(a_new, task, name), A.slice_metrics(a_old, task, name))
    if task != "sts":
        pd.testing.assert_frame_equal(A.confusion(a_new, task, variant), A.confusion(a_old, task, variant))
    first = a_old.tasks[task].examples["id"].iloc[0]
    pd.testing.assert_frame_equal(A.example_across_variants(a_new, task, first),
                                  A.example_across_variants(a_old, task, first))


@pytest.mark.parametrize("task", [pytest.param(t, marks=pytest.mark.slow) if t == "quora" else t for t in TASKS])
def test_the_join_equals_assembling_every_variant_again_on_the_example_files(shipped, upload, task):
    base = shipped.tasks[task]
    ex, rows = upload_rows(base, upload.files[task].table())
    hard = task in upload.hard
    assert hard == (task == "sst")  # the example files: SST hard labels, Quora and STS with scores
    new, old = with_variant(base, "my-model", ex, rows, hard), reassembled(base, "my-model", ex, rows, hard)
    assert_same_task(new, old)
    assert_same_answers(replace(shipped, tasks={**shipped.tasks, task: new}),
                        replace(shipped, tasks={**shipped.tasks, task: old}), task, "my-model")
    assert shipped.tasks[task] is base and "my-model" not in base.variants  # the shared analysis unchanged
    # what is shared is not copied: the text of the shared rows, the example-only slices
    for column in ("id", "sentence1"):
        joined_text, shared_text = (t.frame[column].array.__arrow_array__() for t in (new, base))
        assert joined_text.chunk(0).buffers()[-1].address == shared_text.chunk(0).buffers()[-1].address
    assert new.slices["length"] is base.slices["length"]
    assert added_bytes(new, base) < 0.5 * old.frame.memory_usage(deep=True).sum()


def test_a_second_upload_on_an_import_with_hard_labels_equals_assembling_again(shipped, upload):
    """A shared analysis that already has an import (hard Quora labels), and an upload on top."""
    base = shipped.tasks["quora"]
    ex, rows = upload_rows(base, upload.files["quora"].table())
    hard_rows = rows.assign(prob=np.nan)
    first = with_variant(base, "imported-hard", ex, hard_rows, True)
    assert_same_task(first, reassembled(base, "imported-hard", ex, hard_rows, True))
    assert_same_task(with_variant(first, "my-model", ex, rows, False), reassembled(first, "my-model", ex, rows, False))
    with pytest.raises(ValueError, match="already has a variant 'imported-hard'"):
        with_variant(first, "imported-hard", ex, rows, False)


def test_a_shared_variant_without_a_probability_takes_the_way_that_fills_it(shipped, upload):
    """Assembling fills a missing P(duplicate) with the label in every row once some variant has hard
    labels; so when a shared row lacks one, a hard upload is assembled with every variant again."""
    base = shipped.tasks["quora"]
    parts = parts_of(base)
    name, ex0, table = parts[0]
    table = table.copy()
    table.loc[0, "prob"] = np.nan
    holed = assemble("quora", base.source, base.examples, [(name, ex0, table), *parts[1:]])
    ex, rows = upload_rows(base, upload.files["quora"].table())
    new = with_variant(holed, "my-model", ex, rows.assign(prob=np.nan), True)
    assert_same_task(new, reassembled(holed, "my-model", ex, rows.assign(prob=np.nan), True))
    assert new.frame["prob"].iloc[0] == new.frame["pred"].iloc[0]


def test_the_join_cache_keeps_the_most_recent_joins_within_its_byte_budget(shipped, upload, monkeypatch):
    monkeypatch.setattr(U, "_cache", type(U._cache)())  # not the joins other tests' sessions left
    shared = shipped
    quora = U.joined(shared, upload, "quora").tasks["quora"]
    one_quora = U.cached_joins()[1]
    assert one_quora == added_bytes(quora, shared.tasks["quora"]) and one_quora > 10 * 2**20
    U.forget(upload)
    monkeypatch.setenv(U.JOIN_CACHE_ENV, str(2.5 * one_quora / 2**20))  # two Quora joins and the small tasks
    sessions = [U.read_upload(shared, EXAMPLE_FILES, f"session-{k}") for k in range(3)]
    try:
        first = U.joined(shared, sessions[0])
        assert U.cached_joins()[0] == 3
        again = U.joined(shared, sessions[0], "quora")
        assert again.tasks["quora"] is first.tasks["quora"] and again.tasks["sst"] is shared.tasks["sst"]
        for session in sessions[1:]:
            U.joined(shared, session)
            assert U.cached_joins()[1] <= U.join_cache_bytes()
        # the least recently used went first: the first session's Quora join, not the last session's
        assert U.joined(shared, sessions[2], "quora").tasks["quora"] is U.joined(shared, sessions[2]).tasks["quora"]
        assert U.joined(shared, sessions[0], "quora").tasks["quora"] is not first.tasks["quora"]
        monkeypatch.setenv(U.JOIN_CACHE_ENV, "1")  # smaller than one Quora join: that one is kept alone
        U.joined(shared, sessions[1], "quora")
        held, size = U.cached_joins()
        assert held == 1 and size > U.join_cache_bytes()
    finally:
        for session in sessions:
            U.forget(session)
    assert U.cached_joins() == (0, 0)
