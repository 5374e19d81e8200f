"""A live model of the host's own (`minibert.live`), registered as module:factory and scored in
Compare beside the shipped variants. The model is a small scorer written here, in a module made
for the test."""
from __future__ import annotations

import re
import textwrap

import pytest

pytest.importorskip("torch")

from demo import attributions as A  # noqa: E402
from demo import compare_view as C  # noqa: E402
from demo.context import load_context  # noqa: E402
from minibert.live import LiveModelError, live_specs, load_live  # noqa: E402

SCORER = '''
import numpy as np

class WordCounter:
    """Positive when a sentence has more "good" than "bad"; pairs by shared words."""
    name = "word-counter"

    def sentiment(self, sentences):
        out = np.full((len(sentences), 5), 0.05)
        for i, s in enumerate(sentences):
            words = s.lower().split()
            out[i, 4 if words.count("good") > words.count("bad") else 0] = 0.8
        return out

    def _overlap(self, pairs):
        sets = [(set(a.lower().split()), set(b.lower().split())) for a, b in pairs]
        return [len(x & y) / max(1, len(x | y)) for x, y in sets]

    def paraphrase(self, pairs):
        return self._overlap(pairs)

    def similarity(self, pairs):
        return [5 * x for x in self._overlap(pairs)]

def make():
    return WordCounter()

class Broken(WordCounter):
    name = "broken"
    def similarity(self, pairs):
        return [7.0] * len(pairs)

def broken():
    return Broken()

def no_methods():
    return object()

def raises():
    raise RuntimeError("no weights here")
'''


@pytest.fixture
def scorer_module(tmp_path, monkeypatch):
    (tmp_path / "my_scorer.py").write_text(textwrap.dedent(SCORER))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_scorer"


def test_a_live_model_is_scored_in_compare_beside_the_shipped_variants(tiny_world, scorer_module, monkeypatch):
    monkeypatch.delenv("MINIBERT_LIVE", raising=False)
    ctx = load_context(tiny_world["checkpoints"], device="cpu", with_analysis=False, live=[f"{scorer_module}:make"])
    assert "word-counter" in ctx.variants and not ctx.failures
    assert "word-counter" not in ctx.model_names()  # no attributions of code the app cannot see into
    names = ["tiny-cls", "word-counter"]
    result = C.compare(ctx.variants, names, "All three", "a good good film", "a good movie")
    rows = result.table.set_index(result.table.columns[0])
    assert "word-counter" in rows.index and "tiny-cls" in rows.index
    assert result.outputs["sst"]["word-counter"].argmax() == 4
    assert float(result.outputs["quora"]["word-counter"]) == pytest.approx(2 / 4)
    assert float(result.outputs["sts"]["word-counter"]) == pytest.approx(2.5)
    assert "no attributions" in A.explain(ctx.variants, ["word-counter"], "Sentiment", "good", "", A.GRADIENT)


def test_only_what_the_host_asks_for_is_loaded(tiny_world, scorer_module, monkeypatch):
    monkeypatch.delenv("MINIBERT_LIVE", raising=False)
    assert "word-counter" not in load_context(tiny_world["checkpoints"], device="cpu", with_analysis=False).variants
    monkeypatch.setenv("MINIBERT_LIVE", f" {scorer_module}:make ,")
    assert live_specs(["a:b"]) == ["a:b", f"{scorer_module}:make"]
    ctx = load_context(tiny_world["checkpoints"], device="cpu", with_analysis=False)
    assert "word-counter" in ctx.variants


def test_a_bad_live_model_is_a_load_failure_or_its_own_error(tiny_world, scorer_module, monkeypatch):
    monkeypatch.delenv("MINIBERT_LIVE", raising=False)
    for spec, message in [("nonsense", "expected module:factory"),
                          ("no_such_module_here:make", "cannot import no_such_module_here"),
                          (f"{scorer_module}:absent", "has no callable absent"),
                          (f"{scorer_module}:no_methods", "has no sentiment, paraphrase, similarity"),
                          (f"{scorer_module}:raises", "raises() raised RuntimeError: no weights here")]:
        with pytest.raises(LiveModelError, match=re.escape(message)):
            load_live(spec)
    with pytest.raises(LiveModelError, match="taken by a loaded variant"):
        load_live(f"{scorer_module}:make", ["word-counter"])
    ctx = load_context(tiny_world["checkpoints"], device="cpu", with_analysis=False,
                       live=[f"{scorer_module}:raises", f"{scorer_module}:broken"])
    assert [f.name for f in ctx.failures] == [f"{scorer_module}:raises"]
    result = C.compare(ctx.variants, ["tiny-cls", "broken"], "Similarity", "a good film", "a fine film")
    shown = result.table.astype(str).to_string()
    assert "outside 0..5" in shown and "tiny-cls" in shown
    assert "outside 0..5" in result.outputs["sts"]["broken"]["error"]
    assert 0 <= float(result.outputs["sts"]["tiny-cls"]) <= 5  # the others are scored as usual
