"""TF-IDF baseline: what the dense embeddings have to beat."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import KNeighborsClassifier

from .knn import split_indices


def tfidf_vectorizer() -> TfidfVectorizer:
    """The baseline's TF-IDF settings: sublinear term frequencies, words seen in ≥ 2 texts, no English stop words."""
    return TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english")


def tfidf_knn_correct(
    texts: Sequence[str], labels: Sequence, k: int = 10, seed: int = 42, stratify: bool = False,
    test_size: float = 0.1,
) -> np.ndarray:
    """Per test text (in the split's order), whether cosine kNN on TF-IDF vectors gets its class right.

    The same 90/10 split as the embeddings, so the baseline can be compared text
    by text. scikit-learn's sparse brute-force kNN is used directly here: our dense
    torch kNN would have to densify a vocabulary-wide matrix.
    """
    labels = np.asarray(labels)
    train_idx, test_idx = split_indices(labels, test_size, seed, stratify)
    vectors = tfidf_vectorizer().fit_transform(texts)
    clf = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
    clf.fit(vectors[train_idx], labels[train_idx])
    return clf.predict(vectors[test_idx]) == labels[test_idx]
