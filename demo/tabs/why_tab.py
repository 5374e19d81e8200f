"""Why tab: why one variant beats another on a task (or, with one, where it fails): the paired
headline, where the gap lives (every slice tested, Benjamini-Hochberg adjusted), the other
evidence, each finding's examples, the user's saved slices tested as hypotheses, and the write-up
as a zip. Its A/B pick opens the same pair in Errors, Slices and Tests (the page builder wires
those buttons through the tabs' links)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gradio as gr
import pandas as pd

import analysis as A
from minibert.tasks import task as get_task

from .. import errors_view as E
from .. import inputs as I
from .. import why_view as W
from ..serving import TABLE_QUEUE, WHY_QUEUE, guarded
from ..urlstate import Links, View
from . import upload_panel as U
from .shared import Opener, example_panel, glossary, task_key, url_choice, url_task, wire_example_panel

INTRO = ("Why does one variant beat another? Pick a task and two variants: the report gives the paired difference "
         "with its 95 % interval, the examples each gets right that the other gets wrong, **where the gap lives** "
         "(about 25 example features and their pairs, each slice tested against the rest, with every p-value "
         "adjusted for how many were tested), and the behavioural tests and calibration beside it. Pick “"
         f"{W.NONE}” for one variant's errors.")
NO_FINDING = "Click a row of the table above for its examples."


# (task, the request's gr.OAuthProfile or None, its gr.Request) -> (the saved slices this user may
# see, a line per one that no longer reads): the page builder's reading of the findings store
SavedOf = Callable[[str, object, object], tuple[tuple[A.SavedSlice, ...], list[str]]]


@dataclass(frozen=True)
class Setup:
    """What the tab's handlers know of the app beyond the analysis: the variants composed of others
    (left out of the default pair), the checkpoints folder (the recipes behind the families) and
    where a user's saved slices come from (none without a findings store)."""
    composed: frozenset[str] = frozenset()
    checkpoints: Path | None = None
    saved: SavedOf | None = None


@dataclass
class WhyTab:
    task: gr.Radio
    a: gr.Dropdown
    b: gr.Dropdown
    finding: gr.State          # the clicked finding's row, or None
    to_errors: gr.Button       # the page builder wires these three through the links
    to_slices: gr.Button
    to_tests: gr.Button
    opener: Opener             # an example of a finding, to Compare
    setup: Setup


def _cleared() -> tuple:
    return None, gr.Dataframe(pd.DataFrame(), visible=False), NO_FINDING, gr.Button("Open this pair in Errors →")


WIDTHS = ["24%", "8%", "17%", "9%", "9%", "33%"]


def _report(a: A.Analysis, setup: Setup, task_name: object, a_name: object, b_name: object) -> W.WhyReport:
    task, first, second = W.pick(a, task_name, a_name, b_name)
    return W.report(a, task, first, second, setup.checkpoints)


def report_parts(a: A.Analysis, setup: Setup, task_name: object, a_name: object, b_name: object
                 ) -> tuple[str, str, pd.DataFrame, str]:
    r = _report(a, setup, task_name, a_name, b_name)
    head, rest = W.summary_md(r)
    return head, W.search_md(r), W.findings_table(r), rest


@guarded(lambda m: (f"⚠ {m}", "", pd.DataFrame(), "", *_cleared()))
def show(a: A.Analysis, setup: Setup, task_name: object, a_name: object, b_name: object) -> tuple:
    head, search, table, rest = report_parts(a, setup, task_name, a_name, b_name)
    return head, search, gr.Dataframe(table, column_widths=WIDTHS), rest, *_cleared()


@guarded(lambda m: (None, gr.Dataframe(visible=False), f"⚠ {m}", gr.skip()))
def show_finding(a: A.Analysis, setup: Setup, task_name: object, a_name: object, b_name: object,
                 evt: gr.SelectData) -> tuple:
    r = _report(a, setup, task_name, a_name, b_name)
    k = W.finding_at(r, evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index)
    rows, line = W.finding_rows(a, r, k)
    # widths for these columns: the tab was laid out with an empty table, whose widths would stay
    shown = gr.Dataframe(rows, visible=True, column_widths=E.column_widths(list(rows.columns)))
    if W.errors_filters_slice(r, k):
        return k, shown, line, gr.Button("Open this slice in Errors →")
    line += (" The Errors tab filters one built-in slice at a time, so it opens on the whole pair: this "
             "finding's examples are listed here.")
    return k, shown, line, gr.Button("Open this pair in Errors →")


@guarded(lambda m: (gr.skip(), gr.skip()))
def on_task(a: A.Analysis, setup: Setup, task_name: object) -> tuple:
    task = E.parse_task(a, task_name)
    names = E.variants_of(a, task)
    first, second = W.default_pair(a, task, setup.composed)
    return gr.Dropdown(choices=names, value=first), gr.Dropdown(choices=[W.NONE, *names], value=second)


def _saved(setup: Setup, task: str, profile: object, request: object) -> tuple[tuple[A.SavedSlice, ...], list[str]]:
    return setup.saved(task, profile, request) if setup.saved is not None else ((), [])


@guarded(lambda m: f"⚠ {m}")
def show_saved(a: A.Analysis, setup: Setup, task_name: object, a_name: object, b_name: object, profile: object,
               request: object) -> str:
    """The saved slices this user may see, tested on the pair as hypotheses ("" without a store)."""
    if setup.saved is None:
        return ""
    r = _report(a, setup, task_name, a_name, b_name)
    return W.saved_md(r, *_saved(setup, r.task, profile, request))


@guarded(lambda m: (gr.File(value=None, visible=False), f"⚠ {m}"))
def export_zip(a: A.Analysis, setup: Setup, task_name: object, a_name: object, b_name: object, profile: object = None,
               request: object = None) -> tuple:
    r = _report(a, setup, task_name, a_name, b_name)
    saved, _ = _saved(setup, r.task, profile, request)
    path = W.write_zip(r.with_saved(saved) if saved else r)
    return gr.File(value=str(path), visible=True), ""


def params_of(a: A.Analysis, setup: Setup, where: str, task_name: object, a_name: object, b_name: object,
              finding: object) -> dict | None:
    """The URL parameters of Errors' or Slices' view of this pair and the clicked finding."""
    try:
        r = _report(a, setup, task_name, a_name, b_name)
    except (I.BadInput, ValueError, KeyError):  # a pick the report refuses: the button stays put
        return None
    k = finding if isinstance(finding, int) and 0 <= finding < len(r.findings) else None
    if where == "tests":
        return W.tests_params(r)
    return W.errors_params(r, k) if where == "errors" else W.slices_params(r, k)


def restore_view(a: A.Analysis, setup: Setup, params: dict) -> tuple[list, list[str]]:
    """The Why tab as a URL describes it (task, a, b), the nearest view for unknown names."""
    said: list[str] = []
    t = url_task(a, params.get("task"), said)
    names = E.variants_of(a, t)
    first, second = W.default_pair(a, t, setup.composed)
    va = url_choice(params, "a", names, first, f"{t} variant", said)
    vb = url_choice(params, "b", [W.NONE, *names], second if second != va else W.NONE, f"{t} variant", said)
    if vb == va:
        vb = W.NONE
    title = get_task(t).long_title
    shown = show(a, setup, title, va, vb)
    return [gr.Radio(value=title), gr.Dropdown(choices=names, value=va),
            gr.Dropdown(choices=[W.NONE, *names], value=vb), *shown], said


def build(a: A.Analysis | None, setup: Setup, upload: gr.State | None, can_send: bool,
          links: Links | None = None) -> WhyTab | None:
    with gr.Tab("Why", id="why") as why_box:
        if a is None:
            gr.Markdown("### No dev-set predictions to explain\nBuild the tables with `python -m analysis build`.")
            return None
        tasks = E.tasks_of(a)
        first_task = tasks[0]
        names = E.variants_of(a, first_task)
        va, vb = W.default_pair(a, first_task, setup.composed)
        gr.Markdown(INTRO, elem_classes=["intro"])
        with gr.Row():
            task = I.LenientRadio([get_task(t).long_title for t in tasks], value=get_task(first_task).long_title,
                                  label="Task", elem_id="why-task", scale=2)
            pick_a = I.LenientDropdown(names, value=va, label="Variant A", elem_id="why-a", allow_custom_value=True)
            pick_b = I.LenientDropdown([W.NONE, *names], value=vb, label="Variant B (the reference)",
                                       elem_id="why-b", allow_custom_value=True)
            go = gr.Button("Explain", variant="primary", elem_id="why-go", scale=0, min_width=120)
        summary0, search0, findings0, rest0 = report_parts(a, setup, get_task(first_task).long_title, va, vb)
        summary = gr.Markdown(summary0, elem_id="why-summary")
        search = gr.Markdown(search0, elem_id="why-search", elem_classes=["intro"])
        glossary("paired", "mcnemar", "adjusted_p", "bootstrap", "ece", "failure_rate", elem_id="why-glossary")
        findings = gr.Dataframe(findings0, interactive=False, wrap=True, max_height=460, elem_id="why-findings",
                                column_widths=WIDTHS, label="Where the gap lives: click a row for its examples")
        line = gr.Markdown(NO_FINDING, elem_id="why-finding-line")
        with gr.Row():
            to_errors = gr.Button("Open this pair in Errors →", size="sm", elem_id="why-to-errors",
                                  scale=0, min_width=240)
            to_slices = gr.Button("Open this pair in Slices →", size="sm", elem_id="why-to-slices", scale=0,
                                  min_width=240)
            to_tests = gr.Button("Open this pair in Tests →", size="sm", elem_id="why-to-tests", scale=0,
                                 min_width=240)
        rows = gr.Dataframe(interactive=False, wrap=True, max_height=420, elem_id="why-examples", visible=False,
                            label="The finding's examples: click one to see it across every variant")
        example = example_panel("why-example-card", "why-example-table", "why-send")
        saved = gr.Markdown("", elem_id="why-saved", visible=setup.saved is not None)
        rest = gr.Markdown(rest0, elem_id="why-evidence")
        with gr.Row():
            export_button = gr.Button("⬇ Download the write-up (Markdown, figures, LaTeX table; zip)", size="sm",
                                      scale=0, min_width=420, elem_id="why-export")
            zip_file = gr.File(label="Write-up", visible=False, elem_id="why-zip", scale=1)
        export_note = gr.Markdown("", elem_id="why-export-note")
        finding = gr.State(None)

    state = upload if upload is not None else gr.State(None)
    picks = [state, task, pick_a, pick_b]
    shown_out = [summary, search, findings, rest, finding, rows, line, to_errors]
    task.input(U.per_session(on_task, a, setup), [state, task], [pick_a, pick_b], api_visibility="private") \
        .then(U.per_session(show, a, setup), picks, shown_out, api_visibility="private", **WHY_QUEUE)
    go.click(U.per_session(show, a, setup), picks, shown_out, api_name="why", **WHY_QUEUE)
    for box in (pick_a, pick_b):
        box.input(U.per_session(show, a, setup), picks, shown_out, api_visibility="private", **WHY_QUEUE)

    def select(upload_state: object, task_name: str, a_name: str, b_name: str, evt: gr.SelectData) -> tuple:
        return U.per_session(show_finding, a, setup)(upload_state, task_name, a_name, b_name, evt)

    findings.select(select, picks, [finding, rows, line, to_errors], api_visibility="private", **WHY_QUEUE)

    # the user's saved slices: read per request (Gradio fills the sign-in), after every report shown,
    # a link's included (the summary changes), on Explain (a slice saved since) and when the tab is
    # opened (its first view changes nothing)
    def saved_slices(upload_state: object, task_name: str, a_name: str, b_name: str,
                     profile: gr.OAuthProfile | None = None, request: gr.Request = None) -> str:
        return U.per_session(show_saved, a, setup)(upload_state, task_name, a_name, b_name, profile, request)

    def export(upload_state: object, task_name: str, a_name: str, b_name: str,
               profile: gr.OAuthProfile | None = None, request: gr.Request = None) -> tuple:
        return U.per_session(export_zip, a, setup)(upload_state, task_name, a_name, b_name, profile, request)

    if setup.saved is not None:
        for event in (summary.change, go.click, why_box.select):
            event(saved_slices, picks, saved, api_visibility="private", **WHY_QUEUE)
    export_button.click(export, picks, [zip_file, export_note], api_name="why_export", **TABLE_QUEUE)
    opener = wire_example_panel(example, a, task, rows, can_send)
    if links is not None:
        links.register(View(tab="why", label="Why", fields={"task": task, "a": pick_a, "b": pick_b},
                            restore=partial(restore_view, a, setup),
                            outputs=[task, pick_a, pick_b, *shown_out],
                            dump={"task": task_key, "b": lambda v: "" if v == W.NONE else str(v or "")}))
    return WhyTab(task=task, a=pick_a, b=pick_b, finding=finding, to_errors=to_errors, to_slices=to_slices,
                  to_tests=to_tests, opener=opener, setup=setup)
