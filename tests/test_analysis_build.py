"""`python -m analysis build` with tiny real checkpoints (minibert.testing, via the session
fixture `tiny_world` of conftest.py) over tiny data files.

One build is shared by the module; tests that change checkpoints, data or tables work on copies.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

# Every test here reads or makes a build of the tiny world's tables: too slow for the fast lane.
pytestmark = pytest.mark.slow

import analysis as A  # noqa: E402
from analysis import uncertainty as U  # noqa: E402
from analysis.__main__ import main  # noqa: E402
from analysis.build import build  # noqa: E402
from minibert.predict import load_variants  # noqa: E402
from minibert.testing import make_tiny_checkpoints  # noqa: E402

NAMES = ["ensemble", "tiny-cls", "tiny-cross", "tiny-mean"]
EXAMPLES = [f"examples/{task}.parquet" for task in ("sst", "quora", "sts")]


@pytest.fixture(scope="module")
def built(tiny_world, tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    for name in ("checkpoints", "data"):
        (root / name).symlink_to(tiny_world[name], target_is_directory=True)
    logs: list[str] = []
    report = build(root / "checkpoints", root / "data", root / "tables", device="cpu", progress=False, log=logs.append)
    return root, report, logs


def rows_per_task(root: Path) -> int:
    return sum(1 for _ in open(root / "data" / "sts-dev.csv")) - 1


def copy(root: Path, tmp_path: Path, *names: str) -> list[Path]:
    """Real copies (not links) that a test may change."""
    out = []
    for name in names:
        shutil.copytree(root / name, tmp_path / name, symlinks=False)
        out.append(tmp_path / name)
    return out


def test_first_build_writes_every_table_manifest_examples_and_summary(built):
    root, report, logs = built
    tables = root / "tables"
    assert len(report.built) == 12 and report.skipped == [] and report.failures == [] and report.problems == []
    assert report.examples_written == EXAMPLES
    variants, failures = load_variants(root / "checkpoints", "cpu")
    assert failures == [] and sorted(variants) == NAMES
    manifest = json.loads((tables / "manifest.json").read_text())
    for name, variant in variants.items():
        for task in A.TASKS:
            entry = manifest["tables"][f"predictions/{name}/{task}.parquet"]
            assert entry["checkpoint"] == {"name": name, "hash": variant.checkpoint_hash}
            assert entry["rows"] == rows_per_task(root)
    for task in A.TASKS:
        entry = manifest["examples"][task]
        assert entry["file"] == f"examples/{task}.parquet" and entry["rows"] == rows_per_task(root)
        assert entry["data"] == manifest["tables"][f"predictions/tiny-cls/{task}.parquet"]["data"]
    sst = pd.read_parquet(tables / "examples/sst.parquet")
    assert sst.columns.tolist() == ["id", "sentence1", "gold", "words1", "words", "negation"]
    assert pd.read_parquet(tables / "examples/sts.parquet").columns.tolist() == [
        "id", "sentence1", "sentence2", "gold", "words1", "words2", "words", "negation", "overlap"]
    assert not (tables / "dev_examples.parquet").exists()
    summary = json.loads((tables / "summary.json").read_text())
    assert sorted(summary["variants"]) == NAMES
    assert summary["variants"]["tiny-cls"]["training"]["device"] == "cpu"  # copied from config.json
    assert summary["variants"]["ensemble"]["training"] == {}
    assert set(summary["variants"]["tiny-mean"]["tasks"]) == {"sst", "quora", "sts"}
    assert any("built 12 table(s)" in line for line in logs)


def test_tables_hold_what_the_variants_predict(built):
    root, _, _ = built
    variants, _ = load_variants(root / "checkpoints", "cpu")
    a = A.load(root / "tables", root / "data", checkpoints=root / "checkpoints")
    assert a.problems == [] and a.variants() == NAMES
    quora = a.frame("quora")
    rows = quora[quora["variant"] == "tiny-cross"].head(3)
    direct = variants["tiny-cross"].paraphrase(list(zip(rows["sentence1"], rows["sentence2"])))
    assert rows["prob"].to_numpy() == pytest.approx(direct, abs=1e-5)
    assert (rows["pred"].to_numpy() == (direct >= 0.5)).all()
    sst = a.frame("sst")
    one = sst[sst["variant"] == "ensemble"].head(2)
    probs = variants["ensemble"].sentiment(one["sentence1"].tolist())
    assert one[["p0", "p1", "p2", "p3", "p4"]].to_numpy() == pytest.approx(probs, abs=1e-5)
    assert (one["pred"].to_numpy() == probs.argmax(axis=1)).all()
    sts = a.frame("sts")
    assert ((sts["pred"] >= 0) & (sts["pred"] <= 5)).all()
    assert A.current_checkpoint_hashes(root / "checkpoints") == ({n: v.checkpoint_hash for n, v in variants.items()}, [])


def test_build_writes_95_percent_intervals_into_the_summary_and_keeps_them_while_the_tables_stand(built, tmp_path):
    root, _, logs = built
    summary = json.loads((root / "tables" / "summary.json").read_text())
    for name, item in summary["variants"].items():
        lo, hi = item["overall_ci"]
        assert lo <= item["overall"] <= hi, name
        for task, scalars in item["tasks"].items():
            assert set(scalars["ci"]) == set(U.METRICS[task])
            for metric, (lo, hi) in scalars["ci"].items():
                assert lo <= scalars[metric] <= hi, (name, task, metric)
    a = A.load(root / "tables", root / "data", checkpoints=root / "checkpoints")
    assert a.intervals is not None and a.intervals.delta("sst", "accuracy", "tiny-cls", "tiny-mean") is not None
    assert any("computing the 95 % intervals" in line for line in logs)

    checkpoints, data, tables = copy(root, tmp_path, "checkpoints", "data", "tables")
    before = (tables / "intervals.parquet").read_bytes()
    again: list[str] = []
    build(checkpoints, data, tables, device="cpu", progress=False, log=again.append)
    assert not any("intervals" in line for line in again) and (tables / "intervals.parquet").read_bytes() == before
    assert json.loads((tables / "summary.json").read_text()) == summary
    # a manifest listing a table the intervals were not computed from: they are left out, with the remedy
    manifest = json.loads((tables / "manifest.json").read_text())
    manifest["tables"]["predictions/tiny-cls/sst.parquet"]["rows"] += 1
    (tables / "manifest.json").write_text(json.dumps(manifest))
    a = A.load(tables, data, checkpoints=checkpoints)
    assert a.intervals is None and any("intervals.parquet" in p and "python -m analysis build" in p for p in a.problems)


def test_rebuild_only_what_changed_and_report_stale_tables(built, tmp_path):
    root, _, _ = built
    checkpoints, data, tables = copy(root, tmp_path, "checkpoints", "data", "tables")
    again = build(checkpoints, data, tables, device="cpu", progress=False, log=lambda s: None)
    assert again.built == [] and len(again.skipped) == 12 and again.examples_written == []

    # new weights for one variant; the ensemble (which contains it) changes too
    backbone = json.loads((checkpoints / "tiny-cls" / "config.json").read_text())["backbone"]["name"]
    make_tiny_checkpoints(tmp_path / "other", backbone=Path(backbone), ensemble=False, seed=7)
    shutil.rmtree(checkpoints / "tiny-cls")
    shutil.copytree(tmp_path / "other" / "tiny-cls", checkpoints / "tiny-cls")
    a = A.load(tables, data, checkpoints=checkpoints)
    stale = sorted(Path(p).parent.name for p in a.stale)
    assert stale == ["ensemble"] * 3 + ["tiny-cls"] * 3
    assert all("stale table" in p and "python -m analysis build" in p for p in a.problems)
    assert a.variants() == ["tiny-cross", "tiny-mean"]  # the rest still works

    report = build(checkpoints, data, tables, device="cpu", progress=False, log=lambda s: None)
    assert sorted(Path(p).parent.name for p in report.built) == stale and len(report.skipped) == 6
    assert report.examples_written == []
    assert A.load(tables, data, checkpoints=checkpoints).problems == []


def test_removed_variant_and_failed_variant(built, tmp_path):
    root, _, _ = built
    checkpoints, data, tables = copy(root, tmp_path, "checkpoints", "data", "tables")
    shutil.rmtree(checkpoints / "tiny-mean")  # the ensemble lists it: it cannot load any more
    report = build(checkpoints, data, tables, device="cpu", progress=False, log=lambda s: None)
    assert sorted(report.removed) == [f"predictions/tiny-mean/{t}.parquet" for t in sorted(A.TASKS)]
    assert len(report.failures) == 1 and report.failures[0].startswith("ensemble")
    assert (tables / "predictions/ensemble/sst.parquet").is_file()  # kept: it may come back
    assert not (tables / "predictions/tiny-mean").exists()


def test_an_imported_variant_survives_builds_and_is_never_rescored(built, tmp_path):
    from analysis.imported import import_variant
    from minibert.submission import write_submission

    root, _, _ = built
    checkpoints, data, tables = copy(root, tmp_path, "checkpoints", "data", "tables")
    examples = pd.read_parquet(tables / "examples/sst.parquet")
    path = write_submission(tmp_path / "sst-dev-output.csv", "sst", examples["id"], [2] * len(examples))
    import_variant("mine", [(path.name, path.read_bytes())], tables, checkpoints)
    with pytest.raises(ValueError, match="'tiny-cls' is a shipped variant's"):
        import_variant("tiny-cls", [(path.name, path.read_bytes())], tables, checkpoints)
    stored = (tables / "predictions/mine/sst.parquet").read_bytes()
    for force in (False, True):
        report = build(checkpoints, data, tables, force=force, device="cpu", progress=False, log=lambda s: None)
        assert report.removed == [] and report.problems == []
        assert not any("mine" in rel for rel in report.built)
        assert (tables / "predictions/mine/sst.parquet").read_bytes() == stored
    a = A.load(tables, data, checkpoints=checkpoints)
    assert a.imported() == ["mine"] and "mine" in a.variants("sst") and "mine" not in a.variants("sts")
    assert not a.problems
    assert json.loads((tables / "summary.json").read_text())["variants"]["mine"]["tasks"]["sst"]["accuracy"] == (
        pytest.approx(float(np.mean(examples["gold"].to_numpy() == 2))))


def test_force_and_changed_data_rebuild_everything(built, tmp_path):
    root, _, _ = built
    checkpoints, data, tables = copy(root, tmp_path, "checkpoints", "data", "tables")
    rows = rows_per_task(root)
    with open(data / "sts-dev.csv", "a") as handle:
        handle.write("99\tnew-sts-row\tA man runs .\tA man walks .\t3.0\n")
    report = build(checkpoints, data, tables, device="cpu", progress=False, log=lambda s: None)
    assert sorted(report.built) == sorted(f"predictions/{n}/sts.parquet" for n in NAMES)
    assert report.examples_written == ["examples/sts.parquet"]  # only the changed task's
    assert len(A.load(tables, data, checkpoints=checkpoints).frame("sts")) == 4 * (rows + 1)
    forced = build(checkpoints, data, tables, force=True, device="cpu", progress=False, log=lambda s: None)
    assert len(forced.built) == 12 and forced.examples_written == EXAMPLES


def test_a_change_in_how_the_same_file_is_read_rebuilds_that_tasks_tables(built, tmp_path, monkeypatch):
    import minibert.data

    root, _, _ = built
    checkpoints, data, tables = copy(root, tmp_path, "checkpoints", "data", "tables")
    # The file stays byte for byte; the reader now gives other SST text (as when its PTB tokens
    # were first rejoined). Tables made from the old text must not pass for current.
    monkeypatch.setattr(minibert.data, "ptb_to_plain", lambda text: text.upper())
    report = build(checkpoints, data, tables, device="cpu", progress=False, log=lambda s: None)
    assert report.examples_written == ["examples/sst.parquet"]
    assert sorted(report.built) == sorted(f"predictions/{n}/sst.parquet" for n in NAMES)
    assert A.load(tables, data, checkpoints=checkpoints).examples("sst")["sentence1"].str.isupper().all()


def test_missing_or_mismatched_examples_table_is_rewritten(built, tmp_path):
    root, _, _ = built
    checkpoints, data, tables = copy(root, tmp_path, "checkpoints", "data", "tables")
    before = json.loads((tables / "manifest.json").read_text())["examples"]
    (tables / "examples/quora.parquet").unlink()
    shutil.copy(tables / "examples/sts.parquet", tables / "examples/sst.parquet")  # another task's provenance
    report = build(checkpoints, data, tables, device="cpu", progress=False, log=lambda s: None)
    assert sorted(report.examples_written) == ["examples/quora.parquet", "examples/sst.parquet"]
    assert report.built == [] and report.problems == []
    after = json.loads((tables / "manifest.json").read_text())["examples"]
    assert after["sts"] == before["sts"] and after["sst"]["data"] == before["sst"]["data"]
    assert A.load(tables, tmp_path / "no-data", checkpoints=checkpoints).variants("sst") == NAMES


def test_cli(built, tmp_path, capsys):
    root, _, _ = built
    args = ["--checkpoints", str(root / "checkpoints"), "--tables", str(tmp_path / "tables")]
    assert main(["build", *args, "--data-dir", str(root / "data"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "predicting" in err and "100%" in err  # the progress bar
    assert main(["build", *args, "--data-dir", str(tmp_path / "missing")]) == 2
    assert str(tmp_path / "missing") in capsys.readouterr().err
    assert main(["status", *args, "--data-dir", str(root / "data")]) == 0
    assert "overall" in capsys.readouterr().out
    np.testing.assert_allclose(
        A.metrics_table(A.load(tmp_path / "tables", root / "data"), "sst")["accuracy"],
        A.metrics_table(A.load(root / "tables", root / "data"), "sst")["accuracy"],
    )


def test_ensemble_table_is_composed_from_its_members_tables_exactly_as_the_ensemble_predicts(built, tmp_path):
    from analysis.build import compose_ensemble_table, predict_table
    from analysis.examples import data_identity, read_dev_split
    from analysis.tables import read_manifest

    root, _, _ = built
    variants, _ = load_variants(root / "checkpoints", "cpu")
    manifest, _ = read_manifest(root / "tables")
    for task in A.TASKS:
        frame, info, _ = read_dev_split(task, root / "data")
        data = data_identity(info)
        composed = compose_ensemble_table(variants["ensemble"], task, frame, root / "tables", manifest, data)
        ran = predict_table(variants["ensemble"], task, frame)
        pd.testing.assert_frame_equal(composed, ran, check_exact=True)
        shipped = pd.read_parquet(root / "tables" / f"predictions/ensemble/{task}.parquet")
        pd.testing.assert_frame_equal(shipped[ran.columns].reset_index(drop=True), ran)
    # A member whose table is not current: nothing is composed from it (the ensemble is run).
    manifest["tables"]["predictions/tiny-mean/sts.parquet"]["checkpoint"]["hash"] = "old"
    frame, info, _ = read_dev_split("sts", root / "data")
    assert compose_ensemble_table(variants["ensemble"], "sts", frame, root / "tables", manifest, data_identity(info)) is None


def _bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_why_features_table_is_built_once_and_leaves_every_other_table_as_it_was(built, tmp_path, monkeypatch):
    from analysis import registry
    from analysis.why.feature_table import ANALYSIS

    root, _, logs = built
    tables = root / "tables"
    for task in ("sst", "quora", "sts"):
        frame = pd.read_parquet(tables / f"why_features/{task}.parquet")
        examples = pd.read_parquet(tables / f"examples/{task}.parquet")
        assert list(frame["id"]) == list(examples["id"]) and set(frame["embedding cluster"]) <= set(range(1, 7))
        assert any(line.startswith(f"why features: {task},") and "clusters" in line for line in logs)
    # the same build without the step: every other table byte for byte as with it
    monkeypatch.setattr(registry, "DERIVED", tuple(d for d in registry.DERIVED if d.name != "why_features"))
    build(root / "checkpoints", root / "data", tmp_path / "without", device="cpu", progress=False, log=lambda s: None)
    with_step, without = _bytes(tables), _bytes(tmp_path / "without")
    assert sorted(set(with_step) - set(without)) == [f"why_features/{t}.parquet" for t in ("quora", "sst", "sts")]
    assert [f for f in without if f != "manifest.json" and without[f] != with_step[f]] == []  # the manifest dates builds
    # kept while its inputs stand; a deleted table comes back the same, byte for byte
    (copied,) = copy(root, tmp_path, "tables")
    a = A.load(copied, root / "data", checkpoints=False)
    variants, _ = load_variants(root / "checkpoints", device="cpu")
    assert ANALYSIS.run(a, variants, copied, lambda s: None) == []
    (copied / "why_features/sts.parquet").unlink()
    assert ANALYSIS.run(a, variants, copied, lambda s: None) == [str(copied / "why_features/sts.parquet")]
    assert _bytes(copied) == _bytes(tables)


def test_the_why_features_step_reads_the_vectors_the_prediction_step_encoded(built, tmp_path, monkeypatch):
    """The build's prediction step encodes every dev sentence for the frozen variant: the feature
    step reads those vectors rather than encoding the sentences again; with no cache (a fresh
    machine, predictions current) it encodes them itself, to the same table byte for byte."""
    from analysis.why.feature_table import ANALYSIS
    from minibert.features import EmbeddingMemo
    root, _, _ = built
    tasks = ("quora", "sst", "sts")

    def rebuilt_features() -> Path:
        folder = tmp_path / f"tables-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(root / "tables", folder)
        for task in tasks:
            (folder / f"why_features/{task}.parquet").unlink()
        a = A.load(folder, root / "data", checkpoints=False)
        variants, _ = load_variants(root / "checkpoints", device="cpu")
        assert len(ANALYSIS.run(a, variants, folder, lambda s: None)) == len(tasks)
        return folder

    compute = EmbeddingMemo._compute
    monkeypatch.setattr(EmbeddingMemo, "_compute", lambda self, texts: pytest.fail(f"encoded {len(texts)} again"))
    assert _bytes(rebuilt_features()) == _bytes(root / "tables")
    monkeypatch.setattr(EmbeddingMemo, "_compute", compute)
    monkeypatch.setenv("MINIBERT_CACHE", str(tmp_path / "empty-cache"))  # the suite's monkeypatch reloads the settings
    assert _bytes(rebuilt_features()) == _bytes(root / "tables")
    assert len(list((tmp_path / "empty-cache" / "features").glob("*.safetensors"))) == len(tasks)
