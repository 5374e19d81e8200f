"""demo.urlstate: the registry behind shareable views (the browser test opens real links)."""
from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

gr = pytest.importorskip("gradio")

from demo.urlstate import Links, View  # noqa: E402


def make_links(calls: list) -> tuple[Links, dict]:
    links = Links()
    boxes = {"task": gr.Textbox(), "cell": gr.Textbox(), "variants": gr.Dropdown(multiselect=True)}
    links.register(View(tab="compare", label="Compare"))

    def restore(params: dict) -> tuple[list, list[str]]:
        calls.append(params)
        return ["restored"], ["a message"] if params.get("task") == "nope" else []

    links.register(View(tab="errors", label="Errors", fields=boxes, restore=restore, outputs=[boxes["task"]],
                        dump={"task": lambda v: str(v).lower()}))
    return links, boxes


def test_the_query_holds_the_open_tab_and_only_its_fields():
    links, _ = make_links([])
    query = dict(parse_qsl(links.query("errors", "Quora", "0,1", ["pcgrad", "infonce"])))
    assert query == {"tab": "errors", "task": "quora", "cell": "0,1", "variants": "pcgrad,infonce"}
    assert dict(parse_qsl(links.query("errors", "", None, []))) == {"tab": "errors"}  # empty values left out
    assert dict(parse_qsl(links.query("compare", "Quora", "0,1", []))) == {"tab": "compare"}
    state = json.loads(links.state("compare", "", None, []))
    assert state["query"] == "tab=compare" and "space" in state


def test_a_url_restores_its_tab_with_its_own_fields_and_reports_what_is_not_there():
    calls: list = []
    links, _ = make_links(calls)
    tab, messages, updates = links.restore({"tab": "errors", "task": "sst", "cell": "1,2", "__theme": "dark",
                                            "stranger": "x"})
    assert tab == "errors" and messages == [] and updates == ["restored"]
    assert calls == [{"task": "sst", "cell": "1,2"}]  # neither __theme nor another tab's names
    tab, messages, _ = links.restore({"tab": "Errors", "task": "nope"})  # a tab by its label
    assert tab == "errors" and messages == ["a message"]
    tab, messages, _ = links.restore({"tab": "no_such_tab", "task": "sst"})
    assert tab == "compare" and messages == ["No tab “no\\_such\\_tab” here: showing Compare."]  # Markdown-escaped
    calls.clear()
    tab, _, _ = links.restore({"tab": "errors"})  # the tab alone: its default view, nothing restored
    assert tab == "errors" and calls == []


def test_only_a_link_that_sets_its_views_controls_is_announced_as_opening():
    """demo.urlstate's `announce` shows "Opening…" only for a restore that may take a while: a link
    to a tab alone, a theme or a stranger's parameter (utm_*, a host's) opens without it."""
    links, _ = make_links([])
    assert links.restores({"tab": "errors", "task": "sst"}) and links.restores({"tab": "Errors", "cell": "1,2"})
    for params in ({}, {"tab": "errors"}, {"__theme": "dark"}, {"tab": "errors", "utm_source": "x"},
                   {"tab": "compare", "task": "sst"}):  # Compare's view here registers no fields
        assert not links.restores(params), params


def test_a_link_naming_an_upload_opens_without_it_and_says_why():
    """An uploaded variant lives only in the tab that made it: a shared link naming it opens the
    nearest view, with the upload's own message (not the generic unknown-name one)."""
    import analysis as A
    from demo.tabs.errors_tab import restore_view

    a = A.load()
    if not a.has("sst"):
        pytest.skip("no shipped SST tables")
    updates, said = restore_view(a, False, {"task": "sst", "variant": "my-model", "other": "pcgrad"})
    assert len(said) == 1 and "uploaded in another browser tab" in said[0] and "my-model" in said[0]
    assert updates[1].value != "my-model" and updates[5].value == "pcgrad"
    _, said = restore_view(a, False, {"task": "sst", "variant": "Not A Name!"})  # not an upload's name
    assert said and "uploaded" not in said[0]
