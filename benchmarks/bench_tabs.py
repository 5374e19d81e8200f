"""Browser benchmark of the app (a benchmark, not a test): how long after a tab is opened its
charts are drawn, in Debian's headless Chromium driven by playwright (as the browser tests).

    python -m benchmarks.bench_tabs [--repeats 3] [--settle 1.0] [--width 1440]

Starts `app.py` itself (as benchmarks/bench_load does: the shipped checkpoints and tables, or
$MINIBERT_CHECKPOINTS / $MINIBERT_TABLES), reads from the app's own config which tabs hold charts
(every `gr.Plot` with a figure and shown, by its elem_id), then for each such tab and each repeat:
a fresh browser context (an empty cache, as a first visit), the page loaded, `--settle` seconds of
a person reading it, then the tab's button clicked and, inside the page, the time from the click
to the frame in which every one of the tab's charts is drawn (Plotly has laid it out and its
traces are on screen). Compare is measured after one scoring (its charts appear only then), from
the click of "Compare all variants" to its three charts drawn (HTML bars, demo.bar_charts: drawn
once laid out); before it, what Compare shows of
its chart boxes is reported (their height: they should take no room until there is something to
draw). Prints per tab the median and the worst of the repeats, and where the time went (medians):
when the charts' boxes were on the page (Gradio mounts a tab's components when it is first
opened), when Plotly's first draw call for them began, and how long its draw calls took. Target
(issue 30): every tab's charts within 500 ms of opening it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from demo.app_testing import free_port, run_app_py  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 500
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-dev-shm-usage"]
COMPARE_PLOTS = ["plot-sst", "plot-quora", "plot-sts"]

# In the page: click `button`, then wait frame by frame until every chart in `ids` is drawn.
# Returns {ms: from the click to that frame (null after `limit` ms), shown: to the first frame with
# every chart's box on the page (the tab's components mounted, or Compare's answer applied),
# start: to Plotly's first draw call for these charts, draw: the ms Plotly spent in those calls}.
TIME_TO_DRAWN = """async ([button, ids, limit]) => {
  const drawn = (id) => {
    const bars = document.querySelector(`#${id} table.bar-chart`);  // demo.bar_charts: laid out is drawn
    if (bars) return bars.getBoundingClientRect().width > 0 && bars.querySelector(".bar-track") !== null;
    const gd = document.querySelector(`#${id} .js-plotly-plot`);
    if (!gd || !gd._fullLayout) return false;
    const svg = gd.querySelector(".main-svg");
    if (!svg || svg.getBoundingClientRect().width === 0) return false;
    return gd.querySelectorAll("g.trace, g.points, canvas.gl-canvas-context").length > 0;
  };
  const calls = [];
  const P = window.Plotly, react = P && P.react;
  if (react) P.react = function (gd, ...rest) {
    const begin = performance.now();
    const out = react.call(this, gd, ...rest);
    if (ids.some((id) => gd.closest && gd.closest(`#${id}`)))
      Promise.resolve(out).finally(() => calls.push([begin, performance.now()]));
    return out;
  };
  const start = performance.now();
  let shown = null;
  try {
    button.click();
    while (performance.now() - start < limit) {
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      if (shown === null && ids.every((id) => document.getElementById(id))) shown = performance.now() - start;
      if (ids.every(drawn)) {
        return { ms: performance.now() - start, shown, preloaded: Boolean(react),
                 start: calls.length ? Math.min(...calls.map((c) => c[0])) - start : null,
                 draw: calls.reduce((t, c) => t + c[1] - c[0], 0) };
      }
    }
    return { ms: null };
  } finally {
    if (react) P.react = react;
  }
}"""


def chart_tabs(url: str) -> dict[str, list[str]]:
    """{tab id: [elem_id of each chart shown when it opens]} from the app's /config: every plot
    component with a figure and not hidden, under the tab that holds it."""
    import httpx

    config = httpx.get(f"{url.rstrip('/')}/config", timeout=30).json()
    components = {c["id"]: c for c in config["components"]}
    out: dict[str, list[str]] = {}

    def walk(node: dict, tab: str | None) -> None:
        comp = components.get(node["id"], {})
        props = comp.get("props", {})
        if comp.get("type") == "tabitem" and tab is None:
            tab = props.get("id")
        if comp.get("type") == "plot" and props.get("value") and props.get("visible", True) is not False:
            out.setdefault(tab, []).append(props.get("elem_id") or f"component-{node['id']}")
        for child in node.get("children", []):
            walk(child, tab)

    walk(config["layout"], None)
    return out


def open_page(browser, url: str, width: int, settle: float):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    page.wait_for_selector("#compare-button")
    page.wait_for_timeout(settle * 1000)
    return context, page


FIND_TAB = """(tab) => document.querySelector(`button[role=tab][data-tab-id="${tab}"]`)"""


def time_tab(browser, url: str, tab: str, ids: list[str], width: int, settle: float) -> dict:
    context, page = open_page(browser, url, width, settle)
    try:
        button = page.evaluate_handle(FIND_TAB, tab).as_element()
        if button is None:
            raise RuntimeError(f"no button for tab {tab!r}: " + ", ".join(page.evaluate(
                "() => Array.from(document.querySelectorAll('button[role=tab]'), b => b.dataset.tabId)")))
        return page.evaluate(TIME_TO_DRAWN, [button, ids, 30_000])
    finally:
        context.close()


def time_compare(browser, url: str, width: int, settle: float) -> tuple[dict, float]:
    """(TIME_TO_DRAWN's timings from the click of Compare to its three charts drawn, px of chart
    boxes before a first score)."""
    context, page = open_page(browser, url, width, settle)
    try:
        empty = page.evaluate("(ids) => ids.reduce((h, id) => { const e = document.getElementById(id); "
                              "return h + (e ? e.getBoundingClientRect().height : 0); }, 0)", COMPARE_PLOTS)
        ms = page.evaluate(TIME_TO_DRAWN, [page.locator("#compare-button").element_handle(), COMPARE_PLOTS, 60_000])
        return ms, empty
    finally:
        context.close()


def summary(label: str, runs: list[dict]) -> str:
    done = [r for r in runs if r.get("ms") is not None]
    if len(done) < len(runs):
        return f"  {label:<30} {len(runs) - len(done)} of {len(runs)} never drawn within the limit"
    ms = [r["ms"] for r in done]
    med, worst = statistics.median(ms), max(ms)
    line = (f"  {label:<30} median {med:7.0f} ms   worst {worst:7.0f} ms   n={len(done)}   "
            f"(target {TARGET_MS} ms: {'met' if worst < TARGET_MS else 'NOT met'})")

    def median_of(key: str) -> str:
        values = [r[key] for r in done if r.get(key) is not None]
        return f"{statistics.median(values):.0f}" if len(values) == len(done) else "?"
    preloaded = sum(bool(r.get("preloaded")) for r in done)
    if not any(r.get("start") is not None for r in done):  # HTML charts (demo.bar_charts): no Plotly call
        return line + f"\n  {'':<30} medians: boxes on the page at {median_of('shown')} ms; no Plotly chart among them"
    return (line + f"\n  {'':<30} medians: boxes on the page at {median_of('shown')} ms, Plotly's first draw "
            f"call at {median_of('start')} ms, {median_of('draw')} ms in Plotly's draw calls (Plotly loaded "
            f"before the click in {preloaded} of {len(done)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="page loads per tab")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between the page shown and the tab opened")
    parser.add_argument("--width", type=int, default=1440, help="browser viewport width in px")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"no chromium at {CHROMIUM}: apt-get install -y chromium")
        return 1
    from playwright.sync_api import sync_playwright

    temp = Path(tempfile.mkdtemp(prefix="bench-tabs-"))
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "TMPDIR": str(temp),
           "GRADIO_TEMP_DIR": str(temp / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    try:
        with run_app_py(ROOT, env, port, timeout=300) as (url, _, started), sync_playwright() as p:
            tabs = chart_tabs(url)
            print(f"app start-up {started:.1f} s; {os.cpu_count()} CPU cores; chromium at {CHROMIUM}; viewport "
                  f"{args.width} px; {args.repeats} fresh page loads a tab, the tab opened {args.settle:.1f} s after "
                  "the page showed")
            print("charts shown when each tab opens (from the app's config): "
                  + "; ".join(f"{t}: {', '.join(ids)}" for t, ids in tabs.items()))
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            time_tab(browser, url, *next(iter(tabs.items())), args.width, args.settle)  # warm-up: the server's first
            for tab, ids in tabs.items():
                ms = [time_tab(browser, url, tab, ids, args.width, args.settle) for _ in range(args.repeats)]
                print(summary(f"{tab} ({len(ids)} chart{'s' if len(ids) != 1 else ''})", ms), flush=True)
            runs = [time_compare(browser, url, args.width, args.settle) for _ in range(args.repeats)]
            print(summary("compare, click to 3 charts", [timing for timing, _ in runs]))
            print(f"  compare before a first score: its chart boxes take {max(h for _, h in runs):.0f} px of height")
            browser.close()
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
