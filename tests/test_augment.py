"""Positive pairs (PairSampler) and token masking (mask_tokens)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textembed_utils.augment import AUGMENTATIONS, PairSampler, crop_windows, mask_tokens
from textembed_utils.errors import TextembedError


def windows_of(texts, n=1):
    return {w: i for i, t in enumerate(texts) for w in crop_windows(t, n)}


@pytest.mark.parametrize("augmentation", ["crops", "crops+masking"])
def test_crop_pairs_are_two_distinct_windows_of_the_same_text(toy_corpus, augmentation):
    sampler = PairSampler(toy_corpus.texts, augmentation, n_sentences=1, seed=1)
    owner = windows_of(toy_corpus.texts)
    pairs = sampler.epoch(0)
    assert len(pairs) == len(sampler) == len(toy_corpus)
    for anchor, positive in pairs:
        assert anchor != positive
        assert owner[anchor] == owner[positive]
    # One pair per text and epoch: every text appears exactly once.
    assert sorted(owner[a] for a, _ in pairs) == list(range(len(toy_corpus)))


def test_pairs_depend_only_on_seed_and_epoch(toy_corpus):
    first = PairSampler(toy_corpus.texts, "crops", n_sentences=1, seed=7)
    again = PairSampler(toy_corpus.texts, "crops", n_sentences=1, seed=7)
    other_seed = PairSampler(toy_corpus.texts, "crops", n_sentences=1, seed=8)
    assert first.epoch(3) == again.epoch(3)
    assert first.epoch(3) == first.epoch(3)
    assert first.epoch(0) != first.epoch(1)
    assert first.epoch(0) != other_seed.epoch(0)


def test_dropout_and_masking_pairs_are_identical_texts(toy_corpus):
    owner = windows_of(toy_corpus.texts)
    dropout = PairSampler(toy_corpus.texts, "dropout", n_sentences=1).epoch(0)
    assert all(a == p and a in owner for a, p in dropout)
    masking = PairSampler(toy_corpus.texts, "masking").epoch(0)
    assert sorted(a for a, _ in masking) == sorted(toy_corpus.texts)
    assert all(a == p for a, p in masking)


@pytest.mark.parametrize("augmentation", AUGMENTATIONS)
def test_only_masking_augmentations_ask_the_trainer_to_mask(toy_corpus, augmentation):
    sampler = PairSampler(toy_corpus.texts, augmentation, n_sentences=1)
    assert sampler.uses_masking == (augmentation in ("masking", "crops+masking"))


def test_masking_keeps_every_nonblank_text_and_counts_blank_ones():
    sampler = PairSampler(["some text", "   ", "more text"], "masking")
    assert len(sampler) == 2 and sampler.stats.dropped == 1
    with pytest.raises(TextembedError, match="empty"):
        PairSampler(["", "  "], "masking")


def test_an_epoch_keeps_its_last_partial_batch_as_the_authors_dataloader(toy_corpus):
    # 48 pairs in batches of 10: four full batches and a fifth of 8 (drop_last=False).
    sampler = PairSampler(toy_corpus.texts, "crops", n_sentences=1)
    assert len(sampler.epoch(0)) == len(sampler) == 48
    assert sampler.batches_per_epoch(10) == 5 and sampler.batches_per_epoch(8) == 6
    # In several processes a last batch with fewer pairs than processes is dropped (none to share).
    assert sampler.batches_per_epoch(10, smallest_last=8) == 5
    assert sampler.batches_per_epoch(10, smallest_last=9) == 4


def test_unknown_augmentation_lists_the_choices():
    with pytest.raises(TextembedError, match="crops, dropout, masking"):
        PairSampler(["text"], "rotation")


def test_uncroppable_corpus_fails_for_crops_and_dropout():
    for augmentation in ("crops", "dropout"):
        with pytest.raises(TextembedError, match="n_sentences"):
            PairSampler(["Short. Text."], augmentation, n_sentences=1)


# --- mask_tokens ------------------------------------------------------------------------


def test_mask_fraction_and_never_special_or_padding_tokens():
    ids = torch.arange(1000, 1000 + 40 * 500).reshape(40, 500)
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, 0] = maskable[:, -1] = False  # [CLS] / [SEP]
    maskable[::2, 400:] = False  # padding
    out = mask_tokens(ids, maskable, 0.3, mask_token_id=103, generator=torch.Generator().manual_seed(0))
    hit = out == 103
    assert not hit[~maskable].any()
    assert torch.equal(out[~hit], ids[~hit])
    assert abs(hit.sum().item() / maskable.sum().item() - 0.3) < 0.01
    assert torch.equal(ids, torch.arange(1000, 1000 + 40 * 500).reshape(40, 500))  # input untouched


def test_mask_is_seeded_and_zero_fraction_masks_nothing():
    ids = torch.randint(1000, 2000, (8, 30))
    maskable = torch.ones_like(ids, dtype=torch.bool)
    one = mask_tokens(ids, maskable, 0.5, 103, torch.Generator().manual_seed(3))
    two = mask_tokens(ids, maskable, 0.5, 103, torch.Generator().manual_seed(3))
    assert torch.equal(one, two)
    assert torch.equal(mask_tokens(ids, maskable, 0.0, 103), ids)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_mask_fraction_out_of_range(fraction):
    ids = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="fraction"):
        mask_tokens(ids, ids.bool(), fraction, 103)


def test_real_tokenizer_special_tokens_are_not_maskable(tiny_encoder):
    tokens = tiny_encoder.tokenize(["a short one", "a much longer text with many more words in it"])
    maskable = tokens["attention_mask"].bool() & ~tokens["special_tokens_mask"].bool()
    out = mask_tokens(tokens["input_ids"], maskable, 0.99, tiny_encoder.mask_token_id,
                      torch.Generator().manual_seed(0))
    special = tokens["input_ids"][~maskable]
    assert torch.equal(out[~maskable], special)
    assert set(special.tolist()) <= {tiny_encoder.tokenizer.cls_token_id, tiny_encoder.tokenizer.sep_token_id,
                                     tiny_encoder.tokenizer.pad_token_id}


@pytest.mark.parametrize("augmentation", AUGMENTATIONS)
def test_an_epoch_holds_the_pairs_drawn_from_every_usable_texts_windows(toy_corpus, augmentation):
    """The lazy epoch equals pairs drawn the direct way: all windows held, the same seeded draws."""
    texts = toy_corpus.texts
    units = ([[t] for t in texts if t.strip()] if augmentation == "masking"
             else [w for w in (crop_windows(t, 1) for t in texts) if len(w) >= 2])
    rng = np.random.default_rng([5, 2])
    expected = []
    for i in rng.permutation(len(units)):
        if augmentation in ("crops", "crops+masking"):
            a, b = rng.choice(len(units[i]), size=2, replace=False)
            expected.append((units[i][a], units[i][b]))
        else:
            one = units[i][rng.integers(len(units[i]))]
            expected.append((one, one))
    pairs = PairSampler(texts, augmentation, n_sentences=1, seed=5).epoch(2)
    assert list(pairs) == expected and pairs == expected
    assert pairs[3:9] == expected[3:9] and pairs[-1] == expected[-1]
