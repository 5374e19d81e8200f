"""The Gradio layer, one module per tab: each lays out its components, returns them as a typed
object of handles, and wires them to module-level handlers (bound to the data they read with
`bind`), which call the plain functions of demo.compare_view, demo.errors_view, demo.slices_view and demo.models_view."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial


def bind(fn: Callable, *data: object) -> Callable:
    """`fn` with its leading data arguments given: what an event runs. Gradio reads the name and
    counts the remaining parameters; it must not see the bound ones (so no __wrapped__)."""
    bound = partial(fn, *data)
    bound.__name__ = fn.__name__
    return bound


def problems_accordion(problems: list[str], what: str) -> None:
    """A closed "⚠ N problem(s) with <what>" accordion listing a tab's table problems (Markdown-escaped)."""
    import gradio as gr

    from ..inputs import escape_md

    with gr.Accordion(f"⚠ {len(problems)} problem(s) with {what}", open=False):
        gr.Markdown("\n".join(f"- {escape_md(p)}" for p in problems))
