"""Models tab: every variant's recipe, the idea it reproduces, its dev metrics and training curve."""
from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr
import pandas as pd

import analysis as A

from .. import inputs as I
from .. import models_view as M
from ..context import AppContext
from ..serving import guarded
from ..urlstate import Links, View
from .shared import bind, glossary, url_choice


@dataclass
class ModelsTab:
    pick: gr.Dropdown
    card: gr.Markdown
    curve: gr.Plot
    why: gr.Button         # "where does it fail" (wired by the page builder)


@guarded(lambda m: (f"⚠ {m}", M.empty_figure("")))
def model_card(variants: dict, overall: pd.DataFrame | None, trust: dict, name: str) -> tuple:
    return M.details(variants, I.choice(name, list(variants), "variant"), overall, trust)


def overall_of(a: A.Analysis | None) -> pd.DataFrame | None:
    """The CS224N overall score per variant from the tables, or None when they cannot give it."""
    if a is None:
        return None
    try:
        return A.overall(a)
    except Exception:  # tables without a task, or damaged: the tab still opens, without the score
        return None


def build(ctx: AppContext, a: A.Analysis | None, links: Links | None = None) -> ModelsTab | None:
    variants = ctx.variants
    overall = overall_of(a)
    trust = ctx.trust()
    with gr.Tab("Models", id="models"):
        gr.Markdown("Each variant: its recipe in plain words, the paper idea it reproduces, its dev metrics and "
                    "its training curve. \\* Quora numbers are optimistic (the backbone saw Quora duplicates in "
                    "pre-training). Brackets: 95 % intervals from the dev tables (per cell, not adjusted for multiple "
                    "comparisons).", elem_classes=["intro"])
        if not variants and not ctx.failures:
            gr.Markdown(f"No checkpoints in `{html.escape(str(ctx.checkpoints_dir))}`.")
            return None
        table = M.overview(variants, ctx.failures, overall, trust, a.intervals if a is not None else None)
        if a is not None:  # variants imported from prediction files have tables but no checkpoint
            table = pd.concat([table, M.imported_overview(a.manifest, overall)], ignore_index=True)
        gr.Dataframe(table, interactive=False, elem_id="models-table",
                     wrap=True, show_label=False, column_widths=M.OVERVIEW_WIDTHS)
        glossary("overall", "accuracy", "pearson", "interval", "muted")
        if not variants:
            return None
        names = list(variants)
        with gr.Row():
            pick = I.LenientDropdown(names, value=names[0], label="Variant", elem_id="models-variant", scale=2)
            why = gr.Button("Where does it fail, and why? →", size="sm", scale=0, min_width=260, elem_id="models-why")
        card0, curve0 = M.details(variants, names[0], overall, trust)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                card = gr.Markdown(card0, elem_id="models-card")
            with gr.Column(scale=3):
                curve = gr.Plot(curve0, show_label=False, elem_id="models-curve")
    pick.change(bind(model_card, variants, overall, trust), pick, [card, curve], api_name="model")
    if links is not None:
        def restore_view(params: dict) -> tuple[list, list[str]]:
            said: list[str] = []
            name = url_choice(params, "variant", names, names[0], "variant", said)
            return [name, *model_card(variants, overall, trust, name)], said

        links.register(View(tab="models", label="Models", fields={"variant": pick}, restore=restore_view,
                            outputs=[pick, card, curve]))
    return ModelsTab(pick=pick, card=card, curve=curve, why=why)
