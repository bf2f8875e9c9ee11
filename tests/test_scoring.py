"""One way to score embeddings (evaluation.scoring) and the tables and findings built on it."""

from __future__ import annotations

import numpy as np
import pytest
from scored import evaluated, nested
from sklearn.neighbors import KNeighborsClassifier

from textembed_utils.evaluation.intervals import wilson_interval
from textembed_utils.evaluation.scoring import EvalSpec, eval_sample, score
from textembed_utils.experiments import Run
from textembed_utils.profiles import load_profile
from textembed_utils.results import tables
from textembed_utils.results.findings import compare
from textembed_utils.results.verdicts import Verdict


def test_the_spec_is_the_papers_evaluation_and_reads_a_profile():
    assert EvalSpec() == EvalSpec(k=10, test_size=0.1, seed=42, stratify=False)  # the authors' split
    paper = EvalSpec.from_profile(load_profile("paper"))
    assert (paper.k, paper.stratify) == (10, False)
    assert EvalSpec.from_profile(load_profile("embedded")).stratify  # the embedded profile's stated deviation


def test_the_sample_is_seeded_sorted_and_skips_unlabelled_texts():
    labels = ["a", None, "b", "a", None, "b"] * 10
    all_labelled = eval_sample(labels, None, seed=0)
    assert len(all_labelled) == 40 and all(labels[i] is not None for i in all_labelled)
    sample = eval_sample(labels, 10, seed=3)
    assert len(sample) == 10 and list(sample) == sorted(sample) and set(sample) <= set(all_labelled)
    assert list(sample) == list(eval_sample(labels, 10, seed=3))


def test_score_matches_scikit_learn_and_carries_wilson_intervals():
    rng = np.random.default_rng(1)
    labels = np.repeat(["a", "b", "c"], 50)
    vectors = rng.normal(size=(150, 6)) + np.array([{"a": 0, "b": 1.5, "c": 3}[x] for x in labels])[:, None]
    scores = score(vectors, labels, EvalSpec(k=5))
    train_idx, test_idx = EvalSpec(k=5).split(labels)
    knn = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(vectors[train_idx], labels[train_idx])
    want = knn.predict(vectors[test_idx]) == labels[test_idx]
    np.testing.assert_array_equal(scores.correct["knn_euclidean"], want)
    accuracy = scores.accuracies["knn_euclidean"]
    assert accuracy.value == pytest.approx(want.mean()) and accuracy.n_test == len(test_idx) == scores.n_test
    assert (accuracy.low, accuracy.high) == pytest.approx(wilson_interval(int(want.sum()), len(want)))
    assert set(scores.values()) == {"knn_euclidean", "knn_cosine", "linear_probe"}
    assert [row["metric"] for row in scores.rows()] == ["knn_euclidean", "knn_cosine", "linear_probe"]


def test_tables_show_percent_with_interval_and_tidy_rows_name_each_run():
    low, high = nested([0.5, 0.75])
    results = {Run("bare"): evaluated(Run("bare"), low), Run("bare", "crops"): evaluated(Run("bare", "crops"), high)}
    row = tables.accuracy_columns(results[Run("bare", "crops")].scores.accuracies)
    assert row["kNN Euclidean (%)"].startswith("75.0 (") and row["test texts"] == 400
    rows = tables.tidy_rows(results, part="runs")
    assert [(r["run"], r["start"], r["augmentation"], r["part"]) for r in rows] == [
        ("bare/untrained", "bare", "untrained", "runs"), ("bare/crops", "bare", "crops", "runs")]
    finding = compare(results[Run("bare", "crops")], results[Run("bare")], "knn_euclidean", claim="crops help")
    assert finding.difference == pytest.approx(0.25) and finding.verdict is Verdict.HOLDS
    assert "+25.0 p.p." in finding.sentence() and "400 test texts" in finding.sentence()
