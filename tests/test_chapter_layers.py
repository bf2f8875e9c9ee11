"""Chapter 6 (layers and freezing): validation, per-layer tables, the freezing table and the verdict.

Pure functions on small hand-made inputs (no training); the notebook itself runs
end to end on the tiny profile in tests/test_notebooks.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from textembed_utils.chapters import layers
from textembed_utils.errors import TextembedError
from textembed_utils.evaluation.scoring import EvalSpec
from textembed_utils.experiments import Evaluated, Run
from textembed_utils.results.verdicts import Verdict

from scored import evaluated, nested
from scored import outcomes as correct

TRAINING_NONE = dict.fromkeys(("batch_size", "lr", "temperature", "n_sentences", "epochs", "steps", "eval_every",
                               "seed", "device", "precision"))
def freeze_results(per_k: list[float], num_layers: int) -> dict[Run, Evaluated]:
    settings = {"freeze_start": "pretrained", "freeze_overrides": {"steps": 5}}
    runs = layers.freeze_runs(settings, num_layers)
    return {run: evaluated(run, hits) for run, hits in zip(runs, nested(per_k))}


def layer_results(values_before, values_after, changes) -> dict[Run, list[dict]]:
    def scores(values, change):
        return [{"layer": i, "knn_euclidean": v, "knn_cosine": v, "change": c}
                for i, (v, c) in enumerate(zip(values, change))]
    return {Run("pretrained"): scores(values_before, [0.0] * len(changes)),
            Run("pretrained", "crops"): scores(values_after, changes)}


def test_layer_gaps_and_per_layer_series():
    results = layer_results([0.60, 0.55, 0.58], [0.60, 0.57, 0.70], [0.0, 0.1, 0.4])
    gaps = layers.layer_gaps(results)
    assert gaps["pretrained/crops"].tolist() == pytest.approx([0.0, 2.0, 12.0])
    assert layers.per_layer(results, "pretrained") == {"untrained": [0.60, 0.55, 0.58], "crops": [0.60, 0.57, 0.70]}


def test_layer_table_scores_every_layer_and_measures_change_from_the_untrained_model():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b"], 50)
    before = rng.normal(size=(3, 100, 8))
    after = before.copy()
    after[2] = rng.normal(size=(100, 8))  # training rewrote the last layer only
    table = layers.layer_table({Run("bare"): before, Run("bare", "crops"): after}, {"bare": labels}, EvalSpec(k=3))
    changes = [s["change"] for s in table[Run("bare", "crops")]]
    assert changes[0] == pytest.approx(0.0, abs=1e-9) and changes[1] == pytest.approx(0.0, abs=1e-9)
    assert changes[2] > 0.5
    assert [s["layer"] for s in table[Run("bare")]] == [0, 1, 2]


def test_freeze_runs_end_with_the_untrained_model_and_name_their_k():
    runs = layers.freeze_runs({"freeze_start": "pretrained", "freeze_overrides": {"steps": 4}}, 3)
    assert [layers.frozen_layers(run, 3) for run in runs] == [0, 1, 2, 3]
    assert runs[-1] == Run("pretrained") and dict(runs[0].overrides) == {"freeze_layers": 0, "steps": 4}


def test_freezing_points_are_ordered_by_frozen_layers():
    results = freeze_results([0.69, 0.68, 0.58], num_layers=2)
    assert layers.freezing_points(dict(reversed(results.items())), 2) == ([0, 1, 2], [0.69, 0.68, 0.58])


def test_freezing_table_counts_the_warm_up_batches_of_each_run():
    # 195 batches per epoch → 20 warm-up batches: all of a 20-batch run, half of a 40-batch one.
    runs = layers.freeze_runs({"freeze_start": "pretrained", "freeze_overrides": {}}, 2)
    hits = correct(0.7)
    results = {runs[0]: evaluated(runs[0], hits, steps=40), runs[1]: evaluated(runs[1], hits, steps=20),
               runs[2]: evaluated(runs[2], correct(0.6))}
    table = layers.freezing_table(results, 2)
    assert table["warm-up batches"].tolist() == [20, 20, 0]
    assert table["batches"].tolist() == [40, 20, 0]
    assert table.loc["k = 0", "kNN Euclidean (%)"].startswith("70.0 (")


def _four_layer_results(most_changed: int) -> dict[Run, list[dict]]:
    changes = [0.01 * (i == most_changed) for i in range(5)]
    return layer_results([0.6] * 5, [0.6] * 5, changes)


@pytest.mark.parametrize("per_k, most_changed, status", [
    ([0.80, 0.80, 0.795, 0.64, 0.50], 4, Verdict.HOLDS),  # last two layers suffice, the last moved most
    ([0.80, 0.68, 0.62, 0.60, 0.50], 4, Verdict.MIXED),        # last two layers fall 18 p.p. short
    ([0.80, 0.80, 0.795, 0.64, 0.50], 1, Verdict.MIXED),       # an early layer moved most
    ([0.80, 0.68, 0.62, 0.60, 0.50], 1, Verdict.OPPOSITE),     # neither part holds
    ([0.505, 0.50, 0.50, 0.50, 0.50], 4, Verdict.WITHIN_NOISE),  # training gained 0.5 p.p.: nothing to split
])
def test_layers_verdict(per_k, most_changed, status):
    results = freeze_results(per_k, num_layers=4)
    found = layers.findings(results, 4)
    verdict, evidence = layers.verdict(found, _four_layer_results(most_changed), "pretrained", 4)
    assert verdict == status.value
    assert f"{100 * (per_k[2] - per_k[0]):+.1f} p.p." in evidence
    assert f"most changed hidden state with crops: {most_changed} of 0–4" in evidence


def test_layers_validate_rejects_unknown_augmentations_and_fills_freeze_settings():
    base = {"profile": "tiny", "starts": None, "freeze_start": "pretrained", "freeze_steps": None,
            "freeze_depths": None, **TRAINING_NONE}
    settings = layers.validate({**base, "augmentations": "crops, dropout"})
    assert settings["layer_runs"] == [Run("pretrained"), Run("pretrained", "crops"), Run("pretrained", "dropout"),
                                      Run("scratch"), Run("scratch", "crops"), Run("scratch", "dropout")]
    assert settings["eval_max_length"] == 64  # tiny's eval length: no layers.max_length
    assert layers.validate({**base, "augmentations": "crops", "steps": 3})["freeze_steps"] == 3
    with pytest.raises(TextembedError, match="Unknown augmentation"):
        layers.validate({**base, "augmentations": "crops,rotation"})
    assert layers.validate({**base, "augmentations": "crops", "freeze_depths": "2, 0,2"})["freeze_depths"] == [0, 2]
    with pytest.raises(TextembedError, match="not a whole number"):
        layers.validate({**base, "augmentations": "crops", "freeze_depths": "0,two"})


def test_a_shorter_freezing_sweep_always_keeps_the_claims_depths():
    settings = {"freeze_start": "pretrained", "freeze_overrides": {}, "freeze_depths": [1]}
    assert layers.freeze_depths(settings, 6) == [0, 1, 4]  # all layers trained, the chosen one, the last two only
    assert layers.freeze_depths({**settings, "freeze_depths": None}, 3) == [0, 1, 2]  # None: every k, as the paper
    assert [layers.frozen_layers(run, 6) for run in layers.freeze_runs(settings, 6)] == [0, 1, 4, 6]
    with pytest.raises(TextembedError, match="leaves nothing to train"):
        layers.freeze_depths({**settings, "freeze_depths": [6]}, 6)


def test_the_last_two_layers_share_of_the_full_gain():
    # 3 layers: untrained 50 % right, full fine-tuning (k = 0) 90 %, last two only (k = 1) 80 %: 75 % of the gain.
    runs = layers.freeze_runs({"freeze_start": "pretrained", "freeze_overrides": {}, "freeze_depths": [0, 1]}, 3)
    hits = {0: np.arange(200) < 180, 1: np.arange(200) < 160, 3: np.arange(200) < 100}
    results = {run: evaluated(run, hits[layers.frozen_layers(run, 3)]) for run in runs}
    share = layers.last_two_share(results, 3)
    assert share.value == pytest.approx(0.75) and share.low < 0.75 < share.high and share.n_test == 200
    flat = {run: evaluated(run, hits[3]) for run in runs}  # no gain from training: nothing to share
    assert layers.last_two_share(flat, 3) is None


def test_layer_gaps_of_starts_with_different_depths_share_one_table():
    results = layer_results([0.60, 0.55, 0.58], [0.60, 0.57, 0.70], [0.0, 0.1, 0.4])
    deeper = [{"layer": i, "knn_euclidean": 0.5, "knn_cosine": 0.5, "change": 0.0} for i in range(5)]
    results[Run("scratch")] = deeper
    results[Run("scratch", "crops")] = [dict(s, knn_euclidean=0.6) for s in deeper]
    gaps = layers.layer_gaps(results)
    assert len(gaps) == 5 and gaps["scratch/crops"].tolist() == pytest.approx([10.0] * 5)
    assert gaps["pretrained/crops"].isna().tolist() == [False, False, False, True, True]
