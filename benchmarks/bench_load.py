"""Load benchmark of the app as a public Space (a benchmark, not a test): it starts `app.py` itself,
then C clients each send R requests, the next as soon as the last is answered.

    python -m benchmarks.bench_load [--clients 50] [--requests 20] [--malformed 0.1] [--seed 0]

The mix: Compare (every variant, all three tasks, a sentence pair never sent before) at least
40 %, each followed, as in the browser, by its attributions (leave one word out for the two
variants that disagree most, /explain); Errors filters, confusion-cell clicks and CSV exports;
one client in ten (--upload-every) first uploads the three example prediction files of
tests/data/my-model (issue 20) and then asks about its upload in half of its Errors requests
(joined with the shared tables at query time); a share of the requests malformed (None or
unknown variants, unknown tasks and kinds, wrong types, 1 MB of text, cells outside the grid).
Prints per endpoint p50 / p95 / max, well-formed requests that failed, "busy" answers (counted
apart), the messages the malformed ones got, throughput, the app's RSS before and after and the
growth of its temporary files (Gradio's cache and the exports: the app runs with a TMPDIR of its
own). The warm-up sends every request kind first, uploads included (as many uploading sessions
as the run has), so that RSS growth is what the run accumulates. Targets (issue 16): no
well-formed request fails; busy under 5 %; Compare p95 < 8 s; RSS growth < 10 %; temporary files
< 50 MB after the run.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402

from benchmarks.bench_app import inputs  # noqa: E402
from demo.app_testing import free_port, run_app_py  # noqa: E402
from demo.errors_view import GRID_SIZE, NO_FEATURE  # noqa: E402
from minibert.tasks import TASKS as ALL_TASKS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TASKS = {t.name: t.long_title for t in ALL_TASKS}
KINDS = {"sst": ["wrong", "too positive (pred > gold)", "off by 2+ classes", "all examples"],
         "quora": ["wrong", "false positives", "false negatives"],
         "sts": ["|error| > 1", "|error| > 2", "too high (pred > gold)"]}
GRID = GRID_SIZE
UPLOAD_EVERY = 10  # one client in ten uploads its own predictions first (--upload-every)
UPLOAD_NAME = "my-upload"
UPLOAD_FILES = sorted((Path(__file__).resolve().parents[1] / "tests" / "data" / "my-model").glob("*-dev-output.csv"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used: with the wall time, it tells a slower
    machine (same CPU per request, fewer requests a second) from more work per request."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def app_pid(port: int) -> int:
    """The pid of the process listening on `port` (the app started by run_app_py)."""
    want = f":{port:04X}"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[1].endswith(want) and parts[3] == "0A":  # LISTEN
                inodes.add(parts[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    raise RuntimeError(f"no process listens on port {port}")


class Plan:
    """Each client's requests: (endpoint, arguments, well-formed?)."""

    def __init__(self, variants: list[str], pairs: list[tuple[str, str]], malformed: float, seed: int):
        self.variants, self.pairs, self.malformed = variants, iter(pairs), malformed
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def filters(self, **changes) -> list:
        task = changes.pop("task", self.rng.choice(list(TASKS)))
        f = {"task": TASKS[task], "variant": self.rng.choice(["(all variants)"] + self.variants),
             "kind": self.rng.choice(KINDS[task]), "search": self.rng.choice(["", "", "what", "the", "not"]),
             "min_words": 0, "max_words": 0, "other": "(none)", "relation": "disagree with it",
             "slice": "(none)", "cell": "", "word": "", "regex": "", "feature": NO_FEATURE}
        f.update(changes)
        return list(f.values())

    def next(self) -> tuple[str, list, bool]:
        with self.lock:
            r = self.rng.random()
            if self.rng.random() < self.malformed:
                return self.bad()
            if r < 0.45:
                a, b = next(self.pairs)
                return "/compare", ["All three", a, b, self.variants], True
            if r < 0.75:
                return "/errors", self.filters(), True
            if r < 0.90:
                task = self.rng.choice(list(TASKS))
                cell = f"{self.rng.randrange(GRID[task])},{self.rng.randrange(GRID[task])}"
                return "/cell_click", self.filters(task=task, cell=cell, variant=self.rng.choice(self.variants)), True
            # exports: mostly one variant's errors; one in five of everything (refused when too large)
            if self.rng.random() < 0.2:
                return "/export_csv", self.filters(task="quora", variant="(all variants)", kind="all examples"), True
            return "/export_csv", self.filters(variant=self.rng.choice(self.variants)), True

    def bad(self) -> tuple[str, list, bool]:
        a, b = "a malformed request", "sent on purpose"
        cases = [
            ("/compare", ["All three", a, b, None]),
            ("/compare", ["All three", a, b, ["nope"]]),
            ("/compare", ["Everything", a, b, self.variants]),
            ("/compare", [1, {"a": 1}, ["b"], self.variants]),
            ("/compare", ["Sentiment", "x" * 1_000_000, "", self.variants]),
            ("/errors", self.filters(kind="no such kind")),
            ("/errors", self.filters(variant=["a", "list"])),
            ("/errors", self.filters(min_words="many")),
            ("/cell_click", self.filters(task="sst", cell="99,99")),
            ("/export_csv", self.filters(variant="nope")),
            ("/explain", [["nope"], "Sentiment", "gradient × input", a, b]),
        ]
        endpoint, args = self.rng.choice(cases)
        return endpoint, args, False


class HttpClient:
    """A load client as light as the protocol allows: the Gradio REST calls (POST
    /gradio_api/call/NAME, then read its event stream) over one shared connection pool.
    gradio_client's Client, one per simulated user, spent about 0.7 s of CPU for every 1 s the app
    spent (20 x 10 requests: 17.8 s against 24.2 s), and on this 2-core machine that CPU was taken
    from the app; on a Space the users' browsers run elsewhere. The same interface as
    gradio_client.Client.predict, so `--client gradio` can still measure the old way."""

    def __init__(self, url: str, pool) -> None:
        import uuid

        # one session per simulated user, as a browser tab has: an upload is that session's
        self.url, self.pool, self.session = url.rstrip("/"), pool, uuid.uuid4().hex[:12]

    def upload_files(self, paths: list[Path]) -> list[dict]:
        files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in paths]
        post = self.pool.post(f"{self.url}/gradio_api/upload", files=files, timeout=None)
        post.raise_for_status()
        return [{"path": server, "orig_name": p.name, "meta": {"_type": "gradio.FileData"}}
                for server, p in zip(post.json(), paths)]

    def predict(self, *data, api_name: str) -> list:
        import json

        post = self.pool.post(f"{self.url}/gradio_api/call{api_name}",
                              json={"data": list(data), "session_hash": self.session}, timeout=None)
        if post.status_code == 503:
            raise RuntimeError("Queue is full! Please try again.")
        post.raise_for_status()
        event_id = post.json()["event_id"]
        event = None
        with self.pool.stream("GET", f"{self.url}/gradio_api/call{api_name}/{event_id}", timeout=None) as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    payload = line[5:].strip()
                    if event == "error":
                        raise RuntimeError(f"the app raised an exception: {payload[:200]}")
                    return json.loads(payload)
        raise RuntimeError(f"the event stream of {api_name} ended without a result (last event {event!r})")


def explain_call(compare_call: list) -> list:
    """The attributions the browser asks for after a Compare click: no variant named (the two that
    disagree most), sentiment, the default method (leave one word out), the same sentences."""
    return [[], "Sentiment", "leave one word out", compare_call[1], compare_call[2]]


def upload_call(client) -> list:
    """The /upload arguments: the example prediction files sent the way this client sends files."""
    if isinstance(client, HttpClient):
        files = client.upload_files(UPLOAD_FILES)
    else:
        from gradio_client import handle_file

        files = [handle_file(str(p)) for p in UPLOAD_FILES]
    return [files, UPLOAD_NAME, TASKS["sst"]]


def message_of(endpoint: str, result) -> str:
    if endpoint == "/upload":  # the REST answer carries the session state's slot as null, gradio_client's not
        return " ".join(x for x in result if isinstance(x, str))
    if endpoint in ("/compare", "/explain"):  # /explain has one output, the attributions' HTML
        return str(result[0])
    if endpoint == "/export_csv":
        return str(result[1]) or "(file)"
    return str(result[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--malformed", type=float, default=0.1, help="share of malformed requests")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--upload-every", type=int, default=UPLOAD_EVERY,
                        help=f"one client in N uploads tests/data/my-model first (default {UPLOAD_EVERY}; 0: none)")
    parser.add_argument("--client", choices=["http", "gradio"], default="http",
                        help="http: light REST clients (default); gradio: one gradio_client.Client per user, "
                             "which spends CPU the app then lacks")
    args = parser.parse_args()

    import httpx
    from gradio_client import Client

    pool = httpx.Client(limits=httpx.Limits(max_connections=2 * args.clients + 8,
                                            max_keepalive_connections=2 * args.clients + 8))

    def new_client(url: str):
        return HttpClient(url, pool) if args.client == "http" else Client(url, verbose=False, download_files=False)

    temp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "TMPDIR": str(temp),
           "GRADIO_TEMP_DIR": str(temp / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    total = args.clients * args.requests
    with run_app_py(ROOT, env, port, timeout=300) as (url, lines, started):
        pid = app_pid(port)
        warm = new_client(url)
        folder = Path(os.environ.get("MINIBERT_CHECKPOINTS") or ROOT / "checkpoints")
        variants = sorted(p.name for p in folder.iterdir() if (p / "config.json").is_file())
        # One pass over what the run will touch, so that one-time work (lazy imports, the first
        # allocations, the analysis tables' per-task caches) and the largest single request (an
        # export of every Quora row of every variant: a 242,000-row frame before it is refused) are
        # not counted as growth: the growth measured is what the run accumulates.
        warmup = Plan(variants, inputs(8, None, seed=999), 0, 0)
        for a, b in inputs(4, None, seed=998):
            warm.predict("All three", a, b, variants, api_name="/compare")
            warm.predict(*explain_call(["All three", a, b, variants]), api_name="/explain")
        for task in TASKS:
            for variant in ["(all variants)"] + variants:
                warm.predict(*warmup.filters(task=task, variant=variant, kind=KINDS[task][0]), api_name="/errors")
            warm.predict(*warmup.filters(task=task, variant=variants[0], cell="0,0"), api_name="/cell_click")
            warm.predict(*warmup.filters(task=task, variant=variants[0]), api_name="/export_csv")
            warm.predict(*warmup.filters(task=task, variant="(all variants)", kind="all examples"),
                         api_name="/export_csv")
        # As many sessions as the run has uploading clients upload and query their upload on every
        # task, so that the bounded cache of joined uploads (demo.uploads, $MINIBERT_JOIN_CACHE_MB) holds at
        # the start what it holds during the run: its growth up to that bound is not a leak.
        uploaders = len(range(0, args.clients, args.upload_every)) if args.upload_every > 0 else 0
        for _ in range(uploaders):
            session = new_client(url)
            answer = message_of("/upload", session.predict(*upload_call(session), api_name="/upload"))
            if "ids matched" not in answer:
                raise RuntimeError(f"the warm-up's upload was refused: {answer[:200]}")
            for task in TASKS:
                session.predict(*warmup.filters(task=task, variant=UPLOAD_NAME, kind=KINDS[task][0]), api_name="/errors")
                session.predict(*warmup.filters(task=task, variant=UPLOAD_NAME, cell="0,0"), api_name="/cell_click")
        rss0, temp0, cpu0 = rss_mb(pid), folder_mb(temp), cpu_s(pid)
        plan = Plan(variants, inputs(total + 10, os.environ.get("MINIBERT_DATA"), seed=args.seed), args.malformed,
                    args.seed)
        latencies: dict[str, list[float]] = defaultdict(list)
        outcome: Counter = Counter()
        failures: list[str] = []
        messages: Counter = Counter()
        tally = threading.Lock()  # 50 client threads count into these

        def client_loop(k: int) -> None:
            client = new_client(url)
            uploads = args.upload_every > 0 and k % args.upload_every == 0
            for i in range(args.requests):
                endpoint, call, good = plan.next()
                if uploads and i == 0:
                    endpoint, good = "/upload", True
                elif uploads and good and endpoint in ("/errors", "/cell_click") and plan.rng.random() < 0.5:
                    call[1] = UPLOAD_NAME  # this session's own variant
                todo = [(endpoint, call, good)]
                while todo:  # the request, and what the browser asks next (a Compare's attributions)
                    endpoint, call, good = todo.pop(0)
                    start = time.perf_counter()
                    if endpoint == "/upload":
                        call = upload_call(client)
                    try:
                        result = client.predict(*call, api_name=endpoint)
                    except Exception as exc:  # noqa: BLE001 (counted by kind below)
                        busy = "Queue is full" in str(exc)
                        with tally:
                            outcome["busy" if busy else ("failed" if good else "malformed: exception")] += 1
                            if not busy and good:
                                failures.append(f"{endpoint}: {type(exc).__name__}: {str(exc)[:120]}")
                        continue
                    ms = (time.perf_counter() - start) * 1000
                    if good and endpoint == "/compare":
                        todo.append(("/explain", explain_call(call), True))
                    with tally:
                        if good:
                            latencies[endpoint].append(ms)
                            text = message_of(endpoint, result)
                            if endpoint == "/upload" and "ids matched" not in text:
                                outcome["failed"] += 1
                                failures.append(f"/upload: {text[:120]}")
                                continue
                            outcome["refused: export too large" if "would be larger" in text else "ok"] += 1
                        else:
                            outcome["malformed: answered with a message"] += 1
                            messages[f"{endpoint}: {message_of(endpoint, result)[:90]}"] += 1

        begin = time.perf_counter()
        threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(args.clients)]
        for t in threads:
            t.start()
        samples = []
        while any(t.is_alive() for t in threads):
            samples.append(rss_mb(pid))
            time.sleep(2)
        for t in threads:
            t.join()
        wall = time.perf_counter() - begin
        rss1, temp1, cpu1 = rss_mb(pid), folder_mb(temp), cpu_s(pid)
        app_log = list(lines)

    print(f"{args.clients} clients ({args.client}) x {args.requests} requests, {args.malformed:.0%} malformed; app start-up "
          f"{started:.1f} s; {len(variants)} variants; {os.cpu_count()} CPU cores; {uploaders} uploading session(s) "
          "in the warm-up")
    sent = sum(outcome.values())  # the planned requests and the attributions that followed Compare
    print(f"wall {wall:.1f} s, {sent} requests ({sent - total} of them attributions after Compare), throughput "
          f"{sent / wall:.1f} requests/s; the app used {cpu1 - cpu0:.0f} s of CPU ({(cpu1 - cpu0) / wall:.0%} of one "
          f"core, {1000 * (cpu1 - cpu0) / sent:.0f} ms a request)")
    for endpoint, ms in sorted(latencies.items()):
        print(f"  {endpoint:<12} n={len(ms):4d}  p50 {np.percentile(ms, 50):7.0f} ms  p95 {np.percentile(ms, 95):7.0f} ms"
              f"  max {max(ms):7.0f} ms")
    for key, n in sorted(outcome.items()):
        print(f"  {key:<40} {n:5d}  ({n / sent:.1%})")
    for line in failures[:10]:
        print(f"  FAILED {line}")
    if failures:  # the client sees only "the app raised an exception": the app's own log says which
        print("  the app's log, last 40 lines:")
        for line in app_log[-40:]:
            print(f"    | {line.rstrip()}")
    print("  messages the malformed requests got:")
    for text, n in messages.most_common(12):
        print(f"    {n:4d}  {text}")
    quarter = [samples[int(len(samples) * q)] for q in (0.25, 0.5, 0.75)] if samples else []
    print(f"app RSS {rss0:.0f} MB after the warm-up, {rss1:.0f} MB after the run ({(rss1 - rss0) / rss0:+.1%}); "
          f"at a quarter, half and three quarters of the run: {', '.join(f'{x:.0f}' for x in quarter)} MB")
    print(f"temporary files (Gradio cache + exports) {temp0:.2f} MB before, {temp1:.2f} MB after")
    compare_p95 = np.percentile(latencies["/compare"], 95) if latencies["/compare"] else float("nan")
    checks = {"no well-formed request failed": outcome["failed"] == 0,
              "busy under 5 %": outcome["busy"] < 0.05 * sent,
              "Compare p95 < 8 s": compare_p95 < 8000,
              "RSS growth < 10 %": rss1 < 1.1 * rss0,
              "temporary files < 50 MB": temp1 < 50}
    print("targets: " + "; ".join(f"{k}: {'met' if ok else 'NOT met'}" for k, ok in checks.items()))
    shutil.rmtree(temp, ignore_errors=True)  # the app's exports and Gradio's cache, measured above
    return 0


if __name__ == "__main__":
    sys.exit(main())
