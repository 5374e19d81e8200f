"""When `python -m pytest` starts pytest-xdist workers (tests/conftest.py): the full suite and the
fast lane, and never inside a worker or in a process a worker's test starts."""
from types import SimpleNamespace

import pytest
from conftest import whole_suite_in_two_workers

TESTPATHS, ARGS = pytest.Config.ArgsSource.TESTPATHS, pytest.Config.ArgsSource.ARGS


def option(**changes) -> SimpleNamespace:
    """pytest's options as `python -m pytest -m "not slow"` gives them, with `changes`."""
    return SimpleNamespace(**{"markexpr": "not slow", "numprocesses": None, "dist": "no", "usepdb": False,
                              "capture": "fd", "collectonly": False, "keyword": "", **changes})


def test_the_fast_lane_and_the_full_suite_get_two_workers_on_two_cores():
    assert whole_suite_in_two_workers(option(), TESTPATHS, {}, 2)
    assert whole_suite_in_two_workers(option(markexpr=""), TESTPATHS, {}, 2)
    assert whole_suite_in_two_workers(option(markexpr=None), TESTPATHS, {}, 2)
    assert whole_suite_in_two_workers(option(markexpr="  not   slow "), TESTPATHS, {}, 16)
    assert not whole_suite_in_two_workers(option(), TESTPATHS, {}, 1)


def test_a_worker_or_a_process_a_worker_started_never_starts_workers():
    assert not whole_suite_in_two_workers(option(), TESTPATHS, {"PYTEST_XDIST_WORKER": "gw0"}, 2)


@pytest.mark.parametrize("changes, source", [
    ({"markexpr": "slow"}, TESTPATHS),
    ({"markexpr": "not slow and not browser"}, TESTPATHS),
    ({}, ARGS),  # tests named on the command line
    ({"keyword": "compare"}, TESTPATHS),  # -k compare
    ({"numprocesses": 0}, TESTPATHS),  # -n 0
    ({"numprocesses": 4}, TESTPATHS),  # -n chosen by hand: xdist's own
    ({"dist": "load"}, TESTPATHS),
    ({"usepdb": True}, TESTPATHS),
    ({"capture": "no"}, TESTPATHS),  # -s
    ({"collectonly": True}, TESTPATHS),
])
def test_every_other_run_keeps_one_process(changes, source):
    assert not whole_suite_in_two_workers(option(**changes), source, {}, 2)
