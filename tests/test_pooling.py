"""Pooling mean / cls / sep / token<k> against hand computations."""

from __future__ import annotations

import pytest
import torch

from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import encode
from textembed_utils.models import pool
from textembed_utils.models.pooling import check_pooling

# Two texts: 4 real tokens, and 2 real tokens + 2 padding. Token t of text b has the state
# [10 b + t, -(10 b + t)], so every pooled value can be read off by hand.
STATES = torch.tensor(
    [[[0.0, -0.0], [1.0, -1.0], [2.0, -2.0], [3.0, -3.0]],
     [[10.0, -10.0], [11.0, -11.0], [99.0, -99.0], [99.0, -99.0]]]
)
MASK = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])


@pytest.mark.parametrize(
    ("pooling", "expected"),
    [
        ("mean", [[1.5, -1.5], [10.5, -10.5]]),  # padding (99) excluded
        ("cls", [[0.0, 0.0], [10.0, -10.0]]),
        ("sep", [[3.0, -3.0], [11.0, -11.0]]),  # last *real* token
        ("token1", [[1.0, -1.0], [11.0, -11.0]]),  # the first token after [CLS]
        ("token2", [[2.0, -2.0], [11.0, -11.0]]),  # text 2 has no position 2: its last real token
        ("token7", [[3.0, -3.0], [11.0, -11.0]]),
    ],
)
def test_pooling_by_hand(pooling, expected):
    assert torch.equal(pool(STATES, MASK, pooling), torch.tensor(expected))


def test_token7_reads_index_7_the_authors_seventh_token():
    # Nine real tokens ([CLS] at 0, [SEP] at 8) whose states are their positions: the authors'
    # seventh_pool reads token_embeds[:, 7], the eighth position counting [CLS].
    states = torch.arange(9, dtype=torch.float32).reshape(1, 9, 1)
    assert pool(states, torch.ones(1, 9), "token7").item() == 7.0


def test_token7_of_a_text_too_short_is_its_sep_not_padding():
    # Five real tokens, then padding whose states (-1) the authors' index 7 would read.
    states = torch.tensor([[0.0, 1, 2, 3, 4, -1, -1, -1, -1]]).unsqueeze(-1)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0, 0, 0]])
    assert pool(states, mask, "token7").item() == 4.0


def test_mean_of_an_all_padding_row_is_zero_not_nan():
    out = pool(STATES, torch.tensor([[1, 1, 1, 1], [0, 0, 0, 0]]), "mean")
    assert torch.isfinite(out).all() and torch.equal(out[1], torch.zeros(2))


@pytest.mark.parametrize("bad", ["max", "token", "token0", "token-1", "CLS", ""])
def test_unknown_pooling_lists_the_choices(bad):
    with pytest.raises(TextembedError, match="token<k>"):
        check_pooling(bad)
    with pytest.raises(TextembedError):
        pool(STATES, MASK, bad)


def test_encoder_pooling_matches_hand_pooling_of_its_token_states(tiny_encoder):
    texts = ["a b c d e f g h", "short"]
    tokens = tiny_encoder.tokenize(texts)
    with torch.no_grad():
        states = tiny_encoder.token_states(tokens["input_ids"], tokens["attention_mask"])
    lengths = tokens["attention_mask"].sum(1)
    for pooling in ("mean", "cls", "sep", "token3"):
        tiny_encoder.pooling = pooling
        got = encode(tiny_encoder, texts, progress=False)
        for i, n in enumerate(lengths.tolist()):
            want = {
                "mean": states[i, :n].mean(0),
                "cls": states[i, 0],
                "sep": states[i, n - 1],
                "token3": states[i, min(3, n - 1)],
            }[pooling]
            assert torch.allclose(torch.from_numpy(got[i]), want, atol=1e-5), pooling
    # The last real token of a transformer input is [SEP].
    assert (tokens["input_ids"][torch.arange(2), lengths - 1] == tiny_encoder.tokenizer.sep_token_id).all()
