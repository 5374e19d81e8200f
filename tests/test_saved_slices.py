"""Saved slices (issue 31, criterion 4): text rules in the shared error query (a whole word, a
regular expression under caps, a feature), a saved slice listed for who may see it, chosen in
Slices (its intervals computed then) and in Errors (a filter). Runs on the shipped tables."""
import json
import re

import numpy as np
import pytest

import analysis as A
from analysis.text_rules import check_regex, regex_mask
from demo import errors_view as E
from demo import saved_slices_view as SV
from demo.inputs import BadInput
from demo.tabs import slices_tab
from findings import Store, Writer, visible_slices
from minibert.tasks import task as get_task

SST = get_task("sst").long_title
NOT = r"\bn[o']t\b|n't\b"


@pytest.fixture(scope="module")
def a():
    return A.load(None, None, False)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'f.sqlite'}")
    yield s
    s.close()


def texts(a, task, mask):
    ex = a.task(task).examples
    return ex["sentence1"].astype(str)[mask].tolist()


@pytest.mark.parametrize("pattern, reason", [
    ("(a+)+b", "exponential"), (r"(\w*x)*y", "exponential"), (r"(?:\w+\s?)*$", "exponential"),
    (r"(a)\1", "backreference"), ("(?P<x>a)(?P=x)", "backreference"), ("x" * 201, "at most 200"),
    ("(unclosed", "not a valid regular expression")])
def test_dangerous_or_broken_patterns_are_refused_with_the_reason(pattern, reason):
    with pytest.raises(ValueError, match=reason):
        check_regex(pattern)
    with pytest.raises(ValueError, match=reason):
        A.ErrorQuery("sst", regex=pattern)


def test_a_pattern_that_runs_past_its_time_budget_is_stopped(a):
    ex = a.task("sst").examples
    with pytest.raises(ValueError, match="took more than"):
        regex_mask(ex, "movie", budget_s=0.0)
    assert regex_mask(ex, "movie").sum() > 0  # the same pattern within the default budget


def test_text_rules_select_what_they_say(a):
    td = a.task("sst")
    rows = A.errors(a, A.ErrorQuery("sst", kind="all", variant="pcgrad", word="not"))
    whole = re.compile(r"(?<!\w)not(?!\w)", re.IGNORECASE)
    assert len(rows) and all(whole.search(t) for t in rows["sentence1"])
    inside = [t for t in td.examples["sentence1"] if "not" in t.lower() and not whole.search(t)]  # "nothing"
    assert inside and not set(inside) & set(rows["sentence1"])
    matched = A.errors(a, A.ErrorQuery("sst", kind="all", variant="pcgrad", regex=NOT))
    assert len(matched) and all(("not" in t.lower()) or ("n't" in t.lower()) for t in matched["sentence1"])
    from analysis.why.features import task_features

    contrast = next(p for p in task_features(td, a.tables_dir, a.data_dir).predicates if p.name == "contrast: yes")
    by_feature = A.errors(a, A.ErrorQuery("sst", kind="all", variant="pcgrad", feature=("contrast", "yes")))
    assert sorted(by_feature["id"]) == sorted(td.examples["id"][contrast.mask])
    with pytest.raises(KeyError, match="no feature"):
        A.errors(a, A.ErrorQuery("sst", kind="all", variant="pcgrad", feature=("contrast", "maybe")))


def test_the_query_with_text_rules_round_trips_and_nests_only_so_deep(a):
    inner = A.ErrorQuery("sst", kind="all", regex=NOT)
    q = A.ErrorQuery("sst", "pcgrad", word="film", feature=("contrast", "yes"), within=inner, min_words=5)
    assert A.ErrorQuery.from_dict(json.loads(json.dumps(q.to_dict()))) == q
    assert q.by_predictions() and not inner.by_predictions()
    rows = A.errors(a, q)
    assert set(rows["id"]) <= set(A.errors(a, inner)["id"])
    deep = {"task": "sst"}
    for _ in range(A.queries.MAX_WITHIN + 1):
        deep = {"task": "sst", "within": deep}
    with pytest.raises(ValueError, match="nest at most"):
        A.ErrorQuery.from_dict(deep)
    with pytest.raises(ValueError, match="on sts, not on sst"):
        A.ErrorQuery("sst", within=A.ErrorQuery("sts"))


def test_saved_slices_are_listed_for_who_may_see_them(store):
    ana, ben, prof = Writer("ana"), Writer("ben"), Writer("prof", moderator=True)
    store.save_slice(ana, "negations", "sst", A.ErrorQuery("sst", kind="all", regex=NOT).to_dict())
    store.save_slice(ben, "mine only", "sst", A.ErrorQuery("sst", word="film").to_dict(), shared=False)
    store.save_slice(ben, "pairs", "sts", A.ErrorQuery("sts").to_dict())
    names = {who: [r["name"] for r in visible_slices(store, who, "sst")] for who in (None, ana, ben, prof)}
    assert names == {None: ["negations"], ana: ["negations"], ben: ["negations", "mine only"],
                     prof: ["negations", "mine only"]}
    assert [r["name"] for r in visible_slices(store, None)] == ["negations", "pairs"]
    [got], problems = A.saved_slices(visible_slices(store, None, "sst"))  # as the pickers and the report read them
    assert problems == [] and got.author == "ana" and got.query.regex == NOT
    assert visible_slices(None, ana) == []
    # the same rows, offered in the pickers: what this user may see, and no more
    assert [label for label, _ in SV.choices(store, ana, "sst")] == ["★ negations · ana"]
    assert [label for label, _ in SV.choices(store, ben, "sst")] == ["★ negations · ana", "★ mine only · ben"]


def test_a_saved_regex_slice_in_slices_has_its_intervals(a, store):
    store.save_slice(Writer("ana"), "negations <i>", "sst", A.ErrorQuery("sst", kind="all", regex=NOT).to_dict())
    [(label, value)] = SV.choices(store, None, "sst")
    assert label == "★ negations <i> · ana"
    reference = E.best_variant(a, "sst")
    table, _, doc = slices_tab.view(a, SST, value, reference, "accuracy", [reference, "frozen-cls"])
    shown = table.data.set_index("bucket")
    member = SV.members(a, "sst", SV.decode(value, "sst").query)
    n = int(member.sum())
    assert 0 < n < len(member) and shown.loc["in the slice", "n"].startswith(f"{n:,}")
    # the reference's accuracy on the slice, with its Wilson interval computed now
    td = a.task("sst")
    correct = td.correct[member, td.variant_index(reference)]
    lo, hi = A.wilson(int(correct.sum()), n)
    cell = shown.loc["in the slice", f"{reference} (reference)"]
    assert cell == f"{A.metric(correct.mean())} {A.interval((lo, hi))}"
    assert "Δ" in shown.loc["in the slice", "frozen-cls"] and "[" in shown.loc["in the slice", "frozen-cls"]
    assert "saved by ana" in doc and "<i>" not in doc and "bootstrapped when it is chosen" in doc
    assert "chosen by predictions" not in doc  # a text rule over all examples
    # computed once, then shared (every user who opens it); another metric is computed anew
    again = slices_tab.view(a, SST, value, reference, "accuracy", [reference, "frozen-cls"])[0]
    assert again is table
    other = slices_tab.view(a, SST, value, reference, "macro_f1", [reference, "frozen-cls"])[0]
    assert other is not table and "macro_f1" not in other.data.columns
    assert "[" in other.data.set_index("bucket").loc["in the slice", f"{reference} (reference)"]


def test_a_slice_chosen_by_predictions_says_so(a, store):
    store.save_slice(Writer("ana"), "pcgrad errors", "sst", A.ErrorQuery("sst", "pcgrad").to_dict())
    [(_, value)] = SV.choices(store, None, "sst")
    _, _, doc = slices_tab.view(a, SST, value, "pcgrad", "accuracy", None)
    assert "chosen by predictions" in doc


def test_a_saved_slice_is_a_filter_in_errors(a, store):
    store.save_slice(Writer("ana"), "negations", "sst", A.ErrorQuery("sst", kind="all", regex=NOT).to_dict())
    [(_, value)] = SV.choices(store, None, "sst")
    f = E.parse_filters(a, SST, "pcgrad", "wrong", "", None, None, None, None, value, None)
    _, line, rows = E.filter_table(a, f)
    member_ids = set(a.task("sst").examples["id"][SV.members(a, "sst", SV.decode(value, "sst").query)])
    expected = A.errors(a, "sst", "pcgrad", regex=NOT)
    assert len(rows) == len(expected) > 0 and set(rows["id"]) <= member_ids
    assert f"**{len(expected):,} rows**" in line
    # saved again, the filter keeps the saved slice inside it
    query, _ = f.query()
    assert query.within == SV.decode(value, "sst").query


def test_a_bad_regex_or_saved_value_in_errors_is_a_message_not_a_crash(a):
    # refused where the filters are read, so the table, the CSV export and a cell click all say so
    for pattern, why in (("(a+)+", "exponential"), ("**bold**", "nothing to repeat"), ("(x", "missing")):
        with pytest.raises(BadInput, match=why):
            E.parse_filters(a, SST, "pcgrad", "wrong", "", None, None, None, None, None, None, "", pattern)
    for bad in ("{not json", json.dumps({"saved": "x", "by": "y", "query": {"task": "sst", "nope": 1}}),
                json.dumps({"saved": "x", "by": "y", "query": {"task": "sts"}}), "{" + " " * SV.MAX_VALUE):
        with pytest.raises(BadInput):
            E.parse_filters(a, SST, "pcgrad", "wrong", "", None, None, None, None, bad, None)


def test_members_marks_each_example_once(a):
    member = SV.members(a, "sst", A.ErrorQuery("sst", kind="all", regex=NOT))
    assert member.dtype == bool and member.shape == (len(a.task("sst").examples),)
    got = texts(a, "sst", member)
    assert got and all(("not" in t.lower()) or ("n't" in t.lower()) for t in got)
    assert np.array_equal(member, SV.members(a, "sst", A.ErrorQuery("sst", kind="all", regex=NOT)))


def test_the_errors_feature_picker_offers_features_when_opened_and_filters_by_one(a):
    from demo.tabs.errors_tab import feature_picker

    picker = feature_picker(a, SST, "contrast: yes")
    offered = [value for _, value in picker.choices]
    assert offered[0] == E.NO_FEATURE and "contrast: yes" in offered and picker.value == "contrast: yes"
    assert not any(v.startswith("length:") for v in offered)  # the built-in slices are in the slice picker
    f = E.parse_filters(a, SST, "pcgrad", "wrong", "", None, None, None, None, None, None, "", "", "contrast: yes")
    _, _, rows = E.filter_table(a, f)
    assert len(rows) == len(A.errors(a, "sst", "pcgrad", feature=("contrast", "yes"))) > 0
    with pytest.raises(BadInput, match="Unknown feature"):
        E.parse_filters(a, SST, "pcgrad", "wrong", "", None, None, None, None, None, None, "", "", "made up: yes")
