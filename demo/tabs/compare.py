"""Compare tab: a sentence or a pair scored by every selected variant at once, and token
attributions of one of them."""
from __future__ import annotations

import html
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from .. import compare as C
from .. import inputs as I
from ..context import AppContext
from ..gpu import on_gpu
from ..serving import BATCHED, MODEL_QUEUE, SERVER_TROUBLE, guarded, log
from . import bind

EXPLAINED_TASKS = ["Sentiment", "Paraphrase", "Similarity"]


@dataclass
class CompareTab:
    """The Compare tab's components and the two model calls, for the Errors tab's "open in
    Compare" to fill and rerun."""
    task: gr.Radio
    text_a: gr.Textbox
    text_b: gr.Textbox
    chosen: gr.CheckboxGroup
    outputs: list                  # summary, notes, table, the three charts
    explain_inputs: list
    attributions: gr.HTML
    score: Callable                # items -> [CompareResult]
    attribute: Callable            # (name, task choice, method, a, b) -> HTML


def notes_md(notes: list[str]) -> str:
    return "\n".join(f"- {n}" for n in notes)


def compare_outputs(results: list[C.CompareResult]) -> tuple[list, ...]:
    """What the batched Compare event returns for these results: one list per output component
    (summary, notes, table, the three charts), one entry per request."""
    out = [[] for _ in range(6)]
    for r in results:
        out[0].append(r.summary)
        out[1].append(notes_md(r.notes))
        out[2].append(gr.Dataframe(value=r.table, visible=not r.table.empty))
        for k, t in enumerate(C.TASK_NAMES):
            fig = r.figures.get(t)
            out[3 + k].append(gr.Plot(value=fig, visible=fig is not None))
    return tuple(out)


def run_batch(score: Callable, choices: list, as_: list, bs: list, names_: list) -> tuple[list, ...]:
    """Batched by Gradio: lists in, lists out; one model call per variant for all the requests.
    Each request is validated on its own (C.compare_many), so one user's bad request is answered
    with its own message and the others are scored as usual."""
    items = list(zip(choices, as_, bs, names_))
    try:
        results = score(items)
    except Exception:  # a fault of ours: every request of the batch gets the general message
        log.error("compare failed:\n%s", traceback.format_exc())
        results = [C.message(SERVER_TROUBLE) for _ in items]
    return compare_outputs(results)


def rerun_one(score: Callable, choice: str, a: str, b: str, names: list) -> tuple:
    """One request outside a batch (the Errors tab's "open in Compare")."""
    return tuple(o[0] for o in run_batch(score, [choice], [a], [b], [names]))


def follow_task(choice: str) -> str:
    return choice if choice in EXPLAINED_TASKS else gr.skip()


def cleared() -> tuple:
    hidden = gr.Plot(visible=False)
    return "", "", "", "", gr.Dataframe(visible=False), hidden, hidden, hidden, ""


def model_calls(variants: dict, trust: dict | None = None) -> tuple[Callable, Callable]:
    """The model calls, and only they, run under ZeroGPU's decorator when there is one. They take
    names and texts, never the models: ZeroGPU pickles the arguments into its GPU worker."""
    @on_gpu
    def score(items: list) -> list:
        return C.compare_many(variants, items, trust)

    @guarded(lambda m: f'<div class="attr-box">{I.as_html(m)}</div>')
    @on_gpu
    def attribute(name: str, which: str, method: str, x: str, y: str) -> str:
        return C.explain(variants, name, which, x, y, method)

    return score, attribute


def build(ctx: AppContext) -> CompareTab | None:
    variants = ctx.variants
    with gr.Tab("Compare", id="compare"):
        if not variants:
            gr.Markdown(f"### No variants to compare\nNo checkpoint could be loaded from "
                        f"`{html.escape(str(ctx.checkpoints_dir))}`. Put trained variants there (`python -m "
                        "minibert train ...`) or point `MINIBERT_CHECKPOINTS` at a folder of them, and restart the "
                        "app. The Errors tab still works from the shipped prediction tables.")
            return None
        _, choice, first, second = C.DEFAULT_EXAMPLE
        gr.Markdown("Type a sentence (sentiment) or two (paraphrase and similarity), pick the task, and every "
                    "selected variant scores it at once. Beside each answer: that variant's dev metric for the task. ⚠ marks "
                    "an answer against the majority; 🔇 a head no better than a trivial baseline on dev, left out "
                    "of the verdict.",
                    elem_classes=["intro"])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                task = I.LenientRadio(C.TASK_CHOICES, value=choice, label="Task", elem_id="compare-task")
                text_a = I.LenientTextbox(value=first, label="Sentence A", lines=2, max_lines=6, elem_id="sentence-a",
                                          placeholder="A sentence to score (sentiment uses this one)")
                text_b = I.LenientTextbox(value=second, label="Sentence B (for paraphrase and similarity)", lines=2,
                                          max_lines=6, elem_id="sentence-b", placeholder="A second sentence, for pairs")
                with gr.Row():
                    run = gr.Button("Compare all variants", variant="primary", elem_id="compare-button", scale=3)
                    clear = gr.Button("Clear", scale=1)
                chosen = I.LenientCheckboxGroup(list(variants), value=list(variants), label="Variants to run",
                                                elem_id="compare-variants")
            with gr.Column(scale=2):
                examples = gr.Examples([[c, x, y] for _, c, x, y in C.EXAMPLES], inputs=[task, text_a, text_b],
                                       example_labels=[lbl for lbl, *_ in C.EXAMPLES],
                                       label="Interesting cases (click one)", examples_per_page=12)
                gr.Markdown("#### Verdict")
                summary = gr.Markdown("Click **Compare all variants** to score the sentences above.",
                                      elem_id="compare-summary")
                notes = gr.Markdown(elem_classes=["notes"], elem_id="compare-notes")
        table = gr.Dataframe(label="Predictions and dev metrics (⚠ against the majority · 🔇 muted head)", interactive=False,
                             elem_id="compare-table", wrap=True, visible=False)
        with gr.Row():
            plot_sst = gr.Plot(label="Sentiment", show_label=False, elem_id="plot-sst")
            plot_quora = gr.Plot(label="Paraphrase", show_label=False, elem_id="plot-quora")
            plot_sts = gr.Plot(label="Similarity", show_label=False, elem_id="plot-sts")

        models = ctx.model_names()
        gr.Markdown("### Why? Token attributions\nWhich words pushed a variant's answer up or down "
                    "(gradient × input on the word embeddings), or where its encoder looked (attention rollout).",
                    elem_classes=["intro"])
        with gr.Row():
            explain_variant = I.LenientDropdown(models, value=models[0] if models else None, label="Variant",
                                                elem_id="explain-variant", scale=2)
            explain_task = I.LenientRadio(EXPLAINED_TASKS, value="Sentiment", label="Output to explain", scale=2)
            explain_method = I.LenientRadio(list(C.METHODS), value=C.METHODS[0], label="Method", scale=2,
                                            elem_id="explain-method")
            explain_btn = gr.Button("Explain", scale=1)
        attributions = gr.HTML(elem_id="attributions")

    score, attribute = model_calls(variants, ctx.trust())
    handles = CompareTab(task=task, text_a=text_a, text_b=text_b, chosen=chosen,
                         outputs=[summary, notes, table, plot_sst, plot_quora, plot_sts],
                         explain_inputs=[explain_variant, explain_task, explain_method, text_a, text_b],
                         attributions=attributions, score=score, attribute=attribute)
    batch = bind(run_batch, score)
    compare_inputs = [task, text_a, text_b, chosen]
    run.click(batch, compare_inputs, handles.outputs, api_name="compare", **BATCHED) \
        .then(attribute, handles.explain_inputs, attributions, api_name="explain_after_compare",
              api_visibility="private", **MODEL_QUEUE)
    # one click on an example fills the inputs and scores them
    examples.load_input_event.then(batch, compare_inputs, handles.outputs, api_visibility="private", **BATCHED) \
        .then(attribute, handles.explain_inputs, attributions, api_name="explain_after_example",
              api_visibility="private", **MODEL_QUEUE)
    text_a.submit(batch, compare_inputs, handles.outputs, api_visibility="private", **BATCHED)
    explain_btn.click(attribute, handles.explain_inputs, attributions, api_name="explain", **MODEL_QUEUE)
    task.change(follow_task, task, explain_task, api_visibility="private", queue=False)
    clear.click(cleared, None, [text_a, text_b, summary, notes, table, plot_sst, plot_quora, plot_sts, attributions],
                api_visibility="private", queue=False)
    return handles
