"""The Findings tab (a variant's errors drawn at random, the error-analysis table with CSV and
LaTeX, the saved slices) and the findings boxes the page builder puts in other tabs: the tag/note
box under every dev example (`example_findings`, laid out by tabs/shared.py's example panel and by
Compare), tagging a whole selection after a confirmation (the Map's, `selection_box`; an Errors
filter's, `filter_actions`, with saving that filter as a slice) and the saved slices offered in the
Errors and Slices slice pickers (`Handlers.errors_slices`, `Handlers.slices_slices`). Wiring only:
demo/findings_view.py and demo/saved_slices_view.py compute. Each handler names its
`gr.OAuthProfile | None` and `gr.Request` parameters, which Gradio fills from the session: the
writer never comes from a form field."""
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

from .. import embedding_map_view as MV
from .. import errors_view as E
from .. import findings_view as F
from .. import glossary as G
from .. import inputs as I
from .. import saved_slices_view as SV
from .. import uploads as UP
from ..context import AppContext
from ..serving import TABLE_QUEUE, log
from .shared import glossary


@dataclass
class ExampleFindings:
    box: gr.Accordion
    task: gr.Textbox            # hidden: the shown example's task (its title) and id
    example_id: gr.Textbox
    tags: gr.CheckboxGroup
    free: gr.Textbox
    note: gr.Textbox
    shared: gr.Checkbox
    save: gr.Button
    message: gr.Markdown
    shown: gr.Markdown


@dataclass
class BulkTag:
    """Tag many examples at once: the tags, a button that asks first, and the question's
    Confirm / Cancel (what a confirmation writes waits in `pending`, on the server)."""
    tags: gr.CheckboxGroup
    free: gr.Textbox
    shared: gr.Checkbox
    ask: gr.Button
    message: gr.Markdown
    confirm_row: gr.Row
    confirm: gr.Button
    cancel: gr.Button
    pending: gr.State


def _trouble(fn_name: str) -> str:
    log.error("findings handler %s failed:\n%s", fn_name, traceback.format_exc())
    return I.SERVER_TROUBLE


class Handlers:
    """The findings events, bound to the app's store and analysis."""

    def __init__(self, ctx: AppContext, a: A.Analysis | None) -> None:
        self.ctx, self.a = ctx, a
        self.store, self.settings = ctx.findings, ctx.findings_settings
        self.api_named: set[str] = set()   # API names given once (the boxes are built in several tabs)

    def api(self, name: str) -> dict:
        """The event's API name the first time, private after (one API endpoint per action)."""
        if name in self.api_named:
            return {"api_visibility": "private"}
        self.api_named.add(name)
        return {"api_name": name}

    def _why_not(self) -> str:
        return self.settings.deployment.why_not() if self.settings is not None else "Findings are off here."

    def _task(self, task_name: object) -> str:
        return E.parse_task(self.a, task_name)

    def _reader(self, profile: object, request: object) -> object:
        return F.writer_for(self.settings, profile, request)

    def about(self, example: object) -> tuple:
        """The box for the example a panel shows (its state: a dict with task and id, or None):
        shown with the example's task and id, or hidden when there is none."""
        dev = isinstance(example, dict) and example.get("kind", "dev") == "dev"  # Compare's "before" may be a scoring
        task = example.get("task") if dev else None
        ex_id = example.get("id") if dev else None
        if task not in E.tasks_of(self.a) or not isinstance(ex_id, (str, int)) or str(ex_id) == "":
            return gr.Accordion(visible=False), "", ""
        return (gr.Accordion(visible=True, label=f"Tag or note this example ({task} {str(ex_id)[:64]})"),
                get_task(task).long_title, str(ex_id))

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
            message = F.save_example(self.store, who, self._why_not(), task, str(example_id or ""),
                                     chosen, free if isinstance(free, str) else "", note if isinstance(note, str) else "",
                                     shared=shared is not False)
            return message, F.example_md(self.store, who, task, str(example_id or ""))
        except I.BadInput as e:
            return f"⚠ {I.escape_md(e)}", gr.skip()
        except Exception:
            return _trouble("save"), gr.skip()

    def save_slice(self, name: object, shared: object, task_name: object, variant: object, kind: object,
                   search: object, min_words: object, max_words: object, other: object, relation: object,
                   slice_name: object, cell: object, word: object = "", regex: object = "", feature: object = None,
                   profile: gr.OAuthProfile | None = None, request: gr.Request = None) -> tuple[str, object]:
        """Save the Errors filter (its text rules and a saved slice chosen as its slice included)
        under a name; the message and the Errors slice picker, which now offers it."""
        # Named parameters, not *filters: Gradio finds the profile and request by their place.
        try:
            query, _ = E.parse_filters(self.a, task_name, variant, kind, search, min_words, max_words, other,
                                       relation, slice_name, cell, word, regex, feature).query()
            who = self._reader(profile, request)
            message = F.save_slice(self.store, who, self._why_not(), query, name if isinstance(name, str) else "",
                                   shared=shared is not False)
            return message, self._picker(E.slice_dropdown(self.a, query.task), query.task, slice_name, who)
        except (I.BadInput, ValueError, FindingsError) as e:
            return f"⚠ {I.escape_md(e)}", gr.skip()
        except Exception:
            return _trouble("save_slice"), gr.skip()

    def saved_list(self, profile: gr.OAuthProfile | None = None, request: gr.Request = None) -> tuple[str, pd.DataFrame]:
        try:
            return "", F.slices_table(self.store, self._reader(profile, request))
        except FindingsError as e:
            return f"⚠ {I.escape_md(e)}", F.empty(F.SLICES_COLUMNS)
        except Exception:
            return _trouble("saved_list"), F.empty(F.SLICES_COLUMNS)

    # ---- the saved slices in the Errors and Slices pickers ----------------------------------------

    def _picker(self, builtin: list[tuple[str, str]], task: str, value: object, reader: object) -> gr.Dropdown:
        """`builtin`: (label, value) choices, as the tab offers them (demo.glossary's labels)."""
        offered = list(builtin) + SV.choices(self.store, reader, task)
        if SV.is_saved(value) and value not in [v for _, v in offered]:
            try:  # a saved slice opened from a link, or since deleted: it stays offered while picked
                offered.append((SV.label_of(SV.decode(value, task)), value))
            except I.BadInput:
                value = builtin[0][1]
        return gr.Dropdown(choices=offered, value=value if value in [v for _, v in offered] else builtin[0][1])

    def errors_slices(self, task_name: object, value: object, profile: gr.OAuthProfile | None = None,
                      request: gr.Request = None) -> object:
        """The Errors slice picker's choices: the built-in buckets and the saved slices the user
        may see (asked when the picker is opened, so a slice saved since then is there)."""
        try:
            task = self._task(task_name)
            return self._picker(E.slice_dropdown(self.a, task), task, value, self._reader(profile, request))
        except I.BadInput:
            return gr.skip()
        except Exception:
            _trouble("errors_slices")
            return gr.skip()

    def slices_slices(self, task_name: object, value: object, profile: gr.OAuthProfile | None = None,
                      request: gr.Request = None) -> object:
        """The Slices tab's slice picker: the built-in slices and the saved ones."""
        try:
            task = self._task(task_name)
            return self._picker(G.choices(A.slice_names(task)), task, value, self._reader(profile, request))
        except I.BadInput:
            return gr.skip()
        except Exception:
            _trouble("slices_slices")
            return gr.skip()

    # ---- tagging many examples: ask, then confirm ------------------------------------------------

    def ask_selection(self, selection: object, chosen: object, free: object, shared: object,
                      profile: gr.OAuthProfile | None = None, request: gr.Request = None) -> tuple:
        """The Map's selection: how many examples would be tagged, with Confirm / Cancel."""
        try:
            if not isinstance(selection, MV.MapSelection) or not selection.ids:
                return "Select some examples on a map first.", None, gr.Row(visible=False)
            return self._ask(profile, request, selection.task, list(selection.ids), chosen, free, shared,
                             f"the map selection, {selection.how}")
        except Exception:
            return _trouble("ask_selection"), None, gr.Row(visible=False)

    def ask_filter(self, chosen: object, free: object, shared: object, upload: object, task_name: object,
                   variant: object, kind: object, search: object, min_words: object, max_words: object,
                   other: object, relation: object, slice_name: object, cell: object, word: object = "",
                   regex: object = "", feature: object = None, profile: gr.OAuthProfile | None = None,
                   request: gr.Request = None) -> tuple:
        """Every example the Errors filter lists (any variant's row), with Confirm / Cancel."""
        try:
            task = self._task(task_name)
            joined = UP.joined(self.a, upload if isinstance(upload, UP.Upload) else None, task)
            filters = E.parse_filters(joined, task_name, variant, kind, search, min_words, max_words, other,
                                      relation, slice_name, cell, word, regex, feature)
            _, line, rows = E.filter_table(joined, filters)
            if not len(rows) and line.startswith("⚠"):  # the filter itself is refused: say why
                return line, None, gr.Row(visible=False)
            ids = [str(i) for i in dict.fromkeys(rows["id"].tolist())] if len(rows) else []
            return self._ask(profile, request, task, ids, chosen, free, shared, "the Errors filter")
        except I.BadInput as e:
            return f"⚠ {I.escape_md(e)}", None, gr.Row(visible=False)
        except Exception:
            return _trouble("ask_filter"), None, gr.Row(visible=False)

    def _ask(self, profile: object, request: object, task: str, ids: list[str], chosen: object, free: object,
             shared: object, what: str) -> tuple:
        tags = F.wanted_tags([c for c in (chosen or []) if isinstance(c, str)], free if isinstance(free, str) else "")
        message, pending = F.ask_bulk(self._reader(profile, request), self._why_not(), task, ids, tags, what,
                                      shared=shared is not False)
        return message, pending, gr.Row(visible=pending is not None)

    def confirm(self, pending: object, profile: gr.OAuthProfile | None = None, request: gr.Request = None) -> tuple:
        """Write what was asked; the writer is the session's again (never the one who asked)."""
        try:
            message = F.tag_bulk(self.store, self._reader(profile, request), self._why_not(), pending)
        except Exception:
            message = _trouble("confirm")
        return message, None, gr.Row(visible=False)

    @staticmethod
    def cancel() -> tuple:
        return "Cancelled: nothing was tagged.", None, gr.Row(visible=False)

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
            message, ids = F.draw_sample(self.store, self._reader(profile, request), self._why_not(), self.a, task,
                                         v, count, s)
            return message, pd.DataFrame({"id": ids}, columns=F.DRAWN_COLUMNS)
        except I.BadInput as e:
            return f"⚠ {I.escape_md(e)}", F.empty(F.DRAWN_COLUMNS)
        except Exception:
            return _trouble("draw"), F.empty(F.DRAWN_COLUMNS)

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
        except (FindingsError, I.BadInput) as e:
            return F.empty(F.TAGS_COLUMNS), f"⚠ {I.escape_md(e)}", None, "", F.empty(F.AGREEMENT_COLUMNS)
        except Exception:
            return F.empty(F.TAGS_COLUMNS), _trouble("table"), None, "", F.empty(F.AGREEMENT_COLUMNS)


def bulk_tag_box(handlers: Handlers, prefix: str, ask_label: str) -> BulkTag:
    """Tags for many examples and a button that asks first; its Confirm / Cancel are wired here,
    the button by the caller (it knows what is tagged)."""
    box = BulkTag(
        tags=I.LenientCheckboxGroup(list(STARTER_TAGS), label="Tags", elem_id=f"{prefix}-tags"),
        free=gr.Textbox(label="Other tags (comma-separated)", max_lines=1, elem_id=f"{prefix}-free"),
        shared=gr.Checkbox(value=True, label="Shared with everyone who uses this app"),
        ask=gr.Button(ask_label, variant="secondary", elem_id=f"{prefix}-ask"),
        message=gr.Markdown(elem_id=f"{prefix}-message"),
        confirm_row=None, confirm=None, cancel=None, pending=gr.State(None))
    with gr.Row(visible=False, elem_id=f"{prefix}-confirm-row") as box.confirm_row:
        box.confirm = gr.Button("Confirm", variant="primary", elem_id=f"{prefix}-confirm", min_width=120)
        box.cancel = gr.Button("Cancel", elem_id=f"{prefix}-cancel", min_width=120)
    out = [box.message, box.pending, box.confirm_row]
    box.confirm.click(handlers.confirm, box.pending, out, **handlers.api("findings_confirm"), **TABLE_QUEUE)
    box.cancel.click(handlers.cancel, None, out, api_visibility="private", queue=False)
    return box


def filter_actions(handlers: Handlers, filters: list, upload: gr.State, slice_picker: gr.Dropdown) -> None:
    """Under the Errors table: tag every example of the current filter (after a confirmation), and
    save the filter (`filters`: its components in `E.parse_filters` order) as a named slice."""
    with gr.Accordion("Tag every example of this filter, or save it as a slice", open=False,
                      elem_id="errors-filter-findings"):
        bulk = bulk_tag_box(handlers, "errors-bulk", "Tag every example of this filter…")
        with gr.Row():
            name = gr.Textbox(label="Save this filter as a slice named", max_lines=1, max_length=80,
                              elem_id="errors-slice-name", scale=3, min_width=200)
            shared = gr.Checkbox(value=True, label="Shared", scale=0, min_width=100)
            save = gr.Button("Save as a slice", elem_id="errors-save-slice", scale=1, min_width=160)
        saved = gr.Markdown(elem_id="errors-save-slice-message")
    bulk.ask.click(handlers.ask_filter, [bulk.tags, bulk.free, bulk.shared, upload, *filters],
                   [bulk.message, bulk.pending, bulk.confirm_row], **handlers.api("findings_ask_filter"), **TABLE_QUEUE)
    save.click(handlers.save_slice, [name, shared, *filters], [saved, slice_picker], api_name="findings_save_slice",
               **TABLE_QUEUE)


def selection_box(handlers: Handlers, selection: gr.State, prefix: str) -> None:
    """Under a view's selection (the Map's): tag every selected example, after a confirmation."""
    with gr.Accordion("Tag the selected examples", open=False, elem_id=f"{prefix}-findings"):
        bulk = bulk_tag_box(handlers, f"{prefix}-bulk", "Tag every selected example…")
    bulk.ask.click(handlers.ask_selection, [selection, bulk.tags, bulk.free, bulk.shared],
                   [bulk.message, bulk.pending, bulk.confirm_row], **handlers.api("findings_ask_selection"),
                   **TABLE_QUEUE)


def example_findings(handlers: Handlers, example: gr.State, prefix: str) -> ExampleFindings:
    """The tag/note box under a dev example: starter tags, free tags, a note; saved in one click.
    `example` is the state of the example shown (a dict with its task and id, or None), so the box
    follows whatever puts an example there (a row click, a link, "open in Compare")."""
    with gr.Accordion("Tag or note this example", open=False, visible=False, elem_id=f"{prefix}-findings") as acc:
        box = ExampleFindings(
            box=acc,
            task=I.LenientTextbox(visible=False, label="task"),
            example_id=I.LenientTextbox(visible=False, label="example id"),
            tags=I.LenientCheckboxGroup(list(STARTER_TAGS), label="Tags", elem_id=f"{prefix}-tags"),
            free=gr.Textbox(label="Other tags (comma-separated)", max_lines=1, elem_id=f"{prefix}-free"),
            note=gr.Textbox(label="Note", lines=2, max_length=2000, elem_id=f"{prefix}-note"),
            shared=gr.Checkbox(value=True, label="Shared with everyone who uses this app"),
            save=gr.Button("Save tags and note", variant="secondary", elem_id=f"{prefix}-save"),
            message=gr.Markdown(elem_id=f"{prefix}-message"),
            shown=gr.Markdown(elem_id=f"{prefix}-shown"))
    example.change(handlers.about, example, [box.box, box.task, box.example_id], api_visibility="private",
                   queue=False) \
        .then(handlers.show, [box.task, box.example_id], box.shown, api_visibility="private", **TABLE_QUEUE)
    box.save.click(handlers.save, [box.task, box.example_id, box.tags, box.free, box.note, box.shared],
                   [box.message, box.shown], **handlers.api("findings_save"), **TABLE_QUEUE)
    return box


def _login_available() -> bool:
    try:
        import authlib  # noqa: F401  (gradio[oauth], installed on Spaces)
        import itsdangerous  # noqa: F401
    except ImportError:
        return False
    return True


def build(handlers: Handlers, a: A.Analysis | None) -> None:
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
                    "Tags on hand-picked examples are shown apart, without intervals. Every dev example shown in "
                    "the app can be tagged; a Map selection or an Errors filter can be tagged at once.",
                    elem_classes=["intro"])
        glossary("wilson")
        tasks = E.tasks_of(a)
        with gr.Row():
            task = I.LenientRadio([get_task(t).long_title for t in tasks], value=get_task(tasks[0]).long_title,
                                  label="Task")
            variant = I.LenientDropdown(E.variants_of(a, tasks[0]), value=E.best_variant(a, tasks[0]), label="Variant")
            n = I.LenientNumber(value=20, precision=0, label="How many errors")
            seed = I.LenientNumber(value=0, precision=0, label="Seed (kept with the draw)")
        draw = gr.Button("Draw N errors of this variant at random", elem_id="findings-draw")
        drawn_message = gr.Markdown()
        drawn = gr.Dataframe(F.empty(F.DRAWN_COLUMNS), interactive=False, label="Drawn (tag them in Errors)")
        refresh = gr.Button("Error-analysis table", variant="primary", elem_id="findings-table")
        basis = gr.Markdown()
        table = gr.Dataframe(F.empty(F.TAGS_COLUMNS), interactive=False, label="Tags of the variant's errors")
        # shown once a table gives them something: empty, they were two blank boxes of 180 px
        with gr.Column(visible=False, elem_id="findings-exports") as exports:
            csv = gr.File(label="CSV")
            latex = gr.Code(label="LaTeX (booktabs)", language=None)
        agree = gr.Dataframe(F.empty(F.AGREEMENT_COLUMNS), interactive=False,
                             label="Agreement where two people tagged the same examples")
        gr.Markdown("### Saved slices\nSave an Errors filter as a slice under the Errors table; saved slices "
                    "appear, marked ★, in the slice pickers of Errors and Slices.", elem_classes=["intro"])
        list_saved = gr.Button("List the saved slices", size="sm", elem_id="findings-list-slices")
        listed_message = gr.Markdown()
        listed = gr.Dataframe(F.empty(F.SLICES_COLUMNS), interactive=False, label="Saved slices", elem_id="findings-slices")
    task.change(handlers.variants, task, variant, api_visibility="private", queue=False)
    draw.click(handlers.draw, [task, variant, n, seed], [drawn_message, drawn], api_name="findings_draw",
               **TABLE_QUEUE)
    refresh.click(handlers.table, [task, variant], [table, basis, csv, latex, agree], api_name="findings_table",
                  **TABLE_QUEUE) \
        .then(lambda path: gr.Column(visible=bool(path)), csv, exports, queue=False, api_visibility="private")
    list_saved.click(handlers.saved_list, None, [listed_message, listed], api_name="findings_slices", **TABLE_QUEUE)
