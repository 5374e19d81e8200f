"""The tab of a derived analysis (analysis.derived), generic over it: the shell reads the
analysis's tables, says what is missing when there is nothing to show, lists the problems, and
hands the rest to the analysis's view. An analysis with no view of its own gets `default_view`: a
task picker over its `frame(reading, task)`; so a new analysis registered in analysis.registry
appears in the app without a line of Gradio."""
from __future__ import annotations

from functools import partial

import gradio as gr
import pandas as pd

import analysis as A
from minibert.tasks import task as get_task

from .. import inputs as I
from ..serving import TABLE_QUEUE, guarded
from .shared import DerivedView, Opener, ViewHandles, bind, no_tables_md, problems_accordion, under_selection


def task_pick(d: A.DerivedAnalysis, reading: A.Reading, task_name: object) -> str:
    """The task a picker names, among those the reading has (a clear message otherwise)."""
    tasks = d.tasks(reading)
    title = I.choice(task_name, [get_task(t).long_title for t in tasks], "task")
    return next(t for t in tasks if get_task(t).long_title == title)


@guarded(lambda m: (pd.DataFrame(), f"⚠ {m}"))
def default_rows(d: A.DerivedAnalysis, reading: A.Reading, task_name: object) -> tuple:
    frame = d.frame(reading, task_pick(d, reading, task_name))
    frame = pd.DataFrame() if frame is None else frame
    return frame, f"{len(frame):,} rows"


def default_layout(d: A.DerivedAnalysis, a: A.Analysis | None, reading: A.Reading, can_send: bool) -> list[Opener]:
    tasks = d.tasks(reading)
    task = I.LenientRadio([get_task(t).long_title for t in tasks], value=get_task(tasks[0]).long_title,
                          label="Task", elem_id=f"{d.name}-task")
    rows0, count0 = default_rows(d, reading, get_task(tasks[0]).long_title)
    count = gr.Markdown(count0, elem_id=f"{d.name}-count")
    table = gr.Dataframe(rows0, interactive=False, wrap=True, max_height=520, elem_id=f"{d.name}-table")
    task.change(bind(default_rows, d, reading), task, [table, count], api_name=d.name, **TABLE_QUEUE)
    return []


def default_view(d: A.DerivedAnalysis) -> DerivedView:
    return DerivedView(tab_id=d.name.replace("_", "-"), label=d.title,
                       intro=f"{d.title}, per task, precomputed by `python -m analysis build`.",
                       layout=partial(default_layout, d))


def build(d: A.DerivedAnalysis, view: DerivedView, a: A.Analysis | None, can_send: bool) -> ViewHandles:
    """The tab; its handles: the openers of its examples, for the page builder to wire to Compare,
    and its selection if it has one."""
    reading = d.read(a)
    with gr.Tab(view.label, id=view.tab_id):
        if not reading.ready or not d.tasks(reading):
            gr.Markdown(no_tables_md(d, reading))
            return ViewHandles()
        gr.Markdown(view.intro, elem_classes=["intro"])
        if reading.problems:
            problems_accordion(reading.problems, f"the {d.title.lower()} tables")
        handles = view.layout(a, reading, can_send)
        handles = handles if isinstance(handles, ViewHandles) else ViewHandles(openers=list(handles))
        if handles.selection is not None:  # the page builder's box acts on what is selected
            under_selection(handles.selection, view.tab_id)
        return handles
