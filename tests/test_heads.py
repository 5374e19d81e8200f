"""PCGrad, InfoNCE and pooling against small cases worked by hand."""
import math
import random

import pytest
import torch

from minibert.heads import CosineScore, DotProductScore, info_nce, mean_pool
from minibert.pcgrad import pcgrad


def test_pcgrad_projects_conflicting_gradients():
    # g1 = (1, 0), g2 = (-1, 1): g1.g2 = -1 < 0.
    # g1' = g1 - (-1 / 2) g2 = (0.5, 0.5);  g2' = g2 - (-1 / 1) g1 = (0, 1);  sum = (0.5, 1.5).
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    assert torch.allclose(pcgrad([g1, g2], random.Random(0)), torch.tensor([0.5, 1.5]))


def test_pcgrad_leaves_agreeing_gradients_alone():
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])
    assert torch.allclose(pcgrad([g1, g2], random.Random(0)), torch.tensor([2.0, 1.0]))


def test_infonce_by_hand():
    # Orthonormal anchors matched to identical positives, temperature 1: logits = I,
    # each row's loss = -log(e / (e + 1)) = log(1 + 1/e), both directions alike.
    eye = torch.eye(2)
    assert info_nce(eye, eye, 1.0).item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)


def test_infonce_prefers_matching_pairs():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert info_nce(a, a, 0.05) < info_nce(a, a.flip(0), 0.05)


def test_infonce_over_kept_rows_equals_infonce_of_those_rows_alone():
    torch.manual_seed(0)
    a, p = torch.randn(6, 4), torch.randn(6, 4)
    keep = torch.tensor([True, False, True, True, False, False])
    alone = info_nce(a[keep], p[keep], 0.05)
    masked = info_nce(a, p, 0.05, keep=keep)
    assert masked.item() == pytest.approx(alone.item(), rel=1e-5)
    a.requires_grad_(True)
    info_nce(a, p, 0.05, keep=keep).backward()
    assert torch.isfinite(a.grad).all() and a.grad[~keep].abs().max() == 0


@pytest.mark.parametrize("kept", [0, 1])
def test_infonce_with_fewer_than_two_kept_rows_is_zero(kept):
    a = torch.randn(4, 3, requires_grad=True)
    keep = torch.arange(4) < kept
    loss = info_nce(a, a.detach() + 0.1, 0.05, keep=keep)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(a.grad).all()


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    assert mean_pool(hidden, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 2.0]]


def test_cosine_and_dot_product_scores():
    u, v = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    assert CosineScore()(u, v).item() == pytest.approx(5 / math.sqrt(2))
    dps = DotProductScore(2, 2)
    with torch.no_grad():
        dps.project.weight.copy_(torch.eye(2))
        dps.project.bias.zero_()
    assert dps(u, v).item() == pytest.approx(5.0)       # 5 x relu(1)
    assert dps(u, -v).item() == pytest.approx(0.0)      # 5 x relu(-1)
