"""MiniBERT Explorer: every variant side by side, their dev-set errors, slices and training.

    python app.py [--host 0.0.0.0] [--port 7860] [--checkpoints DIR] [--tables DIR] [--data-dir DIR]
                  [--live module:factory ...]

Serves on 127.0.0.1:7860 by default; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (which Hugging Face
Spaces set) are honoured. Every variant in $MINIBERT_CHECKPOINTS (default checkpoints/) is loaded
once at start-up, on the GPU when there is one; the dev-set analysis comes from $MINIBERT_TABLES
(default analysis/tables/) with text from $MINIBERT_DATA when set, else the shipped dev examples.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from demo.gpu import import_spaces  # noqa: E402  (imports neither torch nor gradio)

# On ZeroGPU hardware `spaces` must be imported before torch initialises CUDA; elsewhere it is
# usually absent, and this does nothing.
import_spaces()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=None, help="address to serve on (default $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default $GRADIO_SERVER_PORT or 7860)")
    p.add_argument("--checkpoints", default=None, help="checkpoints folder (default $MINIBERT_CHECKPOINTS or checkpoints/)")
    p.add_argument("--tables", default=None, help="analysis tables folder (default $MINIBERT_TABLES or analysis/tables/)")
    p.add_argument("--data-dir", default=None, help="CS224N data folder for dev-set text (default $MINIBERT_DATA)")
    p.add_argument("--device", default=None, help="torch device (default cuda when available, else cpu)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default $MINIBERT_THREADS or cores/2)")
    p.add_argument("--live", action="append", default=[], metavar="MODULE:FACTORY",
                   help="also score your own model in Compare (runs your code; see minibert/live.py); repeatable; "
                        "$MINIBERT_LIVE adds more, comma-separated")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    from demo.compare_view import warm_up
    from demo.context import configure_threads, limit_malloc_arenas, load_context, map_large_blocks
    from demo.gpu import in_this_process
    from demo.serving import configure_queue
    from demo.ui import build_demo, launch_options

    limit_malloc_arenas()
    map_large_blocks()
    threads = configure_threads(args.threads)
    ctx = load_context(args.checkpoints, args.tables, args.data_dir, device=args.device, live=args.live,
                       host=args.host)
    demo = build_demo(ctx)
    configure_queue(demo)
    # on ZeroGPU the models run in its GPU worker, started per request: nothing to warm here
    warmed = f"{warm_up(ctx.variants, ctx.trust()):.2f} s" if in_this_process() else "skipped (ZeroGPU)"
    print(f"MiniBERT Explorer: {len(ctx.variants)} variant(s) from {ctx.checkpoints_dir} on {ctx.device} "
          f"({threads} CPU thread(s)) in {ctx.load_seconds:.2f} s; analysis tables in {ctx.tables_seconds:.2f} s; "
          f"first scoring {warmed}; start-up {time.perf_counter() - started:.2f} s", flush=True)
    for failure in ctx.failures:
        print(f"  could not load {failure.name}: {failure.reason}", file=sys.stderr, flush=True)
    if ctx.analysis is not None:
        for problem in getattr(ctx.analysis, "problems", []):
            print(f"  analysis: {problem}", file=sys.stderr, flush=True)
    elif ctx.analysis_error:
        print(f"  analysis: {ctx.analysis_error}", file=sys.stderr, flush=True)
    if ctx.findings is not None and not ctx.findings.available:
        print(f"  findings: {ctx.findings.error}", file=sys.stderr, flush=True)
    kwargs = {}
    if args.host:
        kwargs["server_name"] = args.host
    if args.port:
        kwargs["server_port"] = args.port
    demo.launch(**kwargs, **launch_options())


if __name__ == "__main__":
    main()
