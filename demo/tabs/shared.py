"""What the tabs share, so that no tab imports another: `bind`, the problems accordion, the
example panel (one dev example across every variant), reading a view from URL parameters,
"open in Compare" (`Opener`: a button and the example it opens; the page builder, demo.ui, wires
every tab's openers to the Compare tab's `CompareTab` handles), and the boxes the page builder
puts under every dev example and every selection (`Extras`, `extras`)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial

import gradio as gr

import analysis as A
from minibert.tasks import task as get_task
from minibert.tasks import task_titled

from .. import counterfactuals as CF
from .. import errors_view as E
from .. import glossary as G
from .. import inputs as I
from ..serving import EXPLAIN_QUEUE, MODEL_QUEUE, TABLE_QUEUE, guarded

NO_EXAMPLE = '<div class="ex-card intro">Click a row of the table above.</div>'


def bind(fn: Callable, *data: object) -> Callable:
    """`fn` with its leading data arguments given: what an event runs. Gradio reads the name and
    counts the remaining parameters; it must not see the bound ones (so no __wrapped__)."""
    bound = partial(fn, *data)
    bound.__name__ = fn.__name__
    return bound


def glossary(*terms: str, elem_id: str | None = None) -> gr.Markdown:
    """The tab's technical terms, one line each (demo.glossary owns the texts)."""
    return gr.Markdown(G.explain(*terms), elem_id=elem_id, elem_classes=["glossary"])


def problems_accordion(problems: list[str], what: str) -> None:
    """A closed "⚠ N problem(s) with <what>" accordion listing a tab's table problems (Markdown-escaped)."""
    with gr.Accordion(f"⚠ {len(problems)} problem(s) with {what}", open=False):
        gr.Markdown("\n".join(f"- {I.escape_md(p)}" for p in problems))


@dataclass
class CompareTab:
    """The Compare tab's components and its model calls, for "open in Compare" to fill, rerun and
    explain (built by the Compare tab, handed to the others by the page builder)."""
    task: gr.Radio
    text_a: gr.Textbox
    text_b: gr.Textbox
    chosen: gr.CheckboxGroup
    outputs: list                  # summary, notes, table, the three charts
    reference: gr.State            # the "before" of a counterfactual (demo.counterfactuals)
    after_inputs: list             # what `after` reads
    after_outputs: list            # before -> after, the reference, the attributions
    score: Callable                # items -> [CompareResult]
    rerun: Callable                # (task, a, b, chosen) -> outputs: one request outside a batch
    after: Callable                # the step after every scoring: before -> after and attributions
    stamp: Callable                # (task, a, b, chosen): a scoring asked for, before it is queued
    why: gr.Button                 # "why do the first two chosen differ" (wired by the page builder)


@dataclass
class ViewHandles:
    """What a derived analysis's view hands the page builder: the openers of its examples (wired to
    Compare); for a view that selects examples (the Map), the gr.State holding that selection
    (demo.embedding_map_view.MapSelection), for features that act on what is selected; and, for a
    view a link can open with its controls set (Tests), its registered URL view."""
    openers: list = field(default_factory=list)
    selection: gr.State | None = None
    link: object | None = None  # the view's demo.urlstate.View, for the page builder to register (its link fields)


# (the loaded analysis, the reading, whether examples can open in Compare) -> the tab's openers, or
# its handles when it has more to hand over
Layout = Callable[[A.Analysis | None, A.Reading, bool], "list[Opener] | ViewHandles"]


@dataclass(frozen=True)
class DerivedView:
    """How the app shows one derived analysis: its tab's URL id and label, a line on what it is,
    and the layout that builds the tab's body and wires it."""
    tab_id: str
    label: str
    intro: str
    layout: Layout


def no_tables_md(d: A.DerivedAnalysis, reading: A.Reading) -> str:
    """The analysis's own "nothing to show" text, its problem lines escaped (they name files)."""
    return d.no_tables(A.Reading(problems=[I.escape_md(p) for p in reading.problems]))


@dataclass
class Opener:
    """A button that opens an example in Compare, and the state holding that example ({task,
    sentence1, sentence2}, and for a dev example its id, gold label and stored outputs)."""
    send: gr.Button
    state: gr.State


def on_row_click(evt: gr.SelectData) -> str:
    row = evt.row_value or []
    return str(row[-1]) if row else gr.skip()


@guarded(lambda m: (f'<div class="ex-card">{I.as_html(m)}</div>', gr.Dataframe(visible=False), None,
                    gr.Button(visible=False)))
def show_example(a: A.Analysis, can_send: bool, task_name: str, ex_id: object) -> tuple:
    t = E.parse_task(a, task_name)
    ex_id = I.text(ex_id, "The example id").strip()
    if not ex_id:
        return NO_EXAMPLE, gr.Dataframe(visible=False), None, gr.Button(visible=False)
    if len(ex_id) > 200:
        raise I.BadInput(f"An example id is at most 200 characters (got {len(ex_id):,}).")
    card, rows, ex = E.example_view(a, t, ex_id)
    return card, gr.Dataframe(rows, visible=ex is not None), ex, gr.Button(visible=ex is not None and can_send)


def task_key(title: object) -> str:
    """A task's title as the URL names it (sst, quora, sts)."""
    spec = task_titled(str(title)) if title else None
    return spec.name if spec else ""


def url_task(a: A.Analysis, name: str | None, said: list[str]) -> str:
    """The task a URL names (by key or by title); the first task, with a message, for another."""
    tasks = E.tasks_of(a)
    if not name:
        return tasks[0]
    for t in tasks:
        if name.lower() in (t, get_task(t).long_title.lower(), get_task(t).title.lower()):
            return t
    said.append(f"No task “{I.escape_md(name)}” with predictions here: showing {get_task(tasks[0]).long_title}.")
    return tasks[0]


def url_choice(params: dict, key: str, allowed: list[str], default: str, what: str, said: list[str]) -> str:
    """A URL's value for `key` when it is one of `allowed`; else `default`, with a message."""
    value = params.get(key)
    if value in (None, ""):
        return default
    if value in allowed:
        return value
    said.append(f"No {what} “{I.escape_md(value)}”: showing {I.escape_md(default)}.")
    return default


def url_variant(a: A.Analysis, task: str, params: dict, key: str, allowed: list[str], default: str,
                said: list[str]) -> str:
    """`url_choice` for a variant; a name that could be an upload's (which lives only in the tab that
    made it, so a shared link never carries it) is answered with the upload's own message."""
    from ..uploads import missing_variant_note

    value = params.get(key)
    note = None if value in allowed else missing_variant_note(a, task, value)
    if note:
        said.append(f"{note} Showing {I.escape_md(default)}.")
        return default
    return url_choice(params, key, allowed, default, f"{task} variant", said)


@dataclass(frozen=True)
class Extras:
    """What the page builder lays out under every dev example and every selection of examples,
    wherever a tab shows one (the findings boxes). `under_example(state, prefix)`: `state` holds
    the example shown (a dict with its "task" and "id", or None); `under_selection(state, prefix)`:
    `state` holds a selection (a demo.embedding_map_view.MapSelection, or None); `prefix` makes the
    boxes' element ids unique."""
    under_example: Callable[[gr.State, str], object] | None = None
    under_selection: Callable[[gr.State, str], object] | None = None


# Set by the page builder around the tabs it builds (`extras`), so that a tab, or a derived view
# whose layout has a fixed signature, gets the boxes without importing the tab that makes them.
_EXTRAS: ContextVar[Extras | None] = ContextVar("extras", default=None)


@contextmanager
def extras(given: Extras) -> Iterator[None]:
    """While the page builder builds the tabs: the boxes under every example and selection."""
    token = _EXTRAS.set(given)
    try:
        yield
    finally:
        _EXTRAS.reset(token)


def under_example(state: gr.State, prefix: str) -> None:
    """The page builder's box under a dev example (nothing when it gave none)."""
    hook = (_EXTRAS.get() or Extras()).under_example
    if hook is not None:
        hook(state, prefix)


def under_selection(state: gr.State, prefix: str) -> None:
    """The page builder's box under a selection of examples (nothing when it gave none)."""
    hook = (_EXTRAS.get() or Extras()).under_selection
    if hook is not None:
        hook(state, prefix)


@dataclass
class ExamplePanel:
    """One dev example across every variant, under a table whose last column is the example id."""
    example_id: gr.Textbox
    card: gr.HTML
    table: gr.Dataframe
    send: gr.Button
    state: gr.State

    @property
    def opener(self) -> Opener:
        return Opener(self.send, self.state)


def example_panel(card_id: str, table_id: str, send_id: str) -> ExamplePanel:
    """The panel, and under it the page builder's box for the example it shows (`under_example`)."""
    panel = ExamplePanel(
        example_id=I.LenientTextbox(visible=False, label="example id"),
        card=gr.HTML(NO_EXAMPLE, elem_id=card_id),
        table=gr.Dataframe(interactive=False, elem_id=table_id, show_label=False, visible=False),
        send=gr.Button("Open in Compare to edit and re-score →", variant="secondary", elem_id=send_id, visible=False),
        state=gr.State(None))
    under_example(panel.state, card_id)
    return panel


def wire_example_panel(panel: ExamplePanel, a: A.Analysis, task: gr.Radio, rows: gr.Dataframe, can_send: bool
                       ) -> Opener:
    """A click on a row of `rows` (the example id last) shows that dev example in `panel`; its
    button (shown when `can_send`: there is a Compare tab) is the opener the page builder wires.
    For the tabs that show the shipped variants only (no uploads)."""
    rows.select(on_row_click, None, panel.example_id, api_visibility="private") \
        .then(bind(show_example, a, can_send), [task, panel.example_id],
              [panel.card, panel.table, panel.state, panel.send], api_visibility="private", **TABLE_QUEUE)
    return panel.opener


def dev_example(ex: dict | None) -> tuple:
    """"Open in Compare": the example's task and text, and the example itself as the
    reference of the comparisons that follow."""
    if not ex:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return (get_task(ex["task"]).title, ex["sentence1"], ex["sentence2"], CF.dev_reference(ex),
            gr.Tabs(selected="compare"))


def open_in_compare(opener: Opener, compare: CompareTab, tabs: gr.Tabs) -> None:
    """The opener's button puts its example (the "before" in Compare, for a dev example) into
    Compare, switches to it and scores it there. The page builder wires every tab's openers so."""
    opener.send.click(dev_example, opener.state,
                      [compare.task, compare.text_a, compare.text_b, compare.reference, tabs],
                      api_visibility="private") \
        .then(compare.stamp, [compare.task, compare.text_a, compare.text_b, compare.chosen], None,
              api_visibility="private", queue=False) \
        .then(compare.rerun, [compare.task, compare.text_a, compare.text_b, compare.chosen],
              compare.outputs, api_visibility="private", **MODEL_QUEUE) \
        .then(compare.after, compare.after_inputs, compare.after_outputs, api_visibility="private",
              **EXPLAIN_QUEUE)
