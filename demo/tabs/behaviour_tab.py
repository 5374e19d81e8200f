"""Tests tab: behavioural tests per variant (failure rates with intervals), a variant's failing
cases, and each case openable in Compare."""
from __future__ import annotations

from functools import partial

import gradio as gr
import pandas as pd

import analysis as A
from minibert.tasks import task as get_task

from .. import behaviour_view as B
from .. import inputs as I
from ..serving import TABLE_QUEUE, guarded
from ..urlstate import View
from .shared import DerivedView, Opener, ViewHandles, bind, on_row_click, task_key, url_choice


def parse_task(b: B.Behaviour, task_name: object) -> str:
    title = I.choice(task_name, [get_task(t).long_title for t in b.tasks()], "task")
    return next(t for t in b.tasks() if get_task(t).long_title == title)


@guarded(lambda m: (pd.DataFrame(), f"⚠ {m}", gr.skip(), gr.skip(), gr.skip()))
def on_task(b: B.Behaviour, task_name: object) -> tuple:
    task = parse_task(b, task_name)
    test, variant = B.most_failing(b, task)
    return (B.grid(b, task), B.grid_note(b, task), gr.Dropdown(choices=b.tests(task), value=test),
            gr.Dropdown(choices=b.variants(task), value=variant),
            gr.Dropdown(choices=[B.NO_OTHER, *b.variants(task)], value=B.NO_OTHER))


def on_cell(b: B.Behaviour, task_name: object, evt: gr.SelectData) -> tuple:
    try:
        choice = B.cell_to_choice(b, parse_task(b, task_name), evt.index)
    except I.BadInput:
        choice = None
    return (choice[0], choice[1]) if choice else (gr.skip(), gr.skip())


def failing_view(b: B.Behaviour, task_name: object, test: object, variant: object, other: object = B.NO_OTHER,
                 ) -> tuple[pd.DataFrame, str]:
    """A variant's failing cases of one test; with `other`, the cases where the two differ."""
    task = parse_task(b, task_name)
    test = I.choice(test, b.tests(task), "test")
    variant = I.choice(variant, b.variants(task), "variant")
    other = I.choice(other, [B.NO_OTHER, *b.variants(task)], "variant to compare with", default=B.NO_OTHER)
    if other not in (B.NO_OTHER, variant):
        rows = B.differing(b, task, test, variant, other)
        return rows, B.differing_line(b, task, test, variant, other, rows)
    rows = B.failing(b, task, test, variant)
    return rows, B.failing_line(b, task, test, variant, len(rows))


@guarded(lambda m: (pd.DataFrame(), f"⚠ {m}"))
def show_failing(b: B.Behaviour, task_name: object, test: object, variant: object, other: object = B.NO_OTHER,
                 ) -> tuple:
    rows, line = failing_view(b, task_name, test, variant, other)
    return gr.Dataframe(rows, column_widths=B.failing_widths(list(rows.columns))), line


def restore_view(b: B.Behaviour, params: dict) -> tuple[list, list[str]]:
    """The Tests tab as a link describes it: task, variant, the variant it is compared with
    (`other`: the cases where the two differ) and the test (by default the one where the two differ
    most, else the variant's most failing); the nearest view, said, for a name it lacks (a variant
    with no checkpoint has no behavioural tests)."""
    said: list[str] = []
    tasks = b.tasks()
    t = next((x for x in tasks if (params.get("task") or "").lower() in (x, get_task(x).long_title.lower())), None)
    if t is None:
        t = tasks[0]
        if params.get("task"):
            said.append(f"No behavioural tests of the task “{I.escape_md(params['task'])}”: showing "
                        f"{get_task(t).long_title}.")
    names = b.variants(t)
    worst_test, worst_variant = B.most_failing(b, t)
    variant = url_choice(params, "variant", names, worst_variant, f"variant with {t} behavioural tests", said)
    other = url_choice(params, "other", [B.NO_OTHER, *names], B.NO_OTHER, f"variant with {t} behavioural tests", said)
    other = B.NO_OTHER if other == variant else other
    default_test = B.most_differing(b, t, variant, other) if other != B.NO_OTHER else worst_test
    test = url_choice(params, "test", b.tests(t), default_test, f"{t} test", said)
    title = get_task(t).long_title
    rows, line = show_failing(b, title, test, variant, other)
    return [gr.Radio(value=title), B.grid(b, t), B.grid_note(b, t), gr.Dropdown(choices=b.tests(t), value=test),
            gr.Dropdown(choices=names, value=variant), gr.Dropdown(choices=[B.NO_OTHER, *names], value=other),
            rows, line], said


@guarded(lambda m: (f'<div class="ex-card">{I.as_html(m)}</div>', None, gr.Button(visible=False)))
def show_case(b: B.Behaviour, can_send: bool, case_id: object) -> tuple:
    card, example = B.case_view(b, I.text(case_id, "The case id").strip()[:200])
    return card, example, gr.Button(visible=example is not None and can_send)


def layout(a: A.Analysis | None, reading: A.Reading, can_send: bool) -> ViewHandles:
    b = B.Behaviour.from_reading(a, reading)
    first = b.tasks()[0]
    task = I.LenientRadio([get_task(t).long_title for t in b.tasks()], value=get_task(first).long_title,
                          label="Task", elem_id="tests-task")
    note = gr.Markdown(B.grid_note(b, first), elem_id="tests-note", elem_classes=["intro"])
    table = gr.Dataframe(B.grid(b, first), interactive=False, wrap=True, elem_id="tests-grid",
                         # every task has a column per variant, so the widths hold after a change of task
                         column_widths=B.grid_widths(list(B.grid(b, first).columns)),
                         label="Failure rate (95 % interval): click a cell for its failing cases")
    worst_test, worst_variant = B.most_failing(b, first)  # the first view lists failures, not an empty table
    with gr.Row():
        test = I.LenientDropdown(b.tests(first), value=worst_test, label="Test", elem_id="tests-test",
                                 allow_custom_value=True)
        variant = I.LenientDropdown(b.variants(first), value=worst_variant, label="Variant",
                                    elem_id="tests-variant", allow_custom_value=True)
        other = I.LenientDropdown([B.NO_OTHER, *b.variants(first)], value=B.NO_OTHER,
                                  label="Compared with (the cases where the two differ)", elem_id="tests-other",
                                  allow_custom_value=True)
    rows0, line0 = failing_view(b, get_task(first).long_title, worst_test, worst_variant)
    line = gr.Markdown(line0, elem_id="tests-count")
    failing = gr.Dataframe(rows0, interactive=False, wrap=True, max_height=420, elem_id="tests-failing",
                           column_widths=B.failing_widths(list(rows0.columns)),
                           label="Failing cases: click one to see it")
    case_id = I.LenientTextbox(visible=False, label="case id")
    card = gr.HTML(B.NO_CASE, elem_id="tests-case")
    send = gr.Button("Open in Compare to edit and re-score →", variant="secondary", elem_id="tests-send",
                     visible=False)
    state = gr.State(None)
    failing_api = gr.Button(visible=False)

    shown = bind(show_failing, b)
    choice = [task, test, variant, other]
    # .input, not .change: a link's restore sets the task with the rest of the view, which a change
    # event would then reset to the task's default
    task.input(bind(on_task, b), task, [table, note, test, variant, other], api_name="tests", **TABLE_QUEUE) \
        .then(shown, choice, [failing, line], api_visibility="private", **TABLE_QUEUE)
    def pick(task_name: str, evt: gr.SelectData) -> tuple:  # not bound: Gradio reads `evt` from the hints
        return on_cell(b, task_name, evt)

    table.select(pick, task, [test, variant], api_visibility="private") \
        .then(shown, choice, [failing, line], api_visibility="private", **TABLE_QUEUE)
    for box in (test, variant, other):
        box.input(shown, choice, [failing, line], api_visibility="private", **TABLE_QUEUE)
    failing_api.click(shown, choice, [failing, line], api_name="failing_cases", **TABLE_QUEUE)
    failing.select(on_row_click, None, case_id, api_visibility="private") \
        .then(bind(show_case, b, can_send), case_id, [card, state, send], api_name="test_case", **TABLE_QUEUE)
    link = View(tab="tests", label="Tests", fields={"task": task, "test": test, "variant": variant, "other": other},
                restore=partial(restore_view, b), outputs=[task, table, note, test, variant, other, failing, line],
                dump={"task": task_key, "other": lambda v: "" if v == B.NO_OTHER else str(v or "")})
    return ViewHandles(openers=[Opener(send, state)], link=link)


VIEW = DerivedView(
    tab_id="tests", label="Tests", layout=layout,
    intro="Behavioural tests in CheckList's three kinds, generated from dev sentences and templates and run on "
          "every variant at build time: how often each variant fails each test.")
