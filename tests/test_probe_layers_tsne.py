"""Linear probe, layer-wise kNN, t-SNE maps and the TF-IDF baseline on tiny data."""

from __future__ import annotations

import numpy as np
import pytest

from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import encode, layer_scores, linear_cka, linear_probe_correct, tfidf_knn_correct, tsne_map
from textembed_utils.evaluation.scoring import EvalSpec


@pytest.fixture(scope="module")
def blobs():
    """Three well-separated Gaussian blobs in 10 dimensions, 60 points each."""
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 60)
    centres = {"a": 0.0, "b": 6.0, "c": -6.0}
    return rng.normal(size=(180, 10)) + np.array([centres[lab] for lab in labels])[:, None], labels


def test_linear_probe_separates_blobs_and_fails_on_noise(blobs):
    embeddings, labels = blobs
    assert linear_probe_correct(embeddings, labels).mean() == 1.0
    noise = np.random.default_rng(1).normal(size=embeddings.shape)
    assert linear_probe_correct(noise, labels).mean() < 0.7


def test_linear_probe_one_class_is_an_error():
    with pytest.raises(TextembedError, match="one class"):
        linear_probe_correct(np.eye(10), ["x"] * 10)


def test_layer_scores_give_one_accuracy_per_hidden_state(tiny_encoder, toy_corpus):
    per_layer = encode(tiny_encoder, toy_corpus.texts, all_layers=True, progress=False)
    accuracies = [s["knn_euclidean"] for s in layer_scores(per_layer, toy_corpus.labels, EvalSpec(k=3))]
    assert len(accuracies) == tiny_encoder.num_layers + 1 == 3
    assert all(0.0 <= a <= 1.0 for a in accuracies)
    # Layer 0 is the embedding output: mean of token embeddings of two disjoint vocabularies.
    assert accuracies[0] == 1.0


def test_tsne_map_shape_and_seed(blobs):
    embeddings, labels = blobs
    first = tsne_map(embeddings, seed=3)
    assert first.shape == (180, 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, tsne_map(embeddings, seed=3))
    # Each blob stays together: its points are closer to their own centre than to the others'.
    centres = {lab: first[labels == lab].mean(0) for lab in "abc"}
    nearest = [min(centres, key=lambda c: np.linalg.norm(p - centres[c])) for p in first]
    assert np.mean(np.array(nearest) == labels) > 0.95


def test_tsne_map_of_a_handful_of_points_lowers_the_perplexity():
    assert tsne_map(np.random.default_rng(0).normal(size=(12, 5))).shape == (12, 2)


def test_tfidf_baseline_separates_disjoint_vocabularies(toy_corpus):
    assert tfidf_knn_correct(toy_corpus.texts, toy_corpus.labels, k=3).all()


def test_linear_cka_is_one_for_rotations_and_scalings_and_small_for_unrelated_vectors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16))
    rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3.0 * x @ rotation + 5.0) == pytest.approx(1.0)
    assert linear_cka(x, rng.normal(size=(200, 16))) < 0.2
