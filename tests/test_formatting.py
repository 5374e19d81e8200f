"""One rule for how metrics and durations read, in the README table and the app."""
from __future__ import annotations

import math

from analysis.formatting import duration, metric


def test_metrics_read_with_three_decimals_and_a_mark_for_none():
    assert metric(0.48512) == "0.485" and metric(None) == "n/a" and metric(math.nan, missing="–") == "–"
    assert metric("not a number") == "n/a"


def test_durations_read_in_seconds_up_to_two_minutes():
    assert duration(18.4) == "18 s" and duration(119) == "119 s" and duration(240) == "4.0 min"
    assert duration(0) == "n/a" and duration(None, missing="") == ""
