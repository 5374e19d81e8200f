"""Charts drawn as soon as their tab opens: Gradio fetches and runs its Plotly bundle (4.6 MB of
JavaScript) only when the first chart mounts, and mounts a tab's components only when the tab is
first opened, so every chart tab of a fresh page took seconds to draw (figures in
docs/BENCHMARKS.md, `python -m benchmarks.bench_tabs`). The page imports that bundle itself as
soon as it shows; the chart component's own import then finds the module ready (one URL, one
module). Then it draws one small chart out of sight and removes it: a
bundle's first chart runs Plotly's code for the first time (compiled then, its style sheet added,
its text measured), a cost the first chart of whichever tab is opened would otherwise pay."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import plotly.graph_objects as go

from .palette import themed


def plotly_chunk() -> str | None:
    """The file name of Gradio's Plotly bundle among its frontend assets (named by content hash),
    or None when this Gradio has none or several."""
    found = sorted((Path(gr.__file__).parent / "templates" / "frontend" / "assets").glob("PlotlyPlot-*.js"))
    return found[0].name if len(found) == 1 else None


def warm_figure() -> dict:
    """The chart drawn out of sight: a little of each kind of chart the app draws (lines with
    markers, grouped bars with error bars, a scatter to select on, a reference line and a label),
    in the app's theme, so that each kind's code has run once."""
    fig = go.Figure()
    fig.add_scatter(x=[0.2, 0.6, 1.0], y=[0.3, 0.5, 0.9], mode="lines+markers", name="a", customdata=[1, 2, 3],
                    hovertemplate="%{x:.2f} %{customdata}<extra></extra>")
    fig.add_scatter(x=[0.1, 0.4, 0.8], y=[0.7, 0.2, 0.4], mode="markers", name="b", text=["x", "y", "z"],
                    marker={"size": 5, "opacity": 0.75}, xaxis="x2", yaxis="y2")
    for k, share in enumerate((0.3, 0.7)):
        fig.add_bar(x=["one", "two"], y=[share, 1 - share], name=f"c{k}", xaxis="x3", yaxis="y3",
                    error_y={"type": "data", "symmetric": False, "array": [0.05, 0.1], "arrayminus": [0.1, 0.05]})
    fig.update_layout(title={"text": "warm-up", "x": 0}, barmode="group", dragmode="select", height=320,
                      legend={"orientation": "h", "y": -0.2},
                      xaxis={"domain": [0, 0.3], "title": {"text": "x"}, "tickformat": ".0%"},
                      xaxis2={"domain": [0.35, 0.65], "anchor": "y2"}, yaxis2={"anchor": "x2"},
                      xaxis3={"domain": [0.7, 1], "anchor": "y3"}, yaxis3={"anchor": "x3"},
                      shapes=[{"type": "line", "x0": 0.5, "x1": 0.5, "y0": 0, "y1": 1, "yref": "y domain",
                               "line": {"dash": "dash"}}],
                      annotations=[{"text": "ref", "x": 0.5, "y": 1, "yref": "y domain", "showarrow": False}])
    return json.loads(themed(fig).to_json())


def preload_js() -> str:
    """A page function (for `launch(js=...)`) that imports the Plotly bundle once the page shows,
    then draws `warm_figure()` out of sight and removes it. The bundle's address is the one
    Gradio's chart component imports: beside the page's own /assets/index-*.js, wherever the app is
    served from (a Space's proxy included)."""
    chunk = plotly_chunk()
    if chunk is None:
        return "() => {}"
    warm = warm_figure()
    return """() => {
  const chunk = "CHUNK";
  const start = () => {
    const index = performance.getEntriesByType("resource").map((e) => e.name)
      .find((name) => /\\/assets\\/index-[^/]*\\.js$/.test(name));
    // drawn at once, not when the page is next idle: Gradio's page is seldom idle for long, and a
    // warm-up still to come when a tab is opened would only add to that tab's wait
    if (index) import(index.replace(/[^/]*$/, chunk)).then(() => setTimeout(warm, 0)).catch(() => {});
  };
  const warm = () => {
    const P = window.Plotly;
    if (!P || typeof P.newPlot !== "function") return;
    const box = document.createElement("div");
    box.setAttribute("aria-hidden", "true");
    box.style.cssText = "position:fixed;left:-10000px;top:0;width:480px;height:320px;visibility:hidden;pointer-events:none";
    document.body.appendChild(box);
    const done = () => { try { P.purge(box); } catch (e) { /* gone already */ } box.remove(); };
    try {
      Promise.resolve(P.newPlot(box, WARM_DATA, WARM_LAYOUT, { responsive: false })).then(done, done);
    } catch (e) { done(); }
  };
  // once the page has drawn (this hook runs when the app has mounted) and is idle, half a second at most
  if (window.requestIdleCallback) requestIdleCallback(start, { timeout: 500 }); else setTimeout(start, 0);
}""".replace("CHUNK", chunk).replace("WARM_DATA", json.dumps(warm["data"])) \
        .replace("WARM_LAYOUT", json.dumps(warm["layout"]))
