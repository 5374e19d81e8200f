"""One request on both cores while no other request runs.

    results = on_both_cores(units, work, spare)   # {unit index: work(unit)}

`units` are independent pieces of one request (a variant to score, a variant to explain); the
calling thread works through them, and a second thread takes some too, but only while `spare()`
says no other request is running (`demo.serving.IN_FLIGHT.alone`). Each thread keeps torch's one
intra-op thread, so each op runs exactly as it would alone (same results to the bit): what is
shared is the list of pieces, not an op. Two intra-op threads per request were measured 10-30x
slower with the other core busy (demo.context.configure_threads), because every op waits for
both cores; here a piece never waits for the other thread, and the helper stops taking pieces as
soon as another request starts, so a busy machine runs a request as one thread did.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

U = TypeVar("U")
R = TypeVar("R")

# One helper for the whole process: two requests never share the second core between them.
_HELPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="second-core")


class _Shared:
    """The pieces left, and whether the helper is inside one (the caller waits only for that)."""

    def __init__(self, n: int) -> None:
        self.left = deque(range(n))
        self.cond = threading.Condition()
        self.closed = False
        self.helper_busy = False


def on_both_cores(units: Sequence[U], work: Callable[[U], R], spare: Callable[[], bool] | None = None,
                  helper_may: Callable[[U], bool] | None = None) -> dict[int, R]:
    """{index: work(units[index])} for every unit. With `spare` given and true, a second thread
    works beside the caller, taking the next unit each time only while `spare()` still holds and
    only units `helper_may` allows (default all: code that is not thread-safe, such as a host's
    live model, is left to the caller). Exceptions propagate from the thread that met them."""
    results: dict[int, R] = {}
    errors: list[BaseException] = []
    shared = _Shared(len(units))
    if spare is not None and len(units) > 1 and spare():
        _HELPER.submit(_helper, units, work, spare, helper_may, shared, results, errors)
    while True:
        with shared.cond:
            if not shared.left:
                shared.closed = True
                while shared.helper_busy:
                    shared.cond.wait()
                break
            k = shared.left.popleft()
        results[k] = work(units[k])
    if errors:
        raise errors[0]
    return results


def _helper(units: Sequence, work: Callable, spare: Callable[[], bool], helper_may: Callable | None,
            shared: _Shared, results: dict, errors: list) -> None:
    while True:
        with shared.cond:
            if shared.closed or not spare():
                return
            k = next((k for k in shared.left if helper_may is None or helper_may(units[k])), None)
            if k is None:
                return
            shared.left.remove(k)
            shared.helper_busy = True
        try:
            results[k] = work(units[k])
        except BaseException as exc:  # handed to the caller, which raises it
            errors.append(exc)
        finally:
            with shared.cond:
                shared.helper_busy = False
                shared.cond.notify_all()
        if errors:
            return
