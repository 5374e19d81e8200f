"""The Gradio layer: lays out the four tabs and wires them to the plain functions of
`demo.compare`, `demo.errors`, `demo.slices` and `demo.models`. Nothing is computed here.

    demo = build_demo(ctx)                  # ctx from demo.context.load_context()
    demo.launch(**launch_options())         # theme and css go to launch() in Gradio 6

API names (gradio_client): compare, explain, metrics, confusion, errors, cell_click, export_csv,
example, slices, model.
"""
from __future__ import annotations

import html
import logging
import os
import traceback

import analysis as A
import gradio as gr
import pandas as pd

from . import compare as C
from . import errors as E
from . import inputs as I
from . import models as M
from . import slices as S
from .context import AppContext
from .gpu import on_gpu

log = logging.getLogger("minibert.app")

# Model calls at once. Two, each on one torch thread, keep both cores of a 2-vCPU Space scoring
# under load (bench_load 50 x 20: 12.7 requests/s and Compare p95 9.1 s with one, 14.5/s and
# 8.1 s with two); a lone click is as fast either way.
MODEL_CONCURRENCY = int(os.environ.get("MINIBERT_MODEL_CONCURRENCY", "2"))
MAX_BATCH = int(os.environ.get("MINIBERT_MAX_BATCH", "8"))                 # queued clicks scored together
# Error-table refreshes run one at a time, in the order they were asked for (a filter takes a few
# ms), and an edit made while one is running is run after it ("always_last"; Gradio's default
# "once" drops it): quick edits can never leave a stale table on screen.
TABLE_QUEUE = {"concurrency_limit": 1, "concurrency_id": "table", "trigger_mode": "always_last"}
MODEL_QUEUE = {"concurrency_limit": MODEL_CONCURRENCY, "concurrency_id": "model"}
BATCHED = {"batch": True, "max_batch_size": MAX_BATCH, **MODEL_QUEUE}
# Events waiting at most; past it a user is told the app is busy (Gradio answers 503: the browser
# says "This application is currently busy. Please try again.", gradio_client raises QueueError
# "Queue is full! Please try again.") instead of waiting without bound.
QUEUE_MAX = int(os.environ.get("MINIBERT_QUEUE_MAX", "64"))
# Gradio keeps a copy of every file it serves (CSV exports): every $MINIBERT_CACHE_SWEEP_S seconds
# (default 60), copies older than $MINIBERT_CACHE_MAX_AGE_S (default 300) are deleted: a download
# link is good for about that long.
def cache_sweep() -> tuple[int, int]:
    return int(os.environ.get("MINIBERT_CACHE_SWEEP_S", "60")), int(os.environ.get("MINIBERT_CACHE_MAX_AGE_S", "300"))


NO_EXAMPLE = '<div class="ex-card intro">Click a row of the error table.</div>'
SERVER_TROUBLE = "Something went wrong on the server while answering this request; it has been logged. Try again."

CSS = """
.gradio-container { max-width: 1400px !important; margin: auto; }
.app-head h1 { margin: 0 0 4px 0; font-size: 1.9em; }
.app-head p { margin: 2px 0; color: var(--body-text-color-subdued); }
.app-head .status { font-size: 0.9em; }
.banner-warn { border-left: 4px solid #f58518; padding: 6px 12px; background: rgba(245,133,24,0.08); border-radius: 4px; }
.intro { color: var(--body-text-color-subdued); }
.attr-box { line-height: 2.3; font-size: 1.05em; padding: 6px 2px; }
.attr-head { font-weight: 600; margin-top: 4px; }
.attr-tok { padding: 2px 4px; border-radius: 4px; }
.attr-line { margin-bottom: 4px; }
.attr-label, .ex-label { display: inline-block; min-width: 1.4em; font-weight: 700; color: #888; margin-right: 6px; }
.attr-legend { font-size: 0.85em; color: var(--body-text-color-subdued); line-height: 1.8; margin-top: 6px; }
.ex-card { padding: 10px 14px; border: 1px solid var(--border-color-primary); border-radius: 8px; }
.ex-meta { font-size: 0.9em; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.ex-text { font-size: 1.05em; margin: 4px 0; }
.notes { color: #b35900; }
.gradio-container [role="gridcell"] span, .gradio-container [role="columnheader"] span { font-family: var(--font) !important; }
#confusion [role="gridcell"], #errors-table [role="gridcell"] { cursor: pointer; }
#errors-table [role="gridcell"]:last-child span { white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  display: block; color: var(--body-text-color-subdued); font-size: 0.85em; }
"""


def launch_options() -> dict:
    """theme and css for `launch()` (Gradio 6 moved them there); system fonts, so nothing is
    fetched from the network."""
    font = [gr.themes.Font("ui-sans-serif"), "system-ui", "Segoe UI", "Roboto", "sans-serif"]
    mono = [gr.themes.Font("ui-monospace"), "SFMono-Regular", "Menlo", "monospace"]
    return {"theme": gr.themes.Soft(primary_hue="indigo", secondary_hue="orange", font=font, font_mono=mono),
            "css": CSS}


def configure_queue(demo: gr.Blocks, concurrency: int | None = None, max_size: int | None = None) -> gr.Blocks:
    """The app's queue: bounded (QUEUE_MAX) and `concurrency` events of a kind at once (default
    $MINIBERT_CONCURRENCY or 4; the model and table queues set their own limits)."""
    concurrency = concurrency or int(os.environ.get("MINIBERT_CONCURRENCY", "4"))
    return demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_MAX if max_size is None else max_size)


def guarded(fallback):
    """A handler that cannot raise: bad input is the handler's to answer (BadInput becomes
    `fallback(message)`); anything else is a fault of ours, logged with its traceback and
    answered with a general message, never the exception text (it may hold another user's data)."""
    def wrap(fn):
        def handler(*args):
            try:
                return fn(*args)
            except I.BadInput as exc:
                return fallback(str(exc))
            except Exception:
                log.error("handler %s failed:\n%s", fn.__name__, traceback.format_exc())
                return fallback(SERVER_TROUBLE)
        handler.__name__ = fn.__name__
        return handler
    return wrap


def compare_outputs(results: list[C.CompareResult]) -> tuple[list, ...]:
    """What the batched Compare event returns for these results: one list per output component
    (summary, notes, table, the three charts), one entry per request."""
    out = [[] for _ in range(6)]
    for r in results:
        out[0].append(r.summary)
        out[1].append(_notes_md(r.notes))
        out[2].append(gr.Dataframe(value=r.table, visible=not r.table.empty))
        for k, t in enumerate(C.TASKS):
            fig = r.figures.get(t)
            out[3 + k].append(gr.Plot(value=fig, visible=fig is not None))
    return tuple(out)


def _notes_md(notes: list[str]) -> str:
    return "\n".join(f"- {n}" for n in notes)


def _failures_md(ctx: AppContext) -> str:
    if not ctx.failures:
        return ""
    items = "\n".join(f"- **{html.escape(f.name)}**: {html.escape(f.reason)}" for f in ctx.failures)
    return (f"⚠ **{len(ctx.failures)} variant{'s' if len(ctx.failures) != 1 else ''} could not be loaded** "
            f"(the others work):\n{items}")


def build_demo(ctx: AppContext) -> gr.Blocks:
    a = ctx.analysis if ctx.analysis is not None and getattr(ctx.analysis, "tasks", None) else None

    with gr.Blocks(title="MiniBERT Explorer", delete_cache=cache_sweep()) as demo:
        gr.HTML(
            '<div class="app-head"><h1>MiniBERT Explorer</h1>'
            "<p>Every MiniBERT variant side by side on three tasks: the sentiment of a sentence (SST, 5 classes), "
            "whether two questions ask the same thing (Quora) and how similar two sentences are (STS, 0-5).</p>"
            f'<p class="status">{html.escape(ctx.status_line())}</p></div>'
        )
        if ctx.failures:
            gr.Markdown(_failures_md(ctx), elem_classes=["banner-warn"], elem_id="load-failures")

        with gr.Tabs(selected="compare") as tabs:
            compare_io = _compare_tab(ctx)
            _errors_tab(ctx, a, tabs, compare_io)
            _slices_tab(a)
            _models_tab(ctx, a)
    return demo


# --- Compare ----------------------------------------------------------------------------------

def _compare_tab(ctx: AppContext) -> dict | None:
    variants = ctx.variants
    with gr.Tab("Compare", id="compare"):
        if not variants:
            gr.Markdown(f"### No variants to compare\nNo checkpoint could be loaded from `{html.escape(str(ctx.checkpoints_dir))}`. "
                        "Put trained variants there (`python -m minibert train ...`) or point `MINIBERT_CHECKPOINTS` "
                        "at a folder of them, and restart the app. The Errors tab still works from the shipped "
                        "prediction tables.")
            return None
        label, choice, first, second = C.DEFAULT_EXAMPLE
        gr.Markdown("Type a sentence (sentiment) or two (paraphrase and similarity), pick the task, and every "
                    "selected variant scores it at once. Variants that disagree with the majority are marked ⚠.",
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
                            example_labels=[lbl for lbl, *_ in C.EXAMPLES], label="Interesting cases (click one)",
                            examples_per_page=12)
                gr.Markdown("#### Verdict")
                summary = gr.Markdown("Click **Compare all variants** to score the sentences above.",
                                      elem_id="compare-summary")
                notes = gr.Markdown(elem_classes=["notes"], elem_id="compare-notes")
        table = gr.Dataframe(label="Predictions (⚠ = disagrees with the majority)", interactive=False,
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
            explain_task = I.LenientRadio(["Sentiment", "Paraphrase", "Similarity"], value="Sentiment",
                                    label="Output to explain", scale=2)
            explain_method = I.LenientRadio(list(C.METHODS), value=C.METHODS[0], label="Method", scale=2,
                                      elem_id="explain-method")
            explain_btn = gr.Button("Explain", scale=1)
        attributions = gr.HTML(elem_id="attributions")

    # The model calls, and only they, run under ZeroGPU's decorator when there is one. They take
    # names and texts, never the models: ZeroGPU pickles the arguments into its GPU worker.
    @on_gpu
    def score(items):
        return C.compare_many(variants, items)

    @guarded(lambda m: f'<div class="attr-box">{I.as_html(m)}</div>')
    @on_gpu
    def attribute(name, which, method, x, y):
        return C.explain(variants, name, which, x, y, method)

    def run_batch(choices, as_, bs, names_):
        """Batched by Gradio: lists in, lists out; one model call per variant for all the requests.
        Each request is validated on its own (C.compare_many), so one user's bad request is
        answered with its own message and the others are scored as usual."""
        items = list(zip(choices, as_, bs, names_))
        try:
            results = score(items)
        except Exception:  # a fault of ours: every request of the batch gets the general message
            log.error("compare failed:\n%s", traceback.format_exc())
            results = [C.message(SERVER_TROUBLE) for _ in items]
        return compare_outputs(results)

    def follow_task(choice):
        return choice if choice in ("Sentiment", "Paraphrase", "Similarity") else gr.skip()

    outputs = [summary, notes, table, plot_sst, plot_quora, plot_sts]
    explain_inputs = [explain_variant, explain_task, explain_method, text_a, text_b]
    compare_inputs = [task, text_a, text_b, chosen]
    scored = run.click(run_batch, compare_inputs, outputs, api_name="compare", **BATCHED)
    scored.then(attribute, explain_inputs, attributions, api_name="explain_after_compare", api_visibility="private",
                **MODEL_QUEUE)
    # one click on an example fills the inputs and scores them
    examples.load_input_event.then(run_batch, compare_inputs, outputs, api_visibility="private", **BATCHED) \
        .then(attribute, explain_inputs, attributions, api_name="explain_after_example", api_visibility="private",
              **MODEL_QUEUE)
    text_a.submit(run_batch, compare_inputs, outputs, api_visibility="private", **BATCHED)
    explain_btn.click(attribute, explain_inputs, attributions, api_name="explain", **MODEL_QUEUE)
    task.change(follow_task, task, explain_task, api_visibility="private", queue=False)
    clear.click(lambda: ("", "", "", "", gr.Dataframe(visible=False), gr.Plot(visible=False), gr.Plot(visible=False),
                         gr.Plot(visible=False), ""),
                None, [text_a, text_b, summary, notes, table, plot_sst, plot_quora, plot_sts, attributions],
                api_visibility="private", queue=False)
    return {"task": task, "a": text_a, "b": text_b, "chosen": chosen, "run_batch": run_batch, "outputs": outputs,
            "explain": attribute, "explain_inputs": explain_inputs, "attributions": attributions,
            "explain_task": explain_task}


# --- Errors -----------------------------------------------------------------------------------

def _errors_tab(ctx: AppContext, a, tabs, compare_io: dict | None) -> None:
    with gr.Tab("Errors", id="errors"):
        if a is None:
            _no_tables(ctx)
            return
        tasks = E.tasks_of(a)
        first = tasks[0]
        best = E.best_variant(a, first)
        shown0, count0, _ = E.filter_table(a, E.Filters(task=first, variant=best, kind=next(iter(E.ERROR_KINDS[first]))))
        gr.Markdown("Where the variants go wrong on the dev sets (precomputed predictions). Pick a task and a "
                    "variant, click a confusion-matrix cell to list its examples, filter the table, and click a "
                    "row to see that example across all variants.", elem_classes=["intro"])
        if a.problems:
            with gr.Accordion(f"⚠ {len(a.problems)} problem(s) with the prediction tables", open=False):
                gr.Markdown("\n".join(f"- {html.escape(p)}" for p in a.problems))
        with gr.Accordion("Metrics of every variant (dev sets)", open=True):
            metrics = gr.Dataframe(E.metrics_overview(a), interactive=False, elem_id="metrics-table",
                                   label="Sort: the ⋮ menu of a column header")
            gr.Markdown(E.METRICS_NOTE, elem_classes=["intro"])
        with gr.Row():
            task = I.LenientRadio([E.TASK_NAMES[t] for t in tasks], value=E.TASK_NAMES[first], label="Task",
                                  elem_id="errors-task", scale=2)
            variant = I.LenientDropdown([E.ALL_VARIANTS] + E.variants_of(a, first), value=best,
                                  label="Variant", elem_id="errors-variant", allow_custom_value=True, scale=1)
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
                diagnostic = gr.Plot(E.diagnostic_figure(a, first, best), show_label=False,
                                     elem_id="diagnostic")
        gr.Markdown("### Error table")
        with gr.Row():
            kind = I.LenientDropdown(list(E.ERROR_KINDS[first]), value=next(iter(E.ERROR_KINDS[first])), label="Show",
                               elem_id="errors-kind", allow_custom_value=True)
            search = I.LenientTextbox(label="Text contains", placeholder="e.g. not", elem_id="errors-search")
            min_words = I.LenientNumber(None, label="Min words (0 = any)", precision=0, minimum=0)
            max_words = I.LenientNumber(None, label="Max words (0 = any)", precision=0, minimum=0)
            slice_ = I.LenientDropdown(E.slice_choices(a, first), value=E.NO_SLICE, label="Slice", elem_id="errors-slice", allow_custom_value=True)
        with gr.Row():
            other = I.LenientDropdown([E.NO_OTHER] + E.variants_of(a, first), value=E.NO_OTHER,
                                label="Only where another variant…", elem_id="errors-other", allow_custom_value=True)
            relation = I.LenientDropdown(list(E.RELATIONS), value=next(iter(E.RELATIONS)), label="…does this",
                                   elem_id="errors-relation")
        count = gr.Markdown(count0, elem_id="errors-count")
        table = gr.Dataframe(shown0, interactive=False, elem_id="errors-table", wrap=True, max_height=520,
                             column_widths=E.column_widths(list(shown0.columns)),
                             label="Click a row to see that example across all variants")
        with gr.Row():
            export = gr.Button("⬇ Export the filtered rows as CSV", size="sm", scale=0, min_width=280,
                               elem_id="export-csv")
            csv_file = gr.File(label="CSV", visible=False, elem_id="csv-file", scale=1)
        export_note = gr.Markdown("", elem_id="export-note")
        gr.Markdown("### Selected example")
        example_id = I.LenientTextbox(visible=False, label="example id")
        example_card = gr.HTML(NO_EXAMPLE, elem_id="example-card")
        example_table = gr.Dataframe(interactive=False, elem_id="example-table", show_label=False, visible=False)
        send = gr.Button("Open in Compare to edit and re-score →", variant="secondary", elem_id="send-to-compare",
                         visible=False)
        example_state = gr.State(None)
        metrics_api = gr.Button(visible=False)

    filters_in = [task, variant, kind, search, min_words, max_words, other, relation, slice_, cell_box]

    def no_table(message):
        return pd.DataFrame(), f"⚠ {message}", "", gr.Button(visible=False)

    @guarded(no_table)
    def refresh_table(*values):
        f = E.parse_filters(a, *values)
        shown, line, _ = E.filter_table(a, f)
        cell_text = f"Cell: **{E.describe_cell(f.task, f.cell)}**" if f.cell is not None else ""
        return (gr.Dataframe(shown, column_widths=E.column_widths(list(shown.columns))), line, cell_text,
                gr.Button(visible=f.cell is not None))

    def on_task(task_name):
        t = E.TASK_OF_NAME.get(task_name) if isinstance(task_name, str) else None
        if t is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        names = E.variants_of(a, t)
        best = E.best_variant(a, t)
        return (gr.Dropdown(choices=[E.ALL_VARIANTS] + names, value=best),
                gr.Dropdown(choices=list(E.ERROR_KINDS[t]), value=next(iter(E.ERROR_KINDS[t]))),
                gr.Dropdown(choices=E.slice_choices(a, t), value=E.NO_SLICE),
                gr.Dropdown(choices=[E.NO_OTHER] + names, value=E.NO_OTHER), "")

    @guarded(lambda m: (pd.DataFrame(), M.empty_figure(I.as_html(m))))
    def views(task_name, variant_):
        t = E.parse_task(a, task_name)
        v = I.choice(variant_, [E.ALL_VARIANTS] + E.variants_of(a, t), "variant", default=E.ALL_VARIANTS)
        return (gr.Dataframe(E.confusion_grid(a, t, v), column_widths=E.confusion_widths(t)),
                E.diagnostic_figure(a, t, v))

    def on_cell_click(task_name, evt: gr.SelectData):
        t = E.TASK_OF_NAME.get(task_name) if isinstance(task_name, str) else None
        cell = E.cell_from_click(t, evt.index) if t else None
        return f"{cell[0]},{cell[1]}" if cell else gr.skip()

    def on_row_click(evt: gr.SelectData):
        row = evt.row_value or []
        return str(row[-1]) if row else gr.skip()

    @guarded(lambda m: (f'<div class="ex-card">{I.as_html(m)}</div>', gr.Dataframe(visible=False), None,
                        gr.Button(visible=False)))
    def show_example(task_name, ex_id):
        t = E.parse_task(a, task_name)
        ex_id = I.text(ex_id, "The example id").strip()
        if not ex_id:
            return (NO_EXAMPLE, gr.Dataframe(visible=False), None, gr.Button(visible=False))
        if len(ex_id) > 200:
            raise I.BadInput(f"An example id is at most 200 characters (got {len(ex_id):,}).")
        card, rows, ex = E.example_view(a, t, ex_id)
        return (card, gr.Dataframe(rows, visible=ex is not None), ex,
                gr.Button(visible=ex is not None and compare_io is not None))

    @guarded(lambda m: (gr.File(value=None, visible=False), f"⚠ {m}"))
    def export_csv(*values):
        f = E.parse_filters(a, *values)
        path = E.write_csv(a, f)
        if path is None:
            return gr.File(value=None, visible=False), "⚠ No rows match these filters: nothing to export."
        return gr.File(value=str(path), visible=True), ""

    table_out = [table, count, cell_note, clear_cell]
    task.change(on_task, task, [variant, kind, slice_, other, cell_box], api_visibility="private") \
        .then(views, [task, variant], [confusion, diagnostic], api_name="confusion") \
        .then(refresh_table, filters_in, table_out, api_name="errors", **TABLE_QUEUE)
    variant.input(lambda: "", None, cell_box, api_visibility="private", queue=False) \
        .then(views, [task, variant], [confusion, diagnostic], api_visibility="private") \
        .then(refresh_table, filters_in, table_out, api_visibility="private", **TABLE_QUEUE)
    for box in (kind, slice_, other, relation):
        box.input(refresh_table, filters_in, table_out, api_visibility="private", **TABLE_QUEUE)
    for box in (search, min_words, max_words):
        box.submit(refresh_table, filters_in, table_out, api_visibility="private", **TABLE_QUEUE)
        box.blur(refresh_table, filters_in, table_out, api_visibility="private", **TABLE_QUEUE)
    confusion.select(on_cell_click, [task], cell_box, api_visibility="private") \
        .then(refresh_table, filters_in, table_out, api_name="cell_click", **TABLE_QUEUE)
    clear_cell.click(lambda: "", None, cell_box, api_visibility="private", queue=False) \
        .then(refresh_table, filters_in, table_out, api_visibility="private", **TABLE_QUEUE)
    export.click(export_csv, filters_in, [csv_file, export_note], api_name="export_csv", **TABLE_QUEUE)
    table.select(on_row_click, None, example_id, api_visibility="private") \
        .then(show_example, [task, example_id], [example_card, example_table, example_state, send], api_name="example",
              **TABLE_QUEUE)
    metrics_api.click(lambda: E.metrics_overview(a), None, metrics, api_name="metrics")

    if compare_io is not None:
        def to_compare(ex):
            if not ex:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            choice = C.TASK_CHOICE_OF[ex["task"]]
            return choice, ex["sentence1"], ex["sentence2"], gr.Tabs(selected="compare")

        def rescore(choice, x, y, names):
            out = compare_io["run_batch"]([choice], [x], [y], [names])
            return tuple(o[0] for o in out)

        send.click(to_compare, example_state, [compare_io["task"], compare_io["a"], compare_io["b"], tabs],
                   api_visibility="private") \
            .then(rescore, [compare_io["task"], compare_io["a"], compare_io["b"], compare_io["chosen"]],
                  compare_io["outputs"], api_visibility="private", concurrency_limit=MODEL_CONCURRENCY,
                  concurrency_id="model") \
            .then(compare_io["explain"], compare_io["explain_inputs"], compare_io["attributions"],
                  api_visibility="private", concurrency_limit=MODEL_CONCURRENCY, concurrency_id="model")


def _no_tables(ctx: AppContext) -> None:
    where = html.escape(str(ctx.tables_dir or "analysis/tables"))
    why = ""
    if ctx.analysis is not None and ctx.analysis.problems:
        why = "\n".join(f"- {html.escape(p)}" for p in ctx.analysis.problems[:8])
    elif ctx.analysis_error:
        why = f"- {html.escape(ctx.analysis_error)}"
    gr.Markdown(f"### No dev-set predictions to analyse\nThe prediction tables in `{where}` could not be used. "
                "Build them with `python -m analysis build` (add `--data-dir` for the CS224N dev files).\n\n" + why)


# --- Slices -----------------------------------------------------------------------------------

def _slices_tab(a) -> None:
    with gr.Tab("Slices", id="slices"):
        if a is None:
            gr.Markdown("### No dev-set predictions to slice\nBuild the tables with `python -m analysis build`.")
            return
        tasks = E.tasks_of(a)
        first = tasks[0]
        names = a.variants(first)
        reference0 = E.best_variant(a, first)
        slice_names = A.slice_names(first)
        gr.Markdown("How each variant does on parts of the dev set (short vs long sentences, negation, word "
                    "overlap, gold label, examples every variant gets wrong, ...), and by how much it beats or "
                    "trails a reference variant.", elem_classes=["intro"])
        with gr.Row():
            task = I.LenientRadio([E.TASK_NAMES[t] for t in tasks], value=E.TASK_NAMES[first], label="Task",
                                  elem_id="slices-task", scale=2)
            name = I.LenientDropdown(slice_names, value=slice_names[0], label="Slice", elem_id="slices-name",
                                     allow_custom_value=True)
            reference = I.LenientDropdown(names, value=reference0, label="Reference variant",
                                          elem_id="slices-reference", allow_custom_value=True)
            metric = I.LenientDropdown(S.METRICS[first], value=S.METRICS[first][0], label="Metric",
                                       elem_id="slices-metric", allow_custom_value=True)
        styler, fig, doc = S.slice_view(a, first, slice_names[0], reference0, S.METRICS[first][0])
        doc_md = gr.Markdown(doc)
        table = gr.Dataframe(styler, interactive=False, elem_id="slices-table", show_label=False, wrap=True)
        plot = gr.Plot(fig, show_label=False, elem_id="slices-plot")
        slices_api = gr.Button(visible=False)

    def on_task(task_name):
        t = E.TASK_OF_NAME.get(task_name) if isinstance(task_name, str) else None
        if t is None:
            return gr.skip(), gr.skip(), gr.skip()
        return (gr.Dropdown(choices=A.slice_names(t), value=A.slice_names(t)[0]),
                gr.Dropdown(choices=a.variants(t), value=E.best_variant(a, t)),
                gr.Dropdown(choices=S.METRICS[t], value=S.METRICS[t][0]))

    @guarded(lambda m: (pd.DataFrame(), M.empty_figure(""), f"⚠ {m}"))
    def view(task_name, name_, reference_, metric_):
        t = E.parse_task(a, task_name)
        return S.slice_view(a, t, I.choice(name_, A.slice_names(t), "slice"),
                            I.choice(reference_, a.variants(t), "reference variant"),
                            I.choice(metric_, S.METRICS[t], "metric"))

    outs = [table, plot, doc_md]
    task.change(on_task, task, [name, reference, metric], api_visibility="private") \
        .then(view, [task, name, reference, metric], outs, api_visibility="private")
    for box in (name, reference, metric):
        box.input(view, [task, name, reference, metric], outs, api_visibility="private")
    slices_api.click(view, [task, name, reference, metric], outs, api_name="slices")


# --- Models -----------------------------------------------------------------------------------

def _models_tab(ctx: AppContext, a) -> None:
    variants = ctx.variants
    overall = None
    if a is not None:
        try:
            overall = A.overall(a)
        except Exception:
            overall = None
    with gr.Tab("Models", id="models"):
        gr.Markdown("Each variant: its recipe in plain words, the paper idea it reproduces, its dev metrics and "
                    "its training curve. \\* Quora numbers are optimistic (the backbone saw Quora duplicates in "
                    "pre-training).", elem_classes=["intro"])
        if not variants and not ctx.failures:
            gr.Markdown(f"No checkpoints in `{html.escape(str(ctx.checkpoints_dir))}`.")
            return
        gr.Dataframe(M.overview(variants, ctx.failures, overall), interactive=False, elem_id="models-table",
                     wrap=True, show_label=False, column_widths=M.OVERVIEW_WIDTHS)
        if not variants:
            return
        names = list(variants)
        pick = I.LenientDropdown(names, value=names[0], label="Variant", elem_id="models-variant")
        card0, curve0 = M.details(variants, names[0], overall)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                card = gr.Markdown(card0, elem_id="models-card")
            with gr.Column(scale=3):
                curve = gr.Plot(curve0, show_label=False, elem_id="models-curve")

    @guarded(lambda m: (f"⚠ {m}", M.empty_figure("")))
    def model_card(name):
        return M.details(variants, I.choice(name, list(variants), "variant"), overall)

    pick.change(model_card, pick, [card, curve], api_name="model")
