"""The Task type: one definition of each task, read by every layer."""
from __future__ import annotations

import numpy as np
import pytest

from minibert.tasks import PAIR_TASKS, TASK_NAMES, TASKS, task, task_titled


def test_the_three_tasks_and_what_they_read():
    assert TASK_NAMES == ("sst", "quora", "sts") and PAIR_TASKS == ("quora", "sts")
    assert [t.file_name("dev") for t in TASKS] == ["ids-sst-dev.csv", "quora-dev.csv", "sts-dev.csv"]
    assert task("sst").text_columns == ("sentence",) and task("sts").label_column == "similarity"
    assert [t.metric for t in TASKS] == ["accuracy", "accuracy", "pearson"]
    assert task_titled("Paraphrase (Quora)") is task("quora") and task_titled("Similarity") is task("sts")
    assert task_titled(None) is None and task_titled("Nope") is None
    with pytest.raises(ValueError, match="unknown task 'nli'; expected one of sst, quora, sts"):
        task("nli")


def test_labels_are_parsed_with_the_reason_when_they_cannot_be():
    sst, quora, sts = TASKS
    assert sst.parse_label("sentiment", "4") == (4, None)
    assert sst.parse_label("sentiment", "5") == (None, "sentiment '5' not in 0..4")
    assert quora.parse_label("is_duplicate", "1.0") == (1.0, None)
    assert quora.parse_label("is_duplicate", "2") == (None, "is_duplicate '2' is not 0 or 1")
    assert sts.parse_label("similarity", "nan") == (None, "similarity 'nan' is not a finite number")
    assert sts.parse_label("similarity", "") == (None, "similarity is empty")


def test_how_an_output_becomes_an_answer_and_reads():
    sst, quora, sts = TASKS
    assert sst.decide(np.array([0.1, 0.1, 0.2, 0.5, 0.1])) == 3 and sst.label_text(3) == "3 positive"
    assert quora.decide(0.5) == 1 and quora.decide(0.49) == 0 and quora.label_text(1) == "duplicate"
    assert quora.class_probabilities(0.25) == [0.75, 0.25]
    assert sts.decide(np.float32(2.5)) == 2.5 and sts.label_text(2.4) == "2.40" and sts.label_text(None) == ""
    with pytest.raises(ValueError, match="not one of 0..1"):
        quora.label_text(2)
    with pytest.raises(ValueError, match="regression"):
        sts.class_probabilities(1.0)


def test_a_decided_similarity_prints_as_the_model_gave_it(tmp_path):
    # decide() keeps STS's float32: a Python float of it would print as 3.4000000953674316
    from minibert.submission import write_submission

    path = tmp_path / "sts-dev-output.csv"
    write_submission(path, "sts", ["a"], [task("sts").decide(o) for o in np.float32([3.4])])
    assert path.read_text().splitlines()[-1].split(",")[1].strip() == "3.4"
