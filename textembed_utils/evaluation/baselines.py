"""TF-IDF baseline: what the dense embeddings have to beat."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import KNeighborsClassifier

from .knn import split_indices


def tfidf_knn_accuracy(
    texts: Sequence[str], labels: Sequence, k: int = 10, seed: int = 42, stratify: bool = True
) -> float:
    """kNN accuracy (cosine) of TF-IDF vectors on the same 90/10 split as the embeddings.

    scikit-learn's sparse brute-force kNN is used directly here: our dense torch kNN
    would have to densify a vocabulary-wide matrix.
    """
    labels = np.asarray(labels)
    train_idx, test_idx = split_indices(labels, 0.1, seed, stratify)
    vectors = TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english").fit_transform(texts)
    clf = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
    clf.fit(vectors[train_idx], labels[train_idx])
    return float(clf.score(vectors[test_idx], labels[test_idx]))
