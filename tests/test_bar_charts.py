"""demo.bar_charts: Compare's bars as an HTML table."""
from __future__ import annotations

import re

from demo import bar_charts as B


def test_text_on_a_bar_is_whichever_of_black_and_white_reads_better():
    assert B.ink("#2166ac") == "#fff" and B.ink("#b35806") == "#fff"  # dark blue, dark orange
    assert B.ink("#f1a340") == "#000" and B.ink("#bababa") == "#000" and B.ink("#ffffff") == "#000"
    assert B.ink("#000000") == "#fff"


def test_a_chart_is_a_table_with_a_row_per_bar_and_its_axis():
    bars = [B.Bar("a", (B.Segment(0.25, "#4c78a8", "0.25", "0.250"),)),
            B.Bar("b", (B.Segment(0.6, "#b35806", "60%", "neg: 60%"), B.Segment(0.4, "#2166ac", "", "pos: 40%")))]
    chart = B.bar_chart("Title", bars, [(0, "0"), (0.5, "half"), (1, "1")], legend=[("neg", "#b35806")],
                        reference=B.Reference(0.5, "the middle"))
    assert chart.startswith('<table class="bar-chart"><caption>Title</caption>')
    assert re.findall(r'<th scope="row" title="\w">(\w)</th>', chart) == ["a", "b"]
    assert 'style="width:25.00%;background:#4c78a8;color:#fff"><span class="bar-text">0.25</span></span>' in chart
    assert 'title="b: neg: 60%; pos: 40%"' in chart  # a stacked bar's whole on hover
    assert '<th scope="row" title="a">a</th>' in chart  # a label cut by an ellipsis is whole on hover
    assert chart.count('class="bar-ref" style="left:50.00%"') == 2 and "the middle" in chart
    # each axis label shifted by its own place: none runs past either end of the chart
    assert 'style="left:0.00%;transform:translateX(-0.00%)">0</span>' in chart
    assert 'style="left:100.00%;transform:translateX(-100.00%)">1</span>' in chart
    assert 'aria-hidden="true" style="background:#b35806"></i>neg' in chart


def test_a_screen_reader_hears_each_stacked_share_with_its_class_and_a_tap_shows_the_tip():
    bar = B.Bar("v", (B.Segment(0.6, "#b35806", "60%", "negative: 60.0%"), B.Segment(0.4, "#2166ac", "", "positive: 40.0%")))
    chart = B.bar_chart("t", [bar], [])
    assert '<span class="bar-text" aria-hidden="true">60%</span><span class="bar-sr">negative: 60.0%</span>' in chart
    assert '<span class="bar-sr">positive: 40.0%</span>' in chart  # no text drawn on it, still said
    assert '<div class="bar-track" tabindex="0" title="v: negative: 60.0%; positive: 40.0%">' in chart
    assert ".bar-track:focus::after" in B.BAR_CSS and "content: attr(title)" in B.BAR_CSS


def test_shares_are_kept_on_the_axis_and_an_empty_segment_is_left_out():
    chart = B.bar_chart("t", [B.Bar("x", (B.Segment(1.7, "#000000"), B.Segment(0.0, "#ffffff", "none")))], [])
    assert "width:100.00%" in chart and "none" not in chart
    below = B.bar_chart("t", [B.Bar("x", (B.Segment(0.5, "#000000"),))], [(-0.2, "-1")], reference=B.Reference(-0.2, ""))
    assert 'class="bar-ref" style="left:0.00%"' in below and "left:0.00%;transform:translateX(-0.00%)" in below


def test_what_a_variant_or_a_title_says_is_shown_as_text_never_run():
    chart = B.bar_chart('<script>x</script>', [B.Bar('<img src=x onerror="y">', (B.Segment(0.5, "#000000", "<b>",
                                                                                       '"><i>'),))], [(0, "<u>")])
    assert "<script>" not in chart and "<img" not in chart and "<b>" not in chart and "<u>" not in chart
    assert "&lt;img src=x onerror=&quot;y&quot;&gt;" in chart and "&quot;&gt;&lt;i&gt;" in chart
