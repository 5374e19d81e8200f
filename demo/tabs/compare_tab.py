"""Compare tab: a sentence or a pair scored by every selected variant at once, each answer beside
its dev record; before -> after for edits and one-click perturbations; token attributions of up
to four variants side by side."""
from __future__ import annotations

import html
import traceback
from collections.abc import Callable
from functools import partial

import gradio as gr

from analysis import check_name
from minibert.tasks import TASKS

from .. import attributions as A
from .. import compare_view as C
from .. import counterfactuals as CF
from .. import inputs as I
from ..context import AppContext, trim_malloc
from ..gpu import in_this_process, on_gpu
from ..serving import BATCHED, EXPLAIN_QUEUE, IN_FLIGHT, NEWEST_CLICK, SERVER_TROUBLE, click_key, guarded, log
from ..urlstate import CUT_KEY, Links, View, query_text
from .shared import CompareTab, bind, glossary, under_example

EXPLAINED_TASKS = ["Sentiment", "Paraphrase", "Similarity"]


def notes_md(notes: list[str]) -> str:
    return "\n".join(f"- {n}" for n in notes)


def compare_outputs(results: list[C.CompareResult]) -> tuple[list, ...]:
    """What the batched Compare event returns for these results: one list per output component
    (summary, notes, table, the three charts), one entry per request."""
    out = [[] for _ in range(6)]
    for r in results:
        out[0].append(r.summary)
        out[1].append(notes_md(r.notes))
        out[2].append(gr.Dataframe(value=r.table, visible=not r.table.empty,
                                   column_widths=C.table_widths(list(r.table.columns))))
        for k, t in enumerate(C.TASK_NAMES):
            chart = r.charts.get(t)
            out[3 + k].append(gr.HTML(value=chart or "", visible=chart is not None))
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
    hidden = gr.HTML(value="", visible=False)
    return "", "", "", "", gr.Dataframe(visible=False), hidden, hidden, hidden, "", "", None


SHORTCUT = "**Shift+Enter** in either sentence box scores it too (Enter starts a new line)."
IG_ON_REQUEST = ('<div class="attr-box">Integrated Gradients takes seconds a variant on a CPU, so it runs only when '
                 "you press <b>Explain</b>.</div>")


def model_calls(variants: dict, trust: dict | None = None) -> tuple[Callable, Callable, Callable]:
    """Returns (score, attribute, after). The model calls, and only they, run under ZeroGPU's
    decorator when there is one; they take names, texts and plain data, never the models (ZeroGPU
    pickles the arguments into its GPU worker), and the memo of recent scores stays out here, in
    the app's own process."""
    trust = trust or {}
    muted = {t: sorted(n for n, heads in trust.items() if heads[t].muted) for t in C.TASK_NAMES}
    recent = C.RecentScores()

    # The second core, while no other request runs (demo.cores); not through ZeroGPU's worker.
    spare = IN_FLIGHT.alone if in_this_process() else None

    @on_gpu
    def compare_on_device(items: list, spare: Callable | None = None) -> list:
        return C.compare_many(variants, items, trust, spare)

    @on_gpu
    def explain_on_device(names: list, which: str, method: str, x: str, y: str, scored: dict | None,
                          spare: Callable | None = None) -> str:
        return A.explain(variants, names, which, x, y, method, scored, muted, spare)

    def score(items: list) -> list:
        with IN_FLIGHT:
            results = compare_on_device(items, spare)
        for r in results:
            recent.put(r)
        for item in items:  # the steps that follow these scorings may run now (NEWEST_CLICK)
            NEWEST_CLICK.scored(click_key(*item) if isinstance(item, (list, tuple)) else click_key(item))
        return results

    def explain(names: list, which: str, method: str, x: str, y: str) -> str:
        request, _ = C.parse_request(which, x, y)
        try:
            return explain_on_device(names, which, method, x, y,
                                     recent.get(request.a, request.b) if request else None, spare)
        finally:
            # An attribution's batches are freed when it ends; glibc's arenas and Arrow's pool keep
            # the freed pages, where they count as the app's memory. Handing them back takes about
            # a millisecond.
            trim_malloc()

    @guarded(lambda m: f'<div class="attr-box">{I.as_html(m)}</div>')
    def attribute(names: list, which: str, method: str, x: str, y: str) -> str:
        return explain(names, which, method, x, y)

    @guarded(lambda m: ("", gr.skip(), f'<div class="attr-box">{I.as_html(m)}</div>'))
    def after(reference: dict | None, choice: str, x: str, y: str, chosen: list, names: list, which: str,
              method: str) -> tuple:
        """After any scoring: before -> after against the reference, the next reference, and fresh
        attributions (for Integrated Gradients an empty panel until asked: never stale ones)."""
        request, _ = C.parse_request(choice, x, y)
        scores = recent.get(request.a, request.b) if request else None
        if scores is not None:
            keep = set(chosen or [])
            scores = {**scores, "outputs": {t: {n: o for n, o in outs.items() if n in keep}
                                            for t, outs in scores["outputs"].items() if t in request.tasks}}
        panel = IG_ON_REQUEST if method == A.IG else explain(names, which, method, x, y)
        return CF.changes_html(reference, scores), CF.next_reference(reference, scores), panel

    return score, attribute, after


def stamp(choice: object, a: object, b: object, chosen: object, request: gr.Request) -> None:
    """A scoring asked for: the steps still queued behind this session's older ones are skipped."""
    NEWEST_CLICK.stamp(getattr(request, "session_hash", None), click_key(choice, a, b, chosen))


def superseding(after: Callable) -> Callable:
    """`after` for the browser: it runs for this session's newest scoring only (NEWEST_CLICK),
    once it is scored; the step of an older one still waiting in the queue is skipped."""
    def after_newest(reference: dict | None, choice: str, x: str, y: str, chosen: list, names: list, which: str,
                     method: str, request: gr.Request) -> tuple:
        if not NEWEST_CLICK.claim(getattr(request, "session_hash", None), click_key(choice, x, y, chosen)):
            return gr.skip(), gr.skip(), gr.skip()
        return after(reference, choice, x, y, chosen, names, which, method)
    return after_newest


def perturbed(kind: str, choice: str, a: str, b: str) -> tuple:
    """The edited input; an edit that does not apply stops the chain (nothing is rescored) and says why."""
    try:
        new_a, new_b, done = CF.perturb(kind, choice, a, b)
    except I.BadInput as exc:
        raise gr.Error(str(exc), title="Nothing to edit") from None
    return new_a, new_b, f"Last one-click edit: {done}."


LINK_CHARS = C.LINK_CHARS
TASK_KEYS = {C.ALL: "all", **{t.title: t.name for t in TASKS}}  # a task choice as a link names it


def url_task_choice(value: str | None, said: list[str]) -> str:
    """The task choice a link names (by key, "sst", or by title, "Sentiment"); All three otherwise."""
    if not value:
        return C.ALL
    for choice, key in TASK_KEYS.items():
        if value.lower() in (key, choice.lower()):
            return choice
    said.append(f"No task “{I.escape_md(value)}” in Compare: showing {C.ALL}.")
    return C.ALL


def url_names(value: str | None, known: list[str], said: list[str]) -> list[str]:
    """The variants a link names that are here, in the app's order; all of them when it names none."""
    if not value:
        return list(known)
    named = [v.strip() for v in value.split(",") if v.strip()]
    for name in named:
        if name not in known:
            why = (" An uploaded variant is predictions only, with no model, so Compare cannot score it."
                   if check_name(name) is None else "")
            said.append(f"No variant “{I.escape_md(name)}” to run here: left out.{why}")
    kept = [n for n in known if n in named]
    if not kept:
        said.append("None of the link's variants is here: running all of them.")
        return list(known)
    return kept


def restore_view(rerun: Callable, known: list[str], params: dict) -> tuple[list, list[str]]:
    """Compare as a link describes it (demo.urlstate): the task, both sentences and the variants
    set, and the sentences scored, with a message for what could not be restored as it was."""
    said: list[str] = []
    choice = url_task_choice(params.get("task"), said)
    cut = set((params.get(CUT_KEY) or "").split(","))
    texts = []
    for key, label in (("a", "Sentence A"), ("b", "Sentence B")):
        text = params.get(key) or ""
        if len(text) > LINK_CHARS:  # a link made by hand: cut as the app would have cut it
            text, cut = text[:LINK_CHARS], cut | {key}
        if key in cut and text:
            said.append(f"This link holds only the first {LINK_CHARS:,} characters of {label} (a link keeps at most "
                        f"{LINK_CHARS:,} a sentence).")
        texts.append(text)
    names = url_names(params.get("variants"), known, said)
    scored = rerun(choice, *texts, names) if any(texts) else cleared()[2:8]
    return [gr.Radio(value=choice), *texts, gr.CheckboxGroup(value=names), *scored, "", None, ""], said


def build(ctx: AppContext, links: Links | None = None) -> CompareTab | None:
    variants = ctx.variants
    with gr.Tab("Compare", id="compare"):
        if not variants:
            if links is not None:
                links.register(View(tab="compare", label="Compare"))
            gr.Markdown(f"### No variants to compare\nNo checkpoint could be loaded from "
                        f"`{html.escape(str(ctx.checkpoints_dir))}`. Put trained variants there (`python -m "
                        "minibert train ...`) or point `MINIBERT_CHECKPOINTS` at a folder of them, and restart the "
                        "app. The Errors tab still works from the shipped prediction tables.")
            return None
        _, choice, first, second = C.DEFAULT_EXAMPLE
        gr.Markdown("Type a sentence (sentiment) or two (paraphrase and similarity), pick the task, and every "
                    "selected variant scores it at once. Beside each answer: that variant's dev metric for the task. "
                    "⚠ marks an answer against the majority; ⊘ a head no better than a trivial baseline on dev, left "
                    "out of the verdict.", elem_classes=["intro"])
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
                gr.Markdown(f"⌨ {SHORTCUT}", elem_classes=["intro"], elem_id="compare-shortcut")
                with gr.Row(elem_id="perturb-row"):
                    edits = {kind: gr.Button(label, size="sm", elem_id=f"perturb-{kind}", min_width=90)
                             for kind, label in CF.PERTURBATIONS.items()}
                edit_note = gr.Markdown("One-click edits of the input, each scored by every variant: before → after "
                                        "below, flips marked ⟲.", elem_classes=["intro"], elem_id="edit-note")
                chosen = I.LenientCheckboxGroup(list(variants), value=list(variants), label="Variants to run",
                                                elem_id="compare-variants")
                why = gr.Button("Why do the first two chosen differ on the dev set? →", size="sm",
                                elem_id="compare-why")
            with gr.Column(scale=2):
                examples = gr.Examples([[c, x, y] for _, c, x, y in C.EXAMPLES], inputs=[task, text_a, text_b],
                                       example_labels=[lbl for lbl, *_ in C.EXAMPLES],
                                       label="Interesting cases (click one)", examples_per_page=12)
                gr.Markdown("#### Verdict")
                summary = gr.Markdown("Click **Compare all variants** to score the sentences above.",
                                      elem_id="compare-summary")
                notes = gr.Markdown(elem_classes=["notes"], elem_id="compare-notes")
        changes = gr.HTML(elem_id="compare-changes")
        # the "before" of the next scoring; a dev example opened here stays it while edited, and
        # can be tagged meanwhile (the page builder's box, shown only for a dev example)
        reference = gr.State(None)
        under_example(reference, "compare")
        table = gr.Dataframe(label="Predictions and dev metrics (⚠ against the majority · ⊘ muted head)",
                             interactive=False, elem_id="compare-table", wrap=True, visible=False)
        # hidden until a scoring has something to draw; plain HTML bars (demo.bar_charts), side by
        # side where 320 px each fit (BAR_CSS), one under the other on a phone
        with gr.Row():
            plot_sst, plot_quora, plot_sts = (gr.HTML(elem_id=f"plot-{t}", visible=False, padding=False,
                                                      elem_classes=["bar-box"]) for t in C.TASK_NAMES)
        with gr.Accordion("What the table's terms mean", open=False, elem_id="compare-terms"):
            glossary("accuracy", "pearson", "interval", "muted", elem_id="compare-glossary")

        models = ctx.model_names()
        gr.Markdown("### Why do they disagree? Token attributions\nWhich words pushed each variant's answer up or "
                    "down, side by side on one scale. With no variant ticked, the two whose answers lie furthest "
                    "apart on this input are shown. Every scoring refreshes them.", elem_classes=["intro"])
        with gr.Row():
            explain_variants = I.LenientCheckboxGroup(models, value=[], label=f"Variants to explain (up to "
                                                      f"{A.MAX_VARIANTS}; none: the two that disagree most)",
                                                      elem_id="explain-variants", scale=3)
            explain_task = I.LenientRadio(EXPLAINED_TASKS, value="Sentiment", label="Output to explain", scale=1)
            explain_method = I.LenientRadio(list(A.METHODS), value=A.DEFAULT_METHOD, label="Method", scale=2,
                                            elem_id="explain-method")
            explain_btn = gr.Button("Explain", scale=1, elem_id="explain-button")
        attributions = gr.HTML(elem_id="attributions")
        glossary("leave_one_out", "gradient_x_input", "integrated_gradients", "completeness_gap", "attention_rollout",
                 elem_id="explain-glossary")

    score, attribute, after = model_calls(variants, ctx.trust())
    after = superseding(after)
    outputs = [summary, notes, table, plot_sst, plot_quora, plot_sts]
    explain_inputs = [explain_variants, explain_task, explain_method, text_a, text_b]
    handles = CompareTab(task=task, text_a=text_a, text_b=text_b, chosen=chosen, outputs=outputs,
                         reference=reference,
                         after_inputs=[reference, task, text_a, text_b, chosen, explain_variants, explain_task,
                                       explain_method],
                         after_outputs=[changes, reference, attributions], score=score,
                         rerun=bind(rerun_one, score), after=after, stamp=stamp, why=why)
    batch = bind(run_batch, score)
    compare_inputs = [task, text_a, text_b, chosen]
    private = {"api_visibility": "private"}

    def then_after(event: object) -> None:
        event.then(after, handles.after_inputs, handles.after_outputs, **private, **EXPLAIN_QUEUE)

    def stamped(trigger: Callable) -> None:  # at once, beside the scoring the same trigger queues
        trigger(stamp, compare_inputs, None, **private, queue=False)

    # Every path that scores is followed by the same step: before -> after, and the attributions,
    # for the session's newest scoring only.
    stamped(run.click)
    then_after(run.click(batch, compare_inputs, outputs, api_name="compare", **BATCHED))
    for box in (text_a, text_b):  # Shift+Enter (a multi-line box submits on Shift+Enter)
        stamped(box.submit)
        then_after(box.submit(batch, compare_inputs, outputs, **private, **BATCHED))
    # one click on an example fills the inputs and scores them: a new input, so no "before"
    then_after(examples.load_input_event.then(lambda: None, None, reference, **private, queue=False)
               .then(stamp, compare_inputs, None, **private, queue=False)
               .then(batch, compare_inputs, outputs, **private, **BATCHED))
    for kind, button in edits.items():
        then_after(button.click(bind(perturbed, kind), [task, text_a, text_b], [text_a, text_b, edit_note],
                                **private, queue=False)
                   .success(stamp, compare_inputs, None, **private, queue=False)
                   .then(batch, compare_inputs, outputs, **private, **BATCHED))
    explain_btn.click(attribute, explain_inputs, attributions, api_name="explain", **EXPLAIN_QUEUE)
    if links is not None:
        links.register(View(
            tab="compare", label="Compare", fields={"task": task, "a": text_a, "b": text_b, "variants": chosen},
            restore=partial(restore_view, handles.rerun, list(variants)),
            outputs=[task, text_a, text_b, chosen, *outputs, changes, reference, attributions],
            dump={"task": lambda v: TASK_KEYS.get(v, ""),
                  "variants": lambda v: "" if set(v or []) >= set(variants) else query_text(v)},
            limits={"a": LINK_CHARS, "b": LINK_CHARS}))
    task.change(follow_task, task, explain_task, **private, queue=False)
    clear.click(cleared, None, [text_a, text_b, summary, notes, table, plot_sst, plot_quora, plot_sts, attributions,
                                changes, reference], **private, queue=False)
    return handles
