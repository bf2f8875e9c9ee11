"""Chapter 1 (augmentations): the runs it plans, its findings and the seed study, on hand-made scores."""

from __future__ import annotations

import pytest
from scored import evaluated, nested, outcomes

from textembed_utils.chapters import augmentations
from textembed_utils import experiments as ex
from textembed_utils.experiments import Run
from textembed_utils.results.verdicts import Verdict

TRAINING_NONE = dict.fromkeys(("batch_size", "lr", "temperature", "n_sentences", "epochs", "steps", "eval_every",
                               "seed", "device", "precision"))
BASE = {"profile": "tiny", "runs": None, "sweep_start": "bare", "sweep_parameter": None, "sweep_values": None,
        **TRAINING_NONE}


def test_validate_plans_the_runs_the_sweep_and_the_seed_study_from_the_profile():
    settings = augmentations.validate({**BASE, "lr": 0.2})
    assert settings["runs"] == [Run.of("bare", "crops", lr=0.2), Run.of("bare", "dropout", lr=0.2),
                                Run.of("pretrained", "crops", lr=0.2)]
    assert settings["sweep_runs"] == [Run.of("bare", "crops", lr=0.2, temperature=0.1)]
    # tiny repeats bare's comparison at seeds 42 (its own: no override), 43 and 44
    seeds = [dict(run.overrides).get("seed") for run in settings["seed_runs"]]
    assert seeds == [None, None, 43, 43, 44, 44]
    assert ex.with_untrained(settings["runs"])[0] == Run("bare")


def test_findings_compare_crops_with_dropout_and_each_augmentation_with_its_untrained_start():
    untrained, dropout, crops = nested([0.50, 0.60, 0.80])
    results = {Run("bare"): evaluated(Run("bare"), untrained),
               Run("bare", "crops"): evaluated(Run("bare", "crops"), crops),
               Run("bare", "dropout"): evaluated(Run("bare", "dropout"), dropout)}
    found = augmentations.findings(results)
    assert [(f.claim, f.first, f.second) for f in found] == [
        ("crops beat dropout", "bare/crops", "bare/dropout"),
        ("crops improves on untrained", "bare/crops", "bare/untrained"),
        ("dropout improves on untrained", "bare/dropout", "bare/untrained")]
    assert found[0].difference == pytest.approx(0.20) and found[0].verdict is Verdict.HOLDS



def test_findings_compare_crops_with_crops_plus_masking_as_in_fig_s1c():
    untrained, masked, crops = nested([0.50, 0.70, 0.80])
    runs = {Run("bare"): untrained, Run("bare", "crops"): crops, Run("bare", "crops+masking"): masked}
    found = augmentations.findings({run: evaluated(run, hits) for run, hits in runs.items()})
    masking = [f for f in found if f.claim == "crops beat crops with masking"]
    assert [(f.first, f.second) for f in masking] == [("bare/crops", "bare/crops+masking")]
    assert masking[0].difference == pytest.approx(0.10) and masking[0].verdict is Verdict.HOLDS

def test_the_seed_study_gives_one_paired_comparison_per_seed_and_their_spread():
    results = {}
    for seed, gap in ((None, 0.10), (43, 0.14), (44, 0.12)):
        dropout, crops = nested([0.60, 0.60 + gap])
        for augmentation, hits in (("crops", crops), ("dropout", dropout)):
            run = Run.of("bare", augmentation, seed=seed)
            results[run] = evaluated(run, hits)
    table, spreads = augmentations.seed_study(results)
    assert table["seed"].tolist() == ["profile's", 43, 44]
    assert set(table["verdict"]) == {"holds"}
    spread = spreads["bare"]
    assert (spread.n, spread.mean, spread.sd) == (3, pytest.approx(0.12), pytest.approx(0.02))
    assert spread.low < 0.12 < spread.high


def test_a_single_seed_has_no_spread():
    runs = {Run("bare", a): evaluated(Run("bare", a), outcomes(0.7, seed=i)) for i, a in enumerate(("crops", "dropout"))}
    table, spreads = augmentations.seed_study(runs)
    assert len(table) == 1 and spreads == {}
