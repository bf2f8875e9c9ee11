"""Claim verdicts on hand-made claims: each kind tested as what it says, each verdict word, and the setup's role."""

from __future__ import annotations

import numpy as np
import pytest

from textembed_utils.evaluation.intervals import paired_difference, paired_share
from textembed_utils.profiles import load_profile
from textembed_utils.results import paper_claims
from textembed_utils.results.claims import Claim, ClaimVerdict, Estimate, Kind, Setup, judge
from textembed_utils.results.consistency import conflicts

PROXY, PAPER = Setup(paper=False), Setup(paper=True, has=frozenset({"token_pretrained_base"}))
SIGN = Claim("sign", "Crops beat dropout.", Kind.SIGN, "6 of 6")
COUNT = Claim("count", "On 16 of 19 tasks.", Kind.COUNT, "16 of 19", bound=16 / 19)
MAGNITUDE = Claim("magnitude", "Within 3 p.p.", Kind.MAGNITUDE, "3 p.p.", bound=0.03)
SHARE = Claim("share", "Most of the gain early.", Kind.SHARE, "most", bound=0.5)


def interval(low: float, high: float, label: str = "x") -> Estimate:
    return Estimate(label, (low + high) / 2, low, high, 900)


@pytest.mark.parametrize(("claim", "estimates", "on_proxy", "on_paper"), [
    (SIGN, [interval(0.05, 0.10), interval(0.01, 0.03)], ClaimVerdict.CONSISTENT, ClaimVerdict.REPRODUCED),
    (SIGN, [interval(0.05, 0.10), interval(-0.01, 0.03)], ClaimVerdict.WITHIN_NOISE, ClaimVerdict.WITHIN_NOISE),
    (SIGN, [interval(0.05, 0.10), interval(-0.04, -0.01)], ClaimVerdict.CONTRADICTED, ClaimVerdict.NOT_REPRODUCED),
    # 16/19 of the items must hold: 5 of 5 does, 4 of 5 with one undecided cannot tell, 3 of 5 with two against fails.
    (COUNT, [interval(0.01, 0.02)] * 5, ClaimVerdict.CONSISTENT, ClaimVerdict.REPRODUCED),
    (COUNT, [interval(0.01, 0.02)] * 4 + [interval(-0.01, 0.01)], ClaimVerdict.WITHIN_NOISE,
     ClaimVerdict.WITHIN_NOISE),
    (COUNT, [interval(0.01, 0.02)] * 3 + [interval(-0.02, -0.01)] * 2, ClaimVerdict.CONTRADICTED,
     ClaimVerdict.NOT_REPRODUCED),
    # A gap within 3 p.p.: the whole interval under the bound, straddling it, wholly above it.
    (MAGNITUDE, [interval(0.005, 0.025)], ClaimVerdict.CONSISTENT, ClaimVerdict.REPRODUCED),
    (MAGNITUDE, [interval(0.02, 0.04)], ClaimVerdict.WITHIN_NOISE, ClaimVerdict.WITHIN_NOISE),
    (MAGNITUDE, [interval(0.05, 0.09)], ClaimVerdict.CONTRADICTED, ClaimVerdict.NOT_REPRODUCED),
    (SHARE, [interval(0.7, 1.1)], ClaimVerdict.CONSISTENT, ClaimVerdict.REPRODUCED),
    (SHARE, [interval(0.3, 0.8)], ClaimVerdict.WITHIN_NOISE, ClaimVerdict.WITHIN_NOISE),
    (SHARE, [interval(0.1, 0.4)], ClaimVerdict.CONTRADICTED, ClaimVerdict.NOT_REPRODUCED),
], ids=["sign holds", "sign noisy", "sign against", "count holds", "count noisy", "count against",
        "gap under", "gap straddles", "gap over", "share most", "share noisy", "share few"])
def test_each_kind_is_tested_as_what_it_says(claim, estimates, on_proxy, on_paper):
    assert judge(claim, PROXY, estimates).status is on_proxy
    assert judge(claim, PAPER, estimates).status is on_paper


def test_a_gap_uses_its_own_bound_when_it_carries_one():
    tight = Estimate("bare", 0.02, 0.015, 0.025, 904, bound=0.026)
    loose = Estimate("scratch", 0.03, 0.028, 0.032, 904, bound=0.034)
    too_far = Estimate("scratch", 0.04, 0.036, 0.044, 904, bound=0.034)
    gaps = Claim("gaps", "", Kind.MAGNITUDE, "")
    assert judge(gaps, PROXY, [tight, loose]).status is ClaimVerdict.CONSISTENT
    assert judge(gaps, PROXY, [tight, too_far]).status is ClaimVerdict.CONTRADICTED


def test_what_the_setup_lacks_or_what_does_not_exist_is_not_testable():
    needs_base = Claim("adapt", "Reddit gives most of it.", Kind.SHARE, "", bound=0.5, needs="token_pretrained_base")
    strong = [interval(0.7, 0.9)]
    lacking = judge(needs_base, PROXY, strong)
    assert lacking.status is ClaimVerdict.NOT_TESTABLE and "token level" in lacking.reason
    assert lacking.ours == "x: +80.0 p.p. [+70.0, +90.0], n = 900"  # still shown, as an observation
    assert judge(needs_base, PAPER, strong).status is ClaimVerdict.REPRODUCED
    no_gain = judge(SHARE, PROXY, [], untestable="no gain to match")
    assert (no_gain.status, no_gain.reason) == (ClaimVerdict.NOT_TESTABLE, "no gain to match")
    assert judge(SIGN, PROXY, []).status is ClaimVerdict.NOT_MEASURED


def test_the_reason_names_the_proxy_and_the_tally():
    judgement = judge(SIGN, PROXY, [interval(0.05, 0.10, "bare")], proxy="the wiki corpus")
    assert judgement.reason == "on a proxy (the wiki corpus): 1 of 1 support it, 0 contradict it"
    assert judgement.ours == "bare: +7.5 p.p. [+5.0, +10.0], n = 900"
    assert [str(v) for v in ClaimVerdict] == ["reproduced", "not reproduced", "consistent on a proxy",
                                               "contradicted on a proxy", "within noise", "not testable here",
                                               "not measured"]


def test_profiles_say_which_setup_they_are():
    assert Setup.from_profile(load_profile("paper")) == PAPER
    assert Setup.from_profile(load_profile("embedded")) == PROXY
    assert not Setup.from_profile(load_profile("tiny")).paper


def test_the_papers_claims_carry_their_kind_and_figure():
    claims = paper_claims()
    assert {c.kind for c in claims.values()} == set(Kind)
    assert claims["crops_beat_dropout_mteb"].bound == pytest.approx(16 / 19)
    assert claims["sentence_adaptation"].needs == "token_pretrained_base"
    assert all(c.text and c.paper for c in claims.values())


def test_paired_share_against_a_hand_count():
    # 100 texts: 20 right before, 60 after, 50 at batch 100 → 30 of the 40 gained = 75 %.
    before, partway, after = (np.arange(100) < n for n in (20, 50, 60))
    share = paired_share(before, partway, after)
    assert share.value == pytest.approx(0.75) and share.low < 0.75 < share.high and share.n_test == 100
    assert paired_difference(after, before).low > 0


def test_paired_share_needs_a_gain_and_the_same_texts():
    from textembed_utils.errors import TextembedError

    same = np.arange(50) < 25
    with pytest.raises(TextembedError, match="no gain"):
        paired_share(same, same, same)
    with pytest.raises(TextembedError, match="same test texts"):
        paired_share(same, same, same[:40])


def test_one_number_per_model_evaluation_and_metric():
    def row(value, evaluation="wiki: all 9,033 labelled texts, 128 tokens", part=None):
        return {"run": "pretrained/crops", "evaluation": evaluation, "metric": "knn_euclidean", "value": value,
                **({"part": part} if part else {})}

    agreeing = {"01_augmentations": {"rows": [row(0.82)]}, "03_knn": {"rows": [row(0.82)]},
                "06_layers": {"rows": [row(0.83, "wiki: a seeded 2,000 labelled texts, 64 tokens")]}}
    assert conflicts(agreeing) == []
    clashing = {**agreeing, "05_from_scratch": {"rows": [row(0.80, part="gap")]}}
    (found,) = conflicts(clashing)
    assert found.values == {"01_augmentations": 0.82, "03_knn": 0.82, "05_from_scratch (gap)": 0.80}
    assert "80.0 % in 05_from_scratch (gap)" in found.describe()
