"""Plain language and the small layout fixes of issue 30: every technical term the app shows has a
line of explanation from demo.glossary, every API value shown to people has a human label while
the value itself (URLs, the API, exports) stays; the label-error list leads with a person's reading
of its top, stored as data, with Wilson intervals; the upload panel shows its file format; the
charts keep their labels, titles and legends clear of each other and of Plotly's toolbar."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("gradio")

import analysis as A  # noqa: E402
from demo import compare_view as C  # noqa: E402
from demo import glossary as G  # noqa: E402
from demo import label_errors_view as L  # noqa: E402
from demo import models_view as M  # noqa: E402
from demo import slices_view as S  # noqa: E402
from demo.palette import TOOLBAR_ROOM  # noqa: E402
from demo.trust_view import MUTED_MARK  # noqa: E402


@pytest.fixture(scope="module")
def shipped():
    """The analysis tables in the repository (no data directory, no checkpoints needed)."""
    a = A.load(None, None, False)
    if not a.tasks:
        pytest.skip("no shipped analysis tables")
    return a


# --- the glossary and the labels ------------------------------------------------------------------

def test_every_api_value_people_pick_has_a_human_label_and_keeps_its_value():
    values = {*(m for t in A.TASKS for m in A.INTERVAL_METRICS[t]), *(s for t in A.TASKS for s in A.slice_names(t))}
    for value in values:
        assert "_" not in G.label(value), value  # never "all_wrong" or "macro_f1" on screen
    assert G.label("all_wrong") == "wrong for every variant" and G.label("macro_f1") == "macro F1"
    assert G.label("not-a-known-value") == "not-a-known-value"
    assert G.choices(["macro_f1", "roc_auc"]) == [("macro F1", "macro_f1"), ("ROC AUC", "roc_auc")]


def test_each_term_is_one_line_and_explain_lists_them_once_in_order():
    for key, (name, text) in G.TERMS.items():
        assert name and text and "\n" not in text and len(text) < 260, key
    md = G.explain("ece", "umap", "ece")
    assert md.splitlines() == [f"- **ECE**: {G.TERMS['ece'][1]}", f"- **UMAP**: {G.TERMS['umap'][1]}"]
    with pytest.raises(KeyError):
        G.explain("no-such-term")


def test_slices_show_labels_and_explain_the_metric_while_the_api_keeps_its_values(shipped):
    from demo.tabs import slices_tab

    name, _, metric, _ = slices_tab.on_task(shipped, "Sentiment (SST)")
    assert ("wrong for every variant", "all_wrong") in name.choices
    assert ("macro F1", "macro_f1") in metric.choices and metric.value == "accuracy"
    _, fig, doc = S.slice_view(shipped, "sst", "all_wrong", "pcgrad", "macro_f1")
    assert "wrong for every variant" in doc and "macro_f1" not in doc and "all_wrong" not in doc
    assert f"- **macro F1**: {G.TERMS['macro_f1'][1]}" in doc and "**bootstrap**" in doc
    assert fig.layout.yaxis.title.text == "macro F1" and "macro F1 per wrong for every variant" in fig.layout.title.text
    _, _, doc = S.slice_view(shipped, "sst", "length", "pcgrad", "accuracy")
    assert "**Wilson interval**" in doc and "**bootstrap**" not in doc  # an accuracy's interval is Wilson's


def test_errors_and_map_pickers_show_labels_and_send_values(shipped):
    from demo import errors_view as E
    from demo.tabs import embedding_map_tab

    picks = dict((v, k) for k, v in E.slice_dropdown(shipped, "sst"))
    assert picks["all_wrong = wrong for every variant"] == "wrong for every variant"
    assert picks["gold = 2 neutral"] == "gold label: 2 neutral" and picks[E.NO_SLICE] == E.NO_SLICE
    assert [v for _, v in E.slice_dropdown(shipped, "sst")] == E.slice_choices(shipped, "sst")
    colours = dict((v, k) for k, v in embedding_map_tab.color_dropdown("quora"))
    assert colours["slice: all_wrong"] == "slice: wrong for every variant"


def test_the_behavioural_tests_note_explains_mft_inv_dir(shipped):
    from demo import behaviour_view as B

    note = B.grid_note(B.Behaviour.load(shipped), "sst")
    for key in ("mft", "inv", "dir", "wilson"):
        assert f"**{G.TERMS[key][0]}**: {G.TERMS[key][1]}" in note


# --- the label-error list leads with what a reading found -----------------------------------------

@pytest.mark.parametrize("gold, suggested, expected", [
    ([3, 2, 1, 0, 2, 4], [4, 3, 3, 2, 0, 1],
     [A.ONE_APART, A.ONE_APART, A.OPPOSITE, A.TWO_APART, A.TWO_APART, A.OPPOSITE]),
])
def test_how_far_separates_neighbouring_classes_from_opposite_polarity(gold, suggested, expected):
    assert list(A.how_far("sst", np.array(gold), np.array(suggested))) == expected
    assert A.how_far("quora", np.array([1]), np.array([0])) is None and A.how_far("sts", np.ones(1), np.ones(1)) is None


def test_a_reading_gives_its_precision_with_a_wilson_interval_and_notices_a_rebuild(tmp_path):
    path = tmp_path / "reading.json"
    verdicts = [A.MISLABELLED] * 3 + [A.AMBIGUOUS] * 2 + [A.LABEL_RIGHT] * 5
    path.write_text(json.dumps({"about": {"who": "a tester", "when": "today"}, "tasks": {"sst": [
        {"rank": i + 1, "id": f"e{i}", "verdict": v, "note": ""} for i, v in enumerate(verdicts)]}}))
    table = pd.DataFrame({"id": [f"e{i}" for i in range(12)], "issue": [True] * 8 + [False] * 4})
    r = A.read_reading("sst", table, path)
    assert (r.read, r.flagged) == (10, 8)  # two read examples are no longer flagged
    assert r.precision(A.MISLABELLED) == (3, 10, A.wilson(3, 10))
    assert r.precision(A.MISLABELLED, A.AMBIGUOUS)[:2] == (5, 10)
    groups = {f"e{i}": A.OPPOSITE if i < 4 else A.ONE_APART for i in range(10)}
    assert r.by_group(groups) == {A.OPPOSITE: (3, 4), A.ONE_APART: (0, 6)}
    assert A.read_reading("quora", table, path) is None and A.read_reading("sst", table, tmp_path / "none") is None
    assert A.read_reading("sst", table.assign(id=[f"other{i}" for i in range(12)]), path) is None  # other data


def test_the_shipped_reading_is_data_about_flagged_examples_with_who_when_how(shipped):
    stored = json.loads((A.label_errors.READING_PATH).read_text())
    assert {"who", "when", "how"} <= set(stored["about"])
    le = L.LabelErrors.load(shipped)
    for task, rows in stored["tasks"].items():
        table = le.tables[task]
        assert len(rows) == min(30, int(table["issue"].sum()))
        assert {r["verdict"] for r in rows} <= set(A.label_errors.VERDICTS)
        ranked = table.set_index("id")
        assert all(bool(ranked.loc[r["id"], "issue"]) for r in rows)  # every example read is flagged


def test_the_tab_leads_with_the_reading_and_splits_sst_by_how_far(shipped):
    le = L.LabelErrors.load(shipped)
    reading = le.readings["sst"]
    note = L.reading_note(le, "sst")
    k, n, (lo, hi) = reading.precision(A.MISLABELLED)
    assert note.startswith("**How often a flag is right:**")
    assert f"**{k} of {n} ({k / n:.0%}; 95 % Wilson interval {lo:.0%}-{hi:.0%})** clearly mislabelled" in note
    flagged = le.tables["sst"][le.tables["sst"]["issue"]]
    counts = pd.Series(A.how_far("sst", flagged["gold"].to_numpy(), flagged["suggested"].to_numpy())).value_counts()
    assert f"**{counts[A.ONE_APART]:,} one class apart**" in note and f"**{counts[A.OPPOSITE]:,} opposite polarity**" in note
    shown, _ = L.view(le, "sst", L.FLAGGED, "", None)
    assert {"read as", "how far"} <= set(shown.columns)
    assert (shown["read as"].head(n) != "").all() and set(shown["how far"]) <= {A.ONE_APART, A.TWO_APART, A.OPPOSITE}
    assert "**OUTRE**" in L.method_note(le, "sts") and "**confident learning (cleanlab)**" in L.method_note(le, "sst")


def test_a_task_nobody_read_says_so(shipped):
    le = L.LabelErrors.load(shipped)
    le.readings.pop("quora", None)
    assert "nobody has read" in L.reading_note(le, "quora")


def test_the_upload_panel_shows_every_file_its_header_and_probability_columns():
    from demo.uploads import format_text
    from minibert.submission import SUBMISSION_FILES

    text = format_text()
    for t in A.TASKS:
        assert SUBMISSION_FILES[(t, "dev")] in text
    assert "\\t p0 \\t p1 \\t p2 \\t p3 \\t p4" in text and "\\t prob" in text and "Predicted_Similiary" in text


# --- charts: labels, titles, legends and the toolbar keep clear of each other ---------------------

def test_slice_chart_leaves_room_for_its_ticks_and_axis_title(shipped):
    fig = S.slice_figure(shipped, "sst", "length", "pcgrad", "accuracy")
    assert fig.layout.yaxis.automargin and fig.layout.xaxis.automargin and fig.layout.yaxis.title.standoff
    assert fig.layout.yaxis.tickformat == ".2f"  # "0.50", never ".5"


def test_score_bars_put_a_long_bar_label_inside_and_a_short_ones_beside_it():
    """Never past the chart: the value on a bar at least half the axis long, just past the end of a
    shorter one."""
    chart = C.quora_chart({"a": 0.92, "b": 0.3}, [], {})
    long, short = chart.split("<tr")[2:4]  # after the threshold label's row
    assert ">0.92 duplicate</span></span>" in long and "bar-aside" not in long
    assert '<span class="bar-aside">0.30 not dup.</span>' in short


def test_compare_charts_mark_disagreement_and_muted_heads_in_their_labels():
    chart = C.sts_chart({"cross-encoder": 4.1, "pcgrad": 1.0, "sst-only": 0.0}, ["pcgrad"], 2.5,
                        {"sst-only": True})
    assert '<tr class="bar-disagree"><th scope="row" title="⚠ pcgrad">⚠ pcgrad</th>' in chart
    assert f'<tr class="bar-muted"><th scope="row" title="{MUTED_MARK} sst-only">{MUTED_MARK} sst-only</th>' in chart
    assert "median 2.50" in chart and "left:50.00%" in chart  # the median's line, at 2.5 of 5
    sst = C.sst_chart({"cross-encoder": np.array([0.05, 0.05, 0.1, 0.3, 0.5])}, [], {})
    assert 'title="very positive: 50.0%"><span class="bar-text" aria-hidden="true">50%</span>' in sst  # on hover too
    assert ">5%<" not in sst and ">very negative: 5.0%<" in sst  # under 12 %: no text drawn, still said


def test_training_curve_keeps_epoch_out_of_the_legend():
    variant = SimpleNamespace(name="v", config={"history": [{"epoch": 1, "dev": {"overall": 0.5}, "train_loss": {}},
                                                            {"epoch": 2, "dev": {"overall": 0.6}, "train_loss": {}}],
                                                "training": {"best_epoch": 2}})
    fig = M.training_curve(variant)
    assert not fig.layout.xaxis.title.text and "by epoch" in fig.layout.title.text
    assert fig.layout.legend.yanchor == "top" and fig.layout.legend.y < 0


def test_every_chart_puts_the_toolbar_upright_in_a_margin_of_its_own(shipped):
    from demo import errors_view as E

    figures = [S.slice_figure(shipped, "sst", "length", "pcgrad", "accuracy"), E.reliability_figure(shipped, "sst")]
    for fig in figures:
        assert fig.layout.modebar.orientation == "v" and fig.layout.margin.r >= TOOLBAR_ROOM
    # a chart's own margins stay, the right one widened only where it is narrower than the toolbar
    import plotly.graph_objects as go

    from demo.palette import themed

    wide, narrow = (themed(go.Figure(layout={"margin": {"l": 7, "r": r}, "title": {"text": "t"}})) for r in (90, 5))
    assert (wide.layout.margin.l, wide.layout.margin.r, narrow.layout.margin.r) == (7, 90, TOOLBAR_ROOM)
    assert wide.layout.title.text == "t" and wide.layout.paper_bgcolor == "rgba(0,0,0,0)"
    assert wide.layout.template.layout.plot_bgcolor == "white"  # plotly_white's


def test_the_map_table_gets_its_widths_with_its_columns():
    from demo.tabs import embedding_map_tab

    pair = pd.DataFrame(columns=["variant", "gold", "sentence1", "sentence2", "id"])
    assert len(embedding_map_tab.fitted(pair).column_widths) == 5


def test_the_screen_reader_hears_done_not_an_i18n_key():
    from demo.ui import launch_options

    words = launch_options()["i18n"].translations_dict["en"]
    assert words["common.complete"] == "Done" and not re.fullmatch(r"\w+\.\w+", words["common.error"])


def test_the_data_these_modules_read_goes_to_a_space_too():
    from demo import deploy

    assert all((deploy.ROOT / rel).is_file() for rel in deploy.PACKAGE_DATA)
    assert {"demo/glossary.json", "analysis/label_error_reading.json"} <= set(deploy.PACKAGE_DATA)
