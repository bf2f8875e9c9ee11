"""Exact kNN: the same predictions as scikit-learn's brute force, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import knn_accuracy, knn_predict, split_indices


def sklearn_predict(train_x, train_y, test_x, k=10, metric="euclidean"):
    clf = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric=metric)
    return clf.fit(train_x, train_y).predict(test_x)


def tie_heavy_data(seed: int, n_train: int = 400, n_test: int = 120, dim: int = 16, classes: int = 2):
    """Random data with the ties that matter and none that make kNN itself ambiguous.

    - duplicated training points (with the same label, as a duplicated text has);
    - test points that coincide with training points (distance exactly 0);
    - two classes and an even k, so 5–5 vote ties are frequent.
    Duplicates with *different* labels straddling the k-th neighbour are left out on
    purpose: there the k nearest set is not unique and scikit-learn picks by heap order.
    """
    rng = np.random.default_rng(seed)
    train_x = rng.normal(size=(n_train, dim))
    train_y = rng.integers(0, classes, n_train)
    train_x[:40], train_y[:40] = train_x[40:80], train_y[40:80]
    test_x = rng.normal(size=(n_test, dim))
    test_x[:20] = train_x[100:120]
    return train_x, train_y, test_x


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("seed", range(6))
def test_same_predictions_as_sklearn_brute_force(metric, seed):
    train_x, train_y, test_x = tie_heavy_data(seed)
    ours = knn_predict(train_x, train_y, test_x, k=10, metric=metric)
    np.testing.assert_array_equal(ours, sklearn_predict(train_x, train_y, test_x, 10, metric))


def test_vote_ties_go_to_the_smallest_label_like_sklearn():
    train_x = np.array([[0.0], [1.0], [-1.0], [2.0]])
    train_y = np.array(["b", "a", "b", "a"])
    test_x = np.array([[0.1]])
    assert knn_predict(train_x, train_y, test_x, k=4)[0] == "a"
    assert sklearn_predict(train_x, train_y, test_x, 4)[0] == "a"


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_float32_embeddings_string_labels_and_small_chunks(metric):
    rng = np.random.default_rng(0)
    train_x = rng.normal(size=(700, 48)).astype(np.float32)
    test_x = rng.normal(size=(90, 48)).astype(np.float32)
    train_y = np.array(["topic %d" % i for i in rng.integers(0, 7, 700)], dtype=object)
    want = sklearn_predict(train_x.astype(np.float64), train_y, test_x.astype(np.float64), 10, metric)
    for chunk in (1, 7, 1024):
        np.testing.assert_array_equal(knn_predict(train_x, train_y, test_x, 10, metric, chunk_size=chunk), want)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("block", [1, 7, 26, 400])
def test_reference_blocks_of_any_size_give_the_same_neighbours(monkeypatch, metric, block):
    """Candidates picked block by block (even blocks smaller than k + margin) are the overall best."""
    from textembed_utils.evaluation import knn as knn_module

    monkeypatch.setattr(knn_module, "REFERENCE_BLOCK", block)
    train_x, train_y, test_x = tie_heavy_data(seed=3)
    ours = knn_predict(train_x.astype(np.float32), train_y, test_x.astype(np.float32), k=10, metric=metric)
    np.testing.assert_array_equal(ours, sklearn_predict(train_x.astype(np.float32), train_y,
                                                        test_x.astype(np.float32), 10, metric))


def test_accuracy_with_its_defaults_uses_the_papers_unstratified_split():
    # The authors: train_test_split(test_size=0.1, random_state=42), no stratify.
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 300)
    embeddings = rng.normal(size=(300, 8)) + labels[:, None] * 1.5
    train_idx, test_idx = train_test_split(np.arange(300), test_size=0.1, random_state=42)
    want = np.mean(sklearn_predict(embeddings[train_idx], labels[train_idx], embeddings[test_idx]) == labels[test_idx])
    assert knn_accuracy(embeddings, labels) == pytest.approx(want)
    ours_train, ours_test = split_indices(labels)
    np.testing.assert_array_equal(ours_test, test_idx)
    assert len(ours_test) == 30 and not set(ours_train) & set(ours_test)


def test_a_stratified_split_is_there_when_asked():
    labels = np.random.default_rng(1).integers(0, 3, 300)
    _, want = train_test_split(np.arange(300), test_size=0.1, random_state=42, stratify=labels)
    np.testing.assert_array_equal(split_indices(labels, stratify=True)[1], want)


def test_unstratified_split_when_a_side_is_smaller_than_the_number_of_classes():
    labels = np.repeat(np.arange(10), 3)  # 30 texts, 10 classes: a 3-text test side cannot hold them all
    train_idx, test_idx = split_indices(labels, stratify=True)
    assert len(test_idx) == 3 and len(train_idx) == 27
    embeddings = np.random.default_rng(0).normal(size=(30, 4))
    assert 0.0 <= knn_accuracy(embeddings, labels, k=3) <= 1.0


def test_k_equal_to_the_training_size_is_allowed_one_more_is_an_error():
    train_x, train_y, test_x = np.eye(5), np.array([0, 0, 1, 1, 1]), np.eye(5)[:2]
    assert list(knn_predict(train_x, train_y, test_x, k=5)) == [1, 1]
    with pytest.raises(TextembedError, match="only 5 labelled training texts"):
        knn_predict(train_x, train_y, test_x, k=6)


@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one_is_an_error(k):
    with pytest.raises(TextembedError, match="k ≥ 1"):
        knn_predict(np.eye(3), [0, 1, 1], np.eye(3), k=k)


def test_k_at_least_the_number_of_labelled_texts():
    embeddings = np.random.default_rng(0).normal(size=(12, 4))
    labels = np.array([0, 1] * 6)
    for k in (12, 11):
        with pytest.raises(TextembedError) as err:
            knn_accuracy(embeddings, labels, k=k)
        assert "labelled training texts" in err.value.problem and "k ≤" in err.value.fix


def test_one_class_is_an_error():
    with pytest.raises(TextembedError, match="one class"):
        knn_accuracy(np.eye(20), ["same"] * 20)


def test_embeddings_of_different_widths_are_refused():
    with pytest.raises(TextembedError) as err:
        knn_predict(np.zeros((20, 384)), [0, 1] * 10, np.zeros((3, 64)))
    assert "384" in err.value.problem and "64" in err.value.problem and "cache" in err.value.fix


def test_mismatched_labels_and_unknown_metric():
    with pytest.raises(TextembedError, match="one label per embedded text"):
        knn_accuracy(np.zeros((10, 2)), [0, 1] * 4)
    with pytest.raises(TextembedError, match="euclidean, cosine"):
        knn_predict(np.eye(3), [0, 1, 1], np.eye(3), k=1, metric="manhattan")
