"""Chapters 4–6: source matching, the gain decomposition, Table S6 beside ours, CKA, freezing and verdicts.

Pure functions on small hand-made inputs (no training); the notebooks themselves
run end to end on the tiny profile in tests/test_notebooks.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from textembed_utils.chapters import from_scratch, layers
from textembed_utils.corpora import Corpus
from textembed_utils.errors import TextembedError
from textembed_utils.results import paper_table
from textembed_utils.training import TrainConfig

TRAINING_NONE = dict.fromkeys(("batch_size", "lr", "temperature", "n_sentences", "epochs", "steps", "eval_every",
                               "seed", "device", "precision"))


# ----------------------------------------------------------------- chapter 5
def _scratch_table() -> pd.DataFrame:
    values = {"pretrained/untrained": 0.80, "pretrained/crops": 0.82, "pretrained/dropout": 0.81,
              "scratch/untrained": 0.50, "scratch/crops": 0.72, "scratch/dropout": 0.55,
              "bare/untrained": 0.54, "bare/crops": 0.83, "bare/dropout": 0.63}
    return pd.DataFrame({"knn_euclidean": values, "knn_cosine": {k: v + 0.01 for k, v in values.items()}})


def test_table_s6_puts_the_papers_gaps_beside_ours():
    frame = from_scratch.table_s6(_scratch_table(), "wiki")
    paper = paper_table("Table S6").loc["Average"]
    assert frame.loc["Embedding layer + crops", "paper: Average (%)"] == paper["Embedding layer + crops"]
    assert frame.loc["BERT from scratch + crops", "ours: wiki (%)"] == pytest.approx(72.0)
    assert frame.loc["BERT from scratch + crops", "ours: gap to pretrained/crops (p.p.)"] == pytest.approx(-10.0)
    expected = round(paper["Embedding layer + crops"] - paper["MPNet + crops"], 1)
    assert frame.loc["Embedding layer + crops", "paper: gap to MPNet + crops (p.p.)"] == pytest.approx(expected)


def test_table_s6_uses_the_papers_own_row_for_its_corpus_and_leaves_missing_runs_empty():
    table = _scratch_table().drop(index="scratch/crops")
    frame = from_scratch.table_s6(table, "iclr")
    assert "paper: ICLR (%)" in frame.columns
    assert frame.loc["MPNet + crops", "paper: ICLR (%)"] == paper_table("Table S6").loc["ICLR", "MPNet + crops"]
    assert math.isnan(frame.loc["BERT from scratch + crops", "ours: iclr (%)"])


def test_findings_state_the_computed_comparison():
    lines = from_scratch.findings(_scratch_table())
    bare = next(line for line in lines if line.startswith("bare:"))
    assert "crops − dropout = +20.0 p.p." in bare and "crops beat dropout" in bare
    assert "bare/crops − pretrained/crops = +1.0 p.p. (Euclidean kNN)." in lines


def test_before_after_is_long_form_per_start_and_training():
    long = from_scratch.before_after(_scratch_table())
    assert len(long) == 2 * 9 and set(long["metric"]) == {"kNN (Euclidean)", "kNN (cosine)"}
    assert set(long["start"]) == {"pretrained", "scratch", "bare"}


def test_from_scratch_runs_default_to_every_start_with_both_augmentations():
    settings = from_scratch.validate({"profile": "tiny", "runs": None, **TRAINING_NONE})
    assert {(s, a) for s in ("bare", "scratch", "pretrained") for a in ("crops", "dropout")} == set(settings["runs"])


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
