"""Every control does what it shows (issue 30): the Tests tab opens on failures, the Errors tab's
kind picker and task switch say what is applied, Compare says what it scored and what a dev
example is compared with, and a Compare link keeps its view. Plain functions first, then the app
served on localhost and driven through `gradio_client` (the tests/test_app.py pattern)."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest

pytest.importorskip("gradio")


from demo import behaviour_view as B  # noqa: E402
from demo import compare_view as C  # noqa: E402
from demo import errors_view as E  # noqa: E402
from demo.app_testing import local_client, serve  # noqa: E402
from minibert.tasks import task as get_task  # noqa: E402


@pytest.fixture(scope="module")
def app(ctx):
    with serve(ctx) as (url, demo):
        yield url, local_client(url), demo


def rows(table: dict) -> list[dict]:
    table = table["value"] if "headers" not in table and "value" in table else table
    return [dict(zip(table["headers"], r)) for r in table["data"]]


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


# --- Tests tab: it opens on the cell with the most failures --------------------------------------

def rates(*rows_: tuple) -> B.Behaviour:
    frame = pd.DataFrame(rows_, columns=["task", "test", "variant", "failed", "n"])
    return B.Behaviour(rates=frame, muted={"muted-one": {"sst": "no better than a baseline"}})


def test_the_most_failing_cell_by_hand():
    b = rates(("sst", "negation", "a", 0, 10), ("sst", "negation", "b", 3, 10), ("sst", "typo", "a", 5, 10),
              ("sst", "typo", "b", 5, 10), ("sst", "typo", "muted-one", 9, 10), ("quora", "swap", "a", 1, 10))
    assert B.most_failing(b, "sst") == ("typo", "a")  # the muted head's 9 say little; a tie goes to the first
    assert B.most_failing(b, "quora") == ("swap", "a")
    only_muted = rates(("sst", "negation", "a", 0, 10), ("sst", "typo", "muted-one", 2, 10))
    assert B.most_failing(only_muted, "sst") == ("typo", "muted-one")
    none = rates(("sst", "negation", "a", 0, 10), ("sst", "typo", "b", 0, 10))
    assert B.most_failing(none, "sst") == ("negation", "a")


def test_the_tests_tab_opens_and_switches_task_onto_failing_cases(app, ctx):
    _, client, demo = app
    b = B.Behaviour.load(ctx.analysis)
    first = b.tasks()[0]
    want = B.most_failing(b, first)
    assert int(b.rates.set_index(["task", "test", "variant"]).loc[(first, *want), "failed"]) > 0
    values = {c.elem_id: c.value for c in demo.blocks.values() if getattr(c, "elem_id", None) and hasattr(c, "value")}
    assert (values["tests-test"], values["tests-variant"]) == want
    assert len(values["tests-failing"]["data"]) > 0  # the first view lists failing cases
    for task in b.tasks():
        title = get_task(task).long_title
        _, _, test, variant, other = client.predict(title, api_name="/tests")
        assert (test["value"], variant["value"]) == B.most_failing(b, task)
        assert other["value"] == B.NO_OTHER  # a new task starts on one variant's failing cases
        shown, line = client.predict(title, test["value"], variant["value"], api_name="/failing_cases")
        failed = int(b.rates.set_index(["task", "test", "variant"]).loc[(task, test["value"], variant["value"]),
                                                                         "failed"])
        assert len(rows(shown)) == failed and (failed > 0 or not b.rates[b.rates["task"] == task]["failed"].any())


# --- Errors: the kind picker shows what is applied ----------------------------------------------

FILTERS = dict(task="Paraphrase (Quora)", variant="tiny-cls", kind="false positives", search="", min_words=0,
               max_words=0, other="(none)", relation="disagree with it", slice="(none)", cell="")


def test_a_comparison_or_a_cell_turns_the_kind_off_and_says_so(app, ctx):
    f = E.Filters(task="quora", variant="tiny-cls", kind="false positives", other="tiny-mean")
    query, notes = f.query()
    assert f.kind_off() and query.kind == "wrong" and query.filters().get("direction") is None
    assert any("error kind is off" in n for n in notes)
    assert not E.Filters(task="quora", variant="tiny-cls", kind="false positives").kind_off()

    _, client, _ = app
    shown, line, _, kind = client.predict(*{**FILTERS, "other": "tiny-mean"}.values(), api_name="/errors")
    assert kind["value"] == "wrong" and kind["interactive"] is False and "off" in kind["label"]
    assert "error kind is off: the comparison decides" in plain(line)
    shown, line, _, kind = client.predict(*{**FILTERS, "cell": "0,1"}.values(), api_name="/cell_click")
    assert kind["value"] == "wrong" and kind["interactive"] is False and "the confusion cell decides" in plain(line)
    # nothing decides instead: the picked kind is shown, can be changed, and is applied
    shown, line, _, kind = client.predict(*FILTERS.values(), api_name="/errors")
    assert kind["value"] == "false positives" and kind["interactive"] is True and "off" not in plain(line)
    import analysis as A

    assert f"**{len(A.errors(ctx.analysis, 'quora', 'tiny-cls', direction='fp')):,} rows**" in line


# --- Errors: switching task keeps the session's upload where it has predictions -----------------

def test_switching_task_keeps_an_upload_that_covers_it_and_says_why_one_does_not(ctx, tmp_path):
    from demo import uploads as U
    from demo.tabs.errors_tab import on_task
    from minibert.submission import write_submission

    a = ctx.analysis
    sst, sts = a.task("sst").examples, a.task("sts").examples
    files = [write_submission(tmp_path / "sst-dev-output.csv", "sst", sst["id"], [2] * len(sst)),
             write_submission(tmp_path / "sts-dev-output.csv", "sts", sts["id"], [2.5] * len(sts))]
    mine = U.read_upload(a, [str(p) for p in files], "mine")
    variant, kind, *_, note = on_task(a, mine, "Similarity (STS)", "mine")
    assert variant.value == "mine" and "mine" in [c[0] for c in variant.choices] and note == ""
    variant, *_, note = on_task(a, mine, "Paraphrase (Quora)", "mine")
    assert variant.value == E.best_variant(a, "quora") and "mine" not in [c[0] for c in variant.choices]
    assert "upload **mine** has no Paraphrase (Quora) predictions" in note and "Similarity (STS)" in note
    # a shipped variant picked: the new task's best, no note (as before)
    variant, *_, note = on_task(a, mine, "Similarity (STS)", "tiny-cls")
    assert variant.value == E.best_variant(U.joined(a, mine, "sts"), "sts") and note == ""
    U.forget(mine)


# --- Compare: what was scored is said ------------------------------------------------------------

def test_all_three_says_which_sentence_each_task_read():
    request, notes = C.parse_request("All three", "What a lovely film", "How do I sell a <b>business</b>?")
    assert request.tasks == ("sst", "quora", "sts") and request.b.startswith("How do I sell")
    said = " ".join(notes)
    assert "sentiment of Sentence A only" in said and "paraphrase and similarity of Sentence A with Sentence B" in said
    assert "How do I sell a &lt;b&gt;business&lt;/b&gt;?" in said and "<b>" not in said
    assert "question" not in said
    _, notes = C.parse_request("All three", "How do I start a business?", "How do I sell a business?")
    assert any("Sentence A is a question" in n for n in notes)
    # one task picked: nothing to spell out; a long B is quoted cut, with an ellipsis
    assert C.parse_request("Sentiment", "What a lovely film", "leftover")[1] == []
    _, notes = C.parse_request("All three", "fine", "x" * 500)
    assert "x" * (C.QUOTED_CHARS - 1) + "…" in notes[0] and "x" * C.QUOTED_CHARS not in notes[0]


def test_compare_shows_what_it_scored(app):
    _, client, _ = app
    summary, notes, *_ = client.predict("All three", "What a lovely film", "How do I sell a business?",
                                        ["tiny-cls", "tiny-mean"], api_name="/compare")
    assert "Scored: the sentiment of Sentence A only" in plain(notes) and "How do I sell a business?" in notes


# --- Map: a selection drawn on either map is listed and ringed on both ---------------------------

def test_a_selection_drawn_on_a_map_is_listed_and_held_as_a_value(app, ctx):
    """The page reports the dev rows a box or lasso caught (Plotly's customdata); the app keeps only
    rows that are points of that map, lists them with both maps' variants and rings them on both.
    The same event, as the page sends it, goes through `map_select` here."""
    pytest.importorskip("umap")
    from demo import embedding_map_view as M
    from demo.tabs import embedding_map_tab as T

    _, client, _ = app
    a = ctx.analysis
    m = M.EmbeddingMap.load(a)
    ids = a.task("sst").examples["id"].astype(str).to_numpy()
    mapped = m.tasks["sst"].ex["tiny-cross"]
    picked = sorted(int(r) for r in mapped[:3])
    out = client.predict("b", f"{picked[0]},{picked[1]}, {picked[2]},999999", "Sentiment (SST)", "error", "tiny-cls",
                         "tiny-cross", api_name="/map_select")
    _, _, _, plot_a, plot_b, table, line, _, *bounds = out
    assert [r["id"] for r in rows(table)] == [ids[r] for r in picked]  # 999999 is no point of the map
    assert "**3** SST examples selected on **tiny\\-cross**'s map (drawn on the map)" in line
    assert {"tiny-cls pred", "tiny-cross pred"} <= set(rows(table)[0]) and bounds == ["", "", "", ""]
    for plot in (plot_a, plot_b):
        assert json.loads(plot["plot"])["data"][-1]["name"] == "selected (3)"
    _, _, _, _, _, table, line, *_ = client.predict("a", "", "Sentiment (SST)", "gold label", "tiny-cls",
                                                    "tiny-cross", api_name="/map_select")
    assert not rows(table) and "Drag a box" in line  # an empty selection (a double-click) clears it
    *_, line, _, _, _, _, _ = client.predict("a", "1,x", "Sentiment (SST)", "gold label", "tiny-cls", "tiny-cross",
                                             api_name="/map_select")
    assert line.startswith("⚠") and "whole number" in line
    # the value itself: task, the map it was made on, the example ids; a new colour keeps it
    sel = M.drawn_selection(a, m, "sst", "tiny-cross", picked + [999999])
    assert sel.to_dict() == {"task": "sst", "variant": "tiny-cross", "ids": [ids[r] for r in picked],
                             "how": "drawn on the map"}
    *_, table, line, _, kept = T.show(a, m, sel, "Sentiment (SST)", "prediction", "tiny-mean", "tiny-cls", "", "", "",
                                      "")
    shown = table.value  # a Dataframe update: the rows with widths for their columns (a pair has two sentences)
    assert kept == sel and [row[shown["headers"].index("id")] for row in shown["data"]] == [ids[r] for r in picked]
    assert len(table.column_widths) == len(shown["headers"])
    *_, kept = T.show(a, m, sel, "Similarity (STS)", "gold label", "tiny-mean", "tiny-cls", "", "", "", "")
    assert kept is None  # another task: nothing of it is selected


# --- Links: Compare's view travels whole ---------------------------------------------------------

def test_a_compare_link_restores_task_sentences_and_variants_and_scores_them():
    from demo.tabs import compare_tab as T

    calls = []

    def rerun(*args):
        calls.append(args)
        return ("scored", "", "table", "p1", "p2", "p3")

    known = ["tiny-cls", "tiny-cross", "tiny-mean", "ensemble"]
    updates, said = T.restore_view(rerun, known, {"task": "sts", "a": "A man sings.", "b": "A man is singing.",
                                                  "variants": "tiny-mean,zzz,Not An Upload!,tiny-cls"})
    assert calls == [("Similarity", "A man sings.", "A man is singing.", ["tiny-cls", "tiny-mean"])]
    assert updates[0].value == "Similarity" and updates[1:3] == ["A man sings.", "A man is singing."]
    assert updates[3].value == ["tiny-cls", "tiny-mean"] and updates[4] == "scored"
    assert len(said) == 2 and "“zzz” to run here: left out. An uploaded variant is predictions only" in said[0]
    assert "uploaded" not in said[1]  # not a name an upload could have
    # a cut sentence is said to be cut; a hand-made longer one is cut at the same limit
    updates, said = T.restore_view(rerun, known, {"a": "x" * 900, "b": "y" * 10, "cut": "b"})
    assert updates[0].value == "All three" and updates[1] == "x" * T.LINK_CHARS and updates[3].value == known
    assert [s.split(" (")[0] for s in said] == [f"This link holds only the first {T.LINK_CHARS} characters of "
                                                 f"Sentence {k}" for k in "AB"]
    # an unknown task, and nothing to score: the fields are set, nothing runs
    calls.clear()
    updates, said = T.restore_view(rerun, known, {"task": "poetry", "variants": "zzz"})
    assert calls == [] and updates[0].value == "All three" and updates[3].value == known
    assert "No task “poetry” in Compare" in said[0] and "running all of them" in said[-1]


def test_a_link_cuts_long_text_at_its_limit_and_names_what_it_cut():
    import gradio as gr

    from demo.urlstate import Links, View

    with gr.Blocks():
        a, b, n = gr.Textbox(), gr.Textbox(), gr.Textbox()
        links = Links()
        links.register(View(tab="compare", label="Compare", fields={"a": a, "b": b, "n": n},
                            limits={"a": 5, "b": 5}))
    from urllib.parse import parse_qs

    query = parse_qs(links.query("compare", "abcdefgh", "abc", "longer than five"))
    assert query == {"tab": ["compare"], "a": ["abcde"], "b": ["abc"], "n": ["longer than five"], "cut": ["a"]}
    calls = []
    links.views["compare"].restore = lambda own: (calls.append(own) or [], [])
    links.restore({"tab": "compare", "a": "abcde", "cut": "a", "other": "x"})
    assert calls == [{"a": "abcde", "cut": "a"}]


def test_compare_says_when_a_link_would_cut_a_sentence():
    _, notes = C.parse_request("Sentiment", "w" * (C.LINK_CHARS + 1), "")
    assert any(f"first {C.LINK_CHARS:,} characters of Sentence A" in n for n in notes)
    assert not any("link" in n for n in C.parse_request("Sentiment", "w" * C.LINK_CHARS, "")[1])
