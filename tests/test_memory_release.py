"""Memory the allocators hold free is handed back to the system (demo.context.trim_malloc)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from demo import context

pa = pytest.importorskip("pyarrow")
pc = pytest.importorskip("pyarrow.compute")


def _rss_mb() -> float:
    status = Path("/proc/self/status")
    if not status.is_file():
        pytest.skip("needs /proc (Linux)")
    line = next(x for x in status.read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_arrow_keeps_freed_memory_until_it_is_released():
    if pa.default_memory_pool().backend_name == "system":
        pytest.skip("Arrow pools through glibc here, which trims its own large blocks")
    pool = pa.default_memory_pool()
    before = pool.bytes_allocated()  # other tests of this process may hold Arrow data still
    base = pa.array(np.arange(1_000_000, dtype=np.float64))  # 8 MB, zero-copy from numpy
    held = [pc.add(base, float(i)) for i in range(12)]  # 96 MB from Arrow's own pool
    assert pool.bytes_allocated() - before >= 90e6
    del held
    kept = _rss_mb()
    assert pool.bytes_allocated() - before < 10e6
    context.trim_malloc()
    assert kept - _rss_mb() > 48, "the pool's freed pages stayed resident"


def test_nothing_is_imported_to_release_arrow_memory(monkeypatch):
    monkeypatch.delitem(sys.modules, "pyarrow")
    assert context.release_arrow_memory() is False
    assert "pyarrow" not in sys.modules
