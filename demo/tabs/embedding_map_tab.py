"""Map tab: two variants' embedding maps side by side, a colouring, and a region of the first map
whose examples are listed and ringed on both."""
from __future__ import annotations

import gradio as gr
import pandas as pd

import analysis as A
from minibert.tasks import task as get_task

from .. import embedding_map_view as M
from .. import inputs as I
from ..serving import TABLE_QUEUE, guarded
from .shared import DerivedView, Opener, bind, no_tables_md


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


@guarded(lambda msg: (gr.skip(), gr.skip(), gr.skip(), None, None, pd.DataFrame(), f"⚠ {msg}", gr.skip()))
def show(a: A.Analysis, m: M.EmbeddingMap, *values: object) -> tuple:
    task, color, va, vb, box = parse(m, *values)
    fig_a, fig_b, table, line, note = M.view(a, m, task, va, vb, color, box)
    variants = m.variants(task)
    return (gr.Dropdown(choices=M.color_choices(task), value=color), gr.Dropdown(choices=variants, value=va),
            gr.Dropdown(choices=variants, value=vb), fig_a, fig_b, table, line, note)


def layout(a: A.Analysis | None, reading: A.Reading, can_send: bool) -> list[Opener]:
    m = M.EmbeddingMap.from_reading(a, reading)
    if not m.tasks:  # the table maps no variant or task loaded here
        gr.Markdown(no_tables_md(A.derived_analysis("embedding_map"), reading))
        return []
    first = m.task_names()[0]
    variants = m.variants(first)
    va, vb = variants[0], variants[1] if len(variants) > 1 else variants[0]
    with gr.Row():
        task = I.LenientRadio([get_task(t).long_title for t in m.task_names()], value=get_task(first).long_title,
                              label="Task", elem_id="map-task", scale=2)
        color = I.LenientDropdown(M.color_choices(first), value=M.GOLD, label="Colour by", elem_id="map-color")
        variant_a = I.LenientDropdown(variants, value=va, label="First map (its box selects)", elem_id="map-a")
        variant_b = I.LenientDropdown(variants, value=vb, label="Second map", elem_id="map-b")
    with gr.Row():
        # Text boxes, not gr.Number: an empty bound must read as empty, not as 0.
        bounds = [I.LenientTextbox("", label=label, elem_id=f"map-{key}", min_width=100, placeholder="e.g. 2.5")
                  for key, label in (("x0", "x from"), ("x1", "x to"), ("y0", "y from"), ("y1", "y to"))]
        go_button = gr.Button("List the examples in this box", elem_id="map-list", scale=0, min_width=220)
        clear = gr.Button("Clear the box", elem_id="map-clear", size="sm", scale=0, min_width=120)
    fig_a, fig_b, table0, line0, note0 = M.view(a, m, first, va, vb, M.GOLD, None)
    with gr.Row():
        plot_a = gr.Plot(fig_a, elem_id="map-plot-a", show_label=False)
        plot_b = gr.Plot(fig_b, elem_id="map-plot-b", show_label=False)
    line = gr.Markdown(line0, elem_id="map-count")
    table = gr.Dataframe(table0, interactive=False, wrap=True, max_height=420, elem_id="map-table",
                         label="Examples in the box")
    note = gr.Markdown(note0, elem_id="map-note", elem_classes=["intro"])

    inputs = [task, color, variant_a, variant_b, *bounds]
    outputs = [color, variant_a, variant_b, plot_a, plot_b, table, line, note]
    run = bind(show, a, m)
    go_button.click(run, inputs, outputs, api_name="embedding_map", **TABLE_QUEUE)
    task.change(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    for box in (color, variant_a, variant_b):
        box.input(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    for bound in bounds:
        bound.submit(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    clear.click(lambda: [""] * 4, None, bounds, api_visibility="private") \
        .then(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    return []


VIEW = DerivedView(
    tab_id="map", label="Map", layout=layout,
    intro="Each variant's dev examples laid out by the vector its head reads (precomputed UMAP). Colour the "
          "points, then pick a box on the first map: its examples are listed and ringed on both maps, so you can "
          "see whether the second variant keeps them together.")
