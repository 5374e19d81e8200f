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
from analysis.metrics import summarize
from analysis.tables import read_manifest, write_json, write_manifest, write_table

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
                checkpoint_hash="hash-c", data_file=entry["data"]["file"], data_sha256=entry["data"]["sha256"])
    foreign = pd.read_parquet(tables / "predictions/b/sst.parquet").assign(id=lambda f: "x" + f["id"])
    write_table(tables, manifest, variant="b", task="sst", frame=foreign, checkpoint_name="b",
                checkpoint_hash="hash-b", data_file="ids-sst-dev.csv",
                data_sha256=manifest["tables"]["predictions/b/sst.parquet"]["data"]["sha256"])
    write_manifest(tables, manifest)
    a = load(tables, data)
    problems = real_problems(a)
    assert any("3 of 20 ids" in p and "predictions/c/sts.parquet" in p and "not-an-id-1" in p for p in problems)
    assert any("predictions/b/sst.parquet shares no ids" in p for p in problems)
    assert len(a.frame("sts")[a.frame("sts")["variant"] == "c"]) == 17
    assert a.variants("sst") == ["a", "c"]
    assert any("covers 17 of 20" in n for n in a.notes)


def test_absent_data_directory_falls_back_to_dev_examples(setup, tmp_path):
    tables, data = setup
    with_data = load(tables, data)
    a = load(tables, tmp_path / "nowhere")
    assert real_problems(a) == []
    assert all(source.startswith("dev examples") for source in a.sources.values())
    assert any(str(tmp_path / "nowhere") in n and "dev_examples.parquet" in n for n in a.notes)
    pd.testing.assert_frame_equal(A.metrics_table(a, "quora"), A.metrics_table(with_data, "quora"))
    assert A.errors(a, "sst", "a")["sentence1"].tolist() == A.errors(with_data, "sst", "a")["sentence1"].tolist()


def test_no_data_at_all_still_gives_the_summary(setup, tmp_path):
    tables, data = setup
    write_json(tables / "summary.json", summarize(load(tables, data)))
    (tables / "dev_examples.parquet").unlink()
    a = load(tables, tmp_path / "nowhere")
    assert a.tasks == {} and len(a.problems) == 3
    assert all("no dev examples" in p and str(tmp_path / "nowhere") in p for p in a.problems)
    assert set(a.summary["variants"]) == set(VARIANTS)
    assert a.summary["variants"]["a"]["tasks"]["sst"]["accuracy"] == pytest.approx(
        A.metrics_table(load(tables, data), "sst").loc["a", "accuracy"])
    with pytest.raises(KeyError, match="no sst analysis"):
        A.errors(a, "sst", "a")


def test_missing_dev_file_in_data_dir_uses_dev_examples_for_that_task(setup):
    tables, data = setup
    (data / "sts-dev.csv").unlink()
    a = load(tables, data)
    [problem] = real_problems(a)
    assert "sts-dev.csv" in problem
    assert a.sources["sts"].startswith("dev examples") and a.sources["sst"].startswith("data directory")


def test_changed_data_file_is_reported(setup):
    tables, data = setup
    text = (data / "ids-sst-dev.csv").read_text()
    (data / "ids-sst-dev.csv").write_text(text + "999\textra-id\tA new row .\t2\n")
    a = load(tables, data)
    [problem] = real_problems(a)
    assert "ids-sst-dev.csv" in problem and "not the one the prediction tables were built from" in problem
    assert a.variants("sst") == list(VARIANTS)  # still shown, matched by id


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
