"""Errors tab: per-variant metrics, the clickable confusion matrix, a diagnostic chart and the
error table with its filters, CSV export and one example across every variant."""
from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import gradio as gr
import pandas as pd

import analysis as A
from minibert.tasks import task as get_task
from minibert.tasks import task_titled

from .. import errors_view as E
from .. import inputs as I
from .. import models_view as M
from .. import saved_slices_view as SV
from .. import uploads as UP
from ..context import AppContext
from ..serving import TABLE_QUEUE, guarded
from ..urlstate import Links, View, query_text
from . import upload_panel as U
from .shared import (
    NO_EXAMPLE,
    Opener,
    bind,
    example_panel,
    glossary,
    on_row_click,
    show_example,
    task_key,
    url_choice,
    url_task,
    url_variant,
)


@dataclass
class ErrorsTab:
    task: gr.Radio
    filters: list          # the inputs of every table query, in `E.parse_filters` order
    table: gr.Dataframe
    count: gr.Markdown
    opener: Opener          # the selected example's "open in Compare"
    upload: gr.State        # the session's uploaded variant (other tabs' queries join it too)
    slice_picker: gr.Dropdown   # the slice filter (the page builder adds the saved slices to it)


def no_table(message: str) -> tuple:
    return pd.DataFrame(), f"⚠ {message}", "", gr.Button(visible=False), gr.skip()


def kind_picker(f: E.Filters) -> gr.Dropdown:
    """The error-kind picker as the query applies it: while a cell or a comparison decides the rows
    it shows the default kind and cannot be changed, so the page never claims a kind it ignores."""
    kinds = list(E.ERROR_KINDS[f.task])
    if f.kind_off():
        return gr.Dropdown(choices=kinds, value=kinds[0], interactive=False,
                           label="Show (off while a cell or a comparison decides the rows)")
    return gr.Dropdown(choices=kinds, value=f.kind, interactive=True, label="Show")


@guarded(no_table)
def refresh_table(a: A.Analysis, *values: object) -> tuple:
    f = E.parse_filters(a, *values)
    shown, line, _ = E.filter_table(a, f)
    cell_text = f"Cell: **{E.describe_cell(f.task, f.cell)}**" if f.cell is not None else ""
    return (gr.Dataframe(shown, column_widths=E.column_widths(list(shown.columns))), line, cell_text,
            gr.Button(visible=f.cell is not None), kind_picker(f))


def on_task(a: A.Analysis, upload: object, task_name: str, variant: object) -> tuple:
    """The pickers for a newly chosen task. The session's upload stays picked when it has
    predictions for that task; when it has none, the best variant is shown and the note says why."""
    spec = task_titled(task_name)
    t = spec.name if spec else None
    if t is None:
        return (gr.skip(),) * 7
    joined = UP.joined(a, upload if isinstance(upload, UP.Upload) else None, t)
    names = E.variants_of(joined, t)
    pick, note = E.best_variant(joined, t), ""
    mine = upload.name if isinstance(upload, UP.Upload) else None
    if mine is not None and variant == mine:
        if mine in names:
            pick = mine
        else:
            covered = ", ".join(get_task(k).long_title for k in upload.files) or "no task"
            note = (f"⚠ Your upload **{I.escape_md(mine)}** has no {spec.long_title} predictions (it covers "
                    f"{covered}): showing {I.escape_md(pick)}. It is in the Variant list again on {covered}.")
    return (gr.Dropdown(choices=[E.ALL_VARIANTS] + names, value=pick),
            gr.Dropdown(choices=list(E.ERROR_KINDS[t]), value=next(iter(E.ERROR_KINDS[t]))),
            gr.Dropdown(choices=E.slice_dropdown(joined, t), value=E.NO_SLICE),
            gr.Dropdown(choices=[E.NO_OTHER] + names, value=E.NO_OTHER), "",
            gr.Dropdown(choices=[E.NO_FEATURE], value=E.NO_FEATURE), note)


@guarded(lambda m: gr.skip())
def feature_picker(a: A.Analysis, task_name: object, value: object) -> object:
    """The feature picker's choices for the task shown, the value kept."""
    spec = task_titled(task_name) if isinstance(task_name, str) else None
    if spec is None or not a.has(spec.name):
        return gr.skip()
    choices = E.feature_choices(a, spec.name)
    return gr.Dropdown(choices=choices, value=value if value in choices else E.NO_FEATURE)


@guarded(lambda m: (pd.DataFrame(), M.empty_figure(I.as_html(m))))
def views(a: A.Analysis, task_name: str, variant: str) -> tuple:
    t = E.parse_task(a, task_name)
    v = E.pick_variant(a, t, variant)
    return (gr.Dataframe(E.confusion_grid(a, t, v), column_widths=E.confusion_widths(t)),
            E.diagnostic_figure(a, t, v))


def on_cell_click(task_name: str, evt: gr.SelectData) -> str:
    cell = E.cell_from_click(evt.index) if task_titled(task_name) else None
    return f"{cell[0]},{cell[1]}" if cell else gr.skip()


@guarded(lambda m: (gr.File(value=None, visible=False), f"⚠ {m}"))
def export_csv(a: A.Analysis, *values: object) -> tuple:
    path = E.write_csv(a, E.parse_filters(a, *values))
    if path is None:
        return gr.File(value=None, visible=False), "⚠ No rows match these filters: nothing to export."
    return gr.File(value=str(path), visible=True), ""


def url_number(params: dict, key: str, what: str, said: list[str]) -> int | None:
    try:
        return I.whole_number(params.get(key), what)
    except I.BadInput as exc:
        said.append(str(exc))
        return None


def restore_view(a: A.Analysis, can_send: bool, params: dict) -> tuple[list, list[str]]:
    """The Errors tab as a URL describes it (see demo.urlstate): the nearest view, with a message
    for each name that is not there."""
    said: list[str] = []
    t = url_task(a, params.get("task"), said)
    title, names = get_task(t).long_title, E.variants_of(a, t)
    kinds = list(E.ERROR_KINDS[t])
    variant = url_variant(a, t, params, "variant", [E.ALL_VARIANTS] + names, E.best_variant(a, t), said)
    kind = url_choice(params, "kind", kinds, kinds[0], f"{t} error kind", said)
    slices = E.slice_choices(a, t)
    saved = SV.from_link(params.get("slice"), t, said)  # a saved slice travels whole in a link
    if saved is not None:
        slices, slice_name = [*slices, saved], saved[1]
    elif SV.is_saved(params.get("slice")):  # one that cannot be used: from_link said why
        slice_name = E.NO_SLICE
    else:
        slice_name = url_choice(params, "slice", slices, E.NO_SLICE, f"{t} slice", said)
    other = url_variant(a, t, params, "other", [E.NO_OTHER] + names, E.NO_OTHER, said)
    relation = url_choice(params, "relation", list(E.RELATIONS), next(iter(E.RELATIONS)), "relation", said)
    search = (params.get("search") or "")[:E.MAX_SEARCH]
    word, regex = (params.get("word") or "")[:A.MAX_WORD], (params.get("regex") or "")[:A.MAX_PATTERN]
    feature = params.get("feature") or E.NO_FEATURE
    if feature != E.NO_FEATURE:
        feature = url_choice(params, "feature", E.feature_choices(a, t), E.NO_FEATURE, f"{t} feature", said)
    low, high = url_number(params, "min", "Min words", said), url_number(params, "max", "Max words", said)
    cell = params.get("cell") or ""
    try:
        E.parse_cell(t, cell)
    except I.BadInput as exc:
        said.append(str(exc))
        cell = ""
    filters = (title, variant, kind, search, low, high, other, relation, slice_name, cell, word, regex, feature)
    grid, diagnostic = views(a, title, variant)
    table = refresh_table(a, *filters)
    ex_id = (params.get("example") or "").strip()[:200]
    card, rows, ex, send = show_example(a, can_send, title, ex_id)
    if ex_id and ex is None:
        said.append(f"No {t} dev example “{I.escape_md(ex_id)}”: none selected.")
        ex_id, card = "", NO_EXAMPLE
    updates = [gr.Radio(value=title), gr.Dropdown(choices=[E.ALL_VARIANTS] + names, value=variant), search, low, high,
               gr.Dropdown(choices=[E.NO_OTHER] + names, value=other), relation,
               gr.Dropdown(choices=E.labelled_slices(slices), value=slice_name), cell, word, regex,
               gr.Dropdown(choices=E.feature_choices(a, t) if feature != E.NO_FEATURE else [E.NO_FEATURE], value=feature),
               grid, diagnostic, *table, ex_id, card, rows, ex, send]
    return updates, said


def no_tables(ctx: AppContext) -> None:
    where = html.escape(str(ctx.tables_dir or "analysis/tables"))
    why = ""
    if ctx.analysis is not None and ctx.analysis.problems:
        why = "\n".join(f"- {html.escape(p)}" for p in ctx.analysis.problems[:8])
    elif ctx.analysis_error:
        why = f"- {html.escape(ctx.analysis_error)}"
    gr.Markdown(f"### No dev-set predictions to analyse\nThe prediction tables in `{where}` could not be used. "
                "Build them with `python -m analysis build` (add `--data-dir` for the CS224N dev files).\n\n" + why)


def build(ctx: AppContext, a: A.Analysis, can_send: bool, links: Links | None = None,
          under_filters: Callable | None = None) -> ErrorsTab | None:
    """The Errors tab; `under_filters(filters, upload state, slice picker)`, given by the page
    builder, lays out what goes under the table and acts on its filter (the findings box)."""
    with gr.Tab("Errors", id="errors"):
        if a is None:
            no_tables(ctx)
            return None
        tasks = E.tasks_of(a)
        first = tasks[0]
        best = E.best_variant(a, first)
        shown0, count0, _ = E.filter_table(a, E.Filters(task=first, variant=best, kind=next(iter(E.ERROR_KINDS[first]))))
        gr.Markdown("Where the variants go wrong on the dev sets (precomputed predictions). Pick a task and a "
                    "variant, click a confusion-matrix cell to list its examples, filter the table, and click a "
                    "row to see that example across all variants.", elem_classes=["intro"])
        keeper = U.Keeper(a, ctx.findings, ctx.findings_settings) if ctx.findings is not None else None
        panel = U.build(a, keeper)
        if a.problems:
            with gr.Accordion(f"⚠ {len(a.problems)} problem(s) with the prediction tables", open=False):
                gr.Markdown("\n".join(f"- {html.escape(p)}" for p in a.problems))
        with gr.Accordion("Metrics of every variant (dev sets)", open=True):
            metrics = gr.Dataframe(E.metrics_overview(a), interactive=False, elem_id="metrics-table",
                                   column_widths=E.metrics_widths(a), label="Sort: the ⋮ menu of a column header")
            gr.Markdown(E.METRICS_NOTE, elem_classes=["intro"])
            glossary("macro_f1", "ece", "f1", "roc_auc", "pearson", "spearman", "mse", "wilson", "bootstrap",
                     "paired")
        with gr.Row():
            task = I.LenientRadio([get_task(t).long_title for t in tasks], value=get_task(first).long_title, label="Task",
                                  elem_id="errors-task", scale=2)
            variant = I.LenientDropdown([E.ALL_VARIANTS] + E.variants_of(a, first), value=best, label="Variant",
                                        elem_id="errors-variant", allow_custom_value=True, scale=1)
        variant_note = gr.Markdown("", elem_id="errors-variant-note")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=480):
                gr.Markdown("**Confusion matrix** (rows: gold, columns: predicted). **Click a cell** to list "
                            "its examples below.")
                confusion = gr.Dataframe(E.confusion_grid(a, first, best), interactive=False, wrap=True,
                                         elem_id="confusion", show_label=False, max_height=340,
                                         column_widths=E.confusion_widths(first))
                with gr.Row():
                    cell_box = I.LenientTextbox(value="", visible=False, label="cell (gold,pred)")
                    cell_note = gr.Markdown("", elem_id="cell-note")
                    clear_cell = gr.Button("Clear cell filter", size="sm", visible=False, elem_id="clear-cell")
            with gr.Column(scale=1):
                diagnostic = gr.Plot(E.diagnostic_figure(a, first, best), show_label=False, elem_id="diagnostic")
        gr.Markdown("### Error table")
        with gr.Row():
            kind = I.LenientDropdown(list(E.ERROR_KINDS[first]), value=next(iter(E.ERROR_KINDS[first])),
                                     label="Show", elem_id="errors-kind", allow_custom_value=True)
            search = I.LenientTextbox(label="Text contains", placeholder="e.g. not", elem_id="errors-search")
            min_words = I.LenientNumber(None, label="Min words (0 = any)", precision=0, minimum=0)
            max_words = I.LenientNumber(None, label="Max words (0 = any)", precision=0, minimum=0)
            slice_ = I.LenientDropdown(E.slice_dropdown(a, first), value=E.NO_SLICE, label="Slice",
                                       elem_id="errors-slice", allow_custom_value=True)
        with gr.Row():
            other = I.LenientDropdown([E.NO_OTHER] + E.variants_of(a, first), value=E.NO_OTHER,
                                      label="Only where another variant…", elem_id="errors-other",
                                      allow_custom_value=True)
            relation = I.LenientDropdown(list(E.RELATIONS), value=next(iter(E.RELATIONS)), label="…does this",
                                         elem_id="errors-relation")
        with gr.Row(elem_id="errors-rules"):
            word = I.LenientTextbox("", label="Whole word or phrase", placeholder="e.g. not", elem_id="errors-word",
                                    max_length=A.MAX_WORD)
            regex = I.LenientTextbox("", label="Regular expression", placeholder=r"e.g. n[o']t\b|never",
                                     elem_id="errors-regex", max_length=A.MAX_PATTERN)
            # its choices are computed when it is opened (seconds for Quora's examples, once)
            feature = I.LenientDropdown([E.NO_FEATURE], value=E.NO_FEATURE, label="Feature",
                                        elem_id="errors-feature", allow_custom_value=True)
        count = gr.Markdown(count0, elem_id="errors-count")
        table = gr.Dataframe(shown0, interactive=False, elem_id="errors-table", wrap=True, max_height=520,
                             column_widths=E.column_widths(list(shown0.columns)),
                             label="Click a row to see that example across all variants")
        with gr.Row():
            export = gr.Button("⬇ Export the filtered rows as CSV", size="sm", scale=0, min_width=280,
                               elem_id="export-csv")
            csv_file = gr.File(label="CSV", visible=False, elem_id="csv-file", scale=1)
        export_note = gr.Markdown("", elem_id="export-note")
        filters = [task, variant, kind, search, min_words, max_words, other, relation, slice_, cell_box, word, regex,
                   feature]
        if under_filters is not None:
            under_filters(filters, panel.state, slice_)
        gr.Markdown("### Selected example")
        example = example_panel("example-card", "example-table", "send-to-compare")
        example_id, example_card, example_table, send, example_state = (
            example.example_id, example.card, example.table, example.send, example.state)
        metrics_api = gr.Button(visible=False)

    handles = ErrorsTab(task=task, filters=filters, table=table, count=count, opener=Opener(send, example_state),
                        upload=panel.state, slice_picker=slice_)
    # Every query joins the session's upload (if any) into the shared tables: [state, *inputs].
    state = panel.state
    filters_in = [state, *handles.filters]
    refresh = U.per_session(refresh_table, a)
    view = U.per_session(views, a)
    table_out = [table, count, cell_note, clear_cell, kind]  # the kind picker follows what the query applies
    example_out = [example_id, example_card, example_table, example_state, send]

    def forget_example(ex_id: object, shown: object) -> tuple:
        """New filters: the selected example stays only while the table still lists it."""
        ids = shown.iloc[:, -1].astype(str).tolist() if isinstance(shown, pd.DataFrame) and len(shown.columns) else []
        if ex_id and str(ex_id) in ids:
            return (gr.skip(),) * 5
        return "", NO_EXAMPLE, gr.Dataframe(visible=False), None, gr.Button(visible=False)

    def then_forget(event: gr.events.Dependency) -> None:
        event.then(forget_example, [example_id, table], example_out, api_visibility="private", queue=False)

    # .input, not .change: a view restored from a URL sets the task without resetting its filters
    then_forget(task.input(bind(on_task, a), [state, task, variant],
                           [variant, kind, slice_, other, cell_box, feature, variant_note], api_visibility="private")
                .then(view, [state, task, variant], [confusion, diagnostic], api_name="confusion")
                .then(refresh, filters_in, table_out, api_name="errors", **TABLE_QUEUE))
    then_forget(variant.input(lambda: ("", ""), None, [cell_box, variant_note], api_visibility="private", queue=False)
                .then(view, [state, task, variant], [confusion, diagnostic], api_visibility="private")
                .then(refresh, filters_in, table_out, api_visibility="private", **TABLE_QUEUE))
    feature.focus(bind(feature_picker, a), [task, feature], feature, api_visibility="private")
    for box in (kind, slice_, other, relation, feature):
        then_forget(box.input(refresh, filters_in, table_out, api_visibility="private", **TABLE_QUEUE))
    for box in (search, min_words, max_words, word, regex):
        for event in (box.submit, box.blur):
            then_forget(event(refresh, filters_in, table_out, api_visibility="private", **TABLE_QUEUE))
    then_forget(confusion.select(on_cell_click, [task], cell_box, api_visibility="private")
                .then(refresh, filters_in, table_out, api_name="cell_click", **TABLE_QUEUE))
    then_forget(clear_cell.click(lambda: "", None, cell_box, api_visibility="private", queue=False)
                .then(refresh, filters_in, table_out, api_visibility="private", **TABLE_QUEUE))
    export.click(U.per_session(export_csv, a), filters_in, [csv_file, export_note], api_name="export_csv", **TABLE_QUEUE)
    table.select(on_row_click, None, example_id, api_visibility="private") \
        .then(U.per_session(show_example, a, can_send), [state, task, example_id],
              [example_card, example_table, example_state, send], api_name="example", **TABLE_QUEUE)
    metrics_api.click(bind(U.metrics, a), state, metrics, api_name="metrics")
    U.wire(panel, a, task, variant, other, lambda event: event
           .then(view, [state, task, variant], [confusion, diagnostic], api_visibility="private")
           .then(refresh, filters_in, table_out, api_visibility="private", **TABLE_QUEUE)
           .then(bind(U.metrics, a), state, metrics, api_visibility="private", **TABLE_QUEUE))

    if links is not None:
        restore_outputs = [task, variant, search, min_words, max_words, other, relation, slice_, cell_box, word, regex,
                           feature, confusion, diagnostic, *table_out, *example_out]
        links.register(View(
            tab="errors", label="Errors",
            fields={"task": task, "variant": variant, "kind": kind, "search": search, "min": min_words,
                    "max": max_words, "other": other, "relation": relation, "slice": slice_, "cell": cell_box,
                    "word": word, "regex": regex, "feature": feature, "example": example_id},
            restore=partial(restore_view, a, can_send), outputs=restore_outputs,
            dump={"task": task_key, "variant": lambda v: "" if v == E.ALL_VARIANTS else query_text(v),
                  "other": lambda v: "" if v == E.NO_OTHER else query_text(v),
                  "slice": lambda v: "" if v == E.NO_SLICE else query_text(v),
                  "feature": lambda v: "" if v == E.NO_FEATURE else query_text(v),
                  "min": lambda v: query_text(v) if v else "", "max": lambda v: query_text(v) if v else ""}))

    return handles


