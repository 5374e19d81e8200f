"""Compare's counterfactuals (demo.counterfactuals): one-click edits, flips, before -> after, and
the memo the step after a scoring reads (demo.compare_view.RecentScores)."""
import numpy as np
import pandas as pd
import pytest

from demo import compare_view as C
from demo import counterfactuals as CF
from demo.inputs import BadInput


@pytest.mark.parametrize("text, expected", [
    ("The plot is not bad at all, and the acting is never boring.", "The plot is bad at all, and the acting is boring."),
    ("I can't stand it", "I can stand it"),
    ("It isn't good", "It is good"),
    ("A man is playing a guitar.", "A man is not playing a guitar."),
    ("How do I start a business?", "How do I not start a business?"),
    ("Loved every minute of it", "It is not true that loved every minute of it"),
])
def test_negate(text, expected):
    assert CF.negate(text) == expected


def test_typo_drop_and_swap():
    assert CF.typo("a wonderful film") == "a wonedrful film"  # letters 4 and 5 of the longest word swapped
    assert CF.drop_word("What is the best way to learn Python?") == "What is the best way to learn?"
    assert CF.perturb("swap", "All three", " first ", "second") == ("second", "first", "swapped sentences A and B")
    with pytest.raises(BadInput, match="two sentences"):
        CF.perturb("swap", "Sentiment", "only one", "")
    with pytest.raises(BadInput, match="four letters"):
        CF.perturb("typo", "Sentiment", "a b c", "")
    with pytest.raises(BadInput, match="Unknown edit"):
        CF.perturb("shout", "Sentiment", "a film", "")


def one_hot(c):
    p = np.full(5, 0.05)
    p[c] = 0.8
    return p.tolist()


def test_what_counts_as_a_flip():
    assert CF.flipped("sst", one_hot(0), one_hot(1)) == "class"        # same polarity
    assert CF.flipped("sst", one_hot(1), one_hot(3)) == "polarity"
    assert CF.flipped("sst", one_hot(3), one_hot(3)) == ""
    assert CF.flipped("quora", 0.49, 0.51) == "decision" and CF.flipped("quora", 0.9, 0.6) == ""
    assert CF.flipped("sts", 4.0, 2.9) == "score" and CF.flipped("sts", 4.0, 3.1) == ""


def test_before_and_after_of_a_dev_example():
    example = {"task": "sst", "id": "abc<1>", "gold": 3, "sentence1": "a <b>fine</b> film", "sentence2": "",
               "outputs": {"v1": one_hot(3), "v2": one_hot(1)}}
    ref = CF.dev_reference(example)
    scores = {"a": "a <b>dull</b> film", "b": "", "outputs": {"sst": {"v1": one_hot(0), "v2": one_hot(1)}}}
    out = CF.changes_html(ref, scores)
    assert "abc&lt;1&gt;" in out and "gold <b>3 positive</b>" in out and "<b>fine</b>" not in out
    assert "Sentiment: 1 of 2 flipped" in out
    assert "positive 0.80 → very negative 0.80 ✗" in out and "⟲ polarity" in out
    assert "negative 0.80 → negative 0.80 ✗" in out  # v2 held its answer, wrong against gold
    # the dev example stays the reference; a typed input's reference is the previous scoring
    assert CF.next_reference(ref, scores) is ref
    assert CF.next_reference(CF.scored_reference(scores), {"a": "x", "b": "", "outputs": {}})["a"] == "x"
    # rescoring the very same typed input has no "before"
    assert CF.changes_html(CF.scored_reference(scores), scores) == ""
    assert CF.changes_html(None, scores) == ""


def test_a_dev_example_opened_unchanged_is_the_reference_only():
    """"Open in Compare" rescores the example as it is: nothing was edited, so the panel names the
    reference and counts no flips (it used to show identical text and "0 of 2 flipped")."""
    example = {"task": "sst", "id": "abc<1>", "gold": 3, "sentence1": "a <b>fine</b> film ", "sentence2": "",
               "outputs": {"v1": one_hot(3), "v2": one_hot(1)}}
    ref = CF.dev_reference(example)
    same = {"a": "a <b>fine</b> film", "b": "", "outputs": {"sst": {"v1": one_hot(0), "v2": one_hot(1)}}}
    out = CF.changes_html(ref, same)
    assert "Reference" in out and "abc&lt;1&gt;" in out and "gold <b>3 positive</b>" in out
    assert "a &lt;b&gt;fine&lt;/b&gt; film" in out and "<b>fine</b>" not in out
    assert "flipped" not in out and "→" not in out and "Before" not in out
    edited = {**same, "a": "a <b>fine</b> film indeed"}
    assert "Sentiment: 1 of 2 flipped" in CF.changes_html(ref, edited)


def test_recent_scores_merge_tasks_and_forget_the_oldest():
    memo = C.RecentScores(size=2)

    def result(a, task, outputs):
        return C.CompareResult(summary="", table=pd.DataFrame(), outputs={task: outputs},
                               request=C.Request((task,), a, "b"))

    memo.put(result("one", "sts", {"v": np.float32(2.5)}))
    memo.put(result("one", "quora", {"v": np.float32(0.7), "w": {"error": "boom"}}))  # a failure is left out
    got = memo.get("one", "b")
    assert got["outputs"]["sts"] == {"v": 2.5} and got["outputs"]["quora"] == {"v": pytest.approx(0.7)}
    memo.put(result("two", "sts", {"v": 1.0}))
    memo.put(result("three", "sts", {"v": 1.0}))
    assert memo.get("one", "b") is None and memo.get("three", "b") is not None
    assert memo.get("never", "b") is None
