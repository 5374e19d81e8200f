"""Tests of minibert.submission: the exact bytes of the CS224N submission files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minibert.submission import (
    SUBMISSION_FILES,
    read_submission,
    submission_path,
    write_submission,
)


def test_submission_file_names_match_the_course():
    assert SUBMISSION_FILES == {
        ("sst", "dev"): "sst-dev-output.csv",
        ("sst", "test"): "sst-test-output.csv",
        ("quora", "dev"): "para-dev-output.csv",
        ("quora", "test"): "para-test-output.csv",
        ("sts", "dev"): "sts-dev-output.csv",
        ("sts", "test"): "sts-test-output.csv",
    }


def test_submission_path(tmp_path):
    assert submission_path(tmp_path, "quora", "test") == tmp_path / "para-test-output.csv"
    with pytest.raises(ValueError, match="train"):
        submission_path(tmp_path, "sst", "train")


def test_sentiment_file_bytes(tmp_path):
    path = tmp_path / "sst-dev-output.csv"
    write_submission(path, "sst", ["a1", "a2", "a3"], [0, 4, 2])
    assert path.read_bytes() == b"id \t Predicted_Sentiment \na1 , 0 \na2 , 4 \na3 , 2 \n"


def test_paraphrase_file_bytes(tmp_path):
    path = tmp_path / "para-dev-output.csv"
    write_submission(path, "quora", ["q1", "q2"], [1, 0])
    assert path.read_bytes() == b"id \t Predicted_Is_Paraphrase \nq1 , 1 \nq2 , 0 \n"


def test_similarity_file_bytes_keep_the_course_spelling(tmp_path):
    path = tmp_path / "sts-dev-output.csv"
    write_submission(path, "sts", ["s1", "s2", "s3"], [3.25, 0, 5.0])
    assert path.read_bytes() == b"id \t Predicted_Similiary \ns1 , 3.25 \ns2 , 0.0 \ns3 , 5.0 \n"


def test_numpy_predictions_are_written_plainly(tmp_path):
    sst = tmp_path / "sst.csv"
    write_submission(sst, "sst", ["a", "b"], np.array([3, 1], dtype=np.int64))
    assert sst.read_text().splitlines()[1:] == ["a , 3 ", "b , 1 "]

    para = tmp_path / "para.csv"
    write_submission(para, "quora", ["a", "b", "c"], np.array([0.9, 0.2, 0.5]) > 0.5)
    assert para.read_text().splitlines()[1:] == ["a , 1 ", "b , 0 ", "c , 0 "]

    sts = tmp_path / "sts.csv"
    write_submission(sts, "sts", ["a", "b"], np.array([3.4, 1.0], dtype=np.float32))
    # float32 3.4 written through Python's float would read 3.4000000953674316
    assert sts.read_text().splitlines()[1:] == ["a , 3.4 ", "b , 1.0 "]


def test_whole_number_floats_are_accepted_as_classes(tmp_path):
    path = tmp_path / "out.csv"
    write_submission(path, "sst", ["a"], [3.0])
    write_submission(tmp_path / "p.csv", "quora", ["a"], [1.0])
    assert path.read_text().splitlines()[1] == "a , 3 "
    assert (tmp_path / "p.csv").read_text().splitlines()[1] == "a , 1 "


def test_parent_folders_are_created(tmp_path):
    path = tmp_path / "predictions" / "run1" / "sts-test-output.csv"
    written = write_submission(path, "sts", ["s1"], [2.5])
    assert written == path and path.is_file()


def test_empty_predictions_write_only_the_header(tmp_path):
    path = tmp_path / "out.csv"
    write_submission(path, "quora", [], [])
    assert path.read_bytes() == b"id \t Predicted_Is_Paraphrase \n"


@pytest.mark.parametrize(
    ("task", "value", "words"),
    [
        ("sst", 5, "not a class 0..4"),
        ("sst", -1, "not a class 0..4"),
        ("sst", 2.5, "not a class 0..4"),
        ("sst", "3", "not a class 0..4"),
        ("sst", float("nan"), "not a class 0..4"),
        ("quora", 2, "not 0 or 1"),
        ("quora", 0.7, "not 0 or 1"),
        ("sts", float("nan"), "not a finite number"),
        ("sts", math.inf, "not a finite number"),
        ("sts", "2.0", "not a finite number"),
        ("sts", None, "not a finite number"),
    ],
)
def test_invalid_prediction_names_id_and_value_and_writes_nothing(tmp_path, task, value, words):
    path = tmp_path / "out.csv"
    with pytest.raises(ValueError) as caught:
        write_submission(path, task, ["good", "the-bad-one"], [1, value])
    message = str(caught.value)
    assert "'the-bad-one'" in message and repr(value) in message and words in message
    assert not path.exists()


def test_length_mismatch_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="2 ids but 1 predictions"):
        write_submission(tmp_path / "out.csv", "sst", ["a", "b"], [1])


@pytest.mark.parametrize("bad_id", ["", "a\nb", "a , b", "a\tb", 7])
def test_ids_that_would_break_the_layout_are_rejected(tmp_path, bad_id):
    with pytest.raises(ValueError, match="cannot be written"):
        write_submission(tmp_path / "out.csv", "sst", [bad_id], [1])


def test_duplicate_ids_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="'a' appears more than once"):
        write_submission(tmp_path / "out.csv", "sst", ["a", "b", "a"], [1, 2, 3])


def test_unknown_task_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown task 'para'"):
        write_submission(tmp_path / "out.csv", "para", ["a"], [1])


@pytest.mark.parametrize(
    ("task", "predictions", "expected"),
    [
        ("sst", [4, 0], ["4", "0"]),
        ("quora", [0, 1], ["0", "1"]),
        ("sts", [1.5, 4.75], ["1.5", "4.75"]),
    ],
)
def test_read_submission_round_trips(tmp_path, task, predictions, expected):
    path = write_submission(tmp_path / "out.csv", task, ["x1", "x2"], predictions)
    assert read_submission(path) == (task, ["x1", "x2"], expected)


def test_read_submission_rejects_other_files(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("id,prediction\na,1\n")
    with pytest.raises(ValueError, match="not a CS224N submission header"):
        read_submission(path)
    path.write_text("id \t Predicted_Sentiment \na,1\n")
    with pytest.raises(ValueError, match="other.csv:2"):
        read_submission(path)
