"""Chapter 6: CKA, freezing and verdicts (chapters 4 and 5: test_chapter_domain_adaptation.py, test_chapter_from_scratch.py).

Pure functions on small hand-made inputs (no training); the notebooks themselves
run end to end on the tiny profile in tests/test_notebooks.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from textembed_utils.chapters import layers
from textembed_utils.errors import TextembedError
from textembed_utils.training import TrainConfig

TRAINING_NONE = dict.fromkeys(("batch_size", "lr", "temperature", "n_sentences", "epochs", "steps", "eval_every",
                               "seed", "device", "precision"))


# ----------------------------------------------------------------- chapter 6
def test_linear_cka_is_one_for_rotations_and_scalings_and_small_for_unrelated_vectors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16))
    rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    assert layers.linear_cka(x, x) == pytest.approx(1.0)
    assert layers.linear_cka(x, 3.0 * x @ rotation + 5.0) == pytest.approx(1.0)
    assert layers.linear_cka(x, rng.normal(size=(200, 16))) < 0.2


def _layer_results() -> dict:
    def scores(values, changes):
        return {str(i): {"layer": i, "knn_euclidean": v, "knn_cosine": v, "change": c}
                for i, (v, c) in enumerate(zip(values, changes))}

    return {"pretrained/untrained": scores([0.60, 0.55, 0.58], [0.0, 0.0, 0.0]),
            "pretrained/crops": scores([0.60, 0.57, 0.70], [0.0, 0.1, 0.4])}


def test_layer_gaps_and_per_layer_series():
    gaps = layers.layer_gaps(_layer_results())
    assert gaps["pretrained/crops"].tolist() == pytest.approx([0.0, 2.0, 12.0])
    per = layers.per_layer(_layer_results(), "pretrained")
    assert per == {"untrained": [0.60, 0.55, 0.58], "crops": [0.60, 0.57, 0.70]}


def _freeze_results(per_k: list[float]) -> dict:
    return {f"k={k}": {"frozen": k, "metrics": {"knn_euclidean": acc}, "summary": {"total_steps": 5}}
            for k, acc in enumerate(per_k)}


def test_freezing_points_are_ordered_by_frozen_layers():
    results = _freeze_results([0.69, 0.68, 0.58])
    assert layers.freezing_points(dict(reversed(results.items()))) == ([0, 1, 2], [0.69, 0.68, 0.58])


def test_freezing_table_counts_the_warm_up_batches_of_each_run():
    # 195 batches per epoch → 20 warm-up batches: all of a 20-batch run, half of a 40-batch one.
    def trained(steps):
        return {"config": TrainConfig(steps=steps).to_dict(), "batches_per_epoch": 195, "total_steps": steps,
                "train_seconds": 1.0}
    results = {"k=0": {"frozen": 0, "metrics": {"knn_euclidean": 0.7}, "summary": trained(40)},
               "k=1": {"frozen": 1, "metrics": {"knn_euclidean": 0.7}, "summary": trained(20)},
               "k=2": {"frozen": 2, "metrics": {"knn_euclidean": 0.6}, "summary": {}}}
    table = layers.freezing_table(results)
    assert table["warm-up batches"].tolist() == [20, 20, 0]
    assert table["batches"].tolist() == [40, 20, 0]


def _four_layer_results(most_changed: int) -> dict:
    changes = [0.01 * (i == most_changed) for i in range(5)]
    return {"pretrained/crops": {str(i): {"layer": i, "knn_euclidean": 0.6, "knn_cosine": 0.6, "change": c}
                                 for i, c in enumerate(changes)}}


@pytest.mark.parametrize("per_k, most_changed, status", [
    ([0.70, 0.70, 0.695, 0.64, 0.58], 4, layers.REPRODUCED),      # last two layers suffice, the last moved most
    ([0.70, 0.68, 0.62, 0.60, 0.58], 4, layers.NOT_REPRODUCED),   # last two layers fall 8 p.p. short
    ([0.70, 0.70, 0.695, 0.64, 0.58], 1, layers.NOT_REPRODUCED),  # an early layer moved most
    ([0.585, 0.58, 0.58, 0.58, 0.58], 4, layers.INCONCLUSIVE),    # training gained 0.5 p.p.: nothing to split
])
def test_layers_verdict(per_k, most_changed, status):
    verdict, evidence = layers.verdict(_freeze_results(per_k), _four_layer_results(most_changed), "pretrained")
    assert verdict == status
    assert f"last two only {100 * per_k[2]:.1f} %" in evidence
    assert f"most changed hidden state with crops: {most_changed} of 0–4" in evidence


def test_layers_validate_rejects_unknown_augmentations_and_fills_freeze_settings():
    base = {"profile": "tiny", "starts": None, "freeze_start": "pretrained", "freeze_steps": None, **TRAINING_NONE}
    settings = layers.validate({**base, "augmentations": "crops, dropout"})
    assert settings["augmentations"] == ["crops", "dropout"] and settings["starts"] == ["pretrained", "scratch"]
    assert settings["eval_max_length"] == 64  # tiny's eval length: no layers.max_length
    assert layers.validate({**base, "augmentations": "crops", "steps": 3})["freeze_steps"] == 3
    with pytest.raises(TextembedError, match="Unknown augmentation"):
        layers.validate({**base, "augmentations": "crops,rotation"})
