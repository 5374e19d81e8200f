"""Helpers for the app's tests and benchmark: a tiny world (checkpoints, data, analysis tables) and
a context manager that serves the app on a free localhost port.

    world = make_world(folder, tiny_world=None, broken=True)   # {"checkpoints", "data", "tables"}
    with serve(ctx) as url:
        local_client(url).predict(..., api_name="/compare")
"""
from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from minibert.checkpoint_config import CheckpointConfig
from minibert.metrics import overall_score

if TYPE_CHECKING:  # the app's types, for annotations: this module imports neither gradio nor the app up front
    import gradio as gr
    from gradio_client import Client

    from .context import AppContext


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_client(url: str, **options: object) -> Client:
    """A gradio_client Client of the app served here over plain HTTP. It skips certificate checks:
    there is no certificate on http://127.0.0.1, yet with them on every request builds an SSL context
    from the CA bundle, most of what a test's call cost its process (docs/BENCHMARKS.md, "Test suite")."""
    from gradio_client import Client

    if not url.startswith("http://"):
        raise ValueError(f"local_client is for an app served over plain HTTP here, not {url}")
    return Client(url, verbose=False, ssl_verify=False, **options)


def add_history(checkpoint: Path, epochs: int = 4) -> None:
    """Give a tiny checkpoint a plausible training history and dev metrics (config.json only:
    the checkpoint hash leaves both out, so the analysis tables stay current)."""
    config = CheckpointConfig.read(checkpoint)
    history = []
    for e in range(1, epochs + 1):
        dev = {"sst_acc": 0.30 + 0.04 * e, "quora_acc": 0.60 + 0.05 * e, "sts_pearson": 0.50 + 0.06 * e}
        dev["overall"] = overall_score(dev["sst_acc"], dev["quora_acc"], dev["sts_pearson"])
        history.append({"epoch": e, "train_loss": {"sst": 1.6 / e, "quora": 0.7 / e, "sts": 2.0 / e}, "dev": dev})
    config.history = history
    config.metrics = {"dev": history[-1]["dev"]}
    config.training = {**(config.training or {}), "best_epoch": epochs, "wall_seconds": 12.5}
    config.write(checkpoint)


def make_world(folder: Path, tiny_world: dict | None = None, broken: bool = True) -> dict:
    """Tiny checkpoints (+ a broken one that fails to load), tiny data and analysis tables built
    from them through `analysis.build`. Reuses `tiny_world` (the conftest fixture) when given."""
    from analysis.build import build
    from minibert.testing import make_tiny_checkpoints, make_tiny_data

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    checkpoints = folder / "checkpoints"
    if tiny_world is not None:
        import shutil

        shutil.copytree(tiny_world["checkpoints"], checkpoints)
        data = Path(tiny_world["data"])
    else:
        make_tiny_checkpoints(checkpoints)
        data = make_tiny_data(folder / "data")
    for name in ("tiny-cls", "tiny-cross"):
        add_history(checkpoints / name)
    tables = folder / "tables"
    build(checkpoints, data, tables, device="cpu", progress=False, log=lambda line: None)
    if broken:
        bad = checkpoints / "broken-variant"
        bad.mkdir()
        (bad / "config.json").write_text("{ this is not json")
    return {"checkpoints": checkpoints, "data": data, "tables": tables}


@contextlib.contextmanager
def serve(ctx: AppContext, port: int | None = None, concurrency: int = 4, max_size: int | None = None,
          ) -> Iterator[tuple[str, gr.Blocks]]:
    """Build the app for `ctx`, serve it on 127.0.0.1:<free port>, yield its URL, close it.
    `max_size` bounds the queue (default: the app's QUEUE_MAX)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from .serving import configure_queue
    from .ui import build_demo, launch_options

    demo = build_demo(ctx)
    configure_queue(demo, concurrency, max_size)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port or free_port(),
                            quiet=True, **launch_options())
    try:
        yield url, demo
    finally:
        demo.close()


def space_env(port: int) -> dict:
    """This process's environment as a Hugging Face Space would give it to `app.py`: the server
    address and port Spaces set, no GPU, the Hub offline, and none of a developer's MINIBERT_*
    settings, PYTHONPATH or Hub token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIBERT_", "PYTHONPATH", "HF_TOKEN"))}
    env.update(GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SERVER_PORT=str(port), CUDA_VISIBLE_DEVICES="",
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return env


@contextlib.contextmanager
def run_app_py(folder: Path, env: dict, port: int, timeout: float = 120.0) -> Iterator[tuple[str, list[str], float]]:
    """Start `python app.py` in `folder` with exactly `env`, wait until it serves HTTP on `port`,
    and yield (url, output lines so far, seconds from start to the first page served); stop it
    on exit. Raises AssertionError with the app's output when it does not come up."""
    import subprocess
    import sys
    import threading
    import time

    import httpx

    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    url = f"http://127.0.0.1:{port}/"
    try:
        while proc.poll() is None and time.perf_counter() - started < timeout:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"app.py did not serve {url} within {timeout:.0f} s:\n" + "".join(lines))
        yield url, lines, time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
