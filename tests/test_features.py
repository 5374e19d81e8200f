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
