"""One rule for how metrics and durations read, in the README table and the app."""
from __future__ import annotations

import math

from analysis.formatting import duration, interval, metric, signed


def test_metrics_read_with_three_decimals_and_a_mark_for_none():
    assert metric(0.48512) == "0.485" and metric(None) == "n/a" and metric(math.nan, missing="–") == "–"
    assert metric("not a number") == "n/a"


def test_durations_read_in_seconds_up_to_two_minutes():
    assert duration(18.4) == "18 s" and duration(119) == "119 s" and duration(240) == "4.0 min"
    assert duration(0) == "n/a" and duration(None, missing="") == ""


def test_differences_carry_their_sign_but_zero_has_none():
    assert signed(0.0123) == "+0.012" and signed(-0.0123) == "-0.012"
    assert signed(-0.0004) == "0.000" and signed(0.0004) == "0.000" and signed(math.nan, missing="–") == "–"


def test_intervals_read_as_brackets_and_vanish_when_missing():
    assert interval((0.4551, 0.5149)) == "[0.455, 0.515]"
    assert interval((-0.0412, 0.0004), difference=True) == "[-0.041, 0.000]"
    assert interval(None) == "" and interval((math.nan, 0.2)) == ""
