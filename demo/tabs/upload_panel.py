"""The Errors tab's upload panel: a visitor's own CS224N dev prediction files as a variant of their
browser session (demo.uploads holds the logic), and `per_session`, which joins it into each query.
Where the findings database is open, the panel also keeps an upload for its user ("Keep this
upload", a list of their kept uploads to load back into the tab, delete): `Keeper`'s handlers
name their `gr.OAuthProfile | None` and `gr.Request` parameters, which Gradio fills from the
session, so the keeper is never a name from a form field."""
from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

import analysis as A
from analysis import PredictionFileError
from findings import FindingsError
from minibert.tasks import task_titled

from .. import errors_view as E
from .. import uploads as U
from ..findings_view import writer_for
from ..inputs import SERVER_TROUBLE, LenientDropdown, escape_md


@dataclass
class KeptBox:
    keep: gr.Button
    listed: gr.Dropdown
    load: gr.Button
    delete: gr.Button
    message: gr.Markdown


@dataclass
class UploadPanel:
    state: gr.State
    files: gr.File | None
    name: gr.Textbox | None
    button: gr.Button | None
    message: gr.Markdown | None
    accordion: gr.Accordion | None = None
    kept: KeptBox | None = None
    keeper: Keeper | None = None


def per_session(fn: Callable, a: A.Analysis, *data: object, task_at: int | None = 0) -> Callable:
    """`fn(joined analysis, *data, *values)` for an event whose inputs are [upload state, *values]:
    the session's upload is joined in for the task named by values[task_at] (every task when None)."""
    def run(upload: U.Upload | None, *values: object) -> object:
        spec = task_titled(values[task_at]) if task_at is not None and len(values) > task_at else None
        return fn(U.joined(a, upload, spec.name if spec else None), *data, *values)
    run.__name__ = fn.__name__
    return run


def build(a: A.Analysis, keeper: Keeper | None = None) -> UploadPanel:
    """The panel (an accordion), or only the state when the host turned uploads off; with a
    `keeper` (the findings database is open), the kept-uploads box too."""
    state = gr.State(None, time_to_live=U.TIME_TO_LIVE_S, delete_callback=U.forget)
    if not U.uploads_enabled():
        return UploadPanel(state, None, None, None, None)
    with gr.Accordion("Analyse your own model's predictions", open=False, elem_id="upload-panel") as accordion:
        gr.Markdown(
            "Upload 1 to 3 CS224N **dev** prediction files as the course's scripts write them "
            "(format below). They become one more variant in this tab, beside the shipped ones, "
            f"with hard labels only unless the files carry probabilities. {U.FORGOTTEN} "
            f"At most {U.max_file_size() // 2**20} MB a file.", elem_classes=["intro"])
        gr.Markdown(U.format_text(), elem_id="upload-format")
        with gr.Row():
            files = gr.File(file_count="multiple", file_types=[".csv", ".txt", ".tsv"], label="Prediction files",
                            elem_id="upload-files", scale=3)
            with gr.Column(scale=1, min_width=200):
                name = gr.Textbox(U.DEFAULT_NAME, label="Name it", max_lines=1, elem_id="upload-name")
                button = gr.Button("Add to the analysis", variant="primary", elem_id="upload-button")
        message = gr.Markdown("", elem_id="upload-message")
        kept = kept_box(keeper) if keeper is not None else None
    return UploadPanel(state, files, name, button, message, accordion, kept, keeper)


def kept_box(keeper: Keeper) -> KeptBox:
    caps = keeper.store.upload_caps
    gr.Markdown(f"**Keep an upload** in this app's findings database, for yourself only (signed in, or on your own "
                f"machine): up to {caps.per_user} uploads of at most {U.megabytes(caps.upload_bytes)} each "
                "(compressed). A kept upload is checked again when you load it back into this tab.",
                elem_classes=["intro"])
    with gr.Row():
        keep = gr.Button("Keep this upload", elem_id="upload-keep", scale=1)
        listed = LenientDropdown([], value=None, label="My kept uploads", elem_id="upload-kept", scale=2)
        load = gr.Button("Load into this tab", elem_id="upload-load", scale=1)
        delete = gr.Button("Delete", variant="stop", elem_id="upload-delete", scale=0, min_width=100)
    message = gr.Markdown("", elem_id="upload-kept-message")
    return KeptBox(keep, listed, load, delete, message)


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
    return use(a, upload, new, task_name)


def use(a: A.Analysis, old: U.Upload | None, new: U.Upload, task_name: object, kept: bool = False) -> tuple:
    """(new state, message, variant picker, other-variant picker) once `new` replaces the tab's upload."""
    U.forget(old)
    spec = task_titled(task_name)
    joined = U.joined(a, new, spec.name if spec else None)
    names = E.variants_of(joined, spec.name) if spec else []
    pick = new.name if new.name in names else gr.skip()
    return (new, U.summary_text(new, kept),
            gr.Dropdown(choices=[E.ALL_VARIANTS] + names, value=pick) if names else gr.skip(),
            gr.Dropdown(choices=[E.NO_OTHER] + names) if names else gr.skip())


class Keeper:
    """The kept-upload events, bound to the analysis and the findings store and its settings."""

    def __init__(self, a: A.Analysis, store: object, settings: object) -> None:
        self.a, self.store, self.settings = a, store, settings

    def _who(self, profile: object, request: object) -> object:
        return writer_for(self.settings, profile, request)

    def _why_not(self) -> str:
        return self.settings.deployment.why_not(U.KEEP)

    def _trouble(self, name: str) -> str:
        from ..serving import log

        log.error("kept-upload handler %s failed:\n%s", name, traceback.format_exc())
        return SERVER_TROUBLE

    def listed(self, profile: gr.OAuthProfile | None = None, request: gr.Request = None) -> gr.Dropdown:
        """The user's own kept uploads, the newest chosen."""
        try:
            names = U.kept_names(self.store, self._who(profile, request))
        except Exception:
            self._trouble("listed")
            return gr.skip()
        return gr.Dropdown(choices=names, value=names[-1] if names else None)

    def keep(self, upload: object, profile: gr.OAuthProfile | None = None,
             request: gr.Request = None) -> tuple[str, object]:
        try:
            message = U.keep(self.a, self.store, self._who(profile, request), self._why_not(), upload)
        except Exception:
            return self._trouble("keep"), gr.skip()
        return message, self.listed(profile, request)

    def load(self, upload: object, name: object, task_name: object, profile: gr.OAuthProfile | None = None,
             request: gr.Request = None) -> tuple:
        """(state, message, variant picker, other-variant picker): the kept upload `name`, checked
        again, replaces the tab's upload; a problem leaves the tab's upload as it was."""
        who = self._who(profile, request)
        if who is None:
            return gr.skip(), f"⚠ {escape_md(self._why_not())}", gr.skip(), gr.skip()
        if not isinstance(name, str) or not name:
            return gr.skip(), "⚠ Choose one of your kept uploads first.", gr.skip(), gr.skip()
        try:
            new = U.load_kept(self.a, self.store, who, name)
        except PredictionFileError as error:
            lines = "\n".join(f"- {escape_md(p)}" for p in error.problems)
            return (gr.skip(), f"⚠ Your kept upload **{escape_md(name)}** no longer reads as a prediction file "
                    f"of this app's dev sets; nothing was loaded:\n\n{lines}", gr.skip(), gr.skip())
        except FindingsError as error:
            return gr.skip(), f"⚠ Nothing was loaded: {escape_md(error)}", gr.skip(), gr.skip()
        except Exception:
            return gr.skip(), f"⚠ {self._trouble('load')}", gr.skip(), gr.skip()
        return use(self.a, upload if isinstance(upload, U.Upload) else None, new, task_name, kept=True)

    def delete(self, name: object, profile: gr.OAuthProfile | None = None,
               request: gr.Request = None) -> tuple[str, object]:
        try:
            message = U.delete_kept(self.store, self._who(profile, request), self._why_not(), name)
        except Exception:
            return self._trouble("delete"), gr.skip()
        return message, self.listed(profile, request)


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
    box, keeper = panel.kept, panel.keeper
    if box is None or keeper is None:
        return
    panel.accordion.expand(keeper.listed, None, box.listed, api_visibility="private", queue=False)
    box.keep.click(keeper.keep, [panel.state], [box.message, box.listed], api_name="keep_upload", **UPLOAD_QUEUE)
    box.delete.click(keeper.delete, [box.listed], [box.message, box.listed], api_name="delete_kept_upload",
                     **UPLOAD_QUEUE)
    then(box.load.click(keeper.load, [panel.state, box.listed, task], [panel.state, panel.message, variant, other],
                        api_name="load_kept_upload", **UPLOAD_QUEUE))
