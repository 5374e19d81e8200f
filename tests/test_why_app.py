"""The Why tab: its reading of analysis.why on the shipped tables (plain functions), its endpoints
on the tiny world's app, and its links to Errors and Slices."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("gradio")

import analysis as A  # noqa: E402
from demo import inputs as I  # noqa: E402
from demo import why_view as W  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shipped():
    return A.load(ROOT / "analysis" / "tables", data_dir=None)


def test_the_pick_is_checked_with_a_clear_message(shipped):
    assert W.pick(shipped, "Similarity (STS)", "pcgrad", "cross-encoder") == ("sts", "pcgrad", "cross-encoder")
    assert W.pick(shipped, "Similarity (STS)", "pcgrad", W.NONE) == ("sts", "pcgrad", None)
    with pytest.raises(I.BadInput, match="two different variants"):
        W.pick(shipped, "Similarity (STS)", "pcgrad", "pcgrad")
    with pytest.raises(I.BadInput, match="variant A"):
        W.pick(shipped, "Similarity (STS)", "no-such", "pcgrad")


def test_the_default_pair_is_two_single_variants_that_differ():
    a = A.load(ROOT / "analysis" / "tables", data_dir=None)
    first, second = W.default_pair(a, "sts", frozenset({"ensemble"}))
    assert first == "pcgrad" and second not in ("ensemble", "pcgrad", W.NONE)  # pcgrad: the best single on STS
    assert W.default_pair(a, "sts")[0] == "ensemble"  # without the rule the composed one leads


def test_findings_rows_and_where_each_opens(shipped):
    r = W.report(shipped, "sts", "pcgrad", "cross-encoder")
    assert W.report(shipped, "sts", "pcgrad", "cross-encoder") is r  # cached: a click on a finding recomputes nothing
    table = W.findings_table(r)
    assert len(table) == len(r.findings) > 0
    assert list(table.columns)[:5] == ["slice", "n", "inside - outside (95 %)", "adjusted p", "share of the gap"]
    by_kind = {"slice" in f.query: k for k, f in enumerate(r.findings)}
    head, rest = W.summary_md(r)
    assert head.startswith("# Why pcgrad vs cross-encoder on Similarity (STS)") and "Where the gap lives" not in head + rest
    assert rest.startswith("## ") and "Other evidence" in rest
    for has_slice, k in by_kind.items():
        rows, line = W.finding_rows(shipped, r, k)
        assert len(rows) == min(r.findings[k].n, W.EXAMPLES_SHOWN) and list(rows.columns)[-1] == "id"
        assert {"pcgrad", "cross-encoder", "gold"} <= set(rows.columns) and f"{r.findings[k].n:,} examples" in line
        errors = W.errors_params(r, k)
        assert W.errors_filters_slice(r, k) == has_slice == ("slice" in errors)
        assert errors["other"] == "cross-encoder" and errors["relation"] == "disagree with it"
        if has_slice:
            assert errors["slice"] == " = ".join(r.findings[k].query["slice"])
    assert W.slices_params(r, None) == {"tab": "slices", "task": "sts", "reference": "cross-encoder",
                                        "variants": "pcgrad,cross-encoder"}
    with pytest.raises(I.BadInput, match="No finding"):
        W.finding_at(r, len(r.findings))


def test_a_share_outside_the_gap_says_so():
    assert W.share_text(None) == "not shown"
    assert W.share_text(0.25) == "25 %"
    assert W.share_text(-0.5) == "-50 % (against the gap)"
    assert W.share_text(4.2) == "420 % (the rest pulls the other way)"


def test_the_write_up_zip_is_bounded_and_replaces_the_last(shipped, tmp_path):
    r = W.report(shipped, "sst", "pcgrad", None)
    path = W.write_zip(r, folder=tmp_path)
    names = set(zipfile.ZipFile(io.BytesIO(path.read_bytes())).namelist())
    assert {"report.md", "report.json", "table.tex"} <= names and any(n.endswith(".svg") for n in names)
    other = W.write_zip(W.report(shipped, "sts", "pcgrad", "cross-encoder"), folder=tmp_path)
    assert sorted(p.name for p in tmp_path.glob("why-*.zip")) == [other.name]
    with pytest.raises(I.BadInput, match="over the"):
        W.write_zip(r, folder=tmp_path, max_bytes=1000)


def test_the_why_tab_restores_a_link_and_names_what_is_not_there(shipped):
    import gradio as gr

    from demo.tabs import why_tab

    updates, said = why_tab.restore_view(shipped, why_tab.Setup(frozenset({"ensemble"})),
                                         {"task": "sts", "a": "cosine-mean", "b": "no-such-variant"})
    assert updates[1].value == "cosine-mean" and I.escape_md("no-such-variant") in " ".join(said)
    # the nearest view: B falls back to the default pair's second, which is A itself here, so to none
    assert updates[3].startswith("# Where cosine-mean fails on Similarity (STS)")
    params = why_tab.params_of(shipped, why_tab.Setup(), "slices", "Similarity (STS)", "pcgrad", "cross-encoder", None)
    assert params["tab"] == "slices" and params["reference"] == "cross-encoder"
    assert why_tab.params_of(shipped, why_tab.Setup(), "errors", "Similarity (STS)", "pcgrad", "pcgrad", None) is None
    assert why_tab.on_task(shipped, why_tab.Setup(), "No such task") == (gr.skip(), gr.skip())
    alone = why_tab.params_of(shipped, why_tab.Setup(), "errors", "Similarity (STS)", "pcgrad", W.NONE, None)
    assert alone == {"tab": "errors", "task": "sts", "variant": "pcgrad"}


@pytest.fixture(scope="module")
def client(ctx, tmp_path_factory):

    from demo.app_testing import local_client, serve

    with serve(ctx) as (url, _):
        yield local_client(url, download_files=str(tmp_path_factory.mktemp("why-downloads")))


def test_the_app_explains_a_pair_and_exports_it(client):
    head, search, findings, rest, *_ = client.predict("Similarity (STS)", "tiny-cls", "tiny-cross", api_name="/why")
    assert head.startswith("# Why tiny-cls vs tiny-cross on Similarity (STS)") and "paired 95 % interval" in head
    assert "no recipe for" not in rest  # the families come from the app's own checkpoints folder
    assert "slices tested" in search or "No slice was tested" in search
    bad = client.predict("Similarity (STS)", "tiny-cls", "tiny-cls", api_name="/why")
    assert bad[0].startswith("⚠ Pick two different variants")
    file, note = client.predict("Similarity (STS)", "tiny-cls", W.NONE, api_name="/why_export")
    assert note == "" and zipfile.is_zipfile(file["value"])


def test_the_errors_tab_restores_the_why_pair_without_a_complaint(shipped):
    """What "Open in Errors" sends is a view the Errors tab knows: no "No relation ..." message."""
    from demo.tabs import errors_tab

    r = W.report(shipped, "sts", "pcgrad", "cross-encoder")
    k = next(k for k, f in enumerate(r.findings) if "slice" in f.query)
    params = {key: value for key, value in W.errors_params(r, k).items() if key != "tab"}
    updates, said = errors_tab.restore_view(shipped, True, params)
    assert said == []
    assert updates[5].value == "cross-encoder" and updates[6] == "disagree with it"
    assert updates[7].value == " = ".join(r.findings[k].query["slice"])


def test_the_slices_tab_restores_the_why_pair_without_a_complaint(shipped):
    from demo.tabs import slices_tab

    r = W.report(shipped, "sts", "pcgrad", "cross-encoder")
    k = next(k for k, f in enumerate(r.findings) if "slice" in f.query)
    params = {key: value for key, value in W.slices_params(r, k).items() if key != "tab"}
    updates, said = slices_tab.restore_view(shipped, params)
    assert said == [] and updates[2].value == "cross-encoder" and updates[4].value == ["pcgrad", "cross-encoder"]


def test_the_tests_tab_opens_on_the_cases_where_the_pair_differs(shipped):
    """"Open this pair in Tests": the Tests tab's link restores A, B as the variant compared with, and
    the test where they differ most, listing exactly the cases one passes and the other fails."""
    from demo import behaviour_view as B
    from demo.tabs import behaviour_tab

    r = W.report(shipped, "quora", "pcgrad", "cross-encoder")
    first = r.evidence["behaviour"][0]
    params = W.tests_params(r)
    assert params == {"tab": "tests", "task": "quora", "variant": "pcgrad", "other": "cross-encoder",
                      "test": first["test"]}
    b = B.Behaviour.load(shipped)
    updates, said = behaviour_tab.restore_view(b, {k: v for k, v in params.items() if k != "tab"})
    assert said == []
    assert (updates[3].value, updates[4].value, updates[5].value) == (first["test"], "pcgrad", "cross-encoder")
    rows = B.differing(b, "quora", first["test"], "pcgrad", "cross-encoder")
    assert set(rows["fails"]) <= {"pcgrad", "cross-encoder"} and list(rows.columns)[-1] == "case"
    # one passing and the other failing on each row: their difference in failures is the report's
    n = first["n"]
    assert (rows["fails"] == "pcgrad").sum() - (rows["fails"] == "cross-encoder").sum() == round(
        n * first["a_fail"]) - round(n * first["b_fail"])
    assert f"differ on **{len(rows)} of {n}**" in updates[7]
    # without a test named, the one where they differ most; without B, A's failing cases
    updates, said = behaviour_tab.restore_view(b, {"task": "quora", "variant": "pcgrad", "other": "cross-encoder"})
    assert updates[3].value == B.most_differing(b, "quora", "pcgrad", "cross-encoder") and said == []
    alone = W.tests_params(W.report(shipped, "quora", "pcgrad", None))
    assert alone == {"tab": "tests", "task": "quora", "variant": "pcgrad"}
    updates, said = behaviour_tab.restore_view(b, {"task": "quora", "variant": "pcgrad", "other": "no-such"})
    assert updates[5].value == B.NO_OTHER and I.escape_md("no-such") in " ".join(said)
    assert "fails" in updates[7] and "differ" not in updates[7]
    assert why_tab_params(shipped, "tests") == params


def why_tab_params(shipped, where):
    from demo.tabs import why_tab

    return why_tab.params_of(shipped, why_tab.Setup(), where, "Paraphrase (Quora)", "pcgrad", "cross-encoder", None)
