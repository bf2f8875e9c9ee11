"""The neighbours behind kNN accuracy (evaluation.neighbours), checked against a brute-force search."""

from __future__ import annotations

import numpy as np

from textembed_utils.evaluation.knn import knn_correct
from textembed_utils.evaluation.neighbours import neighbour_table
from textembed_utils.evaluation.scoring import EvalSpec


def test_the_table_lists_the_k_nearest_training_texts_and_their_vote():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 40)
    vectors = rng.normal(size=(120, 5)) + 3 * np.array([{"a": 0, "b": 1, "c": 2}[x] for x in labels])[:, None]
    texts = [f"text {i}" for i in range(120)]
    spec = EvalSpec(k=5)
    train_idx, test_idx = spec.split(labels)
    correct = knn_correct(vectors, labels, k=5)
    for query in range(3):
        table = neighbour_table(vectors, texts, labels, query, spec)
        distances = np.linalg.norm(vectors[train_idx] - vectors[test_idx[query]], axis=1)
        nearest = train_idx[np.argsort(distances)[:5]]
        assert table["text"].tolist() == [texts[i] for i in nearest]
        assert table["same label"].tolist() == [labels[i] == labels[test_idx[query]] for i in nearest]
        assert (table.attrs["vote"] == labels[test_idx[query]]) == correct[query]  # what the accuracy counts
        assert table.attrs["query"]["text"] == texts[test_idx[query]]
