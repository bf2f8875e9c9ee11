"""InfoNCE with in-batch negatives (paper Eq. 1).

For anchors a_i and positives p_i of a batch, the loss of sample i is

    -log( exp(cos(a_i, p_i) / τ) / Σ_j exp(cos(a_i, p_j) / τ) )

averaged over i: cross-entropy from each anchor to all positives of the batch,
the other samples' positives serving as negatives. τ = 0.05 (scale 20) in the
paper; this is what sentence-transformers calls MultipleNegativesRankingLoss.
``symmetric=True`` averages it with the same loss from positives to anchors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def row_losses(similarity: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Each anchor's loss ℓ_i from a batch's cosine similarities (anchors × positives, (batch, batch)).

    Row i is a cross-entropy that asks for column i among all B columns: the quantity
    the introduction's worked example computes by hand, and what ``info_nce`` averages.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = similarity.float() / temperature
    targets = torch.arange(logits.shape[0], device=logits.device)
    return F.cross_entropy(logits, targets, reduction="none")


def info_nce(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    temperature: float = 0.05,
    symmetric: bool = False,
) -> torch.Tensor:
    """Mean InfoNCE loss of a batch of (anchor, positive) vectors, each (batch, dim)."""
    similarity = F.normalize(anchors, dim=-1) @ F.normalize(positives, dim=-1).T
    loss = row_losses(similarity, temperature).mean()
    if symmetric:
        loss = 0.5 * (loss + row_losses(similarity.T, temperature).mean())
    return loss
