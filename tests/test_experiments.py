"""The experiment layer's evaluation subsets: a learning curve scores fewer texts than the final score."""

from __future__ import annotations

import copy

import numpy as np

from textembed_utils import experiments
from textembed_utils.experiments import Run
from textembed_utils.profiles import load_profile

TINY = load_profile("tiny")


def with_curve_size(size: int | None) -> dict:
    profile = copy.deepcopy(TINY)
    profile["eval"]["curve_size"] = size
    return profile


def test_the_curve_subset_is_a_seeded_sample_of_the_scored_texts_with_their_labels():
    data = experiments.eval_set(TINY, experiments.profile_corpus(TINY), size=120)
    subset = experiments.curve_subset(with_curve_size(50), data)
    assert len(subset.texts) == 50
    position = {text: i for i, text in enumerate(data.texts)}
    rows = [position[text] for text in subset.texts]
    assert rows == sorted(rows)  # the scored texts' order is kept
    np.testing.assert_array_equal(subset.labels, data.labels[rows])
    again = experiments.curve_subset(with_curve_size(50), data)
    assert again.texts == subset.texts
    assert experiments.curve_subset(with_curve_size(None), data) is data
    assert experiments.curve_subset(with_curve_size(500), data) is data


def test_fit_scores_each_curve_point_on_the_curve_subset(fresh_storage, monkeypatch):
    corpus = experiments.profile_corpus(TINY)
    data = experiments.eval_set(TINY, corpus, size=120)
    scored = []
    real = experiments.knn_metrics

    def counting(encoder, texts, profile):
        scored.append(len(texts.texts))
        return real(encoder, texts, profile)

    monkeypatch.setattr(experiments, "knn_metrics", counting)
    result = experiments.fit(Run.of("bare", "crops", steps=2, eval_every=1), with_curve_size(40), corpus,
                             curve_data=data)
    assert [point["step"] for point in result.curve] == [0, 1, 2]
    assert scored == [40, 40, 40]
