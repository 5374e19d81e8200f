"""Findings in the app (issue 31, criteria 1-3 and 6): the writer comes from the sign-in only, the
random draw is repeatable and kept, the error-analysis table's shares and Wilson intervals, its
CSV and LaTeX, and user text escaped where shown. Runs on the shipped analysis tables."""
import json
import types

import pytest
from gradio.oauth import OAuthProfile

import analysis
from analysis.uncertainty import wilson
from demo import findings_view as F
from demo.errors_view import parse_filters
from demo.tabs.findings_tab import Handlers
from findings import FindingsSettings, Store, Writer
from minibert.tasks import task as get_task

SST = get_task("sst").long_title


@pytest.fixture(scope="module")
def a():
    return analysis.load(None, None, False)


def space_handlers(a, tmp_path, instructors=""):
    settings = FindingsSettings.from_env({"SPACE_ID": "class/explorer", "MINIBERT_INSTRUCTORS": instructors},
                                         data_dir=tmp_path / "none", local_file=tmp_path / "f.sqlite")
    store = Store(settings.url)
    return Handlers(types.SimpleNamespace(findings=store, findings_settings=settings), a), store


def profile(name):
    return OAuthProfile({"preferred_username": name, "name": name.title(), "profile": "", "picture": ""})


def first_error(a, variant="pcgrad"):
    return F.error_ids(a, "sst", variant)[0]


def test_on_a_space_no_sign_in_cannot_write_and_a_typed_name_is_ignored(a, tmp_path):
    h, store = space_handlers(a, tmp_path)
    ex = first_error(a)
    message, _ = h.save(SST, ex, ["sarcasm"], "author=ben, ben", "I am ben", True, None, None)
    assert "Sign in with Hugging Face" in message
    assert sum(store.count().values()) == 0
    message, shown = h.save(SST, ex, ["sarcasm"], "ben", "written by ben", True, profile("ana"), None)
    assert "as ana" in message
    assert {r["author"] for r in store.rows("tags", Writer("x", moderator=True))} == {"ana"}
    assert {r["author"] for r in store.rows("notes", Writer("x", moderator=True))} == {"ana"}
    assert "sarcasm ×1" in shown


def test_one_user_cannot_change_anothers_tag_but_an_instructor_can(a, tmp_path):
    h, store = space_handlers(a, tmp_path, instructors="prof")
    h.save(SST, first_error(a), ["negation"], "", "", True, profile("ana"), None)
    tag = store.rows("tags", None)[0]
    ben = F.writer_for(h.settings, profile("ben"))
    with pytest.raises(Exception, match="only your own"):
        store.remove_tag(ben, tag["id"])
    prof = F.writer_for(h.settings, profile("prof"))
    assert prof.moderator
    store.remove_tag(prof, tag["id"])
    assert store.rows("tags", None) == []


def test_notes_are_escaped_where_shown(a, tmp_path):
    h, store = space_handlers(a, tmp_path)
    ex = first_error(a)
    _, shown = h.save(SST, ex, [], "<b>bold</b>", "<script>alert(1)</script> [link](http://x)", True,
                      profile("ana"), None)
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "[link](http" not in shown and "<b>" not in shown


def test_a_seeded_draw_repeats_and_is_kept(a, tmp_path):
    h, store = space_handlers(a, tmp_path)
    msg1, drawn1 = h.draw(SST, "pcgrad", 10, 42, profile("ana"), None)
    msg2, drawn2 = h.draw(SST, "pcgrad", 10, 42, profile("ana"), None)
    _, other = h.draw(SST, "pcgrad", 10, 43, profile("ana"), None)
    assert "seed 42" in msg1 and len(drawn1) == 10
    assert drawn1["id"].tolist() == drawn2["id"].tolist() != other["id"].tolist()
    errors = set(F.error_ids(a, "sst", "pcgrad"))
    assert set(drawn1["id"]) <= errors
    kept = store.rows("samples", None, variant="pcgrad")
    assert [s["seed"] for s in kept] == [42, 42, 43] and kept[0]["population"] == len(errors)
    msg, none = h.draw(SST, "pcgrad", 10, 42, None, None)
    assert "Sign in" in msg and none.empty


def test_the_error_analysis_table_has_wilson_shares_over_the_random_sample(a, tmp_path):
    h, store = space_handlers(a, tmp_path)
    _, drawn = h.draw(SST, "pcgrad", 20, 1, profile("ana"), None)
    ids = drawn["id"].tolist()
    for ex in ids[:6]:
        h.save(SST, ex, ["sarcasm"], "", "", True, profile("ana"), None)
    for ex in ids[4:9]:
        h.save(SST, ex, ["negation"], "", "", True, profile("ben"), None)
    table, basis, csv_path, latex, agree = h.table(SST, "pcgrad", None, None)
    assert "random sample of 20" in basis
    rows = table.set_index("tag")
    assert rows.loc["sarcasm", "count"] == 6 and rows.loc["negation", "count"] == 5
    assert rows.loc["(untagged)", "count"] == 11
    assert (rows.loc["sarcasm", "low"], rows.loc["sarcasm", "high"]) == pytest.approx(wilson(6, 20))
    assert rows.loc["sarcasm", "share"] == pytest.approx(0.3)
    assert open(csv_path).read().splitlines()[0] == "tag,count,share,low,high,examples"
    assert "\\toprule" in latex and "(untagged) & 11 & 55\\%" in latex
    # ana and ben both tagged ids[4:6]: ana said sarcasm, ben negation; items (2 examples x 2 tags)
    # all disagree, with each rater's yes-rate 1/2: kappa -1.
    assert agree.values.tolist() == [["ana", "ben", 2, pytest.approx(-1.0)]]


def test_hand_picked_tags_are_labelled_and_get_no_interval(a, tmp_path):
    h, _ = space_handlers(a, tmp_path)
    h.save(SST, first_error(a), ["100% sarcasm_&"], "", "", True, profile("ana"), None)
    table, basis, _, latex, _ = h.table(SST, "pcgrad", None, None)
    assert "hand-picked" in basis
    assert table["low"].isna().all()
    assert "100\\% sarcasm\\_\\&" not in latex  # not a starter tag: the checkbox value is dropped
    h.save(SST, first_error(a), [], "100% sarcasm_&", "", True, profile("ana"), None)
    _, _, _, latex, _ = h.table(SST, "pcgrad", None, None)
    assert "100\\% sarcasm\\_\\& & 1" in latex


def test_draw_is_seeded():
    ids = [str(i) for i in range(100)]
    assert F.draw(ids, 5, 7) == F.draw(ids, 5, 7) != F.draw(ids, 5, 8)
    assert len(set(F.draw(ids, 100, 1))) == 100 and F.draw(ids, 0, 1) == []


def test_an_errors_filter_is_saved_as_its_error_query(a, tmp_path):
    h, store = space_handlers(a, tmp_path)
    filters = (SST, "pcgrad", "too positive (pred > gold)", "not", 3, None, None, None, None, None, "", "", None)
    message, _ = h.save_slice("short negations", True, *filters, None, None)
    assert "Sign in" in message and store.rows("slices", None) == []
    message, picker = h.save_slice("short <b>negations</b>", True, *filters, profile("ana"), None)
    assert "Saved" in message and "<b>" not in message
    saved = store.rows("slices", None)[0]
    query = analysis.ErrorQuery.from_dict(json.loads(saved["query"]))
    expected, _ = parse_filters(a, *filters).query()
    assert query == expected and query.search == "not" and query.min_words == 3
    # the Errors slice picker offers it at once, marked, with its author
    assert "★ short <b>negations</b> · ana" in [label for label, _ in picker.choices]
    # the built-in buckets keep their values and show their labels (demo.glossary)
    assert any(v.startswith("all_wrong = ") for _, v in picker.choices)
    assert not any("all_wrong" in label for label, _ in picker.choices)
    _, listed = h.saved_list(None, None)
    assert listed["name"].tolist() == ["short <b>negations</b>"]


@pytest.mark.slow
def test_over_http_the_writer_comes_from_the_session_not_the_inputs(a, tmp_path):
    """Through the server: Gradio fills the handler's gr.OAuthProfile | None from the session (none
    here), so on a Space the save is refused whatever the inputs say; locally it is written as
    "local"."""

    from demo.app_testing import local_client, serve
    from demo.context import load_context

    ctx = load_context(tmp_path / "no-checkpoints")
    ex = first_error(a)
    for env, expect, author in (({"SPACE_ID": "class/explorer"}, "Sign in with Hugging Face", None),
                                ({}, "as local", "local")):
        ctx.findings_settings = FindingsSettings.from_env(env, data_dir=tmp_path / "none",
                                                          local_file=tmp_path / f"{bool(env)}.sqlite")
        ctx.findings = Store(ctx.findings_settings.url)
        with serve(ctx) as (url, _):
            client = local_client(url)
            message, _ = client.predict(SST, ex, ["sarcasm"], "ana", "by ana", True, api_name="/findings_save")
        assert expect in message
        authors = {r["author"] for r in ctx.findings.rows("tags", Writer("x", moderator=True))}
        assert authors == ({author} if author else set())


def test_cohen_kappa_on_cases_worked_by_hand():
    assert F.cohen_kappa([True, True, False, False], [True, True, False, False]) == 1.0
    # po = 3/4; pa = 1/2, pb = 1/4, pe = 1/2 * 1/4 + 1/2 * 3/4 = 1/2; kappa = (3/4 - 1/2) / (1/2) = 0.5
    assert F.cohen_kappa([True, True, False, False], [True, False, False, False]) == pytest.approx(0.5)
    assert F.cohen_kappa([], []) != F.cohen_kappa([], [])  # NaN: nothing to agree on


def test_with_the_database_unreachable_each_findings_action_says_so(a, tmp_path):
    settings = FindingsSettings.from_env({}, local_file=tmp_path / "unused.sqlite")
    store = Store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    h = Handlers(types.SimpleNamespace(findings=store, findings_settings=settings), a)
    ex = first_error(a)
    message, shown = h.save(SST, ex, ["sarcasm"], "", "a note", True, None, None)
    assert message.startswith("Not saved: Findings are unavailable")
    assert h.show(SST, ex, None, None).startswith("⚠ Findings cannot be read")
    assert h.draw(SST, "pcgrad", 5, 1, None, None)[0].startswith("Not saved")
    table, basis, csv_path, _, _ = h.table(SST, "pcgrad", None, None)
    assert table.empty and csv_path is None and basis.startswith("⚠ Findings cannot be read")
    # The rest of the analysis is untouched.
    assert len(F.error_ids(a, "sst", "pcgrad")) > 0


# --- the boxes under every example and selection (criterion 1) ---------------------------------

def local_handlers(a, tmp_path, env=None):
    settings = FindingsSettings.from_env(env or {}, data_dir=tmp_path / "none", local_file=tmp_path / "l.sqlite")
    store = Store(settings.url)
    return Handlers(types.SimpleNamespace(findings=store, findings_settings=settings), a), store


def test_the_example_box_follows_whatever_example_is_shown(a, tmp_path):
    h, _ = space_handlers(a, tmp_path)
    ex = first_error(a)
    box, task, ex_id = h.about({"task": "sst", "id": ex, "sentence1": "…"})  # a panel's state
    assert box.visible is True and ex in box.label and (task, ex_id) == (SST, ex)
    box, task, ex_id = h.about({"kind": "dev", "task": "sst", "id": ex})    # Compare's dev "before"
    assert box.visible is True and ex_id == ex
    for nothing in (None, {"kind": "previous", "task": "sst", "scores": {}}, {"task": "nope", "id": ex},
                    {"task": "sst", "id": ""}, "sst", {"task": "sst", "id": ["x"]}):
        box, task, ex_id = h.about(nothing)
        assert box.visible is False and (task, ex_id) == ("", "")


def selection(a, n=5):
    from demo.embedding_map_view import MapSelection

    return MapSelection("sst", "pcgrad", tuple(F.error_ids(a, "sst", "pcgrad")[:n]), "a box x 0…1, y 0…1")


def test_tagging_a_map_selection_asks_first_and_writes_only_on_confirm(a, tmp_path):
    h, store = space_handlers(a, tmp_path)
    sel = selection(a)
    message, pending, row = h.ask_selection(sel, ["sarcasm"], "irony", True, None, None)
    assert "Sign in" in message and pending is None and row.visible is False
    message, pending, row = h.ask_selection(sel, ["sarcasm"], "irony", True, profile("ana"), None)
    assert "Tag **5 examples**" in message and "“sarcasm”, “irony”" in message and row.visible is True
    assert sum(store.count().values()) == 0  # asking writes nothing
    message, pending, row = h.cancel()
    assert message.startswith("Cancelled") and pending is None and row.visible is False
    assert sum(store.count().values()) == 0
    _, pending, _ = h.ask_selection(sel, ["sarcasm"], "irony", True, profile("ana"), None)
    # the writer is the confirming session's: one that lost its sign-in writes nothing
    message, _, _ = h.confirm(pending, None, None)
    assert "Sign in" in message and sum(store.count().values()) == 0
    message, left, row = h.confirm(pending, profile("ana"), None)
    assert "Tagged 5 examples" in message and "10 new tag(s) as ana" in message and left is None and not row.visible
    tags = store.rows("tags", None)
    assert sorted({r["example_id"] for r in tags}) == sorted(sel.ids) and {r["author"] for r in tags} == {"ana"}
    assert {r["tag"] for r in tags} == {"sarcasm", "irony"}
    assert "0 new tag(s)" in h.confirm(pending, profile("ana"), None)[0]  # again: no duplicates
    assert h.confirm(None, profile("ana"), None)[0].startswith("Nothing to confirm")
    assert h.ask_selection(None, ["sarcasm"], "", True, profile("ana"), None)[1] is None
    assert h.ask_selection(sel, [], "", True, profile("ana"), None)[0].startswith("Choose a tag")


def test_tagging_an_errors_filter_asks_with_its_count_first(a, tmp_path):
    h, store = local_handlers(a, tmp_path)  # local: the one user writes without signing in
    filters = (SST, "pcgrad", "off by 2+ classes", "", None, None, None, None, None, None, "", "", None)
    message, pending, row = h.ask_filter([], "needs world knowledge, Label Error", True, None, *filters, None, None)
    query, _ = parse_filters(a, *filters).query()
    ids = set(analysis.errors(a, query)["id"].astype(str))
    assert f"Tag **{len(ids):,} examples** (the Errors filter)" in message and row.visible is True
    assert set(pending["ids"]) == ids and pending["tags"] == ["needs world knowledge", "label error"]
    message, _, _ = h.confirm(pending, None, None)
    assert f"{2 * len(ids):,} new tag(s) as local" in message
    assert {r["example_id"] for r in store.rows("tags", None)} == ids
    bad = (*filters[:11], "(a+)+", None)
    message, pending, row = h.ask_filter(["sarcasm"], "", True, None, *bad, None, None)
    assert pending is None and row.visible is False and "exponential" in message


def test_bulk_tagging_is_capped_and_off_where_writes_are_off(a, tmp_path, monkeypatch):
    h, store = local_handlers(a, tmp_path)
    monkeypatch.setattr(F, "MAX_BULK", 3)
    message, pending, _ = h.ask_selection(selection(a, 4), ["sarcasm"], "", True, None, None)
    assert "at most 3" in message and pending is None
    public, _ = local_handlers(a, tmp_path, {"GRADIO_SERVER_NAME": "0.0.0.0"})
    message, pending, _ = public.ask_selection(selection(a, 2), ["sarcasm"], "", True, None, None)
    assert "off on this public deployment" in message and pending is None
    assert sum(store.count().values()) == 0


def test_tag_text_is_escaped_where_shown(a, tmp_path):
    h, _ = space_handlers(a, tmp_path)
    ex = first_error(a)
    evil = "<img src=x onerror=alert(1)>, **bold** [x](http://e)"
    message, shown = h.save(SST, ex, [], evil, "", True, profile("ana"), None)
    assert "Saved 2 tag(s)" in message
    assert "<img" not in shown and "&lt;img" in shown and "**bold**" not in shown and "[x](http" not in shown
    message, _, _ = h.ask_selection(selection(a), [], evil, True, profile("ana"), None)
    assert "<img" not in message and "&lt;img" in message and "[x](http" not in message


def test_every_place_that_shows_a_dev_example_or_a_selection_has_its_box(ctx):
    """One builder, laid out by the page builder wherever a dev example or a selection is shown."""
    from demo.ui import build_demo

    demo = build_demo(ctx)
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    for prefix in ("compare", "example-card", "le-example-card", "why-example-card"):  # Compare, Errors, Label
        assert {f"{prefix}-findings", f"{prefix}-save", f"{prefix}-note"} <= ids     # errors, Why
    for prefix in ("map-bulk", "errors-bulk"):  # the Map's selection and an Errors filter: asked first
        assert {f"{prefix}-ask", f"{prefix}-confirm", f"{prefix}-cancel", f"{prefix}-confirm-row"} <= ids
    exports = next(c for c in demo.config["components"] if c.get("props", {}).get("elem_id") == "findings-exports")
    assert exports["props"]["visible"] is False  # the CSV and LaTeX boxes wait for a table
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"findings_save", "findings_confirm", "findings_ask_filter", "findings_ask_selection",
            "findings_save_slice", "findings_slices"} <= names
