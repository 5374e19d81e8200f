"""Length-sorted inference batches, cut where padding would outgrow the real tokens."""
from __future__ import annotations

import torch

from minibert.batching import length_sorted_batches, map_in_batches


def test_batches_are_sorted_and_cut_at_the_size():
    assert length_sorted_batches([5, 3, 4, 3, 5, 4], 4) == [[1, 3, 2, 5], [0, 4]]


def test_a_long_input_among_short_ones_gets_a_batch_of_its_own():
    # 3 x 10 then 40: padded to 40 the batch would be 160 tokens for 70 real ones (> 25 % more)
    assert length_sorted_batches([10, 40, 10, 10], 64) == [[0, 2, 3], [1]]
    # 10, 11, 12: 3 x 12 = 36 for 33 real tokens, within 25 %: one batch
    assert length_sorted_batches([12, 10, 11], 64) == [[1, 2, 0]]
    # two inputs always share a batch, however different (a second pass costs more than padding)
    assert length_sorted_batches([5, 50], 64) == [[0, 1]]


def test_results_come_back_in_input_order():
    items = ["x" * n for n in (30, 2, 17, 2, 90, 5)]
    out = map_in_batches(items, [len(t) for t in items], 64, lambda chunk: torch.tensor([[len(t)] for t in chunk]))
    assert out[:, 0].tolist() == [30, 2, 17, 2, 90, 5]
