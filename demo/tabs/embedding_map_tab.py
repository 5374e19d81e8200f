"""Map tab: two variants' embedding maps side by side, a colouring, and a selection (a box or
lasso drawn on either map, or a box of coordinates typed for the first) whose examples are listed
and ringed on both. The selection is held as a `MapSelection` in a gr.State, the tab's handle."""
from __future__ import annotations

import gradio as gr
import pandas as pd

import analysis as A
from minibert.tasks import task as get_task

from .. import embedding_map_view as M
from .. import errors_view as E
from .. import glossary as G
from .. import inputs as I
from ..serving import TABLE_QUEUE, guarded
from .shared import DerivedView, ViewHandles, bind, no_tables_md


def parse(m: M.EmbeddingMap, task_name: object, color_by: object, variant_a: object, variant_b: object,
          *bounds: object) -> tuple:
    title = I.choice(task_name, [get_task(t).long_title for t in m.task_names()], "task")
    task = next(t for t in m.task_names() if get_task(t).long_title == title)
    variants = m.variants(task)
    # After a change of task a variant may have no map there: fall back to the first ones.
    a = I.choice(variant_a, variants, "variant A", default=variants[0]) if variant_a in variants else variants[0]
    fallback = variants[1] if len(variants) > 1 else variants[0]
    b = I.choice(variant_b, variants, "variant B", default=fallback) if variant_b in variants else fallback
    colors = M.color_choices(task)
    color = color_by if color_by in colors else M.GOLD
    return task, color, a, b, M.parse_box(*bounds)


def _shown(a: A.Analysis, m: M.EmbeddingMap, task: str, color: str, va: str, vb: str, box: tuple | None,
           sel: M.MapSelection | None) -> tuple:
    fig_a, fig_b, table, line, note = M.view(a, m, task, va, vb, color, box, sel)
    variants = m.variants(task)
    # the table's columns differ by task (a pair has two sentences): its widths go with it
    return (gr.Dropdown(choices=color_dropdown(task), value=color), gr.Dropdown(choices=variants, value=va),
            gr.Dropdown(choices=variants, value=vb), fig_a, fig_b, fitted(table), line, note)


def fitted(table: pd.DataFrame) -> gr.Dataframe:
    return gr.Dataframe(table, column_widths=E.column_widths(list(table.columns)))


def color_dropdown(task: str) -> list[tuple[str, str]]:
    """The colour choices as people read them ("slice: wrong for every variant"), sending the value."""
    def shown(value: str) -> str:
        return M.SLICE_PREFIX + G.label(value[len(M.SLICE_PREFIX):]) if value.startswith(M.SLICE_PREFIX) else value
    return G.choices(M.color_choices(task), shown)


def _failed(msg: str) -> tuple:
    return (gr.skip(), gr.skip(), gr.skip(), None, None, pd.DataFrame(), f"⚠ {msg}", gr.skip(), gr.skip())


@guarded(_failed)
def show(a: A.Analysis, m: M.EmbeddingMap, sel: object, *values: object) -> tuple:
    """The maps for the pickers. A typed box selects on the first map; without one, a selection
    drawn earlier stays while the task does (a colour or a variant changes how it is seen, not what
    it is)."""
    task, color, va, vb, box = parse(m, *values)
    if box is not None:
        sel = M.box_selection(a, m, task, va, box)
    elif not isinstance(sel, M.MapSelection) or sel.task != task:
        sel = None
    return (*_shown(a, m, task, color, va, vb, box, sel), sel)


@guarded(lambda msg: (*_failed(msg), *(gr.skip(),) * 4))
def pick(a: A.Analysis, m: M.EmbeddingMap, which: object, rows: object, *values: object) -> tuple:
    """A box or lasso drawn on map `which` ("a" or "b"): its examples become the selection, and the
    typed box, which no longer describes it, is emptied."""
    task, color, va, vb, _ = parse(m, *values[:4], None, None, None, None)
    which = I.choice(which, ["a", "b"], "map")
    sel = M.drawn_selection(a, m, task, va if which == "a" else vb, rows)
    if not sel.ids:
        sel = None  # an empty box or a double-click: nothing selected
    return (*_shown(a, m, task, color, va, vb, None, sel), sel, "", "", "", "")


# The page's side of a selection: Plotly reports a box or lasso on either map (each point's dev row
# is its customdata) and the bridge component sends those rows to the app as its "select" event.
# Gradio's plot component re-draws into the same chart div (Plotly.react keeps its listeners); a
# div it replaces is hooked again by the observer.
BRIDGE_JS = """
const hook = (gd, which) => {
  if (!gd || gd.__mapSelect || typeof gd.on !== "function") return;
  gd.__mapSelect = true;
  const send = (rows) => trigger("select", { map: which, rows: rows });
  gd.on("plotly_selected", (ev) => {
    if (!ev || !ev.points) return;
    const rows = new Set();
    ev.points.forEach((p) => { if (Number.isInteger(p.customdata)) rows.add(p.customdata); });
    send([...rows]);
  });
  gd.on("plotly_deselect", () => send([]));
};
const scan = () => {
  hook(document.querySelector("#map-plot-a .js-plotly-plot"), "a");
  hook(document.querySelector("#map-plot-b .js-plotly-plot"), "b");
};
scan();
new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
"""


def layout(a: A.Analysis | None, reading: A.Reading, can_send: bool) -> ViewHandles:
    m = M.EmbeddingMap.from_reading(a, reading)
    if not m.tasks:  # the table maps no variant or task loaded here
        gr.Markdown(no_tables_md(A.derived_analysis("embedding_map"), reading))
        return ViewHandles()
    first = m.task_names()[0]
    variants = m.variants(first)
    va, vb = variants[0], variants[1] if len(variants) > 1 else variants[0]
    with gr.Row():
        task = I.LenientRadio([get_task(t).long_title for t in m.task_names()], value=get_task(first).long_title,
                              label="Task", elem_id="map-task", scale=2)
        color = I.LenientDropdown(color_dropdown(first), value=M.GOLD, label="Colour by", elem_id="map-color")
        variant_a = I.LenientDropdown(variants, value=va, label="First map", elem_id="map-a")
        variant_b = I.LenientDropdown(variants, value=vb, label="Second map", elem_id="map-b")
    fig_a, fig_b, table0, line0, note0 = M.view(a, m, first, va, vb, M.GOLD, None)
    bridge = gr.HTML('<div class="intro">Drag on a map to select (box; the lasso is in its toolbar); '
                     "double-click it to clear.</div>", js_on_load=BRIDGE_JS, elem_id="map-bridge")
    with gr.Row():
        plot_a = gr.Plot(fig_a, elem_id="map-plot-a", show_label=False)
        plot_b = gr.Plot(fig_b, elem_id="map-plot-b", show_label=False)
    line = gr.Markdown(line0, elem_id="map-count")
    with gr.Row():
        # Text boxes, not gr.Number: an empty bound must read as empty, not as 0.
        bounds = [I.LenientTextbox("", label=label, elem_id=f"map-{key}", min_width=100, placeholder="e.g. 2.5")
                  for key, label in (("x0", "x from"), ("x1", "x to"), ("y0", "y from"), ("y1", "y to"))]
        go_button = gr.Button("List the examples in this box of the first map", elem_id="map-list", scale=0,
                              min_width=220)
        clear = gr.Button("Clear the selection", elem_id="map-clear", size="sm", scale=0, min_width=120)
    table = gr.Dataframe(table0, interactive=False, wrap=True, max_height=420, elem_id="map-table",
                         column_widths=E.column_widths(list(table0.columns)),
                         label="Selected examples, with both maps' variants")
    note = gr.Markdown(note0, elem_id="map-note", elem_classes=["intro"])
    selection = gr.State(None)  # the MapSelection on screen (None: nothing selected)
    which, rows = I.LenientTextbox(visible=False, label="map"), I.LenientTextbox(visible=False, label="rows")
    select_api = gr.Button(visible=False)

    pickers = [task, color, variant_a, variant_b]
    inputs = [selection, *pickers, *bounds]
    outputs = [color, variant_a, variant_b, plot_a, plot_b, table, line, note, selection]
    run = bind(show, a, m)
    go_button.click(run, inputs, outputs, api_name="embedding_map", **TABLE_QUEUE)
    task.change(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    for box in (color, variant_a, variant_b):
        box.input(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    for bound in bounds:
        bound.submit(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    clear.click(lambda: [""] * 4 + [None], None, [*bounds, selection], api_visibility="private") \
        .then(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    picked = bind(pick, a, m)

    def on_select(task_name: object, color_by: object, va: object, vb: object, evt: gr.EventData) -> tuple:
        data = evt._data if isinstance(getattr(evt, "_data", None), dict) else {}  # what BRIDGE_JS sent
        return picked(data.get("map"), data.get("rows"), task_name, color_by, va, vb)

    bridge.select(on_select, pickers, [*outputs, *bounds], api_visibility="private", **TABLE_QUEUE)
    select_api.click(picked, [which, rows, *pickers], [*outputs, *bounds], api_name="map_select", **TABLE_QUEUE)
    return ViewHandles(selection=selection)


VIEW = DerivedView(
    tab_id="map", label="Map", layout=layout,
    intro="Each variant's dev examples laid out by the vector its head reads (precomputed UMAP). Colour the "
          "points, then select some on either map: they are listed and ringed on both maps, so you can see "
          "whether the other variant keeps them together.")
