"""Saved slices in the "why" report: tested inside against outside like the automatic slices, but
adjusted among themselves and reported apart as hypotheses; read from a real findings store by
the app (per user) and by the CLI (`--saved`)."""

import json

import numpy as np
import pytest

import analysis as A
from analysis.__main__ import main
from analysis.synthetic import make_data_dir, make_tables
from analysis.uncertainty import adjust_bh, slice_tests
from analysis.why import SavedSlice, saved_slices, why_report
from findings import Store, Writer, visible_slices


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("why-saved")
    make_data_dir(root / "data", {"sst": 120, "quora": 400, "sts": 120})
    make_tables(root / "tables", root / "data", variants=("a", "b", "c"))
    return root


@pytest.fixture(scope="module")
def loaded(world):
    return A.load(world / "tables", world / "data", checkpoints=False)


def _words(td) -> np.ndarray:
    return td.examples["words"].to_numpy()


def test_saved_slices_are_tested_apart_and_adjusted_among_themselves(loaded):
    td = loaded.task("quora")
    cut = int(np.median(_words(td)))
    saved = [SavedSlice("long ones", A.ErrorQuery("quora", min_words=cut), "ann"),
             SavedSlice("says not", A.ErrorQuery("quora", variant="a", search="not"), "bob"),
             SavedSlice("another task", A.ErrorQuery("sts", min_words=3))]
    plain = why_report(loaded, "quora", "a", "b")
    r = why_report(loaded, "quora", "a", "b", saved=saved)
    # the automatic search is untouched: same slices, same count, same adjusted p-values
    assert r.tested == plain.tested and [f.p_adjusted for f in r.findings] == [f.p_adjusted for f in plain.findings]
    assert r.saved["saved"] == 2 and r.saved["tested"] == 2  # the STS slice is no hypothesis about Quora
    # each by hand: the per-example gap inside against outside, the query's example filters only
    d = td.correct[:, td.variant_index("a")].astype(float) - td.correct[:, td.variant_index("b")]
    masks = np.stack([_words(td) >= cut, td.examples["text"].str.contains("not").to_numpy()], axis=1)
    st = slice_tests(d, masks)
    by_name = {h.name: h for h in r.hypotheses}
    for k, name in enumerate(("long ones", "says not")):
        h = by_name[name]
        assert h.n == st["n"][k] and h.effect == pytest.approx(st["effect"][k]) and h.p == pytest.approx(st["p"][k])
        assert h.p_adjusted == pytest.approx(adjust_bh(st["p"])[k])  # BH over these two, not over the search
    assert "left out: a's wrong rows" in by_name["says not"].definition  # the part that selects by answers
    q = A.ErrorQuery.from_dict(by_name["long ones"].query["error_query"])
    assert (q.variant, q.other, q.min_words) == ("a", "b", cut)
    # reported apart, labelled as hypotheses, in the Markdown and the JSON
    text = r.to_markdown()
    assert "## Saved slices: hypotheses, not findings" in text and "apart from the automatic ones" in text
    assert text.index("## Where the gap lives") < text.index("## Saved slices")
    data = json.loads(r.to_json())
    assert {h["name"] for h in data["hypotheses"]} == {"long ones", "says not"}
    assert data["saved"]["correction"].startswith("Benjamini-Hochberg within the saved slices")
    assert all(f["name"] not in ("long ones", "says not") for f in data["findings"])


def test_a_planted_gap_in_a_saved_slice_is_found(loaded):
    td = loaded.task("quora")
    ia, ib = td.variant_index("a"), td.variant_index("b")
    kept = td.pred[:, ib].copy(), td.correct[:, ib].copy(), td.score[:, ib].copy()
    cut = int(np.median(_words(td)))
    inside = _words(td) >= cut
    try:  # b is a, except that it loses half of a's right answers among the long examples
        td.pred[:, ib], td.correct[:, ib], td.score[:, ib] = td.pred[:, ia], td.correct[:, ia], td.score[:, ia]
        lost = np.flatnonzero(inside & td.correct[:, ia])[::2]
        td.pred[lost, ib] = 1 - td.pred[lost, ia]
        td.score[lost, ib] = 1 - td.score[lost, ia]
        td.correct[lost, ib] = False
        r = why_report(loaded, "quora", "a", "b", saved=[
            SavedSlice("long", A.ErrorQuery("quora", min_words=cut)),
            SavedSlice("short", A.ErrorQuery("quora", max_words=cut - 1))])
    finally:
        td.pred[:, ib], td.correct[:, ib], td.score[:, ib] = kept
    long, short = (next(h for h in r.hypotheses if h.name == n) for n in ("long", "short"))
    assert long.effect > 0 and long.p_adjusted < 0.05 and long.lo > 0
    assert short.effect < 0  # the complement: the same split seen from the other side
    assert long.share == pytest.approx(1.0)  # every one of b's extra errors lies inside
    assert r.saved["discoveries"] == 2


def test_a_saved_slice_that_cannot_be_tested_says_why(loaded):
    r = why_report(loaded, "quora", "a", "b", saved=[
        SavedSlice("a's errors", A.ErrorQuery("quora", variant="a")),
        SavedSlice("nowhere", A.ErrorQuery("quora", search="zzz-no-such-text")),
        SavedSlice("gone slice", A.ErrorQuery("quora", slice=("no-such-slice", "x")))])
    assert r.hypotheses == [] and r.saved["tested"] == 0
    why = {u["name"]: u["why"] for u in r.saved["untested"]}
    assert "no text, length, feature or slice part" in why["a's errors"] and "a's wrong rows" in why["a's errors"]
    assert "0 examples inside" in why["nowhere"] and "no-such-slice" in why["gone slice"]
    assert "not tested" in r.to_markdown()


def test_user_text_is_inert_in_the_markdown(loaded):
    cut = int(np.median(_words(loaded.task("quora"))))
    r = why_report(loaded, "quora", "a", "b",
                   saved=[SavedSlice("**bold** [x](http://e.com) <b>", A.ErrorQuery("quora", min_words=cut))])
    section = r.to_markdown().split("## Saved slices")[1]
    assert "**bold**" not in section and "[x](http" not in section and "<b>" not in section
    assert r"\*\*bold\*\*" in section


def test_the_latex_export_has_the_saved_slices_as_a_table_of_hypotheses(loaded):
    from analysis.why.text import latex_table

    cut = int(np.median(_words(loaded.task("quora"))))
    plain = latex_table(why_report(loaded, "quora", "a", "b"))
    assert plain.count(r"\begin{tabular}") == 1 and "hypotheses" not in plain
    r = why_report(loaded, "quora", "a", "b", saved=[SavedSlice("50% long & more_", A.ErrorQuery("quora", min_words=cut))])
    tex = latex_table(r)
    assert tex.startswith(plain)  # the automatic findings first, unchanged
    second = tex[len(plain):]
    assert second.count(r"\begin{tabular}") == 1 and second.count(r"\end{tabular}") == 1
    # labelled where the reader sees it (a row of the table, not only a comment) and adjusted apart
    title = next(line for line in second.splitlines() if line.startswith(r"\multicolumn"))
    assert "hypotheses, not findings" in title and "within the 1 saved" in title
    h = r.hypotheses[0]
    assert rf"50\% long \& more\_ & {h.n} & {h.effect:+.3f}" in second  # the user's text escaped


def test_saved_slices_read_from_the_store_rows(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'f.sqlite'}")
    ann, bob = Writer("ann"), Writer("bob")
    store.save_slice(ann, "ann's long", "quora", A.ErrorQuery("quora", min_words=12).to_dict())
    store.save_slice(bob, "bob's own", "quora", A.ErrorQuery("quora", search="why").to_dict(), shared=False)
    found, problems = saved_slices(visible_slices(store, ann, task="quora"))  # bob's private one is not ann's
    assert [(s.name, s.author, s.query.min_words) for s in found] == [("ann's long", "ann", 12)] and problems == []
    found, problems = saved_slices([{"name": "broken", "query": '{"task": "quora", "nope": 1}'}])
    assert found == [] and "broken" in problems[0]


def test_the_app_tests_the_slices_its_user_may_see(loaded, tmp_path):
    from demo import why_view as W
    from demo.findings_view import saved_for_why
    from findings import FindingsSettings

    store = Store(f"sqlite:///{tmp_path / 'f.sqlite'}")
    settings = FindingsSettings.from_env(env={"SPACE_ID": "someone/explorer"})
    cut = int(np.median(_words(loaded.task("quora"))))
    store.save_slice(Writer("ann"), "ann's private", "quora", A.ErrorQuery("quora", min_words=cut).to_dict(),
                     shared=False)
    store.save_slice(Writer("bob"), "bob's shared", "quora", A.ErrorQuery("quora", search="not").to_dict())
    r = why_report(loaded, "quora", "a", "b")

    class Profile:
        username = "ann"

    mine, _ = saved_for_why(store, settings, "quora", Profile(), None)
    theirs, _ = saved_for_why(store, settings, "quora", None, None)  # not signed in: the shared ones
    assert {s.name for s in mine} == {"ann's private", "bob's shared"} and {s.name for s in theirs} == {"bob's shared"}
    text = W.saved_md(r, mine)
    assert text.startswith("## Saved slices: hypotheses, not findings") and "ann" in text and "Most telling" not in text
    assert W.saved_md(r, ()) == W.NO_SAVED
    assert r.hypotheses == []  # the cached report itself is shared by every user and stays without them
    store.close()
    down = Store("postgresql+psycopg://nobody@127.0.0.1:1/none")  # nothing listens there
    found, problems = saved_for_why(down, settings, "quora", Profile(), None)
    assert found == () and W.saved_md(r, found, problems).startswith("⚠ Saved slices cannot be read now")


def test_cli_tests_the_shared_saved_slices_only_when_asked(world, tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    store = Store(url)
    td = A.load(world / "tables", world / "data", checkpoints=False).task("quora")
    cut = int(np.median(_words(td)))
    store.save_slice(Writer("ann"), "long ones", "quora", A.ErrorQuery("quora", min_words=cut).to_dict())
    store.save_slice(Writer("ann"), "private", "quora", A.ErrorQuery("quora", search="not").to_dict(), shared=False)
    store.close()
    monkeypatch.setenv("MINIBERT_DB_URL", url)
    args = ["why", "--task", "quora", "a", "b", "--json", "--tables", str(world / "tables"),
            "--data-dir", str(world / "data")]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["hypotheses"] == []  # off by default
    assert main([*args, "--saved"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [h["name"] for h in data["hypotheses"]] == ["long ones"] and data["saved"]["tested"] == 1
    monkeypatch.setenv("MINIBERT_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert main([*args, "--saved"]) == 2
    assert "error:" in capsys.readouterr().err
