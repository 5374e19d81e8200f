"""The page builder: the header, every tab (one module each in demo/tabs/; a derived analysis gets
its tab through demo/tabs/derived_tab.py), the wiring from one tab to another, and the theme.

    demo = build_demo(ctx)                  # ctx from demo.context.load_context()
    configure_queue(demo)                   # demo.serving: the queues, bounded
    demo.launch(**launch_options())         # theme and css go to launch() in Gradio 6

API names (gradio_client): compare, explain, metrics, confusion, errors, cell_click, export_csv,
example, slices, model, label_errors, label_errors_csv, tests, failing_cases, test_case,
embedding_map.
"""
from __future__ import annotations

import html
from functools import partial

import gradio as gr

import analysis as A

from .bar_charts import BAR_CSS
from .context import AppContext
from .findings_view import saved_for_why, status_md
from .palette import PLOT_CSS
from .preload import preload_js
from .serving import TABLE_QUEUE, WHY_QUEUE, cache_sweep
from .tabs import (
    behaviour_tab,
    compare_tab,
    derived_tab,
    embedding_map_tab,
    errors_tab,
    findings_tab,
    label_errors_tab,
    models_tab,
    slices_tab,
    why_tab,
)
from .tabs.shared import Extras, extras, open_in_compare, task_key
from .uploads import max_file_size, uploads_enabled
from .urlstate import Links, View

# The derived analyses (analysis.registry) with a view of their own; any other gets the default view.
DERIVED_VIEWS = {"label_errors": label_errors_tab.VIEW, "behaviour": behaviour_tab.VIEW,
                 "embedding_map": embedding_map_tab.VIEW}

CSS = """
.gradio-container { max-width: 1400px !important; margin: auto; }
.app-head h1 { margin: 0 0 4px 0; font-size: 1.9em; }
.app-head p { margin: 2px 0; color: var(--body-text-color-subdued); }
.app-head .status { font-size: 0.9em; }
.banner-warn { border-left: 4px solid #f58518; padding: 6px 12px; background: rgba(245,133,24,0.08); border-radius: 4px; }
/* a passing notice (a link's view being restored): it floats over the page instead of pushing the
   tabs down just as a visitor may be clicking one */
.block.banner-info { position: fixed !important; top: 12px; left: 50%; transform: translateX(-50%); z-index: 100;
                     width: max-content !important; max-width: 90vw; padding: 4px 14px; border-radius: 6px;
                     border: 1px solid var(--border-color-primary); background: var(--background-fill-primary);
                     box-shadow: 0 2px 8px rgba(0, 0, 0, 0.15); color: var(--body-text-color); }
.block.banner-info .pending { opacity: 1 !important; }  /* its text stays legible beside the spinner */
.intro { color: var(--body-text-color-subdued); }
.glossary { color: var(--body-text-color-subdued); font-size: 0.88em; }
.glossary ul { margin-top: 2px; }
.attr-box { line-height: 2.3; font-size: 1.05em; padding: 6px 2px; }
.attr-head { font-weight: 600; margin-top: 4px; }
.attr-tok { padding: 2px 4px; border-radius: 4px; }
.attr-line { margin-bottom: 4px; }
.attr-label, .ex-label { display: inline-block; min-width: 1.4em; font-weight: 700; color: #888; margin-right: 6px; }
.attr-legend { font-size: 0.85em; color: var(--body-text-color-subdued); line-height: 1.8; margin-top: 6px; }
.attr-title { font-weight: 600; }
.attr-note, .attr-foot, .attr-answer { font-size: 0.85em; color: var(--body-text-color-subdued); line-height: 1.6; }
.attr-answer { font-weight: 400; margin-left: 6px; }
.attr-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 10px; margin-top: 6px; }
.attr-panel { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 4px 10px; }
.cf-box { padding: 8px 12px; border: 1px solid var(--border-color-primary); border-radius: 8px; overflow-x: auto; }
.cf-text { margin: 2px 0; }
.cf-arrow { color: var(--body-text-color-subdued); margin: 0 4px; }
.cf-total { font-weight: 600; margin: 6px 0 4px; }
.cf-table { border-collapse: collapse; font-size: 0.92em; }
.cf-table th, .cf-table td { padding: 3px 10px; border-bottom: 1px solid var(--border-color-primary); text-align: left; }
.cf-flipped { background: rgba(230,97,1,0.14); }
.cf-flip { color: #b35806; }
/* Compare's block otherwise grows to its table's width, wider than the page on a phone */
#compare-table { max-width: calc(100vw - 64px) !important; }
.ex-card { padding: 10px 14px; border: 1px solid var(--border-color-primary); border-radius: 8px; }
.ex-meta { font-size: 0.9em; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.ex-text { font-size: 1.05em; margin: 4px 0; }
.notes { color: #b35900; }
.gradio-container [role="gridcell"] span, .gradio-container [role="columnheader"] span { font-family: var(--font) !important; }
#confusion [role="gridcell"], #errors-table [role="gridcell"], #le-table [role="gridcell"] { cursor: pointer; }
#errors-table [role="gridcell"]:last-child span, #le-table [role="gridcell"]:last-child span,
#tests-failing [role="gridcell"]:last-child span {
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  display: block; color: var(--body-text-color-subdued); font-size: 0.85em; }
"""


# Phones: the page never scrolls sideways; a wide table scrolls inside its own box. Every table
# (every gr.Dataframe: Gradio's .table-wrap) fits its box on a desktop through its column widths (in
# percent of the box). Below 1000 px a percent of a phone's box is a sliver ("4 v e r y" one letter a
# line), so the table keeps at least --fit-col per column (PAGE_JS counts them into --fit-cols) and
# scrolls sideways inside its box, its first column (and Compare's answer) pinned by PAGE_JS's
# --pin-x. Gradio sizes the columns from the width of what is inside .table-wrap, so that gets the
# minimum. A cell keeps its line breaks: an interval sits on the line below its value.
LAYOUT_CSS = """
.gradio-container { max-width: min(1400px, 100vw) !important; min-width: 0 !important; }
.gradio-container .form, .gradio-container .block { min-width: 0; }
.gradio-container [role="gridcell"] span { white-space: pre-line; }
/* a dropdown's text stops short of its caret (the caret sits over the input's right end) */
.gradio-container .secondary-wrap > input[role="combobox"] { padding-right: 26px; text-overflow: ellipsis; }
/* a header breaks between words, never inside one ("P(duplicate)") */
.gradio-container [role="columnheader"] span { word-break: keep-all; overflow-wrap: normal; hyphens: none; }
.gradio-container .table-container { --fit-col: 96px; }
#compare-table .table-container { --fit-col: 124px; }
#slices-table .table-container { --fit-col: 124px; }
#le-table .table-container, #metrics-table .table-container { --fit-col: 112px; }
#errors-table .table-container, #models-table .table-container { --fit-col: 140px; }
#confusion .table-container { --fit-col: 72px; }
#why-findings .table-container { --fit-col: 150px; }
#map-table .table-container { --fit-col: 124px; }
/* the Tests grid: a column per variant, twelve of them side by side on a desktop */
#tests-grid [role="columnheader"] span { font-size: 0.85em; }
#tests-grid .cell-wrap { padding-left: 6px; padding-right: 6px; }
/* (Gradio prefixes a rule inside @media with ".gradio-container... .contain": none may start with
   .gradio-container itself) */
@media (max-width: 1000px) {
  .table-container > .table-wrap { overflow-x: auto; }
  .table-container > .table-wrap > .upload-container { min-width: calc(var(--fit-cols, 1) * var(--fit-col)); }
  .table-container [role="columnheader"] span { font-size: 0.9em; }
}
.gradio-container .header-cell[data-heading="0"], .gradio-container .body-cell[data-col="0"],
#compare-table .header-cell[data-heading="1"], #compare-table .body-cell[data-col="1"] {
  transform: translateX(var(--pin-x, 0px)); z-index: 3; background: var(--table-even-background-fill);
}
.url-state { display: none !important; }
#share-row { align-items: center; gap: 8px; }
#share-link input { font-size: 0.85em; }
/* A token's weight on tap or keyboard focus, not only on hover (a phone has none): PAGE_JS makes
   every weighted token (an .attr-tok with a title) focusable; its title shows above it. */
.attr-tok[title] { position: relative; cursor: pointer; }
.attr-tok[title]:focus { outline: 2px solid var(--color-accent); outline-offset: 1px; }
.attr-tok[title]:focus::after {
  content: attr(title); position: absolute; left: 50%; bottom: calc(100% + 2px); transform: translateX(-50%);
  background: var(--background-fill-primary); color: var(--body-text-color); border: 1px solid var(--border-color-primary);
  border-radius: 4px; padding: 0 5px; font-size: 0.8em; line-height: 1.6; white-space: nowrap; z-index: 20;
}
"""


PAGE_JS = """() => {
  const mark = () => document.querySelectorAll(".attr-tok[title]:not([tabindex])").forEach((el) => {
    el.setAttribute("tabindex", "0");
    el.setAttribute("aria-label", el.textContent + ": weight " + el.getAttribute("title"));
  });
  mark();
  // LAYOUT_CSS: each table's column count, for its minimum width on a phone
  const fit = () => document.querySelectorAll(".table-container").forEach((box) => {
    const grid = box.querySelector(":scope > .table-wrap[aria-colcount]");
    const cols = grid ? grid.getAttribute("aria-colcount") : null;
    if (cols && box.style.getPropertyValue("--fit-cols") !== cols) box.style.setProperty("--fit-cols", cols);
  });
  let queued = false;
  const later = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; mark(); fit(); }); } };
  later();
  new MutationObserver(later).observe(document.body, { childList: true, subtree: true });
  // a table scrolled sideways keeps its pinned columns in view (scroll events do not bubble: capture)
  document.addEventListener("scroll", (e) => {
    const wrap = e.target;
    if (wrap instanceof Element && wrap.classList.contains("table-wrap") && wrap.parentElement)
      wrap.parentElement.style.setProperty("--pin-x", wrap.scrollLeft + "px");
  }, true);
}"""


# What the screen-reader status line says when a request ends. Gradio 6.31's status tracker
# announces i18n("common.complete"), a key its own English messages lack, so a screen reader read
# out "common.complete"; a translation of the key given here is merged into Gradio's messages.
STATUS_WORDS = {"en": {"common.complete": "Done", "common.error": "Error"}}


def launch_options() -> dict:
    """theme and css for `launch()` (Gradio 6 moved them there); system fonts, so nothing is
    fetched from the network; the largest file an upload may send."""
    font = [gr.themes.Font("ui-sans-serif"), "system-ui", "Segoe UI", "Roboto", "sans-serif"]
    mono = [gr.themes.Font("ui-monospace"), "SFMono-Regular", "Menlo", "monospace"]
    options = {"theme": gr.themes.Soft(primary_hue="indigo", secondary_hue="orange", font=font, font_mono=mono),
               "css": CSS + PLOT_CSS + BAR_CSS + LAYOUT_CSS, "js": f"() => {{ ({PAGE_JS})(); ({preload_js()})(); }}",
               "i18n": gr.I18n(**STATUS_WORDS)}
    if uploads_enabled():  # Gradio refuses a larger file before the app reads it
        options["max_file_size"] = max_file_size()
    return options


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
        findings_line = status_md(ctx.findings, ctx.findings_settings)
        if findings_line:
            gr.Markdown(findings_line, elem_classes=["banner-warn"], elem_id="findings-status")

        links = Links()  # shareable views: each tab registers what it keeps in the URL (demo.urlstate)
        links.place()
        findings = findings_tab.Handlers(ctx, a)
        # The findings boxes under every dev example and every selection, whichever tab shows one.
        boxes = Extras(under_example=partial(findings_tab.example_findings, findings),
                       under_selection=partial(findings_tab.selection_box, findings))
        with gr.Tabs(selected="compare") as tabs, extras(boxes):
            compare = compare_tab.build(ctx, links)
            can_send = compare is not None
            errors = errors_tab.build(ctx, a, can_send, links, under_filters=partial(findings_tab.filter_actions, findings))
            openers = [errors.opener] if errors is not None else []
            slices = slices_tab.build(a, links)
            saved = (partial(saved_for_why, ctx.findings, ctx.findings_settings) if ctx.findings is not None
                     else None)
            setup = why_tab.Setup(frozenset(name for name, v in ctx.variants.items() if v.members),
                                  ctx.checkpoints_dir, saved)
            why = why_tab.build(a, setup, errors.upload if errors is not None else None, can_send, links)
            openers += [why.opener] if why is not None else []
            derived = {}  # each derived view's handles (the Map's selection among them), by analysis
            for d in (d for d in A.DERIVED if d.tab):  # a derived table without a tab: another view reads it
                view = DERIVED_VIEWS.get(d.name) or derived_tab.default_view(d)
                derived[d.name] = derived_tab.build(d, view, a, can_send)
                openers += derived[d.name].openers
                links.register(derived[d.name].link or View(tab=view.tab_id, label=view.label))
            models = models_tab.build(ctx, a, links)
            findings_tab.build(findings, a)
            links.register(View(tab="findings", label="Findings"))
        # The page builder, not the tabs, joins one tab to another.
        if compare is not None:
            for opener in openers:
                open_in_compare(opener, compare, tabs)
        if why is not None:
            wire_why(links, tabs, a, why, compare, slices, models)
        wire_saved_slices(findings, errors, slices)
        links.wire(demo, tabs)
    return demo


def wire_saved_slices(findings: findings_tab.Handlers, errors: errors_tab.ErrorsTab | None,
                      slices: slices_tab.SlicesTab | None) -> None:
    """The saved slices a user may see join the slice pickers of Errors and Slices, asked for when a
    picker is opened (so a slice saved since, by anyone, is there; the value picked is kept)."""
    if errors is not None:
        errors.slice_picker.focus(findings.errors_slices, [errors.task, errors.slice_picker], errors.slice_picker,
                                  api_visibility="private", queue=False)
    if slices is not None:
        task, name = slices.inputs[0], slices.inputs[1]
        name.focus(findings.slices_slices, [task, name], name, api_visibility="private", queue=False)


def wire_why(links: Links, tabs: gr.Tabs, a: A.Analysis, why: why_tab.WhyTab,
             compare: object | None, slices: slices_tab.SlicesTab | None, models: models_tab.ModelsTab | None) -> None:
    """The Why tab's pair opens in Errors, Slices and Tests, and Compare, Slices and Models open the Why tab
    with their variants filled in, each through the target tab's link (`Links.go`)."""
    inputs = [why.task, why.a, why.b, why.finding]
    links.go(why.to_errors, inputs, partial(why_tab.params_of, a, why.setup, "errors"), tabs, TABLE_QUEUE)
    links.go(why.to_slices, inputs, partial(why_tab.params_of, a, why.setup, "slices"), tabs, TABLE_QUEUE)
    links.go(why.to_tests, inputs, partial(why_tab.params_of, a, why.setup, "tests"), tabs, TABLE_QUEUE)
    if slices is not None:
        task, _, reference, _, shown = slices.inputs
        links.go(slices.why, [task, reference, shown], lambda t, ref, shown: {
            "tab": "why", "task": task_key(t), "b": ref or "",
            "a": next((v for v in shown or [] if v != ref), "")}, tabs, WHY_QUEUE)
    if models is not None:
        links.go(models.why, [models.pick], lambda name: {"tab": "why", "a": name or ""}, tabs, WHY_QUEUE)
    if compare is not None:
        links.go(compare.why, [compare.task, compare.chosen], lambda choice, chosen: {
            "tab": "why", "task": task_key(choice), "a": (chosen or [""])[0],
            "b": (chosen or ["", ""])[1] if len(chosen or []) > 1 else ""}, tabs, WHY_QUEUE)
