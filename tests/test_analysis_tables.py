"""The table files, the manifest, and what `analysis.load` says about bad input.

Synthetic data files and random prediction tables in tmp_path (analysis.synthetic); no model.
Every bad input must give one clear message naming what and where, and leave the rest working.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest

import analysis as A
from analysis import synthetic
from analysis import tables as T
from analysis.dev_metrics import summarize
from analysis.examples import add_features, data_identity, read_dev_split, stored_columns
from analysis.tables import TableError, read_manifest, write_examples, write_json, write_manifest, write_table

VARIANTS = ("a", "b", "c")


@pytest.fixture()
def setup(tmp_path):
    data, tables = tmp_path / "data", tmp_path / "tables"
    synthetic.make_data_dir(data, {"sst": 30, "quora": 40, "sts": 20})
    synthetic.make_tables(tables, data, VARIANTS)
    return tables, data


def load(tables, data, **kwargs):
    kwargs.setdefault("checkpoints", False)
    return A.load(tables, data, **kwargs)


def real_problems(a):
    return [p for p in a.problems if "no summary" not in p]


def test_clean_load_has_no_problems_and_tables_hold_no_text_or_gold(setup):
    tables, data = setup
    a = load(tables, data, checkpoints={v: f"hash-{v}" for v in VARIANTS})
    assert real_problems(a) == []
    assert a.variants() == list(VARIANTS) and len(a.frame("quora")) == 3 * 40
    for path in (tables / "predictions").glob("*/*.parquet"):
        columns = pq.read_schema(path).names
        assert not {"sentence", "sentence1", "sentence2", "gold", "label"} & set(columns), path
        assert path.stat().st_size < 10 * 2**20
    assert pq.read_schema(tables / "predictions/a/sst.parquet").names == ["id", "pred", "p0", "p1", "p2", "p3", "p4"]
    manifest, problems = read_manifest(tables)
    entry = manifest["tables"]["predictions/a/quora.parquet"]
    assert problems == [] and entry["checkpoint"] == {"name": "a", "hash": "hash-a"}
    assert entry["data"]["file"] == "quora-dev.csv" and len(entry["data"]["sha256"]) == 64


def test_one_compact_examples_table_per_task(setup):
    tables, data = setup
    manifest, _ = read_manifest(tables)
    assert manifest["format"] == 2 and "dev_examples" not in manifest
    assert sorted(p.relative_to(tables).as_posix() for p in (tables / "examples").iterdir()) == [
        "examples/quora.parquet", "examples/sst.parquet", "examples/sts.parquet"]
    pair = {"id": "string", "sentence1": "string", "sentence2": "string", "gold": "float", "words1": "int16",
            "words2": "int16", "words": "int16", "negation": "bool", "overlap": "float"}
    for task, rows in {"sst": 30, "quora": 40, "sts": 20}.items():
        path = tables / f"examples/{task}.parquet"
        schema = pq.read_schema(path)
        types = {name: str(schema.field(name).type).replace("large_", "") for name in schema.names}
        single = {k: v for k, v in pair.items() if k not in ("sentence2", "words2", "overlap")}
        assert types == (pair if task != "sst" else single)
        assert json.loads(schema.metadata[b"analysis"]) == {"task": task, "split": "dev",
                                                            "data": manifest["examples"][task]["data"]}
        entry = manifest["examples"][task]
        assert entry["file"] == f"examples/{task}.parquet" and entry["rows"] == rows
        assert entry["bytes"] == path.stat().st_size < 10 * 2**20 and entry["built"]
        assert entry["data"] == manifest["tables"][f"predictions/a/{task}.parquet"]["data"]
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_stored_features_are_what_add_features_computes_from_the_data_file(setup):
    tables, data = setup
    for task in A.TASKS:
        frame, info, _ = read_dev_split(task, data)
        expected = add_features(frame, task)
        stored = pd.read_parquet(tables / f"examples/{task}.parquet")
        pd.testing.assert_frame_equal(stored, expected[stored_columns(task)], check_dtype=False)
        assert (stored.dtypes.astype(str) == expected[stored_columns(task)].dtypes.astype(str)).all()
        # and what load() gives back from the shipped table is add_features' frame, `text` included
        shipped = A.load(tables, data.parent / "nowhere", checkpoints=False).task(task).examples
        pd.testing.assert_frame_equal(shipped, expected)


def test_a_table_over_the_size_limit_is_not_written(setup, monkeypatch):
    tables, data = setup
    manifest, _ = read_manifest(tables)
    before = (tables / "examples/quora.parquet").read_bytes()
    monkeypatch.setattr(T, "MAX_TABLE_BYTES", 1000)
    frame, info, _ = read_dev_split("quora", data)
    with pytest.raises(TableError, match=r"examples/quora\.parquet would be .* over the 0 MB limit"):
        write_examples(tables, manifest, "quora", frame, data_identity(info))
    assert (tables / "examples/quora.parquet").read_bytes() == before  # the old file is kept, whole
    assert not list(tables.rglob("*.tmp"))


def test_missing_table(setup):
    tables, data = setup
    (tables / "predictions/b/quora.parquet").unlink()
    a = load(tables, data)
    [problem] = real_problems(a)
    assert "missing table" in problem and str(tables / "predictions/b/quora.parquet") in problem
    assert a.variants("quora") == ["a", "c"] and a.variants("sst") == ["a", "b", "c"]
    assert len(A.errors(a, "quora", "a")) > 0


def test_table_from_another_checkpoint(setup):
    tables, data = setup
    shutil.copy(tables / "predictions/b/sst.parquet", tables / "predictions/a/sst.parquet")
    a = load(tables, data)
    [problem] = real_problems(a)
    assert str(tables / "predictions/a/sst.parquet") in problem and "'b'" in problem and "left out" in problem
    assert a.variants("sst") == ["b", "c"] and a.variants("quora") == ["a", "b", "c"]


def test_stale_table_left_out_unless_asked(setup):
    tables, data = setup
    changed = {"a": "hash-a", "b": "NEW-HASH-of-b", "c": "hash-c"}
    a = load(tables, data, checkpoints=changed)
    assert len(real_problems(a)) == 3 and all("stale table" in p and "'b'" in p for p in real_problems(a))
    assert a.variants() == ["a", "c"] and len(a.stale) == 3
    kept = load(tables, data, checkpoints=changed, include_stale=True)
    assert kept.variants() == ["a", "b", "c"] and all("shown anyway" in p for p in real_problems(kept))
    gone = load(tables, data, checkpoints={"a": "hash-a", "b": "hash-b"})
    assert all("no checkpoint 'c'" in p for p in real_problems(gone)) and gone.variants() == ["a", "b", "c"]


def test_ids_that_do_not_match_the_data_file(setup):
    tables, data = setup
    manifest, _ = read_manifest(tables)
    entry = manifest["tables"]["predictions/c/sts.parquet"]
    table = pd.read_parquet(tables / "predictions/c/sts.parquet")
    table.loc[:2, "id"] = ["not-an-id-1", "not-an-id-2", "not-an-id-3"]
    write_table(tables, manifest, variant="c", task="sts", frame=table, checkpoint_name="c",
                checkpoint_hash="hash-c", data=entry["data"])
    foreign = pd.read_parquet(tables / "predictions/b/sst.parquet").assign(id=lambda f: "x" + f["id"])
    write_table(tables, manifest, variant="b", task="sst", frame=foreign, checkpoint_name="b",
                checkpoint_hash="hash-b", data=manifest["tables"]["predictions/b/sst.parquet"]["data"])
    write_manifest(tables, manifest)
    a = load(tables, data)
    problems = real_problems(a)
    assert any("3 of 20 ids" in p and "predictions/c/sts.parquet" in p and "not-an-id-1" in p for p in problems)
    assert any("predictions/b/sst.parquet shares no ids" in p for p in problems)
    assert len(a.frame("sts")[a.frame("sts")["variant"] == "c"]) == 17
    assert a.variants("sst") == ["a", "c"]
    assert any("covers 17 of 20" in n for n in a.notes)


def test_absent_data_directory_uses_the_examples_tables(setup, tmp_path):
    tables, data = setup
    with_data = load(tables, data)
    a = load(tables, tmp_path / "nowhere")
    assert real_problems(a) == []
    assert a.sources == {t: f"examples table: {tables / 'examples' / t}.parquet" for t in A.TASKS}
    for task in A.TASKS:
        assert any(n.startswith(f"{task}: data directory {tmp_path / 'nowhere'} not found") and
                   f"examples/{task}.parquet" in n for n in a.notes)
    pd.testing.assert_frame_equal(A.metrics_table(a, "quora"), A.metrics_table(with_data, "quora"))
    assert A.errors(a, "sst", "a")["sentence1"].tolist() == A.errors(with_data, "sst", "a")["sentence1"].tolist()


def test_matching_data_directory_prefers_the_shipped_table(setup):
    tables, data = setup
    a = load(tables, data)
    assert real_problems(a) == [] and not any("not found" in n for n in a.notes)
    assert a.sources["sts"] == f"examples table: {tables / 'examples/sts.parquet'} (same data as {data / 'sts-dev.csv'})"


def test_no_data_and_no_examples_table_leaves_the_task_out_but_gives_the_summary(setup, tmp_path):
    tables, data = setup
    write_json(tables / "summary.json", summarize(load(tables, data)))
    shutil.rmtree(tables / "examples")
    a = load(tables, tmp_path / "nowhere")
    assert a.tasks == {} and len(a.problems) == 3
    for task, problem in zip(A.TASKS, a.problems):
        assert problem.startswith(f"{task}: no dev examples") and str(tmp_path / "nowhere") in problem
        assert f"missing examples table {tables / 'examples' / task}.parquet" in problem
        assert "python -m analysis build" in problem and "MINIBERT_DATA" in problem
    assert set(a.summary["variants"]) == set(VARIANTS)
    assert a.summary["variants"]["a"]["tasks"]["sst"]["accuracy"] == pytest.approx(
        A.metrics_table(load(tables, data), "sst").loc["a", "accuracy"])
    with pytest.raises(KeyError, match="no sst analysis"):
        A.errors(a, "sst", "a")


def test_missing_or_unreadable_examples_table_with_matching_data_uses_the_data_file(setup):
    tables, data = setup
    shipped = load(tables, data)
    (tables / "examples/quora.parquet").unlink()
    (tables / "examples/sts.parquet").write_bytes(b"not parquet")
    a = load(tables, data)
    quora, sts = real_problems(a)
    assert f"missing examples table {tables / 'examples/quora.parquet'}" in quora and "python -m analysis build" in quora
    assert f"unreadable table {tables / 'examples/sts.parquet'}" in sts
    assert all("features from" in p and str(data) in p for p in (quora, sts))
    assert a.sources["quora"] == f"data directory: {data / 'quora-dev.csv'}"
    for task in A.TASKS:  # the same frame whichever source it came from
        pd.testing.assert_frame_equal(a.examples(task), shipped.examples(task))


def test_missing_dev_file_in_data_dir_uses_the_examples_table_for_that_task(setup):
    tables, data = setup
    (data / "sts-dev.csv").unlink()
    a = load(tables, data)
    [problem] = real_problems(a)
    assert "sts-dev.csv" in problem
    assert a.sources["sts"] == f"examples table: {tables / 'examples/sts.parquet'}"
    assert any(n.startswith("sts: no usable sts dev file") and "examples/sts.parquet" in n for n in a.notes)
    assert "same data as" in a.sources["sst"]


def _change_sst_data(data):
    """Another SST dev file: the first sentence reworded (same id) and one row added."""
    frame, info, _ = read_dev_split("sst", data)
    lines = (data / "ids-sst-dev.csv").read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace(frame["sentence1"][0], "A sentence the predictions never saw .")
    (data / "ids-sst-dev.csv").write_text("".join(lines) + "999\textra-id\tA new row .\t2\n")
    return frame, info["sha256"], read_dev_split("sst", data)[1]["sha256"]


def test_changed_data_file_is_reported_and_never_joined(setup):
    tables, data = setup
    before, old_sha, new_sha = _change_sst_data(data)
    a = load(tables, data)
    [problem] = real_problems(a)
    assert str(data / "ids-sst-dev.csv") in problem and old_sha[:12] in problem and new_sha[:12] in problem
    assert "not the one the prediction tables were built from" in problem and "python -m analysis build" in problem
    assert a.sources["sst"] == f"examples table: {tables / 'examples/sst.parquet'}"
    assert any(n.startswith("sst: ") and "ids-sst-dev.csv" in n and "examples/sst.parquet" in n for n in a.notes)
    assert a.examples("sst")["sentence1"].tolist() == before["sentence1"].tolist()  # the shipped text
    assert a.variants("sst") == list(VARIANTS) and "extra-id" not in set(a.frame("sst")["id"])


def test_changed_data_without_a_matching_examples_table_leaves_the_task_out(setup, tmp_path):
    tables, data = setup
    _, old_sha, new_sha = _change_sst_data(data)
    (tables / "examples/sst.parquet").unlink()
    a = load(tables, data)
    changed, missing = real_problems(a)
    assert "not the one the prediction tables were built from" in changed
    assert missing.startswith("sst: no dev examples") and "missing examples table" in missing and "left out" in missing
    assert not a.has("sst") and a.has("quora") and "sst" not in a.sources

    # an examples table made from the changed file does not match the predictions either
    manifest, _ = read_manifest(tables)
    frame, info, _ = read_dev_split("sst", data)
    write_examples(tables, manifest, "sst", frame, data_identity(info))
    for where in (data, tmp_path / "nowhere"):
        b = load(tables, where)
        assert not b.has("sst") and b.has("sts")
        assert any(f"{tables / 'examples/sst.parquet'} was made from data sha256 {new_sha[:12]}" in p and
                   old_sha[:12] in p and "left out" in p for p in b.problems)


def test_prediction_table_from_other_data_is_left_out(setup):
    tables, data = setup
    manifest, _ = read_manifest(tables)
    table = pd.read_parquet(tables / "predictions/c/sts.parquet")
    write_table(tables, manifest, variant="c", task="sts", frame=table, checkpoint_name="c",
                checkpoint_hash="hash-c", data={"file": "sts-dev.csv", "sha256": "0" * 64})
    write_manifest(tables, manifest)
    for where in (data, data.parent / "nowhere"):
        a = load(tables, where)
        [problem] = real_problems(a)
        assert str(tables / "predictions/c/sts.parquet") in problem and "sha256 000000000000" in problem
        assert "left out" in problem and a.variants("sts") == ["a", "b"]


def test_unlisted_unreadable_and_manifest_problems(setup, tmp_path):
    tables, data = setup
    shutil.copytree(tables / "predictions/a", tables / "predictions/zz")
    (tables / "predictions/c/quora.parquet").write_bytes(b"not parquet")
    a = load(tables, data)
    problems = real_problems(a)
    assert any("ignored table" in p and "predictions/zz/sst.parquet" in p for p in problems)
    assert any("unreadable table" in p and "predictions/c/quora.parquet" in p for p in problems)
    assert "zz" not in a.variants() and a.variants("quora") == ["a", "b"]

    (tables / "manifest.json").write_text("{ not json")
    broken = load(tables, data)
    assert any("unreadable manifest" in p and str(tables / "manifest.json") in p for p in broken.problems)
    assert broken.tasks == {}
    missing = load(tmp_path / "no-tables", data)
    assert "run `python -m analysis build`" in missing.problems[0] and missing.tasks == {}


def test_checkpoints_folder_that_does_not_exist(setup, tmp_path):
    tables, data = setup
    a = A.load(tables, data, checkpoints=tmp_path / "no-checkpoints")
    assert any("checkpoints folder" in p and "no-checkpoints" in p for p in a.problems)
    assert a.variants() == list(VARIANTS)


def test_summary_is_numbers_only(setup):
    tables, data = setup
    summary = summarize(load(tables, data), training={"a": {"epochs": 3}})
    text = json.dumps(summary)
    frame = load(tables, data).frame("quora")
    assert frame["sentence1"].iloc[0] not in text and frame["id"].iloc[0] not in text
    assert summary["variants"]["a"]["training"] == {"epochs": 3}
    assert summary["variants"]["b"]["overall"] == pytest.approx(A.overall(load(tables, data)).loc["b", "overall"])
