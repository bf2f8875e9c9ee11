"""The cached (GradCache) loss: the same losses and gradients as the whole batch in one pass (issue 13).

Tolerances: losses within 1e-6 relative (1e-5 after training steps); gradients within 1e-4
relative + 1e-6 absolute per element (the mini-batches change the shapes of the matrix
products, hence their rounding); trained weights within 1e-5 relative per tensor.
"""

from __future__ import annotations

import pytest
import torch

from conftest import TINY_CONFIG, make_toy_corpus
from textembed_utils.augment import PairSampler
from textembed_utils.models import TextEncoder, load_encoder
from textembed_utils.training import TrainConfig, info_nce, train
from textembed_utils.training import cached_loss
from textembed_utils.training.cached_loss import cached_backward

NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
GRAD_TOLERANCE = dict(rtol=1e-4, atol=1e-6)


def tiny(dropout: bool) -> TextEncoder:
    overrides = TINY_CONFIG if dropout else {**TINY_CONFIG, **NO_DROPOUT}
    encoder = load_encoder(init="random", config_overrides=overrides, max_length=48, seed=0)
    return encoder.train()


def batch_pairs(size: int = 12) -> tuple[list[str], list[str]]:
    pairs = PairSampler(make_toy_corpus(size).texts, "crops", n_sentences=1, seed=0).epoch(0)
    return [a for a, _ in pairs], [p for _, p in pairs]


def gradients(encoder: TextEncoder) -> dict[str, torch.Tensor]:
    grads = {name: p.grad.clone() for name, p in encoder.named_parameters() if p.grad is not None}
    encoder.zero_grad(set_to_none=True)
    return grads


def chunk_embedder(encoder: TextEncoder, anchors: list[str], positives: list[str], size: int):
    """``embed_chunk`` of pairs ``c·size … (c+1)·size``: their anchors, then their positives."""
    def embed_chunk(chunk: int) -> torch.Tensor:
        rows = slice(chunk * size, (chunk + 1) * size)
        tokens = encoder.tokenize(anchors[rows] + positives[rows])
        return encoder(tokens["input_ids"], tokens["attention_mask"])
    return embed_chunk


def pairs_loss(chunks: list[torch.Tensor]) -> torch.Tensor:
    return info_nce(torch.cat([c[: len(c) // 2] for c in chunks]), torch.cat([c[len(c) // 2 :] for c in chunks]))


def one_pass_of_every_chunk(encoder: TextEncoder, anchors, positives, size: int) -> torch.Tensor:
    """The plain full batch with the chunks' dropout masks: every chunk forwarded with its graph, one loss."""
    embed_chunk = chunk_embedder(encoder, anchors, positives, size)
    loss = pairs_loss([embed_chunk(c) for c in range(-(-len(anchors) // size))])
    loss.backward()
    return loss.detach()


def assert_same_gradients(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.allclose(got[name], value, **GRAD_TOLERANCE), name


def test_cached_crops_give_the_loss_and_gradients_of_one_padded_pass():
    encoder = tiny(dropout=False)
    anchors, positives = batch_pairs()
    tokens = encoder.tokenize(anchors + positives)
    whole = pairs_loss([encoder(tokens["input_ids"], tokens["attention_mask"])])
    whole.backward()
    expected = gradients(encoder)
    # 12 pairs in mini-batches of 5: chunks of 5, 5 and 2 pairs.
    loss = cached_backward(chunk_embedder(encoder, anchors, positives, 5), 3, pairs_loss)
    assert loss.item() == pytest.approx(whole.item(), rel=1e-6)
    assert_same_gradients(gradients(encoder), expected)


def test_cached_dropout_replays_the_masks_of_the_first_pass(monkeypatch):
    encoder = tiny(dropout=True)
    anchors, positives = batch_pairs()
    with torch.random.fork_rng():
        torch.manual_seed(7)
        expected_loss = one_pass_of_every_chunk(encoder, anchors, positives, 4)
    expected = gradients(encoder)
    with torch.random.fork_rng():
        torch.manual_seed(7)
        loss = cached_backward(chunk_embedder(encoder, anchors, positives, 4), 3, pairs_loss)
        after_cached = torch.rand(1)
    assert loss.item() == pytest.approx(expected_loss.item(), rel=1e-6)
    assert_same_gradients(gradients(encoder), expected)
    with torch.random.fork_rng():
        torch.manual_seed(7)
        one_pass_of_every_chunk(encoder, anchors, positives, 4)
        assert torch.equal(torch.rand(1), after_cached)  # the generator ends where one pass leaves it
    encoder.zero_grad(set_to_none=True)

    # Without replaying the random state, the replay draws new masks: the gradients differ.
    monkeypatch.setattr(cached_loss, "set_rng_state", lambda state: None)
    with torch.random.fork_rng():
        torch.manual_seed(7)
        cached_backward(chunk_embedder(encoder, anchors, positives, 4), 3, pairs_loss)
    unreplayed = gradients(encoder)
    assert not all(torch.allclose(unreplayed[k], expected[k], **GRAD_TOLERANCE) for k in expected)


def config(**changes) -> TrainConfig:
    settings = dict(n_sentences=1, batch_size=16, steps=3, lr=1e-3, max_length=48, device="cpu", log_every=1,
                    precision="fp32")
    return TrainConfig(**{**settings, **changes})


def weights(encoder: TextEncoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in encoder.state_dict().items()}


@pytest.mark.parametrize(("augmentation", "dropout", "mini_batch_size"), [
    ("crops", False, 5),  # chunks of 5, 5, 5 and 1 pairs; the model's dropout off
    ("dropout", True, 16),  # one chunk: the same masks as the plain pass, so the same run
])
def test_training_with_cached_mini_batches_equals_the_plain_run(augmentation, dropout, mini_batch_size):
    texts = make_toy_corpus(48).texts

    def run(**changes):
        encoder = tiny(dropout)
        result = train(encoder, texts, config(augmentation=augmentation, **changes), progress=False)
        return result.losses, weights(encoder)

    (plain_losses, plain), (cached_losses, cached) = run(), run(mini_batch_size=mini_batch_size)
    assert cached_losses == pytest.approx(plain_losses, rel=1e-5)
    for name, value in plain.items():
        # Per tensor, not per element: Adam divides by the gradient's own scale, so an element whose
        # gradient is ~0 (an attention key bias shifts all of a query's logits alike: zero in exact
        # arithmetic) moves by rounding noise; measured: one element of 8,192 off by 8.5e-6.
        assert (cached[name] - value).norm() <= 1e-5 * value.norm() + 1e-5, name


def test_the_mini_batch_size_is_range_checked_and_fingerprinted_only_when_set():
    from textembed_utils.errors import TextembedError

    with pytest.raises(TextembedError, match="mini_batch_size"):
        config(mini_batch_size=0)
    assert config(mini_batch_size=None).fingerprint() == config().fingerprint()
    assert config(mini_batch_size=4).fingerprint() != config().fingerprint()


def test_cached_loss_matches_sentence_transformers_cached_mnrl(tmp_path):
    """sentence-transformers' CachedMultipleNegativesRankingLoss on the same model and pairs: same loss, gradients."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.losses import CachedMultipleNegativesRankingLoss

    ours = tiny(dropout=False)
    ours.save(tmp_path / "model")
    theirs = SentenceTransformer(str(tmp_path / "model"), device="cpu").train()
    anchors, positives = batch_pairs()
    reference = CachedMultipleNegativesRankingLoss(theirs, scale=20.0, mini_batch_size=5)
    features = [theirs.preprocess(anchors), theirs.preprocess(positives)]
    their_loss = reference(features, torch.arange(len(anchors)))
    their_loss.backward()
    # "0.model.<backbone parameter>": the Transformer module's Hugging Face model.
    their_grads = {name.split(".", 2)[2]: p.grad for name, p in theirs.named_parameters() if p.grad is not None}

    loss = cached_backward(chunk_embedder(ours, anchors, positives, 5), 3, pairs_loss)
    our_grads = {name.removeprefix("backbone."): g for name, g in gradients(ours).items()}
    assert loss.item() == pytest.approx(their_loss.item(), rel=1e-5)
    assert_same_gradients(our_grads, their_grads)
