"""The Errors tab's upload panel: a visitor's own CS224N dev prediction files as a variant of their
browser session (demo.uploads holds the logic), and `per_session`, which joins it into each query."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

import analysis as A
from analysis import PredictionFileError
from minibert.tasks import task_titled

from .. import errors_view as E
from .. import uploads as U
from ..inputs import escape_md


@dataclass
class UploadPanel:
    state: gr.State
    files: gr.File | None
    name: gr.Textbox | None
    button: gr.Button | None
    message: gr.Markdown | None


def per_session(fn: Callable, a: A.Analysis, *data: object, task_at: int | None = 0) -> Callable:
    """`fn(joined analysis, *data, *values)` for an event whose inputs are [upload state, *values]:
    the session's upload is joined in for the task named by values[task_at] (every task when None)."""
    def run(upload: U.Upload | None, *values: object) -> object:
        spec = task_titled(values[task_at]) if task_at is not None and len(values) > task_at else None
        return fn(U.joined(a, upload, spec.name if spec else None), *data, *values)
    run.__name__ = fn.__name__
    return run


def build(a: A.Analysis) -> UploadPanel:
    """The panel (an accordion), or only the state when the host turned uploads off."""
    state = gr.State(None, time_to_live=U.TIME_TO_LIVE_S, delete_callback=U.forget)
    if not U.uploads_enabled():
        return UploadPanel(state, None, None, None, None)
    with gr.Accordion("Analyse your own model's predictions", open=False, elem_id="upload-panel"):
        gr.Markdown(
            "Upload 1 to 3 CS224N **dev** prediction files as the course's scripts write them "
            "(`sst-dev-output.csv`, `para-dev-output.csv`, `sts-dev-output.csv`; optional probability columns are "
            "described in the README). They become one more variant in this tab, beside the shipped ones, "
            f"with hard labels only unless the files carry probabilities. {U.FORGOTTEN} "
            f"At most {U.max_file_size() // 2**20} MB a file.", elem_classes=["intro"])
        with gr.Row():
            files = gr.File(file_count="multiple", file_types=[".csv", ".txt", ".tsv"], label="Prediction files",
                            elem_id="upload-files", scale=3)
            with gr.Column(scale=1, min_width=200):
                name = gr.Textbox(U.DEFAULT_NAME, label="Name it", max_lines=1, elem_id="upload-name")
                button = gr.Button("Add to the analysis", variant="primary", elem_id="upload-button")
        message = gr.Markdown("", elem_id="upload-message")
    return UploadPanel(state, files, name, button, message)


def on_upload(a: A.Analysis, upload: U.Upload | None, paths: object, name: object, task_name: object) -> tuple:
    """(new state, message, variant picker, other-variant picker): the pickers then offer the upload."""
    if not paths:
        return upload, "⚠ Choose one to three prediction files first.", gr.skip(), gr.skip()
    try:
        new = U.read_upload(a, list(paths) if isinstance(paths, (list, tuple)) else [paths],
                            name if isinstance(name, str) else "")
    except PredictionFileError as error:
        kept = f" Your earlier upload **{escape_md(upload.name)}** is still in use." if isinstance(upload, U.Upload) else ""
        lines = "\n".join(f"- {escape_md(p)}" for p in error.problems)
        return upload, f"⚠ Nothing was added:{kept}\n\n{lines}", gr.skip(), gr.skip()
    U.forget(upload)
    spec = task_titled(task_name)
    joined = U.joined(a, new, spec.name if spec else None)
    names = E.variants_of(joined, spec.name) if spec else []
    pick = new.name if new.name in names else gr.skip()
    return (new, U.summary_text(new),
            gr.Dropdown(choices=[E.ALL_VARIANTS] + names, value=pick) if names else gr.skip(),
            gr.Dropdown(choices=[E.NO_OTHER] + names) if names else gr.skip())


def upload_failed(message: str) -> tuple:
    return gr.skip(), f"⚠ {message}", gr.skip(), gr.skip()


def metrics(a: A.Analysis, upload: U.Upload | None) -> object:
    return E.metrics_overview(U.joined(a, upload))


def wire(panel: UploadPanel, a: A.Analysis, task: gr.Radio, variant: gr.Dropdown, other: gr.Dropdown,
         then: Callable[[gr.events.Dependency], gr.events.Dependency]) -> None:
    """The upload button: read, then let `then` refresh the tab's views from the new state."""
    if panel.button is None:
        return
    from ..serving import UPLOAD_QUEUE, guarded

    handler = guarded(upload_failed)(lambda *values: on_upload(a, *values))
    handler.__name__ = "upload"
    event = panel.button.click(handler, [panel.state, panel.files, panel.name, task],
                               [panel.state, panel.message, variant, other], api_name="upload", **UPLOAD_QUEUE)
    then(event.then(lambda: None, None, panel.files, api_visibility="private", queue=False))
