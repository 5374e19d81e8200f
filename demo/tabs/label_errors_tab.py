"""Label errors tab: likely mislabeled dev examples with their evidence, CSV export, and each
example across every variant, openable in Compare."""
from __future__ import annotations

import gradio as gr
import pandas as pd

import analysis as A
from minibert.tasks import task as get_task

from .. import errors_view as E
from .. import inputs as I
from .. import label_errors_view as L
from ..serving import TABLE_QUEUE, guarded
from .shared import DerivedView, Opener, bind, example_panel, wire_example_panel


def parse(le: L.LabelErrors, task_name: object, show: object, search: object, min_contradict: object) -> tuple:
    title = I.choice(task_name, [get_task(t).long_title for t in le.tasks()], "task")
    task = next(t for t in le.tasks() if get_task(t).long_title == title)
    search = I.text(search, "Text contains").strip()
    if len(search) > E.MAX_SEARCH:
        raise I.BadInput(f"Text contains is at most {E.MAX_SEARCH:,} characters (got {len(search):,}).")
    return (task, I.choice(show, list(L.SHOWS), "show", default=L.FLAGGED), search,
            I.whole_number(min_contradict, "Min variants against gold"))


@guarded(lambda m: (pd.DataFrame(), f"⚠ {m}", ""))
def refresh(le: L.LabelErrors, *values: object) -> tuple:
    task, show, search, low = parse(le, *values)
    shown, line = L.view(le, task, show, search, low)
    return gr.Dataframe(shown, column_widths=L.widths(shown)), line, L.method_note(le, task)


@guarded(lambda m: f"⚠ {m}")
def lead_note(le: L.LabelErrors, task_name: object) -> str:
    title = I.choice(task_name, [get_task(t).long_title for t in le.tasks()], "task")
    return L.reading_note(le, next(t for t in le.tasks() if get_task(t).long_title == title))


@guarded(lambda m: (gr.File(value=None, visible=False), f"⚠ {m}"))
def export_csv(le: L.LabelErrors, *values: object) -> tuple:
    path = L.write_csv(le, *parse(le, *values))
    if path is None:
        return gr.File(value=None, visible=False), "⚠ No rows match these filters: nothing to export."
    return gr.File(value=str(path), visible=True), ""


def layout(a: A.Analysis | None, reading: A.Reading, can_send: bool) -> list[Opener]:
    le = L.LabelErrors.from_reading(reading)
    first = le.tasks()[0]
    lead = gr.Markdown(L.reading_note(le, first), elem_id="le-reading")
    with gr.Row():
        task = I.LenientRadio([get_task(t).long_title for t in le.tasks()], value=get_task(first).long_title,
                              label="Task", elem_id="le-task", scale=2)
        show = I.LenientDropdown(list(L.SHOWS), value=L.FLAGGED, label="Show", elem_id="le-show")
        search = I.LenientTextbox(label="Text contains", elem_id="le-search")
        low = I.LenientNumber(None, label="Min variants against gold (0 = any)", precision=0, minimum=0,
                              elem_id="le-min")
    shown0, count0 = L.view(le, first, L.FLAGGED, "", None)
    note = gr.Markdown(L.method_note(le, first), elem_id="le-note", elem_classes=["intro"])
    count = gr.Markdown(count0, elem_id="le-count")
    table = gr.Dataframe(shown0, interactive=False, elem_id="le-table", wrap=True, max_height=520,
                         column_widths=L.widths(shown0),
                         label="Click a row to see that example across all variants")
    with gr.Row():
        export = gr.Button("⬇ Export these rows as CSV", size="sm", scale=0, min_width=260, elem_id="le-export")
        csv_file = gr.File(label="CSV", visible=False, elem_id="le-csv", scale=1)
    export_note = gr.Markdown("", elem_id="le-export-note")
    example = example_panel("le-example-card", "le-example-table", "le-send")

    inputs = [task, show, search, low]
    outputs = [table, count, note]
    run = bind(refresh, le)
    task.change(run, inputs, outputs, api_name="label_errors", **TABLE_QUEUE)
    task.change(bind(lead_note, le), task, lead, api_visibility="private", queue=False)
    for box in (show, low):
        box.input(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    search.submit(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    search.blur(run, inputs, outputs, api_visibility="private", **TABLE_QUEUE)
    export.click(bind(export_csv, le), inputs, [csv_file, export_note], api_name="label_errors_csv", **TABLE_QUEUE)
    return [wire_example_panel(example, a, task, table, can_send)]


VIEW = DerivedView(
    tab_id="label-errors", label="Label errors", layout=layout,
    intro="Dev examples whose gold label the variants doubt most, ranked by cleanlab's label quality "
          "(precomputed). Each row says how many trusted variants contradict the gold label, how "
          "confidently, and the label they suggest. Click a row to see the example across every variant.")
