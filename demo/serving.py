"""How the app serves many users: the queues its events run in, the bound on waiting events, the
sweep of served files, and the guard every handler runs under. Named once; the tabs use these."""
from __future__ import annotations

import hashlib
import logging
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable

import gradio as gr

from minibert.settings import settings

from . import inputs as I
from .inputs import SERVER_TROUBLE

log = logging.getLogger("minibert.app")

# Model calls at once. Two, each on one torch thread, keep both cores of a 2-vCPU Space scoring
# under load (bench_load 50 x 20: 12.7 requests/s and Compare p95 9.1 s with one, 14.5/s and
# 8.1 s with two); a lone click is as fast either way.
MODEL_CONCURRENCY = settings().model_concurrency
MAX_BATCH = settings().max_batch  # queued clicks scored together
MODEL_QUEUE = {"concurrency_limit": MODEL_CONCURRENCY, "concurrency_id": "model"}
BATCHED = {"batch": True, "max_batch_size": MAX_BATCH, **MODEL_QUEUE}
# Attributions (the step after every scoring, and Explain) run in a queue of their own: sharing the
# model queue, every click's attributions stood in line with the next users' verdicts, which waited
# behind them (bench_load 50 x 20 with an attribution call after each Compare). Two at a time once
# the encoder runs as a trace (docs/BENCHMARKS.md, issue 30): with one, the load's users waited in
# this queue.
EXPLAIN_QUEUE = {"concurrency_limit": settings().explain_concurrency,
                 "concurrency_id": "explain"}
# Error-table refreshes run one at a time, in the order they were asked for (a filter takes a few
# ms), and an edit made while one is running is run after it ("always_last"; Gradio's default
# "once" drops it): quick edits can never leave a stale table on screen. Exports run here too,
# one at a time (see demo.errors_view.write_csv).
TABLE_QUEUE = {"concurrency_limit": 1, "concurrency_id": "table", "trigger_mode": "always_last"}
# Reading an upload (parsing up to 20,214 lines, then joining it with the shared tables: about a
# second) runs beside the table queue, one at a time, so it never holds up other users' filters.
# A "why" report (a slice search and its tests over every example: seconds, not milliseconds) runs one
# at a time beside the table queue, so it never holds up other users' filters; a user's latest pick counts.
WHY_QUEUE = {"concurrency_limit": 1, "concurrency_id": "why", "trigger_mode": "always_last"}
UPLOAD_QUEUE = {"concurrency_limit": 1, "concurrency_id": "upload"}
# Events waiting at most; past it a user is told the app is busy (Gradio answers 503: the browser
# says "This application is currently busy. Please try again.", gradio_client raises QueueError
# "Queue is full! Please try again.") instead of waiting without bound.
QUEUE_MAX = settings().queue_max


def cache_sweep() -> tuple[int, int]:
    """Gradio keeps a copy of every file it serves (CSV exports): every $MINIBERT_CACHE_SWEEP_S
    seconds (default 60), copies older than $MINIBERT_CACHE_MAX_AGE_S (default 300) are deleted,
    so a download link is good for about that long."""
    return settings().cache_sweep_s, settings().cache_max_age_s


def configure_queue(demo: gr.Blocks, concurrency: int | None = None, max_size: int | None = None) -> gr.Blocks:
    """The app's queue: bounded (QUEUE_MAX) and `concurrency` events of a kind at once (default
    $MINIBERT_CONCURRENCY or 4; the model and table queues set their own limits)."""
    concurrency = concurrency or settings().concurrency
    return demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_MAX if max_size is None else max_size)


class InFlight:
    """How many requests run now, process-wide: whether one may take the second core
    (demo.cores). Every guarded handler and Compare's scoring count themselves in; a handler
    inside another on the same thread counts once."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()
        self._depth = threading.local()

    def __enter__(self) -> InFlight:
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        if depth == 0:
            with self._lock:
                self._n += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth.n -= 1
        if self._depth.n == 0:
            with self._lock:
                self._n -= 1

    @property
    def count(self) -> int:
        return self._n

    def alone(self) -> bool:
        """No request runs but the caller's own (if it counted itself in)."""
        return self._n <= 1


IN_FLIGHT = InFlight()


def click_key(*values: object) -> bytes:
    """What a scoring was asked for (task, sentences, variants), as a short digest."""
    return hashlib.sha1(repr(values).encode("utf-8", "backslashreplace")).digest()


class NewestClick:
    """Per browser session, the newest scoring it asked for, so that the steps queued behind an
    older one (its before -> after and attributions, seconds of model time under load) are skipped
    instead of making the newer click wait for them.

        stamp(session, key)   a click (or any event that will score), at once, before its scoring
        scored(key)           the scoring of `key` is done (every session whose newest click it is)
        claim(session, key)   whether the step that follows a scoring, holding `key`, should run:
                              yes for the newest click once it is scored, once; no for an older one
                              or while the newest is still scoring (its own step follows it)

    A session that never stamped (an API caller) is always answered. At most `size` sessions are
    remembered, the least recently active dropped first."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._sessions: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def stamp(self, session: str | None, key: bytes) -> None:
        if not session:
            return
        with self._lock:
            self._sessions.pop(session, None)
            self._sessions[session] = {"key": key, "scored": False, "claimed": False}
            while len(self._sessions) > self.size:
                self._sessions.popitem(last=False)

    def scored(self, key: bytes) -> None:
        with self._lock:
            for newest in self._sessions.values():
                if newest["key"] == key:
                    newest["scored"] = True

    def claim(self, session: str | None, key: bytes) -> bool:
        with self._lock:
            newest = self._sessions.get(session or "")
            if newest is None:
                return True
            if newest["key"] != key or not newest["scored"] or newest["claimed"]:
                return False
            newest["claimed"] = True
            return True


NEWEST_CLICK = NewestClick()


def guarded(fallback: Callable[[str], object]) -> Callable[[Callable], Callable]:
    """A handler that cannot raise: bad input is the handler's to answer (BadInput becomes
    `fallback(message)`); anything else is a fault of ours, logged with its traceback and
    answered with a general message, never the exception text (it may hold another user's data)."""
    def wrap(fn: Callable) -> Callable:
        def handler(*args: object) -> object:
            try:
                with IN_FLIGHT:
                    return fn(*args)
            except I.BadInput as exc:
                return fallback(str(exc))
            except Exception:
                log.error("handler %s failed:\n%s", getattr(fn, "__name__", fn), traceback.format_exc())
                return fallback(SERVER_TROUBLE)
        handler.__name__ = getattr(fn, "__name__", "handler")
        return handler
    return wrap
