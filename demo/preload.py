"""Charts drawn as soon as their tab opens: Gradio fetches and runs its Plotly bundle (4.6 MB of
JavaScript) only when the first chart mounts, and mounts a tab's components only when the tab is
first opened, so every chart tab of a fresh page took seconds to draw (figures in
docs/BENCHMARKS.md, `python -m benchmarks.bench_tabs`). The page imports that bundle itself as
soon as it shows; the chart component's own import then finds the module ready (one URL, one
module)."""
from __future__ import annotations

from pathlib import Path

import gradio as gr


def plotly_chunk() -> str | None:
    """The file name of Gradio's Plotly bundle among its frontend assets (named by content hash),
    or None when this Gradio has none or several."""
    found = sorted((Path(gr.__file__).parent / "templates" / "frontend" / "assets").glob("PlotlyPlot-*.js"))
    return found[0].name if len(found) == 1 else None


def preload_js() -> str:
    """A page function (for `launch(js=...)`) that imports the Plotly bundle once the page shows.
    Its address is the one Gradio's chart component imports: beside the page's own
    /assets/index-*.js, wherever the app is served from (a Space's proxy included)."""
    chunk = plotly_chunk()
    if chunk is None:
        return "() => {}"
    return """() => {
  const chunk = "CHUNK";
  const start = () => {
    const index = performance.getEntriesByType("resource").map((e) => e.name)
      .find((name) => /\\/assets\\/index-[^/]*\\.js$/.test(name));
    if (index) import(index.replace(/[^/]*$/, chunk)).catch(() => {});
  };
  // once the page has drawn (this hook runs when the app has mounted) and is idle, half a second at most
  if (window.requestIdleCallback) requestIdleCallback(start, { timeout: 500 }); else setTimeout(start, 0);
}""".replace("CHUNK", chunk)
