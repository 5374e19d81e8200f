"""The Findings tab (a variant's errors drawn at random, the error-analysis table with CSV and
LaTeX) and the tag/note box under an example. Wiring only: demo/findings_view.py computes. Each
handler names its `gr.OAuthProfile | None` and `gr.Request` parameters, which Gradio fills from the
session: the writer never comes from a form field."""
from __future__ import annotations

import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

import analysis as A
from findings import STARTER_TAGS, FindingsError
from minibert.tasks import task as get_task

from .. import errors_view as E
from .. import findings_view as F
from .. import inputs as I
from ..context import AppContext
from ..serving import TABLE_QUEUE, log


@dataclass
class ExampleFindings:
    tags: gr.CheckboxGroup
    free: gr.Textbox
    note: gr.Textbox
    shared: gr.Checkbox
    save: gr.Button
    message: gr.Markdown
    shown: gr.Markdown


def _trouble(fn_name: str) -> str:
    log.error("findings handler %s failed:\n%s", fn_name, traceback.format_exc())
    return I.SERVER_TROUBLE


class Handlers:
    """The findings events, bound to the app's store and analysis."""

    def __init__(self, ctx: AppContext, a: A.Analysis | None) -> None:
        self.ctx, self.a = ctx, a
        self.store, self.settings = ctx.findings, ctx.findings_settings

    def _task(self, task_name: object) -> str:
        return E.parse_task(self.a, task_name)

    def _reader(self, profile: object, request: object) -> object:
        return F.writer_for(self.settings, profile, request)

    def show(self, task_name: object, example_id: object, profile: gr.OAuthProfile | None = None,
             request: gr.Request = None) -> str:
        try:
            return F.example_md(self.store, self._reader(profile, request), self._task(task_name),
                                str(example_id or ""))
        except I.BadInput as e:
            return f"⚠ {I.escape_md(e)}"
        except Exception:
            return _trouble("show")

    def save(self, task_name: object, example_id: object, chosen: object, free: object, note: object,
             shared: object, profile: gr.OAuthProfile | None = None, request: gr.Request = None) -> tuple[str, str]:
        try:
            task = self._task(task_name)
            who = self._reader(profile, request)
            chosen = [c for c in (chosen or []) if isinstance(c, str)]
            message = F.save_example(self.store, who, self.settings.deployment.why_not(), task, str(example_id or ""),
                                     chosen, free if isinstance(free, str) else "", note if isinstance(note, str) else "",
                                     shared=shared is not False)
            return message, F.example_md(self.store, who, task, str(example_id or ""))
        except I.BadInput as e:
            return f"⚠ {I.escape_md(e)}", gr.skip()
        except Exception:
            return _trouble("save"), gr.skip()

    def save_slice(self, name: object, shared: object, task_name: object, variant: object, kind: object,
                   search: object, min_words: object, max_words: object, other: object, relation: object,
                   slice_name: object, cell: object, profile: gr.OAuthProfile | None = None,
                   request: gr.Request = None) -> tuple[str, pd.DataFrame]:
        # Named parameters, not *filters: Gradio finds the profile and request by their place.
        try:
            query, _ = E.parse_filters(self.a, task_name, variant, kind, search, min_words, max_words, other,
                                       relation, slice_name, cell).query()
            who = self._reader(profile, request)
            message = F.save_slice(self.store, who, self.settings.deployment.why_not(), query,
                                   name if isinstance(name, str) else "", shared=shared is not False)
            return message, F.slices_table(self.store, who)
        except (I.BadInput, ValueError, FindingsError) as e:
            return f"⚠ {I.escape_md(e)}", gr.skip()
        except Exception:
            return _trouble("save_slice"), gr.skip()

    def variants(self, task_name: object) -> gr.Dropdown:
        try:
            t = self._task(task_name)
        except I.BadInput:
            return gr.skip()
        return gr.Dropdown(choices=E.variants_of(self.a, t), value=E.best_variant(self.a, t))

    def draw(self, task_name: object, variant: object, n: object, seed: object,
             profile: gr.OAuthProfile | None = None, request: gr.Request = None) -> tuple[str, pd.DataFrame]:
        try:
            task = self._task(task_name)
            v = E.pick_variant(self.a, task, variant)
            count = I.whole_number(n, "how many", 1, F.MAX_DRAW) or 20
            s = I.whole_number(seed, "seed", 0, 2**31 - 1)
            s = 0 if s is None else s
            message, ids = F.draw_sample(self.store, self._reader(profile, request),
                                         self.settings.deployment.why_not(), self.a, task, v, count, s)
            return message, pd.DataFrame({"id": ids})
        except I.BadInput as e:
            return f"⚠ {I.escape_md(e)}", pd.DataFrame()
        except Exception:
            return _trouble("draw"), pd.DataFrame()

    def table(self, task_name: object, variant: object, profile: gr.OAuthProfile | None = None,
              request: gr.Request = None) -> tuple[pd.DataFrame, str, str | None, str, pd.DataFrame]:
        try:
            task = self._task(task_name)
            v = E.pick_variant(self.a, task, variant)
            reader = self._reader(profile, request)
            table, basis = F.analysis_table(self.store, reader, task, v)
            agree = F.agreement([r for r in self.store.rows("tags", reader, task=task) if r["variant"] in ("", v)])
            folder = Path(tempfile.mkdtemp(prefix="minibert-findings-"))
            path = folder / f"error-analysis-{task}-{v}.csv"
            path.write_text(F.table_csv(table), encoding="utf-8")
            # The basis is our own text (counts only): no user text to escape.
            return table, f"*{basis}*", str(path), F.table_latex(table, v, basis), agree
        except FindingsError as e:
            return pd.DataFrame(), f"⚠ {I.escape_md(e)}", None, "", pd.DataFrame()
        except I.BadInput as e:
            return pd.DataFrame(), f"⚠ {I.escape_md(e)}", None, "", pd.DataFrame()
        except Exception:
            return pd.DataFrame(), _trouble("table"), None, "", pd.DataFrame()


def save_filter_box(handlers: Handlers, filters: list) -> None:
    """In the Findings tab: save the Errors tab's current filter (its components, `filters`, in
    `E.parse_filters` order) as a named slice, and list the saved ones."""
    gr.Markdown("### Saved slices")
    with gr.Row():
        name = gr.Textbox(label="Name for the Errors tab's current filter", max_lines=1, max_length=80)
        shared = gr.Checkbox(value=True, label="Shared")
        save = gr.Button("Save the Errors filter as a slice", elem_id="findings-save-slice")
    message = gr.Markdown()
    listed = gr.Dataframe(interactive=False, label="Saved slices")
    save.click(handlers.save_slice, [name, shared, *filters], [message, listed], api_name="findings_save_slice",
               **TABLE_QUEUE)


def example_findings(handlers: Handlers, task: gr.components.Component, example_id: gr.Textbox) -> ExampleFindings:
    """The tag/note box under an example panel: starter tags, free tags, a note; saved in one click."""
    with gr.Accordion("Tag or note this example", open=False):
        box = ExampleFindings(
            tags=I.LenientCheckboxGroup(list(STARTER_TAGS), label="Tags"),
            free=gr.Textbox(label="Other tags (comma-separated)", max_lines=1),
            note=gr.Textbox(label="Note", lines=2, max_length=2000),
            shared=gr.Checkbox(value=True, label="Shared with everyone who uses this app"),
            save=gr.Button("Save tags and note", variant="secondary", elem_id="findings-save"),
            message=gr.Markdown(elem_id="findings-message"),
            shown=gr.Markdown(elem_id="findings-shown"))
    example_id.change(handlers.show, [task, example_id], box.shown, api_visibility="private", **TABLE_QUEUE)
    box.save.click(handlers.save, [task, example_id, box.tags, box.free, box.note, box.shared],
                   [box.message, box.shown], api_name="findings_save", **TABLE_QUEUE)
    return box


def _login_available() -> bool:
    try:
        import authlib  # noqa: F401  (gradio[oauth], installed on Spaces)
        import itsdangerous  # noqa: F401
    except ImportError:
        return False
    return True


def build(handlers: Handlers, a: A.Analysis | None, errors_filters: list | None = None) -> None:
    with gr.Tab("Findings", id="findings"):
        settings = handlers.settings
        if settings is not None and settings.deployment.signs_in:
            if _login_available():
                gr.LoginButton()
            else:
                gr.Markdown("⚠ Sign-in is not available here (gradio[oauth] is missing): findings are read-only.")
        if a is None:
            gr.Markdown("No analysis tables: nothing to tag yet.")
            return
        gr.Markdown("Draw a variant's errors at random and tag them (in Errors, under the selected example): the "
                    "table then estimates how **all** its errors split across tags, with 95 % Wilson intervals. "
                    "Tags on hand-picked examples are shown apart, without intervals.", elem_classes=["intro"])
        tasks = E.tasks_of(a)
        with gr.Row():
            task = I.LenientRadio([get_task(t).long_title for t in tasks], value=get_task(tasks[0]).long_title,
                                  label="Task")
            variant = I.LenientDropdown(E.variants_of(a, tasks[0]), value=E.best_variant(a, tasks[0]), label="Variant")
            n = I.LenientNumber(value=20, precision=0, label="How many errors")
            seed = I.LenientNumber(value=0, precision=0, label="Seed (kept with the draw)")
        draw = gr.Button("Draw N errors of this variant at random", elem_id="findings-draw")
        drawn_message = gr.Markdown()
        drawn = gr.Dataframe(interactive=False, label="Drawn (tag them in Errors)")
        refresh = gr.Button("Error-analysis table", variant="primary", elem_id="findings-table")
        basis = gr.Markdown()
        table = gr.Dataframe(interactive=False, label="Tags of the variant's errors")
        csv = gr.File(label="CSV")
        latex = gr.Code(label="LaTeX (booktabs)", language=None)
        agree = gr.Dataframe(interactive=False, label="Agreement where two people tagged the same examples")
        if errors_filters:
            save_filter_box(handlers, errors_filters)
    task.change(handlers.variants, task, variant, api_visibility="private", queue=False)
    draw.click(handlers.draw, [task, variant, n, seed], [drawn_message, drawn], api_name="findings_draw",
               **TABLE_QUEUE)
    refresh.click(handlers.table, [task, variant], [table, basis, csv, latex, agree], api_name="findings_table",
                  **TABLE_QUEUE)
