"""Slices tab: every variant's metric per slice of a dev set, against a reference variant."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gradio as gr
import pandas as pd

import analysis as A
from minibert.tasks import task as get_task
from minibert.tasks import task_titled

from .. import errors_view as E
from .. import glossary as G
from .. import inputs as I
from .. import models_view as M
from .. import saved_slices_view as SV
from .. import slices_view as S
from ..serving import guarded
from ..urlstate import Links, View
from .shared import bind, task_key, url_choice, url_task


@dataclass
class SlicesTab:
    task: gr.Radio
    inputs: list           # task, slice (the page builder adds the saved slices to it), reference, metric, variants
    outputs: list          # table, chart, description
    why: gr.Button         # "why" for a shown variant against the reference (wired by the page builder)


def on_task(a: A.Analysis, task_name: str) -> tuple:
    spec = task_titled(task_name)
    t = spec.name if spec else None
    if t is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    reference = E.best_variant(a, t)
    return (gr.Dropdown(choices=G.choices(A.slice_names(t)), value=A.slice_names(t)[0]),
            gr.Dropdown(choices=a.variants(t), value=reference),
            gr.Dropdown(choices=G.choices(S.METRICS[t]), value=S.METRICS[t][0]),
            gr.Dropdown(choices=a.variants(t), value=S.default_variants(a, t, reference), multiselect=True))


@guarded(lambda m: (pd.DataFrame(), M.empty_figure(""), f"⚠ {m}"))
def view(a: A.Analysis, task_name: str, name: str, reference: str, metric: str, variants: object = None) -> tuple:
    """A built-in slice, or a saved one (its value holds it whole: `saved_slices_view`), whose
    intervals are bootstrapped now."""
    t = E.parse_task(a, task_name)
    reference = I.choice(reference, a.variants(t), "reference variant")
    shown = I.names(variants, a.variants(t)) if variants else None
    metric = I.choice(metric, S.METRICS[t], "metric")
    if SV.is_saved(name):
        return SV.slice_view(a, t, SV.decode(name, t), reference, metric, shown)
    return S.slice_view(a, t, I.choice(name, A.slice_names(t), "slice"), reference, metric, shown)


def fitted_view(a: A.Analysis, task_name: str, name: str, reference: str, metric: str, variants: object = None
                ) -> tuple:
    """`view` for the page: the table with column widths for the variants shown (the API's "slices"
    keeps returning the bare table)."""
    table, fig, doc = view(a, task_name, name, reference, metric, variants)
    return gr.Dataframe(table, column_widths=S.widths(table)), fig, doc


def restore_view(a: A.Analysis, params: dict) -> tuple[list, list[str]]:
    """The Slices tab as a URL describes it (see demo.urlstate), the nearest view for unknown names."""
    said: list[str] = []
    t = url_task(a, params.get("task"), said)
    names = a.variants(t)
    slices = list(A.slice_names(t))
    saved = SV.from_link(params.get("slice"), t, said)  # a saved slice travels whole in a link
    if saved is not None:
        slices, name = [*slices, saved], saved[1]
    elif SV.is_saved(params.get("slice")):  # one that cannot be used: from_link said why
        name = slices[0]
    else:
        name = url_choice(params, "slice", slices, slices[0], f"{t} slice", said)
    reference = url_choice(params, "reference", names, E.best_variant(a, t), f"{t} variant", said)
    metric = url_choice(params, "metric", list(S.METRICS[t]), S.METRICS[t][0], f"{t} metric", said)
    asked = [v for v in (params.get("variants") or "").split(",") if v]
    unknown = [v for v in asked if v not in names]
    if unknown:
        said.append(f"No {t} variant{'s' if len(unknown) > 1 else ''} "
                    f"{', '.join('“' + I.escape_md(v) + '”' for v in unknown[:5])}: left out.")
    shown = [v for v in asked if v in names] or S.default_variants(a, t, reference)
    table, plot, doc = fitted_view(a, get_task(t).long_title, name, reference, metric, shown)
    return [gr.Radio(value=get_task(t).long_title), gr.Dropdown(choices=G.choices(slices), value=name),
            gr.Dropdown(choices=names, value=reference), gr.Dropdown(choices=G.choices(S.METRICS[t]), value=metric),
            gr.Dropdown(choices=names, value=shown, multiselect=True), table, plot, doc], said


def build(a: A.Analysis, links: Links | None = None) -> SlicesTab | None:
    with gr.Tab("Slices", id="slices"):
        if a is None:
            gr.Markdown("### No dev-set predictions to slice\nBuild the tables with `python -m analysis build`.")
            return None
        tasks = E.tasks_of(a)
        first = tasks[0]
        reference0 = E.best_variant(a, first)
        slice_names = A.slice_names(first)
        gr.Markdown("How each variant does on parts of the dev set (short vs long sentences, negation, word "
                    "overlap, gold label, examples every variant gets wrong, ...), and by how much it beats or "
                    "trails a reference variant.", elem_classes=["intro"])
        with gr.Row():
            task = I.LenientRadio([get_task(t).long_title for t in tasks], value=get_task(first).long_title, label="Task",
                                  elem_id="slices-task", scale=2)
            name = I.LenientDropdown(G.choices(slice_names), value=slice_names[0], label="Slice", elem_id="slices-name",
                                     allow_custom_value=True)
            reference = I.LenientDropdown(a.variants(first), value=reference0, label="Reference variant",
                                          elem_id="slices-reference", allow_custom_value=True)
            metric = I.LenientDropdown(G.choices(S.METRICS[first]), value=S.METRICS[first][0], label="Metric",
                                       elem_id="slices-metric", allow_custom_value=True)
        shown0 = S.default_variants(a, first, reference0)
        shown = I.LenientDropdown(a.variants(first), value=shown0, multiselect=True, label="Variants shown",
                                  info=f"default: the reference and the {S.DEFAULT_OTHERS} best by dev overall score",
                                  elem_id="slices-variants")
        why = gr.Button("Why does a shown variant beat or trail the reference? →", size="sm", scale=0,
                        min_width=360, elem_id="slices-why")
        styler, fig, doc = S.slice_view(a, first, slice_names[0], reference0, S.METRICS[first][0], shown0)
        doc_md = gr.Markdown(doc)
        table = gr.Dataframe(styler, interactive=False, elem_id="slices-table", show_label=False, wrap=True,
                             column_widths=S.widths(styler))
        plot = gr.Plot(fig, show_label=False, elem_id="slices-plot")
        slices_api = gr.Button(visible=False)

    handles = SlicesTab(task=task, inputs=[task, name, reference, metric, shown], outputs=[table, plot, doc_md],
                        why=why)
    show = bind(fitted_view, a)
    # .input, not .change: a view restored from a URL sets the task without resetting the rest
    task.input(bind(on_task, a), task, [name, reference, metric, shown], api_visibility="private") \
        .then(show, handles.inputs, handles.outputs, api_visibility="private")
    for box in (name, reference, metric, shown):
        box.input(show, handles.inputs, handles.outputs, api_visibility="private")
    slices_api.click(bind(view, a), handles.inputs, handles.outputs, api_name="slices")
    if links is not None:
        links.register(View(tab="slices", label="Slices",
                            fields={"task": task, "slice": name, "reference": reference, "metric": metric,
                                    "variants": shown},
                            restore=partial(restore_view, a), outputs=[*handles.inputs, *handles.outputs],
                            dump={"task": task_key}))
    return handles
