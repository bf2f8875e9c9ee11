"""Freezing the embeddings and the first k transformer layers (paper Fig. 4a)."""

from __future__ import annotations

import copy

import pytest
import torch

from textembed_utils.errors import TextembedError
from textembed_utils.models import freeze_prefix, transformer_layers
from textembed_utils.models.freezing import trainable_by_freeze
from textembed_utils.training import TrainConfig, train


def trainable(module: torch.nn.Module) -> set[bool]:
    return {p.requires_grad for p in module.parameters()}


@pytest.mark.parametrize("k", [0, 1, 2])
def test_embeddings_and_first_k_layers_are_frozen_the_rest_trainable(tiny_encoder, k):
    backbone = tiny_encoder.backbone
    layers = transformer_layers(backbone)
    assert len(layers) == 2
    count = freeze_prefix(backbone, k)
    assert trainable(backbone.embeddings) == {False}
    for i, layer in enumerate(layers):
        assert trainable(layer) == ({False} if i < k else {True})
    assert trainable(backbone.pooler) == {True}
    frozen = sum(p.numel() for p in backbone.parameters() if not p.requires_grad)
    assert count == frozen == sum(p.numel() for p in backbone.embeddings.parameters()) + sum(
        p.numel() for layer in layers[:k] for p in layer.parameters())


@pytest.mark.parametrize("k", [-1, 3])
def test_k_out_of_range_names_the_valid_range(tiny_encoder, k):
    with pytest.raises(TextembedError, match="between 0 and 2"):
        freeze_prefix(tiny_encoder.backbone, k)
    assert trainable(tiny_encoder.backbone) == {True}


def test_bare_model_has_no_layers_to_freeze(tiny_bare):
    with pytest.raises(TextembedError, match="freeze_layers=None"):
        freeze_prefix(tiny_bare.backbone, 0)


def test_frozen_weights_are_unchanged_by_training_and_the_rest_moves(tiny_encoder, toy_corpus):
    before = {k: v.clone() for k, v in tiny_encoder.backbone.state_dict().items()}
    config = TrainConfig(n_sentences=1, batch_size=8, steps=3, lr=1e-3, max_length=48, freeze_layers=1,
                         device="cpu", warmup_fraction=0.0)
    train(tiny_encoder, toy_corpus.texts, config, progress=False)
    after = tiny_encoder.backbone.state_dict()
    frozen = [k for k in before if k.startswith(("embeddings.", "encoder.layer.0."))]
    moved = [k for k in before if k.startswith("encoder.layer.1.") and k.endswith("weight")]
    assert frozen and moved
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert all(not torch.equal(before[k], after[k]) for k in moved)


def test_the_freezing_plan_counts_what_each_k_leaves_to_train(tiny_encoder):
    backbone = tiny_encoder.backbone
    layers = transformer_layers(backbone)
    total = sum(p.numel() for p in backbone.parameters())
    plan = trainable_by_freeze(backbone)
    assert [row["k"] for row in plan] == [0, 1, 2]
    for row in plan:  # the same count freeze_prefix leaves trainable on a fresh copy of the model
        fresh = copy.deepcopy(backbone)
        assert row["trainable parameters"] == total - freeze_prefix(fresh, row["k"])
    assert plan[0]["frozen"] == "embeddings" and plan[2]["frozen"] == "embeddings + layers 1–2"
    assert plan[-1]["trainable share"] == pytest.approx(sum(p.numel() for p in backbone.pooler.parameters()) / total)
    assert all(p.requires_grad for p in backbone.parameters())  # the plan froze nothing
    assert len(layers) == 2
