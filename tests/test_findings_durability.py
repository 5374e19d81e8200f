"""Nothing acknowledged is lost (issue 31, criterion 7): a writer process killed with SIGKILL in the
middle of its writes, then the database opened again; and 20 concurrent writers that lose nothing.
The full 50 x 20 run is benchmarks/bench_findings.py."""
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from findings import Store, Writer
from tests.findings_helpers import url_for

ROOT = Path(__file__).resolve().parents[1]
# Prints each note's text only after add_note returned, i.e. after the commit: an acknowledgement.
WRITER = """
import sys
from findings import Store, Writer
store = Store(sys.argv[1], max_per_user=100_000, max_rows=100_000)
print("ready", flush=True)
i = 0
while True:
    store.add_note(Writer("killed"), "sst", f"ex{i}", f"write {i}")
    print(f"write {i}", flush=True)
    i += 1
"""


@pytest.mark.subprocess
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_acknowledged_write_survives_a_sigkill(backend, tmp_path):
    url = url_for(backend, tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    acked = []
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while len(acked) < 60 and time.monotonic() < deadline:
            acked.append(proc.stdout.readline().strip())
        # Killed while it is writing: the next write is in flight.
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) == 60 and acked[-1] == "write 59"
    store = Store(url)
    assert store.available, store.error
    stored = {r["text"] for r in store.rows("notes", Writer("check", moderator=True))}
    store.close()
    assert set(acked) <= stored
    # At most the one write in flight was committed without being acknowledged.
    assert len(stored) - len(acked) <= 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_writers_lose_nothing(backend, tmp_path):
    url = url_for(backend, tmp_path)
    store = Store(url)

    def write(i):
        for j in range(5):
            store.add_tag(Writer(f"w{i}"), "sst", f"ex{j}", "sarcasm")
            store.add_note(Writer(f"w{i}"), "sst", f"ex{j}", f"{i}-{j}")

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(write, range(20)))
    counts = store.count()
    notes = {r["text"] for r in store.rows("notes", Writer("check", moderator=True))}
    store.close()
    assert counts["tags"] == 100 and counts["notes"] == 100
    assert notes == {f"{i}-{j}" for i in range(20) for j in range(5)}
