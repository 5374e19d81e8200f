"""How the app serves many users: the queues its events run in, the bound on waiting events, the
sweep of served files, and the guard every handler runs under. Named once; the tabs use these."""
from __future__ import annotations

import logging
import traceback
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
# Attributions (the step after every scoring, and Explain) run in a queue of their own, one at a
# time: sharing the model queue, every click's attributions stood in line with the next users'
# verdicts, which waited behind them (bench_load 50 x 20 with an attribution call after each Compare).
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


def guarded(fallback: Callable[[str], object]) -> Callable[[Callable], Callable]:
    """A handler that cannot raise: bad input is the handler's to answer (BadInput becomes
    `fallback(message)`); anything else is a fault of ours, logged with its traceback and
    answered with a general message, never the exception text (it may hold another user's data)."""
    def wrap(fn: Callable) -> Callable:
        def handler(*args: object) -> object:
            try:
                return fn(*args)
            except I.BadInput as exc:
                return fallback(str(exc))
            except Exception:
                log.error("handler %s failed:\n%s", getattr(fn, "__name__", fn), traceback.format_exc())
                return fallback(SERVER_TROUBLE)
        handler.__name__ = getattr(fn, "__name__", "handler")
        return handler
    return wrap
