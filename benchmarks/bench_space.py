"""Benchmark of the Space's cold start (a benchmark, not a test).

    python -m benchmarks.bench_space [--runs 3]

Assembles the deploy set (`demo.deploy`) into a fresh temporary folder, as a Space receives it,
and starts `python app.py` there with the Space's environment (GRADIO_SERVER_NAME/PORT set; no
data directory, no GPU, no MINIBERT_* variables). Measures, per run, the seconds from starting the
process to (1) the first page served and (2) the first "Compare all variants" answered (all three
tasks on every variant) through gradio_client. Prints every run, the median, and the deploy set's
size. Target (issue 9): first request served under 15 s on this CPU.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_SECONDS = 15.0


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)

    from gradio_client import Client

    from demo import deploy
    from demo.app_testing import free_port, run_app_py, space_env

    files, problems = deploy.deploy_set()
    if problems:
        sys.exit("the deploy set has problems:\n" + "\n".join(problems))
    total = sum(f.size for f in files)
    print(f"deploy set: {len(files)} files, {total / 2**20:.2f} MB")
    page, first = [], []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="space-") as tmp:
            folder = deploy.assemble(files, Path(tmp) / "app")
            names = sorted(p.name for p in (folder / "checkpoints").iterdir() if p.is_dir())
            port = free_port()
            started = time.perf_counter()
            with run_app_py(folder, space_env(port), port, timeout=300) as (url, _, served):
                Client(url, verbose=False).predict(
                    "All three", "How do I learn to cook?", "What is the best way to learn cooking?", names,
                    api_name="/compare")
                answered = time.perf_counter() - started
        page.append(served)
        first.append(answered)
        print(f"run {run}: first page served {served:.2f} s, first comparison answered {answered:.2f} s "
              f"({len(names)} variants)")
    median = statistics.median(first)
    print(f"median of {args.runs}: first page {statistics.median(page):.2f} s, first comparison {median:.2f} s "
          f"(target under {TARGET_SECONDS:.0f} s: {'met' if median < TARGET_SECONDS else 'MISSED'})")


if __name__ == "__main__":
    main()
