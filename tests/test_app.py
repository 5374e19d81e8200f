"""The app as a user's program sees it: served on localhost, every endpoint called through
`gradio_client`, with tiny real checkpoints (one of them broken) and analysis tables built from
them. One server for the module; `python app.py` itself is started once in a subprocess."""
from __future__ import annotations

import csv
import os
import re
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

pytest.importorskip("gradio")

import analysis as A_  # noqa: E402
from demo import attributions as A  # noqa: E402
from demo import compare_view as C  # noqa: E402
from demo.app_testing import free_port, local_client, run_app_py, serve  # noqa: E402
from demo.context import load_context  # noqa: E402
from minibert import explain as X  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["tiny-cls", "tiny-cross", "tiny-mean"]
ALL_NAMES = MODELS + ["ensemble"]
PAIR = ("How do I start a small business?", "How do I sell a small business?")
ENDPOINTS = {"/compare", "/explain", "/metrics", "/confusion", "/errors", "/cell_click", "/export_csv",
             "/example", "/slices", "/model", "/upload"}


@pytest.fixture(scope="module")
def app(ctx):
    with serve(ctx) as (url, demo):
        yield url, local_client(url, download_files=str(Path(ctx.tables_dir).parent / "downloads"))


def data(table: dict) -> dict:
    """A Dataframe output: its value (an output that also updates the component's settings comes
    as {"value": ..., other settings})."""
    return table["value"] if "headers" not in table and "value" in table else table


def plain(markdown: str) -> str:
    """Markdown as read on screen: backslash escapes resolved."""
    return re.sub(r"\\(.)", r"\1", markdown)


def rows(table: dict) -> list[dict]:
    table = data(table)
    return [dict(zip(table["headers"], r)) for r in table["data"]]


def compare(client, task, a, b="", names=None):
    return client.predict(task, a, b, names or ALL_NAMES, api_name="/compare")


# --- start-up ---------------------------------------------------------------------------------

def test_context_loads_every_variant_and_lists_the_broken_one(ctx):
    assert list(ctx.variants) == ALL_NAMES  # models in name order, the ensemble last
    assert [f.name for f in ctx.failures] == ["broken-variant"]
    assert "not valid JSON" in ctx.failures[0].reason
    assert ctx.analysis is not None and set(ctx.analysis.tasks) == {"sst", "quora", "sts"}
    assert "4 variants loaded on cpu" in ctx.status_line() and "1 failed" in ctx.status_line()


def test_every_endpoint_is_named_and_the_failure_is_shown(app):
    url, client = app
    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert ENDPOINTS <= named
    config = httpx.get(url + "config", timeout=30).text
    assert "broken-variant" in config and "could not be loaded" in config


@pytest.mark.slow
@pytest.mark.subprocess
def test_app_py_starts_like_a_space(app_world):
    """`python app.py` with the Space's environment variables: serves on the given port, prints
    its start-up time and the variant that failed, and answers HTTP."""
    port = free_port()
    env = {**os.environ, "MINIBERT_CHECKPOINTS": str(app_world["checkpoints"]), "MINIBERT_TABLES": str(app_world["tables"]),
           "MINIBERT_DATA": str(app_world["data"]), "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    with run_app_py(ROOT, env, port) as (_, lines, _):
        out = "".join(lines)
        assert "4 variant(s)" in out and "start-up" in out, out
        assert "could not load broken-variant" in out, out


@pytest.mark.slow
def test_no_checkpoints_still_starts_and_says_so(tmp_path, app_world):
    ctx = load_context(tmp_path / "nothing-here", app_world["tables"], app_world["data"], device="cpu")
    assert ctx.variants == {} and ctx.failures == []
    with serve(ctx) as (url, _):
        config = httpx.get(url + "config", timeout=30).text
        assert "No variants to compare" in config
        # the Errors tab still works from the tables
        client = local_client(url)
        shown, line, *_ = client.predict("Sentiment (SST)", "(all variants)", "wrong", "", 0, 0, "(none)",
                                         "disagree with it", "(none)", "", api_name="/errors")
        assert "rows" in line


def test_no_tables_still_starts_and_says_what_to_run(tmp_path, app_world):
    ctx = load_context(app_world["checkpoints"], tmp_path / "no-tables", app_world["data"], device="cpu")
    with serve(ctx) as (url, _):
        config = httpx.get(url + "config", timeout=30).text
        assert "No dev-set predictions to analyse" in config and "python -m analysis build" in config
        summary, *_ = local_client(url).predict("Sentiment", "a fine film", "", ALL_NAMES, api_name="/compare")
        assert "**Sentiment**" in summary


# --- Compare ----------------------------------------------------------------------------------

def test_compare_all_three_tasks_side_by_side(app, ctx):
    _, client = app
    summary, notes, table, sst, quora, sts = compare(client, "All three", *PAIR)
    assert "**Sentiment**" in summary and "**Paraphrase**" in summary and "**Similarity**" in summary
    got = rows(table)
    assert [r["variant"] for r in got] == ALL_NAMES
    # the numbers are the prediction API's
    for r in got:
        v = ctx.variants[r["variant"]]
        assert r["P(duplicate)"] == pytest.approx(float(v.paraphrase([PAIR])[0]), abs=1e-3)
        assert float(r["Similarity (0-5)"].lstrip("⚠⊘ ")) == pytest.approx(float(v.similarity([PAIR])[0]), abs=1e-2)
        probs = v.sentiment([PAIR[0]])[0]
        assert r["Sentiment"].lstrip("⚠⊘ ").startswith(str(int(np.argmax(probs))))
    for chart in (sst, quora, sts):
        assert chart["visible"] is True and chart["value"].startswith('<table class="bar-chart">')
    assert "very negative" in sst["value"] and "threshold 0.5" in quora["value"]


def test_disagreeing_variants_are_marked(app, ctx):
    _, client = app
    _, _, table, *_ = compare(client, "All three", *PAIR)
    result = C.compare(ctx.variants, ALL_NAMES, "All three", *PAIR, ctx.trust())
    marked = {task: {r["variant"] for r in rows(table) if str(r[column]).startswith("⚠")}
              for task, column in (("sst", "Sentiment"), ("quora", "Paraphrase"), ("sts", "Similarity (0-5)"))}
    assert marked == {task: set(names) for task, names in result.disagree.items()}
    # the tiny variants split on PAIR's sentiment and paraphrase, so two empty sets cannot pass for a match
    assert marked["sst"] and marked["quora"]


def test_each_answer_shows_its_dev_record_and_muted_heads_do_not_vote(app, ctx):
    """The tiny tables mute tiny-cls's and tiny-cross's sentiment heads (no better than the majority
    class on the tiny dev set) and leave tiny-mean's: only tiny-mean votes."""
    _, client = app
    trust = ctx.trust()
    assert trust["tiny-cls"]["sst"].muted and trust["tiny-cross"]["sst"].muted and not trust["tiny-mean"]["sst"].muted
    summary, _, table, *_ = compare(client, "Sentiment", "a fine film")
    got = {r["variant"]: r for r in rows(table)}
    for name in ALL_NAMES:
        assert got[name]["SST dev"].lstrip("⊘ muted·").startswith(f"acc {trust[name]['sst'].value:.3f}")
    assert got["tiny-cls"]["Sentiment"].startswith("⊘") and got["tiny-cls"]["SST dev"].startswith("⊘ muted")
    assert not got["tiny-mean"]["Sentiment"].startswith("⊘")
    assert "member" in got["ensemble"]["SST dev"] and "tiny-cls" in got["ensemble"]["SST dev"]
    text = plain(summary)
    assert "(1 single variant voting)" in text and "Left out of the vote" in text
    assert f"tiny-cls ({trust['tiny-cls']['sst'].muted}" in text.replace("&quot;", '"')
    card, _ = client.predict("tiny-cls", api_name="/model")
    assert "Sentiment head muted" in card and "leaves it out of the verdict" in card


def test_one_task_and_a_subset_of_variants(app):
    _, client = app
    summary, _, table, sst, quora, sts = compare(client, "Similarity", *PAIR, names=["tiny-mean", "ensemble"])
    assert [r["variant"] for r in rows(table)] == ["tiny-mean", "ensemble"]
    assert set(data(table)["headers"]) == {"variant", "Similarity (0-5)", "STS dev"}
    assert sst["visible"] is False and quora["visible"] is False and sts["visible"] is True
    assert "Similarity" in summary and "Sentiment" not in summary


@pytest.mark.parametrize("a, b, expect", [
    ("", "", "Type a sentence"),
    ("   \n\t  ", "  ", "Type a sentence"),
])
def test_empty_input_gives_a_message(app, a, b, expect):
    _, client = app
    summary, notes, table, *plots = compare(client, "All three", a, b)
    assert expect in summary and table["visible"] is False
    assert all(p["visible"] is False for p in plots)


@pytest.mark.parametrize("text", [
    "word " * 2000,                                            # 10,000 characters
    "Loved every minute 😍🔥👍🏽",                                # emoji
    "הסרט היה נהדר ממש",                                         # right-to-left (Hebrew)
    "كان الفيلم رائعا",                                          # right-to-left (Arabic)
    "<script>alert('x')</script><b>bold</b> <img src=x onerror=alert(1)>",
    "\x00\x07 control characters \u200b\u202e reversed",
])
def test_awkward_input_is_scored_without_a_traceback(app, text):
    _, client = app
    summary, notes, table, sst, quora, sts = compare(client, "All three", text, text[::-1])
    assert "**Sentiment**" in summary and "error" not in summary.lower()
    assert len(rows(table)) == len(ALL_NAMES)
    assert "<script>" not in summary and "<img" not in summary  # user text is never echoed as HTML


def test_ten_thousand_characters_are_reported_as_cut(app):
    _, client = app
    summary, notes, *_ = compare(client, "Sentiment", "word " * 2000)
    assert "5,000 characters" in notes and "tokens" in notes


def test_pair_task_without_second_sentence(app):
    _, client = app
    summary, notes, table, *_ = compare(client, "Paraphrase", "Only one sentence here")
    assert "Sentence B" in summary and table["visible"] is False
    summary, notes, table, sst, quora, sts = compare(client, "All three", "Only one sentence here")
    assert "**Sentiment**" in summary and "Sentence B" in notes
    assert sst["visible"] and not quora["visible"] and not sts["visible"]


def test_attributions_are_escaped_highlighted_text(app, ctx):
    _, client = app
    out = client.predict(["tiny-cls"], "Sentiment", A.GRADIENT, "the <script>alert(1)</script> film", "",
                         api_name="/explain")
    assert "attr-tok" in out and "<script" not in out
    # whatever the vocabulary, tokens are escaped ("<" is [UNK] in the tiny one)
    segments = A.merge_wordpieces([("[CLS]", 0.1), ("<script>", 0.9), ("##x", 0.1), ("[SEP]", 0.5)])
    assert segments == [[("<script>x", 1.0)]]
    html_ = A._lines(segments, 1.0, True)
    assert "<script>" not in html_ and "&lt;script&gt;x" in html_
    pair = client.predict(["tiny-cross"], "Similarity", A.GRADIENT, *PAIR, api_name="/explain")
    assert pair.count('class="attr-line"') == 2  # sentence A and sentence B
    for name in ("tiny-cls", "tiny-mean", "tiny-cross"):  # cls / mean pooling, bi- and cross-encoder
        out = client.predict([name], "Paraphrase", A.ROLLOUT, *PAIR, api_name="/explain")
        assert "attention rollout" in out and out.count('class="attr-line"') == 2
    # the picker offers models only; the function itself explains why an ensemble has none
    assert "no single gradient" in A.explain(ctx.variants, ["ensemble"], "Sentiment", "a fine film", "")
    empty = client.predict(["tiny-cls"], "Paraphrase", A.GRADIENT, "one", "", api_name="/explain")
    assert "Sentence B" in empty


def panel_names(html_: str) -> list[str]:
    return re.findall(r'<div class="attr-head">([^<]+)', html_)


def test_attributions_of_several_variants_share_one_scale(app, ctx):
    _, client = app
    text = "the film was not good"
    out = client.predict(["tiny-cls", "tiny-mean", "tiny-cross"], "Sentiment", A.GRADIENT, text, "",
                         api_name="/explain")
    assert [n.strip() for n in panel_names(out)] == ["tiny-cls", "tiny-mean", "tiny-cross"]
    # one scale: the largest word weight of all three panels is full colour, and only it
    weights = {n: X.gradient_attribution(ctx.variants[n], "sst", text) for n in ("tiny-cls", "tiny-mean", "tiny-cross")}
    words = {n: A.merge_wordpieces(list(zip(a.tokens, a.weights))) for n, a in weights.items()}
    top = max(abs(w) for segs in words.values() for seg in segs for _, w in seg)
    assert f"full colour is ±{top:.3g}" in out
    assert out.count("rgba(33,102,172,0.85)") + out.count("rgba(230,97,1,0.85)") == 1
    # blue / orange, never red / green
    assert "192,57,43" not in out and "27,120,55" not in out
    five = {f"v{i}": ctx.variants["tiny-cls"] for i in range(5)}
    out = A.explain(five, list(five), "Sentiment", text, "", A.GRADIENT)
    assert "Only the first 4" in out and len(panel_names(out)) == 4


def test_by_default_the_two_that_disagree_most_are_explained(app, ctx):
    _, client = app
    text = "a dull and lifeless film"
    out = client.predict([], "Paraphrase", A.GRADIENT, text, PAIR[1], api_name="/explain")
    muted = {n for n in MODELS if ctx.trust()[n]["quora"].muted}
    candidates = [n for n in MODELS if n not in muted]
    candidates = candidates if len(candidates) >= 2 else MODELS
    p = {n: float(ctx.variants[n].paraphrase([(text, PAIR[1])])[0]) for n in candidates}
    expected = sorted(candidates, key=p.get)
    assert {n.strip() for n in panel_names(out)} == ({expected[0], expected[-1]} if len(candidates) > 1 else set(candidates))
    assert A.most_apart("sts", {"a": 1.0, "b": 4.0, "c": 2.0, "d": {"error": "x"}}, ["a", "b", "c", "d"]) == ["a", "b"]
    # SST: by the expected class, so "very negative" and "very positive" are furthest apart
    sst = {"neg": [1, 0, 0, 0, 0], "mid": [0, 0, 1, 0, 0], "pos": [0, 0, 0, 0, 1]}
    assert A.most_apart("sst", sst, ["mid", "neg", "pos"]) == ["neg", "pos"]


def test_the_default_method_leaves_one_word_out(app, ctx):
    _, client = app
    out = client.predict(["tiny-mean"], "Sentiment", "", "a good film", "", api_name="/explain")
    attr = X.leave_one_out(ctx.variants["tiny-mean"], "sst", "a good film")
    assert A.DEFAULT_METHOD == A.LOO and "leave one word out" in out and "alone is removed" in out
    assert f"full colour is ±{max(abs(w) for w in attr.weights):.3g}" in out


def test_integrated_gradients_on_request_with_their_completeness(app):
    _, client = app
    out = client.predict(["tiny-mean"], "Similarity", A.IG, *PAIR, api_name="/explain")
    gap = float(re.search(r"completeness gap ([\d.]+)%", out).group(1))
    assert "Integrated Gradients" in out and gap <= 5.0


@pytest.mark.slow
@pytest.mark.subprocess
def test_captum_is_not_imported_at_start_up(app_world):
    """The app starts without paying for captum: it is imported when Integrated Gradients runs."""
    import subprocess
    import sys

    code = ("import sys; from demo.context import load_context; from demo.ui import build_demo; "
            f"build_demo(load_context({str(app_world['checkpoints'])!r}, {str(app_world['tables'])!r}, "
            f"{str(app_world['data'])!r}, device='cpu')); print('captum' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]


def test_concurrent_clicks_are_queued_and_batched(app, ctx):
    """Six users click at once while a slow model call runs: every one gets its own answer, and
    the queued clicks reach the model together (one call per variant and task for all of them)."""
    _, client = app
    variant = ctx.variants["tiny-cls"]
    original = variant.score_tasks
    sizes: list[int] = []

    def slow_score(inputs):
        sizes.append(len(inputs["sst"]))
        time.sleep(0.3)
        return original(inputs)

    variant.score_tasks = slow_score
    try:
        texts = [f"the film number {i} was {'good' if i % 2 else 'bad'}" for i in range(6)]
        jobs = [client.submit("Sentiment", t, "", ["tiny-cls"], api_name="/compare") for t in texts]
        results = [j.result(timeout=120) for j in jobs]
    finally:
        variant.score_tasks = original
    for t, (_, _, table, *_) in zip(texts, results):
        got = rows(table)[0]
        assert int(got["Sentiment"].lstrip("⚠⊘ ")[0]) == int(np.argmax(variant.sentiment([t])[0]))
    assert max(sizes) > 1 and len(sizes) < len(texts), sizes


def test_batch_scoring_matches_one_at_a_time_and_the_ensemble(ctx):
    requests = [C.Request(("sst", "quora", "sts"), f"sentence {i}", f"other {i}") for i in range(3)]
    batched = C.score_requests(ctx.variants, ALL_NAMES, requests)
    for r, out in zip(requests, batched):
        for name in ALL_NAMES:
            v = ctx.variants[name]
            np.testing.assert_allclose(out["sst"][name], v.sentiment([r.a])[0], atol=1e-5)
            np.testing.assert_allclose(out["sts"][name], v.similarity([(r.a, r.b)])[0], atol=1e-5)
            np.testing.assert_allclose(out["quora"][name], v.paraphrase([(r.a, r.b)])[0], atol=1e-5)


def test_a_failing_variant_does_not_take_the_others_down(ctx):
    variant = ctx.variants["tiny-mean"]
    original = variant.score_tasks
    variant.score_tasks = lambda inputs: (_ for _ in ()).throw(RuntimeError("boom"))
    try:
        result = C.compare(ctx.variants, ["tiny-cls", "tiny-mean"], "Sentiment", "a fine film", "")
    finally:
        variant.score_tasks = original
    table = result.table.set_index("variant")
    assert "boom" in table.loc["tiny-mean", "Sentiment"]
    assert table.loc["tiny-cls", "Sentiment"][0].isdigit()


# --- Errors -----------------------------------------------------------------------------------

FILTERS = dict(task="Sentiment (SST)", variant="tiny-cls", kind="wrong", search="", min_words=0, max_words=0,
               other="(none)", relation="disagree with it", slice="(none)", cell="")


def errors(client, api="/errors", **changes):
    f = {**FILTERS, **changes}
    return client.predict(*f.values(), api_name=api)


def test_metrics_table_has_the_overall_score_and_the_quora_caveat(app, ctx):
    _, client = app
    table = client.predict(api_name="/metrics")
    assert "overall (CS224N)" in table["headers"] and "Quora acc*" in table["headers"]
    assert {r["variant"] for r in rows(table)} == set(ALL_NAMES)
    overall = [r["overall (CS224N)"] for r in rows(table)]
    assert overall == sorted(overall, reverse=True)


def test_confusion_and_diagnostic_plots(app):
    _, client = app
    grid, plot = client.predict("Sentiment (SST)", "tiny-cls", api_name="/confusion")
    grid = data(grid)
    assert len(grid["data"]) == 5 and len(grid["headers"]) == 6
    assert sum(sum(int(x) for x in r[1:]) for r in grid["data"]) == 24  # every dev example once
    assert "Reliability" in plot["plot"]
    grid, plot = client.predict("Similarity (STS)", "tiny-cls", api_name="/confusion")
    grid = data(grid)
    assert len(grid["data"]) == 6 and "predicted vs gold" in plot["plot"]
    grid, _ = client.predict("Paraphrase (Quora)", "(all variants)", api_name="/confusion")
    grid = data(grid)
    assert sum(sum(int(x) for x in r[1:]) for r in grid["data"]) == 24 * len(ALL_NAMES)


def test_error_table_filters(app, ctx):
    _, client = app
    a = ctx.analysis
    import analysis as A

    shown, line, *_ = errors(client)
    expected = A.errors(a, "sst", "tiny-cls")
    assert f"**{len(expected):,} rows**" in line and len(rows(shown)) == min(len(expected), 300)
    assert all(r["variant"] == "tiny-cls" and r["gold"] != r["predicted"] for r in rows(shown))
    # search, length and error kind
    shown, line, *_ = errors(client, search="the", max_words=5, kind="too positive (pred > gold)")
    expected = A.errors(a, "sst", "tiny-cls", search="the", max_words=5, direction="over")
    assert f"**{len(expected):,} rows**" in line
    assert all("the" in r["sentence"].lower() and r["words"] <= 5 for r in rows(shown))
    # disagreement between two variants
    shown, line, *_ = errors(client, task="Paraphrase (Quora)", other="tiny-mean", relation="are right where it is wrong")
    expected = A.errors(a, "quora", "tiny-cls", other="tiny-mean", relation="a_wrong_b_right")
    assert f"**{len(expected):,} rows**" in line and "tiny-mean predicted" in data(shown)["headers"]
    # a slice, all variants
    shown, line, *_ = errors(client, task="Similarity (STS)", variant="(all variants)", kind="all examples",
                             slice="negation = no negation")
    assert f"**{len(A.errors(a, 'sts', None, only_errors=False, slice=('negation', 'no negation'))):,} rows**" in line
    # nonsense never raises: it is named, with what is allowed, and nothing is shown
    shown, line, *_ = errors(client, kind="no such kind", slice="nope = nothing", other="tiny-cls")
    assert line.startswith("⚠ Unknown error kind 'no such kind': choose one of “wrong”") and not rows(shown)
    shown, line, *_ = errors(client, slice="nope = nothing")
    assert plain(line).startswith("⚠ Unknown slice 'nope = nothing': choose one of “(none)”")
    shown, line, *_ = errors(client, other="tiny-cls")  # compared with itself
    assert "compared with itself" in line
    shown, line, *_ = errors(client, min_words=-3)
    assert plain(line) == "⚠ Min words must be a whole number from 0 to 100,000, not -3." and not rows(shown)


def test_clicking_a_confusion_cell_filters_the_table(app, ctx):
    _, client = app
    import analysis as A

    cm = A.confusion(ctx.analysis, "sst", "tiny-cls")
    g, p = np.unravel_index(np.argmax(cm.to_numpy()), cm.shape)
    shown, line, cell_note = errors(client, api="/cell_click", cell=f"{g},{p}")[:3]
    assert f"**{int(cm.iloc[g, p]):,} rows**" in line and "cell:" in line
    assert all(r["gold"].startswith(str(g)) and r["predicted"].startswith(str(p)) for r in rows(shown))
    assert "Cell:" in cell_note


def test_csv_download_has_every_filtered_row(app, ctx):
    _, client = app
    import analysis as A

    path, note = client.predict(*{**FILTERS, "variant": "(all variants)", "kind": "all examples"}.values(),
                                api_name="/export_csv")
    path = path["value"] if isinstance(path, dict) else path
    assert note == ""
    with open(path, newline="") as handle:
        got = list(csv.DictReader(handle))
    assert len(got) == len(A.errors(ctx.analysis, "sst", None, only_errors=False))
    assert {"variant", "id", "gold", "pred", "sentence1"} <= set(got[0])


def test_one_example_across_variants_and_back_to_compare(app, ctx):
    _, client = app
    shown, *_ = errors(client, task="Similarity (STS)", kind="all examples")
    short_id = rows(shown)[0]["id"]
    card, table = client.predict("Similarity (STS)", short_id, api_name="/example")[:2]
    full = ctx.analysis.task("sts").examples
    example = full[full["id"].str.startswith(short_id)].iloc[0]
    assert example["id"] in card and "gold" in card
    import html as H

    assert H.escape(example["sentence1"]) in card
    assert [r["variant"] for r in rows(table)] == sorted(ALL_NAMES)
    card, *_ = client.predict("Sentiment (SST)", "no-such-id", api_name="/example")
    assert "no sst dev example" in card


def test_a_dev_example_keeps_its_id_gold_and_stored_predictions_in_compare(ctx):
    from demo import counterfactuals as CF
    from demo import errors_view as E

    a = ctx.analysis
    ex_id = str(a.task("sst").examples["id"].iloc[0])
    _, table, ex = E.example_view(a, "sst", ex_id)
    frame = A_.example_across_variants(a, "sst", ex_id).set_index("variant")
    assert ex["id"] == ex_id and ex["gold"] == int(frame["gold"].iloc[0])
    for name in ALL_NAMES:
        np.testing.assert_allclose(ex["outputs"][name], frame.loc[name, ["p0", "p1", "p2", "p3", "p4"]].astype(float))
    # rescored unchanged: every variant's answer now is the one stored in the tables
    result = C.compare(ctx.variants, ALL_NAMES, "Sentiment", ex["sentence1"], "", ctx.trust())
    now = result.scores()["outputs"]["sst"]
    assert all(CF.flipped("sst", ex["outputs"][n], now[n]) == "" for n in ALL_NAMES)
    # and opened so, it is the reference only: nothing was edited, so nothing is counted as flipped
    out = CF.changes_html(CF.dev_reference(ex), result.scores())
    assert ex_id in out and "Reference" in out and "flipped" not in out


# --- Slices and Models ------------------------------------------------------------------------

def test_slices_with_deltas_against_a_reference(app, ctx):
    _, client = app
    table, plot, doc = client.predict("Sentiment (SST)", "negation", "tiny-cls", "accuracy", api_name="/slices")
    got = rows(table)
    assert got[0]["bucket"] == "(all)" and "tiny-cls (reference)" in table["headers"]
    other = next(h for h in table["headers"] if h in ("tiny-cross", "tiny-mean"))
    value, delta = got[0][other].split("\n")
    assert re.fullmatch(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", value)  # with its 95 % interval
    assert re.fullmatch(r"Δ ([+-]\d\.\d{3}|0\.000) \[\S+, \S+\]", delta)  # paired interval of the difference
    assert "negation" in doc and plot["type"] == "plotly" and "not adjusted for multiple comparisons" in doc
    table, _, _ = client.predict("Sentiment (SST)", "negation", "tiny-cls", "accuracy", ["tiny-mean"], api_name="/slices")
    assert [h for h in table["headers"] if h not in ("bucket", "n")] == ["tiny-cls (reference)", "tiny-mean"]
    table, _, _ = client.predict("Similarity (STS)", "overlap", "ensemble", "mse", api_name="/slices")
    assert "ensemble (reference)" in table["headers"]


def test_the_slice_chart_lists_its_variants_in_the_tables_order(ctx):
    """The legend reads as the table's columns: the reference, then the variants as chosen."""
    from demo import slices_view as S

    a = ctx.analysis
    chosen = sorted(a.variants("sst"), reverse=True)  # not the analysis's own order
    reference = chosen[-1]
    for shown in (chosen, chosen[:-1]):  # the reference among the variants shown, or not
        styler, fig, _ = S.slice_view(a, "sst", "length", reference, "accuracy", shown)
        columns = [c.replace(" (reference)", "") for c in styler.data.columns if c not in ("bucket", "n")]
        assert [t.name.replace(" (reference)", "") for t in fig.data] == columns == [reference] + chosen[:-1]


def test_slice_cells_carry_intervals_shade_only_clear_differences_and_say_why_a_cell_is_empty(ctx):
    from analysis import uncertainty as U
    from demo import slices_view as S

    a = ctx.analysis
    assert S.default_variants(a, "sst", "tiny-cls")[0] == "tiny-cls"
    assert len(S.default_variants(a, "sst", "tiny-cls")) == min(1 + S.DEFAULT_OTHERS, len(a.variants("sst")))
    styler, _, notes = S.slice_table(a, "sts", "gold", "tiny-cls", "pearson", ["tiny-cls", "tiny-mean"])
    frame, css = styler.data, styler._compute().ctx  # (row, col) -> [(property, value)]
    assert all(n.endswith("⚠") for n in frame["n"])  # 24 examples: every bucket is under 100
    for i, b in enumerate(frame["bucket"]):
        cell = frame.loc[i, "tiny-mean"]
        tinted = any("color-mix" in v for _, v in css.get((i, 3), []))
        paired = a.intervals.delta("sts", "pearson", "tiny-mean", "tiny-cls", "gold", b)
        assert tinted == U.excludes_zero(paired)
        if cell.startswith("–"):
            assert any(note.startswith(f"{b},") for note in notes)
    _, _, doc = S.slice_view(a, "sts", "gold", "tiny-cls", "pearson", ["tiny-cls", "tiny-mean"])
    assert "restricted range" in doc and "not adjusted for multiple comparisons" in doc


def test_metrics_table_gives_each_metric_its_interval_and_the_paired_difference_from_the_reference(ctx):
    from demo import errors_view as E

    a = ctx.analysis
    frame = E.metrics_overview(a).data.set_index("variant")
    best = frame.index[0]
    assert frame.loc[best, f"Δ overall vs {best}"] == "(reference)"
    other = frame.index[1]
    # the interval on the line below its value: the table fits a desktop's width only so
    assert re.fullmatch(r"(-\d\.\d{3}|0\.000)\n\[\S+, \S+\]", frame.loc[other, f"Δ overall vs {best}"])
    assert re.fullmatch(r"\d\.\d{3}\n\[\d\.\d{3}, \d\.\d{3}\]", frame.loc[other, "SST acc"])
    assert re.fullmatch(r"\d\.\d{3}", frame.loc[other, "SST ECE"])  # no interval computed for ECE
    grid = E.confusion_grid(a, "sst", best)._compute().ctx
    gold_column = dict(grid[(0, 0)])
    assert gold_column["background-color"].startswith("var(") and gold_column["color"].startswith("var(")


def test_csv_file_name_says_which_rows_it_holds():
    from demo import errors_view as E

    name = E._file_name(E.Filters(task="quora", variant="tiny-cls", cell=(0, 1), other="tiny-mean",
                                  relation="are right where it is wrong", slice="negation = negation"))
    assert name == "errors-quora-tiny-cls-cell0-1-a-wrong-b-right-vs-tiny-mean-negation-negation.csv"
    assert E._file_name(E.Filters(task="sst", variant="tiny-cls", kind="too positive (pred > gold)", search="not")) \
        == "errors-sst-tiny-cls-too_positive-text-not.csv"


def test_models_tab_describes_each_variant(app, ctx):
    _, client = app
    card, curve = client.predict("tiny-cls", api_name="/model")
    assert "multitask baseline" in card.lower() or "minBERT" in card
    assert "Encoder fine-tuned" in card and "SST acc" in card
    assert "wall time of the whole run" in card  # train.py stores the whole run's, every epoch included
    assert "training curve" in curve["plot"] and "dev overall" in curve["plot"]
    card, curve = client.predict("ensemble", api_name="/model")
    assert "Members" in card and "no training curve" in curve["plot"]
    card, curve = client.predict("tiny-mean", api_name="/model")
    assert "no training history" in curve["plot"]


def test_reliability_diagram_draws_the_picked_variant_or_the_best_few(ctx, monkeypatch):
    import analysis as A
    from demo import errors_view as E

    a = ctx.analysis
    names = E.variants_of(a, "quora")

    def drawn(fig):
        return {t.name.split(" (ECE")[0] for t in fig.data[1:] if t.visible is True}

    fig = E.diagnostic_figure(a, "quora", "tiny-cls")
    assert [t.name.split(" (ECE")[0] for t in fig.data[1:]] == names  # every variant stays in the legend
    assert drawn(fig) == {"tiny-cls"}
    monkeypatch.setattr(E, "RELIABILITY_SHOWN", 2)
    accuracy = A.metrics_table(a, "quora")["accuracy"].astype(float).sort_values(ascending=False)
    assert drawn(E.diagnostic_figure(a, "quora", E.ALL_VARIANTS)) == set(accuracy.index[:2])


def test_a_variant_keeps_one_colour_across_charts_and_no_two_share_one(ctx):
    from demo import errors_view as E
    from demo import slices_view as S
    from demo.palette import variant_colors

    a = ctx.analysis
    colors = variant_colors([f"v{i}" for i in range(12)])
    assert len(set(colors.values())) == 12  # Plotly's default palette would repeat after 10
    reliability = {t.name.split(" (ECE")[0]: t.line.color for t in E.reliability_figure(a, "sst").data[1:]}
    slices = {t.name.replace(" (reference)", ""): t.marker.color
              for t in S.slice_figure(a, "sst", "length", "tiny-cls", "accuracy").data}
    assert reliability == slices == {v: variant_colors(a.variants())[v] for v in a.variants("sst")}


def test_every_chart_carries_plotly_white_for_its_own_trace_types_only(ctx):
    import json

    import plotly.io as pio

    from demo import errors_view as E
    from demo import slices_view as S
    from demo.models_view import training_curve

    white = pio.templates["plotly_white"].to_plotly_json()
    a = ctx.analysis
    charts = {"reliability": E.diagnostic_figure(a, "sst", "tiny-cls"), "sts": E.diagnostic_figure(a, "sts", "tiny-cls"),
              "slices": S.slice_figure(a, "sst", "length", "tiny-cls", "accuracy"),
              "curve": training_curve(ctx.variants["tiny-cls"])}
    for name, fig in charts.items():
        sent = json.loads(fig.to_json())  # what the page gets
        template = sent["layout"]["template"]
        assert isinstance(template, dict), name  # a template's name alone is ignored by plotly.js
        assert set(template["data"]) == {t["type"] for t in sent["data"]}, name
        assert template["layout"] == white["layout"], name
        assert len(json.dumps(template)) < len(json.dumps(white)) / 2, name


def test_models_tab_shows_the_metrics_of_what_ships_before_those_stored_at_training(ctx):
    import copy
    from types import SimpleNamespace

    import analysis as A
    from demo.models_view import details, overview

    overall = A.overall(ctx.analysis)
    config = copy.deepcopy(ctx.variants["tiny-cls"].config)
    config["metrics"]["dev"] = {"sst_acc": 0.111, "quora_acc": 0.222, "sts_pearson": 0.333, "overall": 0.444}
    shipped = copy.copy(ctx.variants["tiny-cls"])
    shipped.config = config
    untabled = SimpleNamespace(name="no-tables", config=config, members=())
    table = overview({"tiny-cls": shipped, "no-tables": untabled}, [], overall).set_index("variant")
    assert table.loc["tiny-cls", "SST acc"] == f"{overall.loc['tiny-cls', 'sst_accuracy']:.3f}" != "0.111"
    assert table.loc["no-tables", "SST acc"] == "0.111"
    card, _ = details({"tiny-cls": shipped}, "tiny-cls", overall)
    assert "from the dev-set prediction tables" in card and "0.111" not in card


def test_models_card_shows_the_seed_spread_and_learning_rates_tried(ctx):
    import copy

    from demo.models_view import details

    variant = copy.copy(ctx.variants["tiny-cls"])
    variant.config = copy.deepcopy(variant.config)
    card, _ = details({"tiny-cls": variant}, "tiny-cls")
    assert "Seed spread" not in card and "tried on dev" not in card
    metrics = ("sst_acc", "quora_acc", "sts_pearson", "overall")
    variant.config["training"]["seed_replicates"] = {"seeds": [1, 2, 3], "mean": dict.fromkeys(metrics, 0.5),
                                                     "sd": dict.fromkeys(metrics, 0.01)}
    variant.config["training"]["lr_tries"] = [{"lr": 5e-5, "shipped": True, "dev": {"overall": 0.7}},
                                              {"lr": 1e-4, "shipped": False, "dev": {"overall": 0.71}}]
    card, _ = details({"tiny-cls": variant}, "tiny-cls")
    assert "**Seed spread:** tiny-cls over 3 seeds (1, 2, 3): sst_acc 0.5000 ± 0.0100" in card
    assert ("**Learning rates tried on dev for tiny-cls (one seed each):** 5.0e-05 overall 0.7000 (shipped), "
            "1.0e-04 overall 0.7100") in card


def test_models_overview_says_when_a_run_was_cut_short_by_its_time_budget(ctx):
    import copy
    from types import SimpleNamespace

    from demo.models_view import overview

    config = copy.deepcopy(ctx.variants["tiny-cls"].config)
    config["recipe"]["epochs"] = 4
    config["history"] = config["history"][:1] or [{"epoch": 1}]
    config["training"]["stopped_early"] = "time budget of 60 s: 1 of 4 epochs run"
    cut = SimpleNamespace(name="cut", config=config, members=())
    whole = SimpleNamespace(name="whole", config={**config, "training": {**config["training"], "stopped_early": None}},
                            members=())
    table = overview({"cut": cut, "whole": whole}, []).set_index("variant")
    assert table.loc["cut", "trained"].startswith("1 of 4 (time budget) epochs")
    assert table.loc["whole", "trained"].startswith("1 epoch,")


# --- Upload (issue 20) ------------------------------------------------------------------------

def upload_files(ctx, folder: Path) -> dict[str, Path]:
    """An SST file (a third of the answers right) and an STS file for the tiny dev sets."""
    from minibert.submission import write_submission

    folder.mkdir(parents=True, exist_ok=True)
    sst = ctx.analysis.task("sst").examples
    gold = sst["gold"].astype(int).to_numpy()
    pred = np.where(np.arange(len(gold)) % 3 == 0, gold, (gold + 1) % 5)
    sts = ctx.analysis.task("sts").examples
    return {"sst": write_submission(folder / "sst-dev-output.csv", "sst", sst["id"], pred.tolist()),
            "sts": write_submission(folder / "sts-dev-output.csv", "sts", sts["id"],
                                    np.clip(sts["gold"].to_numpy() + 0.5, 0, 5).round(2).tolist())}


def upload(client, paths, name="mine", task="Sentiment (SST)"):
    from gradio_client import handle_file

    return client.predict([handle_file(str(p)) for p in paths], name, task, api_name="/upload")


def test_an_upload_is_this_sessions_variant_only(app, ctx, tmp_path):
    url, _ = app
    client, other = local_client(url), local_client(url)
    files = upload_files(ctx, tmp_path)
    n_sst = len(ctx.analysis.task("sst").examples)
    message, picker, _ = upload(client, files.values())
    right = np.mean(np.arange(n_sst) % 3 == 0)
    assert f"sst: {n_sst} of {n_sst} ids matched, accuracy {right:.3f}" in plain(message)
    assert "sts: " in message and "a reload (or closing the tab) forgets it" in message
    assert picker["value"] == "mine" and ["mine", "mine"] in picker["choices"]
    shown, line, *_ = errors(client, variant="mine", kind="wrong")
    assert f"{n_sst - int(np.sum(np.arange(n_sst) % 3 == 0))} rows" in plain(line)
    assert {r["variant"] for r in rows(shown)} == {"mine"}
    # the "another variant disagrees" filter and the all-variants view take it like a shipped one
    shown, line, *_ = errors(client, variant="tiny-cls", kind="all examples", other="mine", relation="disagree with it")
    gold = ctx.analysis.task("sst").examples["gold"].astype(int).to_numpy()
    mine = np.where(np.arange(n_sst) % 3 == 0, gold, (gold + 1) % 5)
    differ = int(np.sum(ctx.analysis.wide("sst")["tiny-cls"].to_numpy() != mine))
    assert plain(line).startswith(f"**{differ} rows**")
    metrics = {r["variant"]: r for r in rows(client.predict(api_name="/metrics"))}
    assert set(metrics) == set(ALL_NAMES) | {"mine"}
    assert float(re.match(r"[\d.]+", str(metrics["mine"]["SST acc"])).group()) == pytest.approx(right, abs=5e-4)
    # another visitor never sees it, and is told why the name is unknown
    assert "mine" not in {r["variant"] for r in rows(other.predict(api_name="/metrics"))}
    shown, line, *_ = errors(other, variant="mine")
    assert "uploaded in another browser tab" in plain(line) and "reload" in plain(line)


@pytest.mark.slow
def test_a_bad_upload_adds_nothing_and_says_why(app, ctx, tmp_path):
    from tests.test_imported import BAD_FILES, expected_parts

    url, _ = app
    client = local_client(url)
    good = upload_files(ctx, tmp_path / "good")
    ids = {t: list(ctx.analysis.task(t).examples["id"]) for t in ("sst", "quora", "sts")}
    upload(client, [good["sst"]], name="first")
    for case, name, make, expected in BAD_FILES:
        if case == "over 10 MB":
            continue  # Gradio refuses it before the app sees it: below
        bad = tmp_path / case.replace(" ", "-") / name
        bad.parent.mkdir()
        bad.write_bytes(make(good["sst"].read_text(), good["sts"].read_text(), ids))
        message, *_ = upload(client, [bad, good["sts"]], name="second")
        text = plain(message)
        assert "Nothing was added" in text and "earlier upload **first** is still in use" in text, (case, text)
        for part in expected_parts(expected, ids):
            assert part in text, (case, text)
    assert upload(client, [good["sst"]], name="tiny-cls")[0].count("taken by a variant") == 1
    assert "lowercase" in plain(upload(client, [good["sst"]], name="Bad Name")[0])
    names = {r["variant"] for r in rows(client.predict(api_name="/metrics"))}
    assert "first" in names and "second" not in names


def test_an_oversized_upload_is_refused_before_it_is_read(app, tmp_path):
    url, _ = app
    big = tmp_path / "sst-dev-output.csv"
    big.write_bytes(b"id \t Predicted_Sentiment \n" + b" " * (10 * 2**20 + 1))
    with pytest.raises(Exception, match="(?i)exceeds the maximum file size|413|too large"):
        upload(local_client(url), [big])


def test_uploads_off_removes_the_panel_and_its_endpoint(ctx, monkeypatch):
    from demo.ui import build_demo, launch_options

    monkeypatch.setenv("MINIBERT_UPLOADS", "0")
    demo = build_demo(ctx)
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert "upload" not in names and "errors" in names
    assert "max_file_size" not in launch_options()
    monkeypatch.setenv("MINIBERT_UPLOADS", "1")
    assert launch_options()["max_file_size"] == 10 * 2**20


# --- Label errors -----------------------------------------------------------------------------

def test_label_errors_ranked_with_evidence_and_exported(app, ctx):
    """The tiny world's build wrote SST and STS label-error tables (its Quora heads are all muted:
    no evidence, so no Quora table); the tab lists them by rank, filters, and exports the CSV."""
    _, client = app
    pytest.importorskip("cleanlab")
    shown, count, note = client.predict("Sentiment (SST)", "every example, ranked", "", 0, api_name="/label_errors")
    got = rows(shown)
    assert [r["rank"] for r in got] == list(range(1, len(ctx.analysis.task("sst").examples) + 1))
    assert {"gold", "suggested", "P(gold)", "variants against gold", "sentence", "id"} <= set(got[0])
    assert "Evidence from" in note and "ensemble" in note  # the ensemble is named as left out
    flagged, *_ = client.predict("Sentiment (SST)", "flagged as likely errors", "", 0, api_name="/label_errors")
    assert 0 < len(rows(flagged)) <= len(got)
    against, *_ = client.predict("Similarity (STS)", "every example, ranked", "", 1, api_name="/label_errors")
    assert all(int(r["variants off by > 1"].split()[0]) >= 1 for r in rows(against))
    path, msg = client.predict("Sentiment (SST)", "every example, ranked", "", 0, api_name="/label_errors_csv")
    path = path["value"] if isinstance(path, dict) else path
    with open(path, newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert msg == "" and len(exported) == len(got) and {"rank", "quality", "suggested", "sentence1"} <= set(exported[0])
    _, bad, _ = client.predict("Paraphrase (Quora)", "every example, ranked", "", 0, api_name="/label_errors")
    assert bad.startswith("⚠")


# --- Tests (behavioural) ----------------------------------------------------------------------

def test_behavioural_tests_grid_failing_cases_and_one_case(app, ctx):
    """The tiny world's build ran the behavioural suite on every variant; the tab shows each test's
    failure rate per variant with an interval, a variant's failing cases and one case's inputs."""
    _, client = app
    grid, note, *_ = client.predict("Sentiment (SST)", api_name="/tests")
    got = rows(grid)
    from analysis import behaviour as AB

    names = [r["test"] for r in got]  # tiny dev sentences hold no numbers: that test has no cases there
    assert names == [t.name for t in AB.tests_of("sst") if t.name in names] and len(names) >= 6
    columns = {c.removesuffix(" †"): c for c in got[0]}  # † marks a muted head (the tiny ones mostly are)
    assert {"kind", "cases", "ensemble", "tiny-cls"} <= set(columns)
    assert re.fullmatch(r"\d+%\n\(\d+%–\d+%\)", got[0][columns["tiny-cls"]])
    assert "Wilson" in note
    shown, line = client.predict("Paraphrase (Quora)", "questions swapped", "tiny-cross", api_name="/failing_cases")
    failed = int(re.search(r"fails \*\*(\d+) of", line).group(1))
    assert len(rows(shown)) == failed
    if failed:
        first = rows(shown)[0]
        assert " ‖ " in first["input"] and first["case"].startswith("quora/questions swapped/")
        card, *_ = client.predict(first["case"], api_name="/test_case")
        assert "perturbed" in card and "INV" in card
    _, bad = client.predict("Paraphrase (Quora)", "no such test", "tiny-cross", api_name="/failing_cases")
    assert bad.startswith("⚠")


# --- Map (embedding map) ----------------------------------------------------------------------

def test_map_lists_the_examples_in_a_box_and_rings_them_on_both_maps(app, ctx):
    """The tiny world's build projected every model's head inputs (not the ensemble's); a box on
    the first map lists exactly the examples whose points lie in it, and both maps ring them."""
    _, client = app
    pytest.importorskip("umap")
    from analysis.embedding_map import read_map

    points, provenance, _ = read_map(ctx.tables_dir)
    assert set(points["variant"]) == set(MODELS) and "ensemble" in provenance["left_out"]
    sst = points[(points["variant"] == "tiny-cls") & (points["task"] == "sst")]
    x0, x1 = float(sst["x"].quantile(0.2)), float(sst["x"].quantile(0.7))
    y0, y1 = float(sst["y"].min()), float(sst["y"].max())
    inside = sst[(sst["x"] >= x0) & (sst["x"] <= x1) & (sst["y"] >= y0) & (sst["y"] <= y1)]
    ids = ctx.analysis.task("sst").examples["id"].to_numpy()[inside["ex"].to_numpy()]
    out = client.predict("Sentiment (SST)", "error", "tiny-cls", "tiny-cross", x0, x1, y0, y1,
                         api_name="/embedding_map")
    _, _, _, plot_a, plot_b, table, line, note = out
    assert sorted(r["id"] for r in rows(table)) == sorted(ids) and f"**{len(ids)}**" in line
    assert {"tiny-cls pred", "tiny-cross pred", "gold"} <= set(rows(table)[0])
    assert "ensemble" in note and "UMAP" in note
    _, _, _, _, _, _, bad, _ = client.predict("Sentiment (SST)", "error", "tiny-cls", "tiny-cross", x0, None, None,
                                              None, api_name="/embedding_map")
    assert bad.startswith("⚠") and "all four bounds" in bad
    *_, quora_note = client.predict("Paraphrase (Quora)", "gold label", "tiny-mean", "tiny-cls", None, None, None,
                                    None, api_name="/embedding_map")
    assert "sample of 2,000" in quora_note and "optimistic" in quora_note
