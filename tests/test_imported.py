"""Importing a user's own CS224N dev prediction files (`analysis.imported`, `python -m analysis import`).

Every bad file of issue 20 is one row of BAD_FILES, checked through the parser and through the
CLI: the message names the file, the line and the problem, and nothing is written."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis as A
from analysis.__main__ import main
from analysis.ensemble import candidates_of
from analysis.imported import (
    MAX_FILE_BYTES,
    PredictionFileError,
    check_name,
    dev_ids_of,
    import_variant,
    read_prediction_files,
)
from analysis.synthetic import make_data_dir, make_tables
from minibert.submission import write_submission

SHIPPED = ("a", "b", "c")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("byo")
    ids = make_data_dir(root / "data", sizes={"sst": 30, "quora": 40, "sts": 25})
    make_tables(root / "tables", root / "data", variants=SHIPPED)
    gold = {task: pd.read_parquet(root / "tables" / "examples" / f"{task}.parquet").set_index("id")["gold"]
            for task in ids}
    return root, ids, gold


@pytest.fixture
def tables(world, tmp_path):
    root, _, _ = world
    shutil.copytree(root / "tables", tmp_path / "tables")
    return tmp_path / "tables"


def good_files(world, folder: Path) -> dict[str, Path]:
    """One correct file per task, written by the project's own CS224N writer (the course's layout)."""
    _, ids, gold = world
    rng = np.random.default_rng(1)
    files = {}
    for task, prefix in (("sst", "sst"), ("quora", "para"), ("sts", "sts")):
        g = gold[task].reindex(ids[task]).to_numpy()
        if task == "sts":
            pred = np.clip(g + rng.normal(scale=0.5, size=len(g)), 0, 5).round(3)
        else:
            pred = g.astype(int)
            pred[::3] = (pred[::3] + 1) % (5 if task == "sst" else 2)  # a third wrong
        files[task] = write_submission(folder / f"{prefix}-dev-output.csv", task, ids[task], pred.tolist())
    return files


def text_of(world, task: str, tmp_path: Path) -> str:
    return good_files(world, tmp_path / "good")[task].read_text()


def lines_of(text: str) -> list[str]:
    return text.split("\n")


def replace_line(text: str, number: int, new: str) -> str:
    lines = lines_of(text)
    lines[number - 1] = new
    return "\n".join(lines)


# (case, file name, function of (good sst text, good sts text, ids) -> bytes, expected message parts;
# "{id}" stands for the first SST dev id, "{n}" for the number of SST dev ids: see `expected_parts`)
BAD_FILES = [
    ("wrong header", "sst-dev-output.csv",
     lambda sst, sts, ids: replace_line(sst, 1, "id \t Predicted_Sentimental ").encode(),
     ["sst-dev-output.csv:1:", "not a CS224N prediction header", "Predicted_Similiary"]),
    ("missing ids", "sst-dev-output.csv",
     lambda sst, sts, ids: "\n".join(lines_of(sst)[:-4] + [""]).encode(),
     ["sst-dev-output.csv:", "3 of the {n} sst dev ids have no prediction"]),
    ("id not in dev", "sst-dev-output.csv",
     lambda sst, sts, ids: replace_line(sst, 5, "ffffffffffffffffffffffff0 , 2 ").encode(),
     ["sst-dev-output.csv:5:", "id ffffffffffffffffffffffff0 is not in the sst dev set"]),
    ("duplicate id", "sst-dev-output.csv",
     lambda sst, sts, ids: replace_line(sst, 7, f"{ids['sst'][0]} , 1 ").encode(),
     ["sst-dev-output.csv:7:", "id {id} repeated (first on line 2)"]),
    ("class out of range", "sst-dev-output.csv",
     lambda sst, sts, ids: replace_line(sst, 4, f"{ids['sst'][2]} , 5 ").encode(),
     ["sst-dev-output.csv:4:", "sentiment '5' is not a class 0..4"]),
    ("not a number", "sts-dev-output.csv",
     lambda sst, sts, ids: replace_line(sts, 3, f"{ids['sts'][1]} , high ").encode(),
     ["sts-dev-output.csv:3:", "prediction 'high' is not a number"]),
    ("similarity out of range", "sts-dev-output.csv",
     lambda sst, sts, ids: replace_line(sts, 6, f"{ids['sts'][4]} , 5.5 ").encode(),
     ["sts-dev-output.csv:6:", "similarity '5.5' is out of range 0..5"]),
    ("empty file", "sst-dev-output.csv", lambda sst, sts, ids: b"",
     ["sst-dev-output.csv:", "the file is empty"]),
    ("header only", "sst-dev-output.csv", lambda sst, sts, ids: lines_of(sst)[0].encode() + b"\n",
     ["sst-dev-output.csv:", "a header but no predictions"]),
    ("test-set file by name", "sst-test-output.csv", lambda sst, sts, ids: sst.encode(),
     ["sst-test-output.csv:", "a test-set file"]),
    ("test-set ids", "sst-dev-output.csv",
     lambda sst, sts, ids: ("id \t Predicted_Sentiment \n"
                            + "".join(f"{i:025x} , 2 \n" for i in range(40))).encode(),
     ["sst-dev-output.csv:2:", "none of the 40 ids is a sst dev id", "test-set file"]),
    ("over 10 MB", "sst-dev-output.csv", lambda sst, sts, ids: sst.encode() + b" " * MAX_FILE_BYTES,
     ["sst-dev-output.csv:", "over the 10 MB limit"]),
    ("binary", "sst-dev-output.csv", lambda sst, sts, ids: b"PK\x03\x04\x00\x00binary\xff\xfe",
     ["sst-dev-output.csv:", "a binary file"]),
    ("not UTF-8", "sst-dev-output.csv", lambda sst, sts, ids: sst.encode().replace(b" , 1", b" , \xe9"),
     ["sst-dev-output.csv:", "a binary file"]),
    ("no separator", "sst-dev-output.csv",
     lambda sst, sts, ids: replace_line(sst, 9, f"{ids['sst'][7]}\t3 ").encode(),
     ["sst-dev-output.csv:9:", "expected 2 fields"]),
    ("probabilities not summing to 1", "sst-dev-output.csv",
     lambda sst, sts, ids: ("id \t Predicted_Sentiment \t p0 \t p1 \t p2 \t p3 \t p4 \n"
                            + "".join(f"{i} , 0 , 0.5 , 0.1 , 0.1 , 0.1 , 0.1 \n" for i in ids["sst"])).encode(),
     ["sst-dev-output.csv:2:", "sum to 0.9000, not 1"]),
    ("probability disagrees with the label", "para-dev-output.csv",
     lambda sst, sts, ids: ("id \t Predicted_Is_Paraphrase \t prob \n"
                            + "".join(f"{i} , 1 , 0.2 \n" for i in ids["quora"])).encode(),
     ["para-dev-output.csv:2:", "disagrees with P(duplicate) 0.2"]),
]


def expected_parts(expected: list[str], ids: dict[str, list[str]]) -> list[str]:
    return [part.replace("{id}", ids["sst"][0]).replace("{n}", str(len(ids["sst"]))) for part in expected]


@pytest.mark.parametrize("case,name,make,expected", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_a_bad_file_is_refused_with_its_file_line_and_problem(world, tmp_path, case, name, make, expected):
    _, ids, _ = world
    data = make(text_of(world, "sst", tmp_path), text_of(world, "sts", tmp_path), ids)
    dev_ids = {task: pd.Index(v) for task, v in ids.items()}
    with pytest.raises(PredictionFileError) as raised:
        read_prediction_files([(name, data)], dev_ids)
    message = str(raised.value)
    for part in expected_parts(expected, ids):
        assert part in message, message


@pytest.mark.parametrize("case,name,make,expected", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_the_cli_refuses_a_bad_file_and_writes_nothing(world, tables, tmp_path, capsys, case, name, make, expected):
    _, ids, _ = world
    files = good_files(world, tmp_path / "good")
    bad = tmp_path / "bad" / name
    bad.parent.mkdir()
    bad.write_bytes(make(files["sst"].read_text(), files["sts"].read_text(), ids))
    before = (tables / "manifest.json").read_bytes()
    # a good STS file beside the bad one: all or nothing, so it is not imported either
    code = main(["import", "--name", "mine", "--tables", str(tables), "--checkpoints", str(tmp_path / "none"),
                 str(bad), str(files["sts"] if name != "sts-dev-output.csv" else files["sst"])])
    err = capsys.readouterr().err
    assert code == 2 and "nothing imported" in err
    for part in expected_parts(expected, ids):
        assert part in err, err
    assert (tables / "manifest.json").read_bytes() == before
    assert not (tables / "predictions" / "mine").exists()


def test_every_problem_of_every_file_is_listed(world, tmp_path):
    _, ids, _ = world
    sst = text_of(world, "sst", tmp_path)
    sst = replace_line(replace_line(sst, 3, f"{ids['sst'][1]} , 9 "), 4, f"{ids['sst'][2]} , x ")
    dev_ids = {task: pd.Index(v) for task, v in ids.items()}
    with pytest.raises(PredictionFileError) as raised:
        read_prediction_files([("sst-dev-output.csv", sst.encode()), ("other.csv", b"")], dev_ids)
    problems = raised.value.problems
    assert problems[0].startswith("sst-dev-output.csv:3:") and problems[1].startswith("sst-dev-output.csv:4:")
    assert problems[-1] == "other.csv: the file is empty (expected a header line and one line per dev example)"


def test_two_files_for_one_task_are_refused(world, tmp_path):
    _, ids, _ = world
    sst = text_of(world, "sst", tmp_path).encode()
    with pytest.raises(PredictionFileError, match="b.csv: a second sst file \\(the first was a.csv\\)"):
        read_prediction_files([("a.csv", sst), ("b.csv", sst)], {t: pd.Index(v) for t, v in ids.items()})


def test_spacing_variants_and_crlf_are_read(world, tmp_path):
    _, ids, _ = world
    text = "id\tPredicted_Sentiment\r\n" + "".join(f"{i},{k % 5}\r\n" for k, i in enumerate(ids["sst"]))
    parsed = read_prediction_files([("x.csv", text.encode())], {"sst": pd.Index(ids["sst"])})
    assert parsed["sst"].pred.tolist() == [k % 5 for k in range(len(ids["sst"]))]
    assert parsed["sst"].probabilities is None


def test_the_name_rules():
    assert check_name("my-model-2") is None
    assert "lowercase" in check_name("My-Model")
    assert "lowercase" in check_name("a" * 41)
    assert check_name("a" * 40) is None
    assert "lowercase" in check_name("-lead")
    assert "lowercase" in check_name("under_score")
    assert "lowercase" in check_name("")
    assert "shipped variant" in check_name("pcgrad", {"pcgrad", "scratch"})


def test_import_joins_with_the_examples_and_reads_as_predictions_only(world, tables, tmp_path, capsys):
    _, ids, gold = world
    files = good_files(world, tmp_path / "good")
    assert main(["import", "--name", "mine", "--tables", str(tables), "--checkpoints", str(tmp_path / "none"),
                 *map(str, files.values())]) == 0
    out = capsys.readouterr().out
    # the summary's figures, checked against the files' own construction: a third of the labels flipped
    right = {t: np.mean(np.arange(len(ids[t])) % 3 != 0) for t in ("sst", "quora")}
    assert f"sst: 30 of 30 ids matched, accuracy {right['sst']:.3f}" in out
    assert f"quora: 40 of 40 ids matched, accuracy {right['quora']:.3f}" in out
    assert "sts: 25 of 25 ids matched, Pearson" in out

    manifest = json.loads((tables / "manifest.json").read_text())
    entry = manifest["tables"]["predictions/mine/sst.parquet"]
    assert entry["kind"] == "imported" and entry["probabilities"] is False
    assert entry["source"] == {"file": "sst-dev-output.csv",
                               "sha256": __import__("hashlib").sha256(files["sst"].read_bytes()).hexdigest()}
    assert entry["checkpoint"] == {"name": None, "hash": None}

    a = A.load(tables, tmp_path / "no-data", checkpoints={v: f"hash-{v}" for v in SHIPPED})
    assert a.problems == [p for p in a.problems if "summary" in p]  # only "no summary": no staleness complaint
    assert a.imported() == ["mine"] and sorted(a.variants()) == ["a", "b", "c", "mine"]
    assert not a.has_probabilities("sst", "mine") and a.has_probabilities("sst", "a")
    assert not a.has_probabilities("quora", "mine") and a.has_probabilities("sts", "mine")
    table = A.metrics_table(a, "sst")
    assert table.loc["mine", "accuracy"] == pytest.approx(right["sst"])
    assert math.isnan(table.loc["mine", "ece"]) and not math.isnan(table.loc["a", "ece"])
    quora = A.metrics_table(a, "quora")
    assert quora.loc["mine", "accuracy"] == pytest.approx(right["quora"])
    assert math.isnan(quora.loc["mine", "roc_auc"])
    with pytest.raises(ValueError, match="hard sst labels only"):
        A.calibration(a, "sst", "mine")
    frame = A.errors(a, "quora", "mine", only_errors=True)
    assert len(frame) == len(range(0, 40, 3)) and frame["conf"].isna().all()
    # the "another variant disagrees" relation reads the import like any variant: mine is wrong on
    # every third id (good_files), a's predictions are in its table
    a_pred = pd.read_parquet(tables / "predictions" / "a" / "sst.parquet").set_index("id")["pred"]
    expected = {i for i in ids["sst"][::3] if a_pred[i] == gold["sst"][i]}
    frame = A.errors(a, "sst", "mine", other="a", relation="a_wrong_b_right")
    assert expected and set(frame["id"]) == expected and frame["other_correct"].all()
    assert "mine" not in candidates_of(a)
    sliced = A.slice_metrics(a, "quora", "length")
    assert sliced.loc[sliced["variant"] == "mine", "roc_auc"].isna().all()
    assert sliced.loc[sliced["variant"] == "a", "roc_auc"].notna().any()
    overall_row = sliced[(sliced["variant"] == "mine") & (sliced["bucket"] == "(all)")]
    assert float(overall_row["accuracy"].iloc[0]) == pytest.approx(right["quora"])


def test_import_with_probabilities(world, tables, tmp_path, capsys):
    _, ids, gold = world
    g = gold["sst"].reindex(ids["sst"]).astype(int).to_numpy()
    probs = np.full((len(g), 5), 0.1)
    probs[np.arange(len(g)), g] = 0.6
    text = "id \t Predicted_Sentiment \t p0 \t p1 \t p2 \t p3 \t p4 \n" + "".join(
        f"{i} , {c} , " + " , ".join(f"{p:.2f}" for p in row) + " \n" for i, c, row in zip(ids["sst"], g, probs))
    path = tmp_path / "sst-dev-output.csv"
    path.write_text(text)
    assert main(["import", "--name", "probs", "--tables", str(tables), str(path)]) == 0
    assert "sst: 30 of 30 ids matched, accuracy 1.000, with probabilities" in capsys.readouterr().out
    a = A.load(tables, tmp_path / "no-data", checkpoints=False)
    assert a.has_probabilities("sst", "probs")
    ece, _ = A.calibration(a, "sst", "probs")
    assert ece == pytest.approx(0.4, abs=1e-6)  # always right at confidence 0.6


def test_name_taken_by_a_shipped_variant_or_an_earlier_import(world, tables, tmp_path, capsys):
    files = good_files(world, tmp_path / "good")
    assert main(["import", "--name", "b", "--tables", str(tables), str(files["sst"])]) == 2
    assert "variant name 'b' is a shipped variant's" in capsys.readouterr().err
    (tmp_path / "ckpt" / "pcgrad").mkdir(parents=True)
    assert main(["import", "--name", "pcgrad", "--tables", str(tables), "--checkpoints", str(tmp_path / "ckpt"),
                 str(files["sst"])]) == 2
    assert main(["import", "--name", "Mine", "--tables", str(tables), str(files["sst"])]) == 2
    assert "lowercase letters" in capsys.readouterr().err
    assert main(["import", "--name", "mine", "--tables", str(tables), str(files["sst"]), str(files["sts"])]) == 0
    assert main(["import", "--name", "mine", "--tables", str(tables), str(files["sst"])]) == 2
    assert "pass --replace" in capsys.readouterr().err
    assert main(["import", "--name", "mine", "--replace", "--tables", str(tables), str(files["sst"])]) == 0
    manifest = json.loads((tables / "manifest.json").read_text())
    assert sorted(r for r, e in manifest["tables"].items() if e["variant"] == "mine") == ["predictions/mine/sst.parquet"]
    assert not (tables / "predictions" / "mine" / "sts.parquet").exists()


def test_dev_ids_come_from_the_shipped_examples(world, tables):
    _, ids, _ = world
    dev, data, gold = dev_ids_of(tables)
    assert {t: list(v) for t, v in dev.items()} == ids
    assert set(data) == {"sst", "quora", "sts"} and all(d["sha256"] for d in data.values())


def test_import_variant_refuses_without_tables(tmp_path, world):
    files = good_files(world, tmp_path / "good")
    with pytest.raises(PredictionFileError, match="run `python -m analysis build`"):
        import_variant("mine", [("sst-dev-output.csv", files["sst"].read_bytes())], tmp_path / "nothing")


def test_the_models_tab_lists_an_import_with_its_files_and_metrics(world, tables, tmp_path):
    from demo.models_view import imported_overview

    files = good_files(world, tmp_path / "good")
    import_variant("mine", [(p.name, p.read_bytes()) for p in files.values()], tables)
    a = A.load(tables, tmp_path / "no-data", checkpoints=False)
    rows = imported_overview(a.manifest, A.overall(a)).set_index("variant")
    line = rows.loc["mine", "in one line"]
    sha = __import__("hashlib").sha256(files["sst"].read_bytes()).hexdigest()[:12]
    assert f"sst-dev-output.csv (sha256 {sha})" in line and "hard labels for sst, quora" in line
    assert rows.loc["mine", "SST acc"] == f"{A.overall(a).loc['mine', 'sst_accuracy']:.3f}"


def test_an_upload_joined_in_memory_reads_as_the_same_files_imported(world, tables, tmp_path, monkeypatch):
    from demo import uploads as U

    monkeypatch.setattr(U, "_cache", type(U._cache)())  # not the joins other tests' sessions left
    files = good_files(world, tmp_path / "good")
    import_variant("mine", [(p.name, p.read_bytes()) for p in files.values()], tables)
    on_disk = A.load(tables, tmp_path / "no-data", checkpoints=False)
    shared = A.load(world[0] / "tables", tmp_path / "no-data", checkpoints=False)
    copies = [str(p) for p in files.values()]
    upload = U.read_upload(shared, copies, "mine")
    # Gradio's copy of a file may be another session's too (it keys copies by content): left in place
    assert all(Path(c).exists() for c in copies) and U.read_upload(shared, copies, "mine2").name == "mine2"
    with pytest.raises(PredictionFileError, match="gone.csv: the uploaded copy was cleaned up"):
        U.read_upload(shared, [str(tmp_path / "gone.csv")], "mine3")
    in_memory = U.joined(shared, upload)
    for task in ("sst", "quora", "sts"):
        pd.testing.assert_frame_equal(A.metrics_table(in_memory, task), A.metrics_table(on_disk, task))
    assert in_memory.imported() == ["mine"] and shared.variants() == ["a", "b", "c"]  # the shared one unchanged
    again = U.joined(shared, upload)
    assert all(again.tasks[t] is in_memory.tasks[t] for t in ("sst", "quora", "sts"))  # cached
    assert U.joined(shared, upload, "sst").tasks["quora"] is shared.tasks["quora"]  # one task joined
    assert U.joined(shared, None) is shared
    U.forget(upload)
    assert U.cached_joins() == (0, 0)
    assert U.joined(shared, upload).tasks["sst"] is not in_memory.tasks["sst"]
    U.forget(upload)


def test_the_readme_commands_print_what_the_readme_says(tmp_path, capsys):
    """The "Analyse your own model" example of docs/USING.md, on a copy of the shipped tables."""
    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "analysis" / "tables", tmp_path / "tables")
    readme = (root / "docs" / "USING.md").read_text()
    example = root / "tests" / "data" / "my-model"
    files = [str(example / f"{p}-dev-output.csv") for p in ("sst", "para", "sts")]
    assert main(["import", "--name", "word-overlap", "--tables", str(tmp_path / "tables"), *files]) == 0
    printed = capsys.readouterr().out.splitlines()
    for line in printed[:3]:
        assert f"    {line}\n" in readme, line
    bad = tmp_path / "sst-dev-output.csv"
    bad.write_text("id \t Predicted_Sentiment \nnot-a-dev-id , 7 \n")
    assert main(["import", "--name", "broken", "--tables", str(tmp_path / "tables"), str(bad)]) == 2
    for line in capsys.readouterr().err.splitlines():
        assert f"    {line}\n" in readme, line


def test_a_task_without_dev_examples_here_is_refused(world, tmp_path):
    _, ids, _ = world
    with pytest.raises(PredictionFileError, match="sst-dev-output.csv: a sst file, but no sst dev examples are loaded"):
        read_prediction_files([("sst-dev-output.csv", text_of(world, "sst", tmp_path).encode())],
                              {"sts": pd.Index(ids["sts"])})
