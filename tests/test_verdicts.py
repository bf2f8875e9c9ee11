"""Verdicts on hand-made inputs: separated, overlapping and reversed models, and the sentence a reader sees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textembed_utils.errors import TextembedError
from textembed_utils.evaluation.intervals import Difference, paired_difference
from textembed_utils.results.verdicts import Verdict, combine, describe, verdict


def outcomes(n: int, wrong: range) -> np.ndarray:
    """``n`` test texts, all right except those in ``wrong``."""
    correct = np.ones(n, bool)
    correct[list(wrong)] = False
    return correct


N = 900
DROPOUT = outcomes(N, range(0, 300))  # 66.7 %


@pytest.mark.parametrize("crops, expected", [
    (outcomes(N, range(0, 150)), Verdict.HOLDS),     # fixes 150 of dropout's errors: +16.7 p.p.
    (outcomes(N, range(20, 315)), Verdict.WITHIN_NOISE),  # fixes 20, breaks 15: +0.6 p.p., contains 0
    (outcomes(N, range(0, 400)), Verdict.OPPOSITE),      # 100 more errors: -11.1 p.p.
])
def test_separated_overlapping_and_reversed_models(crops, expected):
    assert verdict(paired_difference(crops, DROPOUT)) is expected


def test_the_expected_sign_flips_the_verdict():
    better = paired_difference(outcomes(N, range(0, 150)), DROPOUT)
    assert verdict(better, expected_sign=-1) is Verdict.OPPOSITE
    worse = Difference(-0.05, -0.08, -0.02, N)
    assert verdict(worse, expected_sign=-1) is Verdict.HOLDS


def test_an_interval_touching_zero_is_within_noise():
    assert verdict(Difference(0.02, 0.0, 0.04, N)) is Verdict.WITHIN_NOISE
    assert verdict(Difference(0.0, 0.0, 0.0, N)) is Verdict.WITHIN_NOISE  # identical models


def test_not_run_is_not_measured_and_a_bad_sign_is_an_error():
    assert verdict(None) is Verdict.NOT_MEASURED
    with pytest.raises(TextembedError, match="expected_sign"):
        verdict(Difference(0.1, 0.05, 0.15, N), expected_sign=2)


def test_verdicts_print_and_store_as_their_words():
    assert [str(v) for v in Verdict] == ["holds", "within noise", "opposite", "mixed", "not measured"]
    assert json.dumps({"verdict": Verdict.WITHIN_NOISE}) == '{"verdict": "within noise"}'
    assert Verdict("holds") is Verdict.HOLDS


def test_combining_several_comparisons_of_one_claim():
    r, w, o, nm = Verdict.HOLDS, Verdict.WITHIN_NOISE, Verdict.OPPOSITE, Verdict.NOT_MEASURED
    assert combine([r, r, nm]) is r
    assert combine([r, w]) is combine([o, r]) is Verdict.MIXED
    assert combine([w, w]) is w
    assert combine([nm]) is combine([]) is nm


def test_describe_says_the_gap_its_interval_the_sample_and_the_verdict():
    line = describe("crops", "dropout", Difference(0.123, 0.098, 0.149, 904))
    assert line == "crops beat dropout by 12.3 p.p. [9.8, 14.9] (paired bootstrap, 904 test texts): holds"
    line = describe("crops", "dropout", Difference(-0.03, -0.051, -0.009, 9033))
    assert line == "crops trail dropout by 3.0 p.p. [0.9, 5.1] (paired bootstrap, 9,033 test texts): opposite"
    line = describe("crops", "dropout", Difference(0.0, -0.012, 0.011, 300))
    assert line == "crops and dropout tie, 0.0 p.p. [-1.2, 1.1] (paired bootstrap, 300 test texts): within noise"
    assert describe("crops", "dropout", None) == "crops vs dropout: not measured"
