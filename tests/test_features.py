"""The frozen-encoder feature cache never hands back vectors of other sentences."""
from dataclasses import replace

import torch

from minibert.data import SentenceExample, read_split
from minibert.features import EmbeddingMemo
from minibert.network import build_model
from minibert.recipes import get_recipe
from minibert.tokenizer import Tokenizer


def test_a_change_in_how_sentences_are_read_misses_the_disk_cache(tiny_world, tmp_path):
    backbone = tiny_world["backbone"]
    model = build_model(get_recipe("frozen-mean"), backbone)
    tok = Tokenizer(backbone, max_length=32)
    split = read_split("sst", "dev", tiny_world["data"])
    # Same file and hash, but the reader now gives other text for one row (as when SST's PTB
    # tokens were first rejoined): its vector must be computed again, not taken from the cache.
    edited = replace(split, examples=[SentenceExample("x", "a sentence never cached", 0, 2), *split.examples[1:]])

    first = EmbeddingMemo(model.encoder, tok, "tiny").warm_from_split(split, tmp_path)
    memo = EmbeddingMemo(model.encoder, tok, "tiny")
    second = memo.warm_from_split(edited, tmp_path)

    assert first != second and first.is_file() and second.is_file()
    fresh = EmbeddingMemo(model.encoder, tok, "tiny").embed(["a sentence never cached"], "mean")
    assert torch.allclose(memo.embed(["a sentence never cached"], "mean"), fresh, atol=1e-6)


def test_features_computed_under_a_compact_copy_never_pass_for_the_packages(tiny_world, tmp_path, monkeypatch):
    from minibert.backbone import export_copy
    from minibert.predict import load_variants, warm_frozen_features

    # One cache folder for both: a frozen checkpoint records the original's sha256 under either.
    monkeypatch.setenv("MINIBERT_CACHE", str(tmp_path / "cache"))
    copy = export_copy(tmp_path / "copy", tiny_world["backbone"], dtype="fp16")
    split = read_split("sst", "dev", tiny_world["data"])
    text = split.examples[0].sentence

    def cached_and_fresh():
        variant = load_variants(tiny_world["checkpoints"], "cpu")[0]["tiny-mean"]
        warm_frozen_features({"v": variant}, [split])
        fresh = EmbeddingMemo(variant.model.encoder, variant.tokenizer, "fresh")
        return variant.memo.embed([text], "mean"), fresh.embed([text], "mean")

    monkeypatch.setenv("MINIBERT_BACKBONE", str(copy))
    under_copy, fresh_copy = cached_and_fresh()
    monkeypatch.delenv("MINIBERT_BACKBONE")
    under_package, fresh_package = cached_and_fresh()
    assert torch.allclose(under_copy, fresh_copy, atol=1e-6)
    assert torch.allclose(under_package, fresh_package, atol=1e-6)
    assert not torch.allclose(under_copy, under_package, atol=1e-6)  # fp16 weights give other vectors


def test_two_callers_share_a_memo_that_keeps_clearing(tiny_world):
    """The app runs two model calls at once and the frozen variants share one memo: with room for
    only a few sentences it clears all the time, and every caller still gets its own vectors."""
    import threading

    backbone = tiny_world["backbone"]
    model = build_model(get_recipe("frozen-mean"), backbone)
    tok = Tokenizer(backbone, max_length=32)
    memo = EmbeddingMemo(model.encoder, tok, "tiny", max_entries=4)
    texts = [f"sentence number {i}" for i in range(12)]
    expected = EmbeddingMemo(model.encoder, tok, "tiny").embed(texts, "mean")
    problems = []

    def caller(offset):
        for k in range(20):
            chosen = [texts[(offset + k + j) % len(texts)] for j in range(3)]
            try:
                got = memo.embed(chosen, "mean")
                want = torch.stack([expected[texts.index(t)] for t in chosen])
                if not torch.allclose(got, want, atol=1e-5):
                    problems.append(f"wrong vectors for {chosen}")
            except Exception as exc:
                problems.append(repr(exc))

    threads = [threading.Thread(target=caller, args=(o,)) for o in (0, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
