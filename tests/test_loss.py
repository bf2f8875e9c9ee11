"""InfoNCE against an independent float64 loop and sentence-transformers' MultipleNegativesRankingLoss."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from textembed_utils.training import info_nce


def loop_info_nce(anchors: torch.Tensor, positives: torch.Tensor, temperature: float) -> float:
    """Eq. 1 of the paper written out: a loop over anchors with a float64 log-sum-exp."""
    a = anchors.double()
    p = positives.double()
    total = 0.0
    for i in range(len(a)):
        sims = [float(a[i] @ p[j] / (a[i].norm() * p[j].norm())) / temperature for j in range(len(p))]
        top = max(sims)
        log_sum_exp = top + math.log(sum(math.exp(s - top) for s in sims))
        total += log_sum_exp - sims[i]
    return total / len(a)


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(16, 24, generator=gen), torch.randn(16, 24, generator=gen)


@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0, 5.0])
def test_matches_the_written_out_formula(batch, temperature):
    anchors, positives = batch
    assert info_nce(anchors, positives, temperature).item() == pytest.approx(
        loop_info_nce(anchors, positives, temperature), rel=1e-5)


def test_symmetric_is_the_mean_of_both_directions(batch):
    anchors, positives = batch
    both = 0.5 * (loop_info_nce(anchors, positives, 0.05) + loop_info_nce(positives, anchors, 0.05))
    assert info_nce(anchors, positives, 0.05, symmetric=True).item() == pytest.approx(both, rel=1e-5)
    assert info_nce(anchors, positives, symmetric=True).item() != pytest.approx(
        info_nce(anchors, positives).item(), rel=1e-3)


def test_matches_sentence_transformers_multiple_negatives_ranking_loss(batch):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    anchors, positives = batch
    mnrl = MultipleNegativesRankingLoss(nn.Identity(), scale=20.0)
    assert info_nce(anchors, positives, 0.05).item() == pytest.approx(
        mnrl.compute_loss_from_embeddings([anchors, positives], None).item(), rel=1e-6)
    both = MultipleNegativesRankingLoss(nn.Identity(), scale=20.0, directions=("query_to_doc", "doc_to_query"),
                                        partition_mode="per_direction")
    assert info_nce(anchors, positives, 0.05, symmetric=True).item() == pytest.approx(
        both.compute_loss_from_embeddings([anchors, positives], None).item(), rel=1e-6)


def test_scale_invariant_and_bounded_by_perfect_and_uniform_cases():
    vectors = torch.eye(8)
    # Orthogonal positives that equal their anchors: the loss is log(1 + 7 e^(-1/τ)), near 0.
    assert info_nce(vectors, 3 * vectors, 0.05).item() == pytest.approx(math.log(1 + 7 * math.exp(-20)), abs=1e-7)
    # All positives identical: every candidate is equally likely, loss = log(batch size).
    same = torch.ones(8, 4)
    assert info_nce(same, same, 0.05).item() == pytest.approx(math.log(8), rel=1e-6)


def test_gradients_flow_to_both_sides(batch):
    anchors, positives = (t.clone().requires_grad_() for t in batch)
    info_nce(anchors, positives).backward()
    assert anchors.grad.abs().sum() > 0 and positives.grad.abs().sum() > 0


@pytest.mark.parametrize("temperature", [0.0, -0.05])
def test_temperature_must_be_positive(batch, temperature):
    with pytest.raises(ValueError, match="temperature"):
        info_nce(*batch, temperature)
