"""Shareable views: the open tab and its state live in the page's URL query, and opening such a
URL restores the view.

Each tab registers what it keeps in the URL (inside the Blocks, after laying itself out):

    links.register(View(
        tab="errors", label="Errors",                       # the gr.Tab's id and label
        fields={"task": task, "variant": variant, ...},     # query name -> component
        restore=fn, outputs=[...],                          # fn(params) -> (updates, messages)
        dump={"task": lambda v: ...},                       # optional: value -> query text
        limits={"text": 500}))                              # optional: text cut at so many characters

A text field longer than its limit is cut in the URL and named in its `cut` parameter
("cut=a,b"), which `restore` also gets, to say so: a link never drops text silently.

`restore(params)` gets the URL's query ({name: text}, only the names the tab registered) and
returns one update per output and a list of messages: a name it does not know (a variant, an
example) opens the nearest view and says so. A tab with no fields (or one registered with
`links.register(View(tab=..., label=...))`) is still reachable by `?tab=<id>`.

`links.place()` puts the message line and the "Copy link" button where it is called;
`links.wire(demo, tabs)`, once after every tab, restores the URL's view on load and rewrites the
URL as the view changes (every field's change, every tab switch).
In the browser, the URL keeps Gradio's `__theme`; inside a Hugging Face Space (an iframe of the
Space's page) the app tells the page its query with
`window.parent.postMessage({queryString}, "https://huggingface.co")`, the Space passes its own
query to the app on load, and "Copy link" gives the Space's URL (SPACE_ID, set by Spaces).
"""
from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import gradio as gr

from minibert.settings import settings

from . import inputs as I
from .serving import log

TAB_KEY = "tab"
CUT_KEY = "cut"  # the text fields a link holds only the start of
HUB = "https://huggingface.co"


@dataclass
class View:
    tab: str
    label: str
    fields: dict[str, gr.components.Component] = field(default_factory=dict)
    restore: Callable[[dict[str, str]], tuple[list, list[str]]] | None = None
    outputs: list = field(default_factory=list)
    dump: dict[str, Callable[[object], str]] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)


OPENING = "Opening the view this link describes…"
LINK_TROUBLE = "This link's view could not be opened (a fault of the app, logged): the page shows its defaults."


def link_params(request: gr.Request | None) -> dict[str, str]:
    """The query the page was opened with (none for a call without a browser's request)."""
    return dict(request.query_params) if request is not None else {}


def message_line(messages: list[str]) -> gr.Markdown:
    """The line above the tabs: what a link could not restore as it said (hidden when nothing)."""
    if not messages:
        return gr.Markdown(visible=False)
    return gr.Markdown("⚠ " + " ".join(messages), visible=True, elem_classes=["banner-warn"])


def query_text(value: object) -> str:
    """A component's value as query text: lists joined by commas, nothing for None or ""."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Links:
    """The registry of views and their wiring (one per app)."""

    def __init__(self) -> None:
        self.views: dict[str, View] = {}

    def register(self, view: View) -> None:
        self.views[view.tab] = view

    # --- what the URL says ------------------------------------------------------------------

    def _fields(self) -> list[tuple[str, str, gr.components.Component]]:
        return [(v.tab, name, c) for v in self.views.values() for name, c in v.fields.items()]

    def query(self, tab: str, *values: object) -> str:
        """The query of `tab`'s view, from the values of every registered field (in `_fields` order)."""
        pairs, cut = [(TAB_KEY, tab)], []
        for (owner, name, _), value in zip(self._fields(), values):
            if owner != tab:
                continue
            view = self.views[owner]
            text = view.dump.get(name, query_text)(value)
            limit = view.limits.get(name)
            if limit is not None and len(text) > limit:
                text = text[:limit]
                cut.append(name)
            if text:
                pairs.append((name, text))
        if cut:
            pairs.append((CUT_KEY, ",".join(cut)))
        return urlencode(pairs)

    def state(self, tab: str, *values: object) -> str:
        """What the page's script reads: the query and, on a Space, its id."""
        return json.dumps({"query": self.query(tab, *values), "space": settings().space_id})

    def _tab(self, params: dict[str, str]) -> tuple[str, list[str]]:
        """The tab a query opens (by id or label; the first when it names none here), and why not
        the one it named."""
        first = next(iter(self.views))
        tab = params.get(TAB_KEY) or first
        if tab in self.views:
            return tab, []
        by_label = {v.label.lower(): v.tab for v in self.views.values()}
        if tab.lower() in by_label:
            return by_label[tab.lower()], []
        return first, [f"No tab “{I.escape_md(tab)}” here: showing {self.views[first].label}."]

    def restores(self, params: dict[str, str]) -> bool:
        """Whether a query sets its view's controls (restoring them may take seconds: Compare scores
        its sentences), not only its tab."""
        view = self.views[self._tab(params)[0]]
        return view.restore is not None and any(k in view.fields for k in params)

    def restore(self, params: dict[str, str]) -> tuple[str, list[str], list]:
        """(the tab to open, messages, every view's outputs) for a URL's query."""
        params = {k: v for k, v in params.items() if k != "__theme"}
        tab, messages = self._tab(params)
        updates: list = []
        for view in self.views.values():
            mine: list = [gr.skip()] * len(view.outputs)
            if view.tab == tab and view.restore is not None and len(params) > (TAB_KEY in params):
                own = {k: v for k, v in params.items() if k in view.fields or (k == CUT_KEY and view.limits)}
                mine, said = view.restore(own)
                messages += said
            updates += list(mine)
        return tab, messages, updates

    # --- the wiring -------------------------------------------------------------------------

    def place(self) -> None:
        """The message line and the "Copy link" button, where the page should show them."""
        self.message = gr.Markdown(visible=False, elem_id="url-message", elem_classes=["banner-warn"])
        with gr.Row(elem_id="share-row", equal_height=True):
            self.copy = gr.Button("Copy link to this view", size="sm", scale=0, min_width=210, elem_id="copy-link")
            self.link = gr.Textbox(show_label=False, container=False, interactive=False, elem_id="share-link",
                                   placeholder="a link to the view on screen appears here", scale=1)
        self.box = gr.Textbox("", elem_id="url-state", elem_classes=["url-state"], show_label=False, container=False,
                              interactive=False)
        self.current = gr.State("")

    def wire(self, demo: gr.Blocks, tabs: gr.Tabs) -> None:
        """Restore the URL's view on load, and keep the URL in step with the view (inside the
        Blocks, after `place` and every `register`)."""
        fields = [c for _, _, c in self._fields()]
        labels = {v.label: v.tab for v in self.views.values()}
        current = self.current

        # Whether the visitor picked a tab since the page loaded: the load-time link then restores its
        # view's controls but does not take the visitor back to its tab.
        picked, pending = gr.State(False), gr.State(None)

        def on_select(evt: gr.SelectData, *values: object) -> tuple:
            tab = labels.get(str(evt.value), str(evt.value).lower())
            # also the Tabs' `selected`: a later gr.Tabs(selected=X) from another event (Errors'
            # "Open in Compare") must read as a change even when X was the last value sent
            return tab, self.state(tab, *values), gr.Tabs(selected=tab), True

        current.value = next(iter(self.views))

        def on_load(request: gr.Request) -> tuple:
            params = link_params(request)
            if not set(params) - {"__theme"}:  # a plain URL: leave the page as it is (the user may be clicking)
                return (gr.skip(),) * (2 + len(outputs))
            try:
                tab, messages, updates = self.restore(params)
            except Exception:  # a fault of ours: the page stays as it is, and the line says so
                log.error("a link's view could not be restored:\n%s", traceback.format_exc())
                return (message_line([LINK_TROUBLE]), *(gr.skip(),) * (1 + len(outputs)))
            return (message_line(messages), tab, *updates)

        def announce(request: gr.Request) -> object:
            """A link that sets its view's controls can take seconds to restore (Compare scores its
            sentences on opening): the message line says so, and carries the restore's progress,
            until the restore answers. A link to a tab alone shows nothing."""
            params = link_params(request)
            return gr.Markdown(OPENING, visible=True, elem_classes=["banner-info"]) if self.restores(params) \
                else gr.skip()

        def open_tab(tab: str | None, user_picked: bool) -> tuple:
            if not tab or user_picked:
                return gr.skip(), gr.skip()
            return gr.Tabs(selected=tab), tab

        # The address bar follows each event that sets the state box (a .change listener of the
        # box itself did not run for updates from other events' outputs).
        def push(event: object) -> None:
            event.then(None, self.box, None, js=PUSH_JS, queue=False, api_visibility="private")

        # Gradio's page refreshes the loading state of every component any event so far has shown
        # progress on, and for a gr.Tabs that is a walk over every tab's components, on every status
        # change of every later event (its cost in docs/BENCHMARKS.md, issue 30). These quick
        # URL events show their progress on the hidden state box only.
        quiet = {"queue": False, "api_visibility": "private", "show_progress_on": [self.box]}
        push(tabs.select(on_select, fields, [current, self.box, tabs, picked], **quiet))
        for component in fields:
            push(component.change(self.state, [current, *fields], self.box, queue=False, api_visibility="private"))
        outputs = self._outputs()
        # The view's controls first (a queued event: it may score), then its tab, read against a
        # click that came meanwhile, in a quick event of its own. The load shows its progress on the
        # message line only (shown by `announce` for a link): its outputs are every view's, and would
        # all stay in that loading state.
        push(demo.load(announce, None, self.message, **quiet)
             .then(on_load, None, [self.message, pending, *outputs], api_visibility="private",
                   show_progress_on=[self.message], show_progress="minimal")
             .then(open_tab, [pending, picked], [tabs, current], **quiet)
             .then(self.state, [current, *fields], self.box, queue=False, api_visibility="private"))
        self.copy.click(None, self.box, self.link, js=COPY_JS)

    def _outputs(self) -> list:
        return [o for v in self.views.values() for o in v.outputs]

    def _open(self, params: dict[str, str]) -> tuple:
        """(the tab, the message line, the current tab, every view's updates) for a view's query."""
        tab, messages, updates = self.restore(params)
        return (gr.Tabs(selected=tab), message_line(messages), tab, *updates)

    def go(self, trigger: gr.Button, inputs: list, to_params: Callable[..., dict | None], tabs: gr.Tabs,
           queue: dict | None = None) -> None:
        """`trigger` opens, as its link would, the view that `to_params(*values of inputs)` describes
        (its query, "tab" included; None: stay). How one tab sends the user to another's view with
        its controls set: the page builder calls it, after every tab has registered its view."""
        outputs = self._outputs()
        fields = [c for _, _, c in self._fields()]

        def run(*values: object) -> tuple:
            params = to_params(*values)
            if not params:
                return (gr.skip(),) * (3 + len(outputs))
            return self._open({k: str(v) for k, v in params.items()})

        trigger.click(run, inputs, [tabs, self.message, self.current, *outputs], api_visibility="private",
                      **(queue or {})) \
            .then(self.state, [self.current, *fields], self.box, queue=False, api_visibility="private") \
            .then(None, self.box, None, js=PUSH_JS, queue=False, api_visibility="private")


# The page's side. PUSH_JS: the view's query into the address bar (keeping __theme) and, inside a
# Space's iframe, to the Space's page. COPY_JS: the link to the view (the Space's URL on a Space)
# onto the clipboard and into the box beside the button (for when the clipboard is refused).
PUSH_JS = """(state) => {
  // Under Gradio's <base href>, Plotly points each chart's clip paths at the page's full address
  // (url('ADDRESS#clip...')); once the address changes, those point at another document and the
  // browser clips the bars away. The charts on the page, and their later redraws, follow it.
  const rebase = (before, after) => {
    for (const gd of document.querySelectorAll(".js-plotly-plot")) {
      if (gd._context && gd._context._baseUrl) gd._context._baseUrl = after;
      for (const el of gd.querySelectorAll("[clip-path], [style*='url(']")) {
        for (const name of ["clip-path", "style"]) {
          const value = el.getAttribute(name);
          if (value && value.includes(before + "#")) el.setAttribute(name, value.split(before + "#").join(after + "#"));
        }
      }
    }
  };
  let s; try { s = JSON.parse(state || "{}"); } catch (e) { return; }
  if (!s.query) return;
  const here = new URLSearchParams(window.location.search);
  const next = new URLSearchParams(s.query);
  // A view of a tab other than the one on screen is an older event's (a tab clicked since): the
  // event of the tab on screen writes the URL.
  const shown = document.querySelector("button[role='tab'][aria-selected='true'][data-tab-id]");
  if (shown && next.get("tab") && shown.getAttribute("data-tab-id") !== next.get("tab")) return;
  if (here.get("__theme")) next.set("__theme", here.get("__theme"));
  const qs = next.toString();
  if (window.location.search.replace(/^\\?/, "") !== qs) {
    const before = window.location.href.split("#")[0];
    window.history.replaceState(null, "", window.location.pathname + "?" + qs + window.location.hash);
    rebase(before, window.location.href.split("#")[0]);
  }
  if (window.parent !== window) {
    window.parent.postMessage({ queryString: "?" + qs }, "HUB_ORIGIN");
  }
}""".replace("HUB_ORIGIN", HUB)

COPY_JS = """(state) => {
  let s; try { s = JSON.parse(state || "{}"); } catch (e) { s = {}; }
  const params = new URLSearchParams(s.query || "");
  const theme = new URLSearchParams(window.location.search).get("__theme");
  if (theme) params.set("__theme", theme);
  const base = s.space ? "HUB_ORIGIN/spaces/" + s.space : window.location.origin + window.location.pathname;
  const link = base + "?" + params.toString();
  if (navigator.clipboard) { navigator.clipboard.writeText(link).catch(() => {}); }
  return link;
}""".replace("HUB_ORIGIN", HUB)
