"""Behavioural tests of the three CheckList kinds (Ribeiro et al. 2020), written as data: each test
is a row of `TESTS` (task, kind, what passes) and a generator of cases (dev sentences through a
perturbation function, or templates). Run on every variant by `python -m analysis build`.

Kinds, as CheckList defines them:
- MFT (minimum functionality): one input, an expected answer (`lo` <= the decision <= `hi`;
  the decision is the SST class 0..4, the Quora label 0/1, the STS score 0..5).
- INV (invariance): an input and a perturbed copy; the decision must not change (for STS: the
  score must move by at most `tolerance`).
- DIR (directional): an input and a perturbed copy; the value must move in `direction` (+1 up,
  -1 down). The value is the expected SST class (sum of k * P(k)), P(duplicate), or the STS score.

    suite = make_suite(examples)                 # {task: dev examples frame} -> cases (DataFrame)
    outputs = predictor.score_tasks(suite_inputs(suite))  # each distinct input scored once
    scored = score_suite(suite, outputs)         # decisions and values of inputs a and b
    passed = judge(suite, scored)                # bool per case

Cases are deterministic (seeded) so that a rebuild scores the same suite; `suite_hash` names it.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from minibert.predictor import ensemble_outputs
from minibert.tasks import task as get_task

from .core import Analysis
from .derived import DerivedAnalysis, Log, Reading
from .tables import TableError, _read_parquet, _write_parquet, drop_stale

MFT, INV, DIR = "MFT", "INV", "DIR"
PER_TEST = 60   # cases per test at most; every task gets at least 200 in all
SEED = 19

POSITIVE = ["good", "great", "wonderful", "excellent", "brilliant", "delightful", "moving", "funny", "charming",
            "beautiful", "smart", "enjoyable"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dull", "tedious", "horrible", "weak", "lousy", "pointless",
            "stupid", "annoying"]
THINGS = ["film", "movie", "story", "acting", "script", "cast", "ending", "soundtrack"]
INTENSIFIERS = ["very", "really", "extremely", "incredibly", "truly"]
NAMES = ["John", "Michael", "David", "Robert", "James", "Mary", "Jennifer", "Sarah", "Tom", "Peter", "Paul", "George",
         "Jack", "Steven", "Chris", "Jim", "Bill", "Kate", "Anna", "Adam", "Mike", "Ben", "Sam", "Harry", "Ryan"]
PLACES = ["India", "China", "Pakistan", "Canada", "Germany", "Japan", "Australia", "France", "Russia", "Brazil",
          "America", "England", "Mumbai", "Delhi", "Bangalore", "London", "Dubai", "Singapore"]
PEOPLE = ["Trump", "Clinton", "Obama", "Modi", "Hillary", "Putin", "Gandhi", "Nehru", "Einstein", "Newton"]
VERB_PAIRS = [("buy", "sell"), ("start", "close"), ("rent", "sell"), ("build", "demolish"), ("learn", "teach"),
              ("open", "close"), ("find", "lose"), ("import", "export"), ("insure", "repair"), ("paint", "clean")]
OBJECTS = ["a car", "a house", "a small business", "a laptop", "a bike", "a restaurant", "an apartment", "a website",
           "a shop", "a boat"]
QUESTION_FRAMES = ["How do I {} {}?", "What is the best way to {} {}?", "How can I {} {} quickly?",
                   "Is it a good idea to {} {} this year?"]


@dataclass(frozen=True)
class Test:
    name: str
    task: str
    kind: str
    description: str
    lo: float = -np.inf         # MFT: the decision must lie in [lo, hi]
    hi: float = np.inf
    direction: int = 0          # DIR: +1 or -1
    tolerance: float = 0.0      # INV on a score: largest allowed move


# --- perturbation functions: (sentence, rng) -> perturbed sentence, or None when it does not apply

def add_typo(sentence: str, rng: np.random.Generator) -> str | None:
    """Swap two neighbouring letters inside one word of 4+ letters."""
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", sentence)]
    if not words:
        return None
    m = words[int(rng.integers(len(words)))]
    i = m.start() + 1 + int(rng.integers(len(m.group()) - 2))
    if sentence[i] == sentence[i + 1]:
        return None
    return sentence[:i] + sentence[i + 1] + sentence[i] + sentence[i + 2:]


def change_number(sentence: str, rng: np.random.Generator) -> str | None:
    numbers = list(re.finditer(r"(?<![\w.])\d+(?![\w.])", sentence))
    if not numbers:
        return None
    m = numbers[int(rng.integers(len(numbers)))]
    value = int(m.group())
    new = value + int(rng.integers(2, 9)) if value < 1900 or value > 2100 else value - int(rng.integers(3, 15))
    return sentence[:m.start()] + str(new) + sentence[m.end():]


def _swap_word(*groups: Sequence[str]) -> Callable[[str, np.random.Generator], str | None]:
    """A perturbation that replaces a word of one of `groups` by another word of the same group."""
    def swap(sentence: str, rng: np.random.Generator) -> str | None:
        found = [(w, g) for g in groups for w in g if re.search(rf"\b{re.escape(w)}\b", sentence)]
        if not found:
            return None
        old, group = found[int(rng.integers(len(found)))]
        others = [w for w in group if w != old]
        return re.sub(rf"\b{re.escape(old)}\b", others[int(rng.integers(len(others)))], sentence)
    return swap


swap_name = _swap_word(NAMES)
swap_place_or_person = _swap_word(PLACES, PEOPLE)


# --- the tests -------------------------------------------------------------------------------

TESTS = [
    Test("sentiment words", "sst", MFT, "“The film is great.” is positive (3-4), “The film is awful.” negative (0-1)"),
    Test("negated positive", "sst", MFT, "“The film is not great.” is not positive (0-2)", lo=0, hi=2),
    Test("negation flips polarity", "sst", DIR,
         "adding “not” makes a positive sentence more negative and a negative one more positive"),
    Test("intensifier", "sst", DIR, "“very great” is more positive than “great”, “very awful” more negative"),
    Test("typo", "sst", INV, "one swapped pair of letters in a dev sentence leaves the class as it was"),
    Test("name swap", "sst", INV, "another first name (in a dev sentence or a template) leaves the class as it was"),
    Test("number change", "sst", INV, "another number in a dev sentence leaves the class as it was"),
    Test("questions swapped", "quora", INV, "a dev pair with its two questions swapped keeps its answer"),
    Test("typo", "quora", INV, "one swapped pair of letters in the second question keeps the answer"),
    Test("number changed", "quora", MFT, "a dev question and the same question with another number: not duplicates",
         lo=0, hi=0),
    Test("name changed", "quora", MFT, "a dev question and the same with another place or person: not duplicates",
         lo=0, hi=0),
    Test("main verb changed", "quora", MFT, "“How do I buy a car?” and “How do I sell a car?”: not duplicates",
         lo=0, hi=0),
    Test("number lowers P(duplicate)", "quora", DIR,
         "a question against a copy with another number scores lower than against itself", direction=-1),
    Test("symmetry", "sts", INV, "swapping the two sentences of a dev pair moves the score by at most 0.25",
         tolerance=0.25),
    Test("itself", "sts", MFT, "a dev sentence with itself scores at least 4.5", lo=4.5, hi=5.0),
    Test("unrelated", "sts", MFT, "a dev STS sentence with an unrelated SST movie review scores at most 1", lo=0, hi=1.0),
    Test("unrelated second sentence", "sts", DIR,
         "a dev pair with gold >= 3.5 scores lower once its second sentence is an unrelated review", direction=-1),
]


def tests_of(task: str) -> list[Test]:
    return [t for t in TESTS if t.task == task]


def _test(task: str, name: str) -> Test:
    return next(t for t in TESTS if t.task == task and t.name == name)


# --- case generators: (examples by task, rng) -> rows of (s1, s2, b1, b2, origin[, direction, lo, hi])

Row = dict


def _perturbed_dev(frame: pd.DataFrame, rng: np.random.Generator, fn: Callable, column: str = "sentence1",
                   limit: int = PER_TEST) -> Iterator[Row]:
    order = rng.permutation(len(frame))
    pair = "sentence2" in frame.columns
    n = 0
    for i in order:
        row = frame.iloc[int(i)]
        s1, s2 = str(row["sentence1"]), str(row["sentence2"]) if pair else ""
        changed = fn(str(row[column]), rng)
        if changed is None or changed == row[column]:
            continue
        b1, b2 = (changed, s2) if column == "sentence1" else (s1, changed)
        yield {"s1": s1, "s2": s2, "b1": b1, "b2": b2, "origin": str(row["id"])}
        n += 1
        if n >= limit:
            return


def _templates(rng: np.random.Generator, items: list[Row], limit: int = PER_TEST) -> list[Row]:
    return [items[int(i)] for i in rng.permutation(len(items))[:limit]]


def _sst_cases(name: str, ex: Mapping[str, pd.DataFrame], rng: np.random.Generator) -> list[Row]:
    sst = ex["sst"]
    adjectives = [(w, 1) for w in POSITIVE] + [(w, -1) for w in NEGATIVE]
    if name == "sentiment words":
        return _templates(rng, [{"s1": f"The {t} is {w}.", "lo": 3 if d > 0 else 0, "hi": 4 if d > 0 else 1}
                                for t in THINGS for w, d in adjectives])
    if name == "negated positive":
        return _templates(rng, [{"s1": f"The {t} is not {w}."} for t in THINGS for w in POSITIVE])
    if name == "negation flips polarity":
        return _templates(rng, [{"s1": f"The {t} is {w}.", "b1": f"The {t} is not {w}.", "direction": -d}
                                for t in THINGS for w, d in adjectives])
    if name == "intensifier":
        return _templates(rng, [{"s1": f"The {t} is {w}.", "b1": f"The {t} is {i} {w}.", "direction": d}
                                for t in THINGS for w, d in adjectives for i in INTENSIFIERS[:2]])
    if name == "typo":
        return list(_perturbed_dev(sst, rng, add_typo))
    if name == "name swap":
        dev = list(_perturbed_dev(sst, rng, swap_name, limit=PER_TEST // 2))
        made = [{"s1": f"{n} thought the {t} was {w}.", "b1": f"{m} thought the {t} was {w}."}
                for n, m in zip(NAMES, NAMES[1:] + NAMES[:1]) for t in THINGS[:2] for w, _ in adjectives[::6]]
        return dev + _templates(rng, made, PER_TEST - len(dev))
    if name == "number change":
        return list(_perturbed_dev(sst, rng, change_number))
    raise KeyError(name)


def _quora_cases(name: str, ex: Mapping[str, pd.DataFrame], rng: np.random.Generator) -> list[Row]:
    quora = ex["quora"]
    if name == "questions swapped":
        return [{**r, "b1": r["s2"], "b2": r["s1"]} for r in _perturbed_dev(quora, rng, lambda s, _: s + " ")]
    if name == "typo":
        return list(_perturbed_dev(quora, rng, add_typo, column="sentence2"))
    if name in ("number changed", "name changed", "number lowers P(duplicate)"):
        fn = swap_place_or_person if name == "name changed" else change_number
        rows = list(_perturbed_dev(quora, rng, fn))
        if name == "number lowers P(duplicate)":  # a: the question with itself, b: against the changed copy
            return [{"s1": r["s1"], "s2": r["s1"], "b1": r["s1"], "b2": r["b1"], "origin": r["origin"]} for r in rows]
        return [{"s1": r["s1"], "s2": r["b1"], "origin": r["origin"]} for r in rows]
    if name == "main verb changed":
        return _templates(rng, [{"s1": f.format(v, o), "s2": f.format(w, o)} for f in QUESTION_FRAMES
                                for v, w in VERB_PAIRS for o in OBJECTS])
    raise KeyError(name)


def _sts_cases(name: str, ex: Mapping[str, pd.DataFrame], rng: np.random.Generator) -> list[Row]:
    sts, reviews = ex["sts"], ex["sst"]["sentence1"].astype(str).tolist()
    if name == "symmetry":
        return [{**r, "b1": r["s2"], "b2": r["s1"]} for r in _perturbed_dev(sts, rng, lambda s, _: s + " ")]
    if name == "itself":
        return [{"s1": r["s1"], "s2": r["s1"], "origin": r["origin"]}
                for r in _perturbed_dev(sts, rng, lambda s, _: s + " ")]
    if name == "unrelated":
        return [{"s1": r["s1"], "s2": reviews[int(rng.integers(len(reviews)))], "origin": r["origin"]}
                for r in _perturbed_dev(sts, rng, lambda s, _: s + " ")]
    if name == "unrelated second sentence":
        close = sts[sts["gold"].astype(float) >= 3.5]
        return [{**r, "b2": reviews[int(rng.integers(len(reviews)))]}
                for r in _perturbed_dev(close, rng, lambda s, _: s + " ")]
    raise KeyError(name)


GENERATORS = {"sst": _sst_cases, "quora": _quora_cases, "sts": _sts_cases}
CASE_COLUMNS = ["case", "task", "test", "kind", "s1", "s2", "b1", "b2", "origin", "lo", "hi", "direction", "tolerance"]


def make_suite(examples: Mapping[str, pd.DataFrame], tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Every case of every test of `tasks` (default: those in `examples`; SST's examples are
    needed too for STS's unrelated reviews), one row each: CASE_COLUMNS. The inputs of a case
    are (s1, s2) and, for INV and DIR, the perturbed (b1, b2); s2 and b2 are "" for SST. The
    whitespace that the "identity" perturbation adds to pick dev rows is stripped again."""
    rows = []
    for task in tasks or [t for t in GENERATORS if t in examples]:
        for test in tests_of(task):
            rng = np.random.default_rng([SEED, len(rows)])
            for k, row in enumerate(GENERATORS[task](test.name, examples, rng)):
                s1, s2 = row["s1"].strip(), row.get("s2", "").strip()
                b1 = row.get("b1", "").strip() if test.kind != MFT else ""
                b2 = row.get("b2", row.get("s2", "")).strip() if test.kind != MFT else ""
                rows.append({"case": f"{task}/{test.name}/{k:03d}", "task": task, "test": test.name,
                             "kind": test.kind, "s1": s1, "s2": s2, "b1": b1, "b2": b2,
                             "origin": row.get("origin", "template"), "lo": float(row.get("lo", test.lo)),
                             "hi": float(row.get("hi", test.hi)), "direction": int(row.get("direction", test.direction)),
                             "tolerance": test.tolerance})
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def suite_hash(suite: pd.DataFrame) -> str:
    text = suite[CASE_COLUMNS].to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- scoring and judging ---------------------------------------------------------------------

def decision_and_value(task: str, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(decision, value) per input from a predictor's outputs: SST (argmax class, expected class),
    Quora (label at 0.5, P(duplicate)), STS (score, score)."""
    spec = get_task(task)
    outputs = np.asarray(outputs, dtype=np.float64)
    if spec.multiclass:
        return outputs.argmax(axis=1).astype(np.float64), outputs @ np.arange(outputs.shape[1], dtype=np.float64)
    if spec.binary:
        return (outputs >= 0.5).astype(np.float64), outputs
    return outputs, outputs


def suite_inputs(suite: pd.DataFrame) -> dict[str, list]:
    """{task: the distinct inputs of its cases} (sentences for SST, pairs otherwise), in a fixed order."""
    out = {}
    for task, cases in suite.groupby("task", sort=False):
        has_b = cases["kind"].to_numpy() != MFT
        unique = list(dict.fromkeys(list(zip(cases["s1"], cases["s2"])) + list(zip(cases["b1"][has_b], cases["b2"][has_b]))))
        out[task] = unique if get_task(task).pair else [s for s, _ in unique]
    return out


def score_suite(suite: pd.DataFrame, outputs: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """decision_a, value_a, decision_b, value_b (NaN for an MFT's b) of every case, from a
    predictor's outputs for `suite_inputs(suite)` ({task: outputs}, as `score_tasks` returns)."""
    out = pd.DataFrame(index=suite.index, columns=["decision_a", "value_a", "decision_b", "value_b"], dtype=np.float64)
    for task, inputs in suite_inputs(suite).items():
        cases = suite[suite["task"] == task]
        decision, value = decision_and_value(task, outputs[task])
        where = {(x if get_task(task).pair else (x, "")): k for k, x in enumerate(inputs)}
        ia = np.array([where[x] for x in zip(cases["s1"], cases["s2"])])
        out.loc[cases.index, "decision_a"] = decision[ia]
        out.loc[cases.index, "value_a"] = value[ia]
        has_b = cases["kind"].to_numpy() != MFT
        if has_b.any():
            ib = np.array([where[x] for x in zip(cases["b1"][has_b], cases["b2"][has_b])])
            out.loc[cases.index[has_b], "decision_b"] = decision[ib]
            out.loc[cases.index[has_b], "value_b"] = value[ib]
    return out


def judge(suite: pd.DataFrame, outputs: pd.DataFrame) -> np.ndarray:
    """Whether each case passes (see the module docstring for each kind's rule)."""
    kind = suite["kind"].to_numpy()
    da, va = outputs["decision_a"].to_numpy(float), outputs["value_a"].to_numpy(float)
    db, vb = outputs["decision_b"].to_numpy(float), outputs["value_b"].to_numpy(float)
    regression = np.array([get_task(t).regression for t in suite["task"]], dtype=bool)
    with np.errstate(invalid="ignore"):
        mft = (da >= suite["lo"].to_numpy()) & (da <= suite["hi"].to_numpy())
        inv = np.where(regression, np.abs(vb - va) <= suite["tolerance"].to_numpy(), da == db)
        dir_ = (vb - va) * suite["direction"].to_numpy() > 0
    return np.select([kind == MFT, kind == INV, kind == DIR], [mft, inv, dir_], default=False)


# --- the stored tables -----------------------------------------------------------------------

BEHAVIOUR_DIR = "behaviour"
CASES_FILE = f"{BEHAVIOUR_DIR}/cases.parquet"
RESULTS_FILE = f"{BEHAVIOUR_DIR}/results.parquet"


def write_behaviour(tables_dir: Path, suite: pd.DataFrame, results: pd.DataFrame, provenance: dict) -> list[str]:
    """`behaviour/cases.parquet` (the suite) and `behaviour/results.parquet` (one row per variant
    and case: variant, case, decision_a, value_a, decision_b, value_b, passed); both carry the
    suite's hash, the results also each variant's checkpoint hash."""
    written = []
    for rel, frame, meta in ((CASES_FILE, suite, {"kind": "behaviour cases", "suite": provenance["suite"]}),
                             (RESULTS_FILE, results, {"kind": "behaviour results", **provenance})):
        _write_parquet(frame.reset_index(drop=True), meta, Path(tables_dir) / rel)
        written.append(str(Path(tables_dir) / rel))
    return written


def read_behaviour(tables_dir: Path, checkpoints: Mapping[str, str | None] | None = None
                   ) -> tuple[pd.DataFrame | None, pd.DataFrame | None, dict, list[str]]:
    """(cases, results, the results' provenance, problems). With `checkpoints` ({variant: hash},
    e.g. from the manifest), a variant whose results came from another checkpoint is left out
    with a problem; one with no checkpoint hash is kept (nothing to check it against)."""
    try:
        cases, case_meta = _read_parquet(Path(tables_dir) / CASES_FILE)
        results, provenance = _read_parquet(Path(tables_dir) / RESULTS_FILE)
    except TableError as error:
        missing = not (Path(tables_dir) / RESULTS_FILE).is_file()
        return None, None, {}, [f"no behavioural-test tables in {Path(tables_dir) / BEHAVIOUR_DIR}: run "
                                "`python -m analysis build`" if missing else str(error)]
    if case_meta.get("suite") != provenance.get("suite"):
        return None, None, {}, [f"{Path(tables_dir) / BEHAVIOUR_DIR}: the cases and the results are of different "
                                "suites; rebuild with `python -m analysis build`"]
    results, problems = drop_stale(results, provenance, checkpoints, "behavioural results")
    return cases, results, provenance, problems


def failure_rates(cases: pd.DataFrame, results: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row per (task, test, variant): kind, n, failed, rate and its Wilson interval (lo, hi;
    scipy's binomtest), tests in `TESTS` order."""
    joined = results.merge(cases[["case", "task", "test", "kind"]], on="case", how="inner")
    counts = joined.groupby(["task", "test", "kind", "variant"], sort=False, observed=True)["passed"] \
        .agg(n="size", passed="sum").reset_index()
    counts["failed"] = counts["n"] - counts["passed"]
    intervals = [binomtest(int(k), int(n)).proportion_ci(confidence, method="wilson")
                 for k, n in zip(counts["failed"], counts["n"])]
    counts["rate"] = counts["failed"] / counts["n"]
    counts["lo"] = [ci.low for ci in intervals]
    counts["hi"] = [ci.high for ci in intervals]
    order = {(t.task, t.name): k for k, t in enumerate(TESTS)}
    counts["order"] = [order.get(key, len(order)) for key in zip(counts["task"], counts["test"])]
    return counts.sort_values(["order", "variant"], kind="stable").drop(columns=["order", "passed"]) \
        .reset_index(drop=True)



@dataclass
class BehaviourTables:
    """The behavioural tests as the app reads them: the cases (indexed by case id), each variant's
    results, and the failure rates with their intervals."""
    cases: pd.DataFrame
    results: pd.DataFrame
    rates: pd.DataFrame


class BehaviouralTests(DerivedAnalysis):
    """The behavioural suite as a derived analysis: `behaviour/cases.parquet` and
    `behaviour/results.parquet`; its reading's data is a `BehaviourTables`."""
    name, title, uses_models = "behaviour", "Behavioural tests", True

    def build(self, a: Analysis, variants: Mapping[str, object], tables_dir: Path, log: Log) -> list[str]:
        """Run the suite on every variant. A model whose checkpoint and the suite are unchanged keeps
        its stored results; an ensemble is, per task, the mean of that task's members' outputs (the
        rule `Ensemble` applies) when they were scored in this run."""
        examples = {t: a.task(t).examples for t in a.tasks}
        suite = make_suite(examples, [t for t in examples if t != "sts" or "sst" in examples])
        if suite.empty:
            log("behavioural tests skipped: no dev examples to build them from")
            return []
        digest = suite_hash(suite)
        old_cases, old, provenance, _ = read_behaviour(tables_dir)
        old_hashes = provenance.get("variants", {}) if provenance.get("suite") == digest and old is not None else {}
        inputs = suite_inputs(suite)
        raw: dict[str, dict] = {}
        parts, hashes, scored_names = [], {}, []
        order = sorted(variants.items(), key=lambda item: bool(item[1].members))  # models first, then ensembles
        for name, variant in order:
            if old_hashes.get(name) == variant.checkpoint_hash:
                parts.append(old[old["variant"] == name])
                hashes[name] = variant.checkpoint_hash
                continue
            start = time.perf_counter()
            members = [m.name for m in variant.members]
            try:
                if members and all(m in raw for m in members):
                    outputs = ensemble_outputs(variant, raw, inputs)
                else:
                    outputs = variant.score_tasks(inputs)
            except Exception as error:  # one variant's fault must not cost the others their results
                log(f"behavioural tests: {name} failed ({type(error).__name__}: {error}); left out")
                continue
            raw[name], hashes[name] = outputs, variant.checkpoint_hash
            scored = score_suite(suite, outputs)
            table = scored.astype(np.float32)
            table.insert(0, "case", suite["case"].to_numpy())
            table.insert(0, "variant", name)
            table["passed"] = judge(suite, scored)
            parts.append(table.reset_index(drop=True))
            scored_names.append(name)
            log(f"behavioural tests: {name} scored in {time.perf_counter() - start:.1f} s")
        results = pd.concat(parts, ignore_index=True)
        written = write_behaviour(tables_dir, suite, results, {"suite": digest, "variants": hashes})
        counts = suite.groupby("task").size().to_dict()
        log(f"behavioural tests: {len(suite)} cases ({', '.join(f'{t} {n}' for t, n in counts.items())}) on "
            f"{len(hashes)} variants, {len(scored_names)} scored, the others up to date")
        return written
    def read(self, a: Analysis | None) -> Reading:
        if a is None:
            return Reading(problems=["no analysis tables"])
        cases, results, provenance, problems = read_behaviour(a.tables_dir, a.checkpoint_hashes())
        if cases is None or results is None or not len(results):
            return Reading(provenance=provenance, problems=problems)
        return Reading(BehaviourTables(cases.set_index("case", drop=False), results, failure_rates(cases, results)),
                       provenance, problems)

    def tasks(self, reading: Reading) -> list[str]:
        return [] if reading.data is None else list(dict.fromkeys(reading.data.rates["task"]))


ANALYSIS = BehaviouralTests()
