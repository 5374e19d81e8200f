"""A request on both cores while no other runs (demo.cores, demo.serving.IN_FLIGHT): the same
answers as on one, the helper only while the machine is otherwise idle."""
from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

pytest.importorskip("gradio")

from demo import attributions as A  # noqa: E402
from demo import compare_view as C  # noqa: E402
from demo.cores import on_both_cores  # noqa: E402
from demo.serving import InFlight  # noqa: E402

MODELS = ["tiny-cls", "tiny-cross", "tiny-mean"]


def slow_work(seen: list):
    def work(unit: int) -> int:
        seen.append((unit, threading.current_thread().name))
        time.sleep(0.05)  # long enough for the helper to start
        return unit * unit
    return work


def test_the_helper_takes_pieces_only_while_the_machine_is_idle():
    seen: list = []
    assert on_both_cores(list(range(8)), slow_work(seen), lambda: True) == {k: k * k for k in range(8)}
    threads = {name for _, name in seen}
    assert len(threads) == 2 and any(name.startswith("second-core") for name in threads)
    seen.clear()
    assert on_both_cores(list(range(4)), slow_work(seen), lambda: False) == {k: k * k for k in range(4)}
    assert {name for _, name in seen} == {threading.current_thread().name}
    seen.clear()
    assert on_both_cores(list(range(4)), slow_work(seen)) == {k: k * k for k in range(4)}
    assert {name for _, name in seen} == {threading.current_thread().name}


def test_the_helper_stops_as_soon_as_another_request_runs():
    seen: list = []
    answers = iter([True, True])  # idle when the request starts and for one piece; then busy

    def spare() -> bool:
        return next(answers, False)

    assert on_both_cores(list(range(8)), slow_work(seen), spare) == {k: k * k for k in range(8)}
    assert sum(name.startswith("second-core") for _, name in seen) <= 1


def test_what_the_helper_may_not_run_stays_with_the_caller():
    seen: list = []
    on_both_cores(list(range(8)), slow_work(seen), lambda: True, lambda unit: unit % 2 == 0)
    assert all(unit % 2 == 0 for unit, name in seen if name.startswith("second-core"))


def test_a_failure_on_either_thread_is_raised_to_the_caller():
    def work(unit: int) -> int:
        time.sleep(0.02)
        if unit == 5:
            raise ValueError("piece 5")
        return unit

    for spare in (None, lambda: True):
        with pytest.raises(ValueError, match="piece 5"):
            on_both_cores(list(range(8)), work, spare)


def test_in_flight_counts_requests_not_nested_handlers():
    flight = InFlight()
    assert flight.alone()
    with flight:
        with flight:  # a guarded handler inside another, on the same thread
            assert flight.count == 1 and flight.alone()
        inside = threading.Event()
        leave = threading.Event()

        def other_request() -> None:
            with flight:
                inside.set()
                leave.wait(10)

        t = threading.Thread(target=other_request)
        t.start()
        inside.wait(10)
        assert flight.count == 2 and not flight.alone()
        leave.set()
        t.join()
        assert flight.alone()
    assert flight.count == 0


def test_two_core_scores_equal_one_thread_scores(ctx):
    names = MODELS + ["ensemble"]
    requests = [C.Request(("sst", "quora", "sts"), f"a sentence number {i}", f"another one {i}") for i in range(3)]
    one = C.score_requests(ctx.variants, names, requests)
    two = C.score_requests(ctx.variants, names, requests, spare=lambda: True)
    for a, b in zip(one, two):
        assert a.keys() == b.keys()
        for task in a:
            assert a[task].keys() == b[task].keys() == set(names)
            for name in names:
                np.testing.assert_allclose(b[task][name], a[task][name], rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", [A.LOO, A.GRADIENT])
def test_two_core_attributions_equal_one_thread_attributions(ctx, method):
    args = (ctx.variants, MODELS, "Sentiment", "a fine and moving film", "", method)
    assert A.explain(*args) == A.explain(*args, spare=lambda: True)


def test_the_start_up_warm_up_runs_every_model_once_as_a_click_would(ctx, monkeypatch):
    """app.py scores the default example once before serving, so the first visitor's click is not
    a process's first model run; every model takes part, on the click's two threads."""
    calls: dict[str, set] = {}
    for name, variant in ctx.variants.items():
        if variant.members:
            continue
        run = variant.score_tasks

        def counted(inputs, _name=name, _run=run):
            calls.setdefault(_name, set()).add(threading.get_ident())
            time.sleep(0.05)  # long enough for the helper thread to take its share of tiny models
            return _run(inputs)
        monkeypatch.setattr(variant, "score_tasks", counted)
    assert C.warm_up(ctx.variants, ctx.trust()) > 0
    assert set(calls) == {n for n, v in ctx.variants.items() if not v.members}
    assert len(set().union(*calls.values())) == 2  # both threads, as an idle machine's click
    assert C.warm_up({}) < 0.01


def test_a_failing_start_up_scoring_is_logged_and_the_app_still_starts(ctx, monkeypatch, caplog):
    def broken(*_):
        raise RuntimeError("no memory for the first scoring")

    monkeypatch.setattr(C, "compare_many", broken)
    with caplog.at_level(logging.WARNING, logger="minibert.app"):
        assert C.warm_up(ctx.variants, ctx.trust()) >= 0
    assert "the start-up scoring failed" in caplog.text and "no memory" in caplog.text
