"""Chapters 4–6: source matching, the gain decomposition, Table S6 beside ours, CKA, freezing and verdicts.

Pure functions on small hand-made inputs (no training); the notebooks themselves
run end to end on the tiny profile in tests/test_notebooks.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from textembed_utils.chapters import domain_adaptation as da
from textembed_utils.chapters import from_scratch, layers
from textembed_utils.corpora import Corpus
from textembed_utils.errors import TextembedError
from textembed_utils.results import paper_table
from textembed_utils.training import TrainConfig

TRAINING_NONE = dict.fromkeys(("batch_size", "lr", "temperature", "n_sentences", "epochs", "steps", "eval_every",
                               "seed", "device", "precision"))
SENTENCE = "This sentence is long enough to be kept by the crop rule because it has well over one hundred characters"


def croppable(i: int) -> str:
    return f"{SENTENCE} ({i}). {SENTENCE} [{i}]."


def run(knn: float, cosine: float | None = None, trained_on: str = "wiki", steps: int = 10) -> dict:
    metrics = {"knn_euclidean": knn, "knn_cosine": knn if cosine is None else cosine, "linear_probe": knn}
    return {"metrics": metrics, "summary": {"total_steps": steps}, "eval_texts": 100, "trained on": trained_on}


# ----------------------------------------------------------------- chapter 4
def test_only_texts_with_two_crops_are_croppable():
    texts = [croppable(0), "Too short. Also short.", SENTENCE + "."]
    assert da.croppable_texts(texts, n_sentences=1, splitter="naive") == [croppable(0)]


def test_source_is_matched_to_the_targets_croppable_count_reproducibly():
    source = Corpus("src", [croppable(i) for i in range(50)] + ["short."] * 10, ["a"] * 30 + ["b"] * 30)
    matched = da.matched_source(source, size=20, n_sentences=1, splitter="naive", seed=42)
    assert len(matched) == 20 and len(set(matched.texts)) == 20
    assert all(t.startswith(SENTENCE) for t in matched.texts)
    assert matched.texts == da.matched_source(source, 20, 1, "naive", seed=42).texts
    assert matched.texts != da.matched_source(source, 20, 1, "naive", seed=7).texts
    assert matched.info == {"matched_to": 20, "texts_in_source": 60, "croppable_in_source": 50,
                            "classes_in_source": 2}


def test_a_small_source_is_used_whole_and_an_uncroppable_one_is_refused():
    source = Corpus("src", [croppable(i) for i in range(5)])
    assert len(da.matched_source(source, size=20, n_sentences=1, splitter="naive", seed=0)) == 5
    with pytest.raises(TextembedError, match="No text of 'flat'"):
        da.matched_source(Corpus("flat", ["short."] * 3), 20, 1, "naive", 0)


def test_sources_load_from_any_corpus_name_including_a_users_file(tmp_path):
    path = tmp_path / "other_domain.txt"
    path.write_text("\n".join(croppable(i) for i in range(30)) + "\n")
    settings = da.validate({"profile": "tiny", "starts": "bare", "sources": str(path), **TRAINING_NONE})
    target = Corpus("t", [croppable(i) for i in range(12)] + ["short."] * 5, ["x"] * 17)
    sources = da.load_sources(settings, target)
    assert [len(c) for c in sources.values()] == [12]
    table = da.corpora_table(settings, target, sources)
    assert table["training texts"].tolist() == [12, 12]
    assert table["texts"].tolist() == [17, 30]


def test_validate_takes_the_profiles_domain_section_and_rejects_the_target_as_source():
    settings = da.validate({"profile": "tiny", "starts": None, "sources": None, **TRAINING_NONE})
    assert settings["starts"] == ["bare", "scratch"] and settings["sources"] == ["docstrings"]
    assert settings["target"] == "wiki"
    with pytest.raises(TextembedError, match="also listed as a source"):
        da.validate({"profile": "tiny", "starts": None, "sources": "docstrings,wiki", **TRAINING_NONE})
    with pytest.raises(TextembedError, match="Unknown start 'huge'"):
        da.validate({"profile": "tiny", "starts": "huge", "sources": None, **TRAINING_NONE})


def _domain_results(base: float, source: float, target: float) -> dict:
    return {"bare/untrained": {**run(base), "summary": {}}, "bare/crops": run(target),
            "bare/crops on docs": run(source, trained_on="docs")}


def test_decomposition_splits_the_in_domain_gain():
    table = da.decomposition(_domain_results(0.50, 0.62, 0.70), ["docs"])
    row = table.loc[("bare", "docs")]
    assert row["total_gain_pp"] == pytest.approx(20.0)
    assert row["sentence_gain_pp"] == pytest.approx(12.0)
    assert row["domain_gain_pp"] == pytest.approx(8.0)
    assert row["sentence_share"] == pytest.approx(0.6)
    assert row["sentence_gain_pp"] + row["domain_gain_pp"] == pytest.approx(row["total_gain_pp"])


def test_no_in_domain_gain_has_no_share():
    row = da.decomposition(_domain_results(0.50, 0.55, 0.48), ["docs"]).loc[("bare", "docs")]
    assert math.isnan(row["sentence_share"])


@pytest.mark.parametrize("source, target, status", [
    (0.62, 0.70, da.REPRODUCED),       # 60 % of a 20 p.p. gain from the other domain
    (0.52, 0.70, da.NOT_REPRODUCED),   # 10 %
    (0.51, 0.51, da.INCONCLUSIVE),     # a 1 p.p. gain is noise
])
def test_verdict_on_the_sentence_adaptation_claim(source, target, status):
    verdict, evidence = da.verdict(da.decomposition(_domain_results(0.50, source, target), ["docs"]))
    assert verdict == status
    assert "bare trained on docs" in evidence


def test_starts_that_disagree_give_a_mixed_verdict():
    results = {**_domain_results(0.50, 0.62, 0.70),
               **{name.replace("bare", "scratch"): entry for name, entry in _domain_results(0.50, 0.45, 0.70).items()}}
    verdict, evidence = da.verdict(da.decomposition(results, ["docs"]))
    assert verdict == da.MIXED
    assert "scratch trained on docs: -5.0 of +20.0 p.p." in evidence


def test_curves_are_grouped_by_start_and_training_corpus():
    results = _domain_results(0.5, 0.6, 0.7)
    results["bare/crops"]["summary"]["curve"] = [{"step": 0, "knn_euclidean": 0.5}]
    assert da.curves_by_start(results) == {"bare": {"trained on wiki": [{"step": 0, "knn_euclidean": 0.5}]}}


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
