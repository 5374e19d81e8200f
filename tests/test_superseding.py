"""A user's newer click supersedes their pending attributions (demo.serving.NewestClick): the
step queued behind an older scoring is skipped, the newest one's runs once, other users and API
callers are untouched."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("gradio")

import gradio as gr  # noqa: E402

from demo.serving import NEWEST_CLICK, NewestClick, click_key  # noqa: E402
from demo.tabs import compare_tab  # noqa: E402

A, B = click_key("Sentiment", "a fine film", "", ["x"]), click_key("Sentiment", "a dull film", "", ["x"])


def test_only_the_newest_scored_click_is_answered_and_only_once():
    ledger = NewestClick()
    ledger.stamp("s1", A)
    assert not ledger.claim("s1", A)  # its scoring is still running
    ledger.scored(A)
    ledger.stamp("s1", B)  # a newer click before A's step ran
    assert not ledger.claim("s1", A)
    assert not ledger.claim("s1", B)  # B not scored yet: its own step follows its scoring
    ledger.scored(B)
    assert ledger.claim("s1", B)
    assert not ledger.claim("s1", B)  # answered once
    assert ledger.claim("another session", A)  # never stamped (an API caller): always answered
    assert ledger.claim(None, A)


def test_the_ledger_is_bounded():
    ledger = NewestClick(size=3)
    for k in range(10):
        ledger.stamp(f"s{k}", A)
    assert len(ledger._sessions) == 3
    assert ledger.claim("s0", B)  # forgotten: answered as an unknown session


def test_a_newer_click_skips_the_older_clicks_pending_attributions(ctx):
    score, _, after = compare_tab.model_calls(ctx.variants, ctx.trust())
    calls: list[str] = []

    def counted(*args):
        calls.append(args[2])
        return after(*args)

    step = compare_tab.superseding(counted)
    me, other = SimpleNamespace(session_hash="me"), SimpleNamespace(session_hash="other")
    names = ["tiny-cls", "tiny-mean"]
    first, second = ("Sentiment", "a fine film", "", names), ("Sentiment", "a dull film", "", names)
    compare_tab.stamp(*first, me)
    compare_tab.stamp(*second, me)  # clicked again before the first click's attributions ran
    compare_tab.stamp(*first, other)
    score([first, second])  # one batch: both scored
    explain = (["tiny-cls", "tiny-mean"], "Sentiment", "leave one word out")
    assert step(None, *first, *explain, me) == (gr.skip(),) * 3 and calls == []  # superseded
    changes, reference, panel = step(None, *second, *explain, me)
    assert "dull" in panel and calls == ["a dull film"]
    assert step(None, *second, *explain, me) == (gr.skip(),) * 3 and calls == ["a dull film"]  # once
    assert "fine" in step(None, *first, *explain, other)[2]  # another user's own click is theirs
    assert "fine" in step(None, *first, *explain, SimpleNamespace(session_hash=None))[2]  # no session: answered
    NEWEST_CLICK.stamp("me", click_key("done"))  # leave the process-wide ledger as found


def test_every_attribution_hands_its_freed_memory_back(ctx, monkeypatch):
    trims: list[int] = []
    monkeypatch.setattr(compare_tab, "trim_malloc", lambda: trims.append(1) or True)
    _, attribute, after = compare_tab.model_calls(ctx.variants, ctx.trust())
    names = ["tiny-cls", "tiny-mean"]
    assert "attr-box" in attribute(names, "Sentiment", "leave one word out", "a fine film", "")
    assert trims == [1]
    after(None, "Sentiment", "a dull film", "", names, names, "Sentiment", "leave one word out")
    assert trims == [1, 1]
    attribute(["nope"], "Sentiment", "leave one word out", "a fine film", "")  # refused: still handed back
    assert trims == [1, 1, 1]
