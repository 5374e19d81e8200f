"""Behavioural tests (analysis.behaviour): each kind judged on a case worked by hand, a fake scorer
that passes and one that fails, the perturbation functions, and the suite's size and determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import behaviour as B
from analysis import synthetic
from analysis.behaviour import (
    DIR,
    INV,
    MFT,
    add_typo,
    change_number,
    judge,
    make_suite,
    read_behaviour,
    score_suite,
    suite_hash,
    suite_inputs,
    swap_name,
    write_behaviour,
)
from analysis.examples import read_dev_split


def case(task: str, kind: str, s1: str, s2: str = "", b1: str = "", b2: str = "", lo: float = -np.inf,
         hi: float = np.inf, direction: int = 0, tolerance: float = 0.0) -> dict:
    return {"case": f"{task}/t/{kind}", "task": task, "test": "t", "kind": kind, "s1": s1, "s2": s2, "b1": b1,
            "b2": b2, "origin": "template", "lo": lo, "hi": hi, "direction": direction, "tolerance": tolerance}


def run(suite: pd.DataFrame, score_tasks) -> list[bool]:
    return judge(suite, score_suite(suite, score_tasks(suite_inputs(suite)))).tolist()


def sst_probs(cls: int, second: int | None = None) -> np.ndarray:
    p = np.zeros(5)
    p[cls] = 0.7 if second is not None else 1.0
    if second is not None:
        p[second] = 0.3
    return p


# --- each kind, worked by hand -----------------------------------------------------------------

def test_mft_by_hand():
    """“The film is not great.” must be class 0-2. A scorer that answers 1 passes; one that answers 3 fails."""
    suite = pd.DataFrame([case("sst", MFT, "The film is not great.", lo=0, hi=2)])
    assert run(suite, lambda inputs: {"sst": np.array([sst_probs(1)])}) == [True]
    assert run(suite, lambda inputs: {"sst": np.array([sst_probs(3)])}) == [False]


def test_inv_by_hand():
    """A typo must not change the class (SST) and a swap must move an STS score by at most 0.25."""
    suite = pd.DataFrame([case("sst", INV, "A fine film.", b1="A fnie film."),
                          case("sts", INV, "a", "b", b1="b", b2="a", tolerance=0.25)])

    def steady(inputs):  # class 3 whatever the spelling; STS 3.0 and 3.2 (moves 0.2 <= 0.25)
        return {"sst": np.array([sst_probs(3) for _ in inputs["sst"]]),
                "sts": np.array([3.0 if pair == ("a", "b") else 3.2 for pair in inputs["sts"]])}

    def shaky(inputs):  # the typo flips the class to 2; the swap moves STS by 1.0
        return {"sst": np.array([sst_probs(2 if "fnie" in s else 3) for s in inputs["sst"]]),
                "sts": np.array([3.0 if pair == ("a", "b") else 4.0 for pair in inputs["sts"]])}

    assert run(suite, steady) == [True, True]
    assert run(suite, shaky) == [False, False]


def test_dir_by_hand():
    """Adding “not” to a positive sentence must lower the expected class: 0.7*3 + 0.3*4 = 3.3 before;
    after, 0.7*1 + 0.3*2 = 1.3 passes (down) and 0.7*4 + 0.3*3 = 3.7 fails (up). Quora: changing
    a number must lower P(duplicate) from the pair with itself."""
    suite = pd.DataFrame([case("sst", DIR, "The film is great.", b1="The film is not great.", direction=-1),
                          case("quora", DIR, "q 1?", "q 1?", b1="q 1?", b2="q 2?", direction=-1)])

    def good(inputs):
        return {"sst": np.array([sst_probs(1, 2) if "not" in s else sst_probs(3, 4) for s in inputs["sst"]]),
                "quora": np.array([0.9 if a == b else 0.2 for a, b in inputs["quora"]])}

    def bad(inputs):
        return {"sst": np.array([sst_probs(4, 3) if "not" in s else sst_probs(3, 4) for s in inputs["sst"]]),
                "quora": np.array([0.9 for _ in inputs["quora"]])}  # no change is no pass

    assert run(suite, good) == [True, True]
    assert run(suite, bad) == [False, False]


def test_each_distinct_input_is_scored_once():
    suite = pd.DataFrame([case("quora", INV, "a", "b", b1="b", b2="a"), case("quora", MFT, "a", "b", lo=0, hi=0)])
    assert suite_inputs(suite) == {"quora": [("a", "b"), ("b", "a")]}


# --- perturbation functions ------------------------------------------------------------------

def test_perturbations():
    rng = np.random.default_rng(0)
    typo = add_typo("The film is wonderful", rng)
    assert typo != "The film is wonderful" and sorted(typo) == sorted("The film is wonderful")
    assert add_typo("a is it", rng) is None
    changed = change_number("I lost 10 pounds in 2 weeks", rng)
    assert changed != "I lost 10 pounds in 2 weeks" and changed.split()[0:2] == ["I", "lost"]
    assert change_number("no numbers here", rng) is None
    assert change_number("version 2.0 of it", rng) is None  # a decimal is not swapped half-way
    swapped = swap_name("Tom thought so", rng)
    assert swapped.endswith(" thought so") and not swapped.startswith("Tom")
    assert swap_name("Tomato soup", rng) is None


# --- the suite -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    data = tmp_path_factory.mktemp("behaviour") / "data"
    texts = {"sst": [("Tom says the 2 films are wonderful .", "")], "quora": [("How do I move to India in 2020 ?", "Why ?")]}
    synthetic.make_data_dir(data, {"sst": 300, "quora": 300, "sts": 300}, texts=None)
    synthetic.make_data_dir(data / "named", {"sst": 80, "quora": 80, "sts": 10}, texts=texts)
    frames = {t: read_dev_split(t, data)[0] for t in ("sst", "quora", "sts")}
    for t in ("sst", "quora"):  # some dev rows with names, numbers and places, as the real data has
        named = read_dev_split(t, data / "named")[0]
        frames[t] = pd.concat([frames[t], named.assign(id=named["id"] + "n")], ignore_index=True)
    return frames


def test_suite_has_every_kind_and_200_cases_per_task_and_is_deterministic(examples):
    suite = make_suite(examples)
    for task in ("sst", "quora", "sts"):
        cases = suite[suite["task"] == task]
        assert len(cases) >= 200, task
        assert set(cases["kind"]) == {MFT, INV, DIR}
        assert set(cases["test"]) == {t.name for t in B.tests_of(task)}
    assert suite["case"].is_unique
    assert suite_hash(make_suite(examples)) == suite_hash(suite)
    mft = suite[suite["kind"] == MFT]
    assert (mft["b1"] == "").all() and (suite.loc[suite["kind"] != MFT, "b1"] != "").all()


def test_tables_round_trip_and_a_stale_variant_is_left_out(examples, tmp_path):
    suite = make_suite(examples, ["sst"])
    results = pd.DataFrame({"variant": ["v"] * len(suite), "case": suite["case"], "passed": True})
    write_behaviour(tmp_path, suite, results, {"suite": suite_hash(suite), "variants": {"v": "h1"}})
    cases, got, provenance, problems = read_behaviour(tmp_path, {"v": "h1"})
    assert problems == [] and len(got) == len(suite) and cases["case"].tolist() == suite["case"].tolist()
    _, got, _, problems = read_behaviour(tmp_path, {"v": "h2"})
    assert got.empty and "other checkpoints" in problems[0]
    assert "run `python -m analysis build`" in read_behaviour(tmp_path / "none")[3][0]


class FakeVariant:
    """A variant that answers every input the same way and counts its calls."""

    def __init__(self, name: str, sst_class: int, prob: float, score: float, members: tuple = (),
                 task_members: dict | None = None):
        self.name, self.checkpoint_hash, self.members, self.calls = name, f"hash-{name}", members, 0
        self.task_members = task_members or {t: [m.name for m in members] for t in ("sst", "quora", "sts")}
        self.answer = {"sst": sst_probs(sst_class), "quora": prob, "sts": score}

    def score_tasks(self, inputs: dict) -> dict:
        self.calls += 1
        if self.answer["quora"] < 0:
            raise RuntimeError("broken")
        return {t: np.array([self.answer[t]] * len(x)) for t, x in inputs.items()}


def test_build_step_scores_reuses_and_composes_the_ensemble(tmp_path):
    from analysis import behaviour
    from analysis import load as load_analysis

    data = tmp_path / "data"
    synthetic.make_data_dir(data, {"sst": 80, "quora": 80, "sts": 60})
    synthetic.make_tables(tmp_path / "tables", data, variants=("a", "b", "ens", "per-task"))
    world = load_analysis(tmp_path / "tables", data, checkpoints=False)
    a, b = FakeVariant("a", 4, 0.9, 5.0), FakeVariant("b", 0, 0.1, 1.0)
    ens = FakeVariant("ens", 0, 0.0, 0.0, members=(a, b))
    # issue 32: b's similarity head is no member of this ensemble's STS
    per_task = FakeVariant("per-task", 0, 0.0, 0.0, members=(a, b), task_members={"sst": ["a", "b"], "quora": ["a", "b"],
                                                                                  "sts": ["a"]})
    broken = FakeVariant("broken", 0, -1.0, 0.0)
    logs: list[str] = []
    variants = {"a": a, "b": b, "ens": ens, "per-task": per_task}
    behaviour.ANALYSIS.run(world, {**variants, "broken": broken}, tmp_path / "tables", logs.append)
    cases, results, provenance, _ = read_behaviour(tmp_path / "tables")
    assert set(results["variant"]) == set(provenance["variants"]) == set(variants)
    assert any("broken failed" in line for line in logs)
    assert ens.calls == 0 and per_task.calls == 0  # composed from a's and b's outputs
    sts = results[(results["variant"] == "ens") & results["case"].str.startswith("sts/")]
    assert np.allclose(sts["value_a"], 3.0)  # the mean of 5 and 1
    sst = results[(results["variant"] == "ens") & results["case"].str.startswith("sst/")]
    assert np.allclose(sst["value_a"], 2.0)  # P = (1/2, 0, 0, 0, 1/2): mean class 2
    sts = results[(results["variant"] == "per-task") & results["case"].str.startswith("sts/")]
    assert np.allclose(sts["value_a"], 5.0)  # a's alone
    sst = results[(results["variant"] == "per-task") & results["case"].str.startswith("sst/")]
    assert np.allclose(sst["value_a"], 2.0)
    # a rebuild with the same checkpoints and suite scores nothing again
    calls = a.calls
    behaviour.ANALYSIS.run(world, variants, tmp_path / "tables", logs.append)
    assert a.calls == calls and "0 scored" in logs[-1]
    assert read_behaviour(tmp_path / "tables")[1].equals(results[results["variant"] != "broken"].reset_index(drop=True))
