"""The derived-analysis interface: a fourth analysis is one class plus its registration, and then
the build runs it and the app gives it a tab (the default view) without any Gradio of its own."""
from __future__ import annotations

import pandas as pd
import pytest

import analysis as A
from analysis import registry
from analysis.derived import DerivedAnalysis, Reading


class Lengths(DerivedAnalysis):
    """A toy analysis: the number of words of each dev example, per task."""
    name, title = "lengths", "Sentence lengths"

    def build(self, a, variants, tables_dir, log):
        path = tables_dir / "lengths.json"
        path.write_text("{}")
        log(f"wrote {path}")
        return [str(path)]

    def read(self, a):
        if a is None:
            return Reading(problems=["no analysis tables"])
        return Reading(data={"sst": pd.DataFrame({"id": ["x1", "x2"], "words": [3, 7]})})


class NeedsAMissingLibrary(Lengths):
    name, title, requires, package = "needs", "Needs", "a_module_that_is_not_there", "not-there"


def test_registered_analyses_are_built_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "DERIVED", registry.DERIVED[:0] + (Lengths(), NeedsAMissingLibrary()))
    logs = []
    written = registry.build_derived(None, {}, tmp_path, logs.append)
    assert written == [str(tmp_path / "lengths.json")]
    assert logs[0].startswith("wrote ") and "not-there is not installed" in logs[1] and "kept" in logs[1]
    assert registry.derived_analysis("lengths").title == "Sentence lengths"
    with pytest.raises(KeyError, match="known: lengths, needs"):
        registry.derived_analysis("nope")


def test_the_built_in_analyses_implement_the_interface():
    assert [d.name for d in A.DERIVED] == ["label_errors", "behaviour", "embedding_map", "why_features"]
    assert [d.name for d in A.DERIVED if not d.tab] == ["why_features"]  # the Why tab reads it
    for d in A.DERIVED:
        reading = d.read(None)
        assert not reading.ready and reading.problems == ["no analysis tables"]
        text = d.no_tables(Reading(problems=["p1"]))
        assert "python -m analysis build" in text and "- p1" in text


def test_a_new_analysis_gets_a_default_tab(monkeypatch):
    gr = pytest.importorskip("gradio")
    from demo.tabs import derived_tab

    d = Lengths()
    with gr.Blocks() as page, gr.Tabs():
        handles = derived_tab.build(d, derived_tab.default_view(d), object(), can_send=False)
        empty = derived_tab.build(NeedsAMissingLibrary(), derived_tab.default_view(NeedsAMissingLibrary()), None,
                                  can_send=False)
    assert handles.openers == [] and empty.openers == [] and handles.selection is None
    tabs = {b.id: b.label for b in page.blocks.values() if isinstance(b, gr.Tab)}
    assert tabs == {"lengths": "Sentence lengths", "needs": "Needs"}
    tables = [b for b in page.blocks.values() if isinstance(b, gr.Dataframe)]
    assert len(tables) == 1  # the analysis with nothing to read shows its message, no table
    rows, count = derived_tab.default_rows(d, d.read(object()), "Sentiment (SST)")
    assert list(rows["words"]) == [3, 7] and count == "2 rows"
    assert "lengths" in {fn.api_name for fn in page.fns.values()}
