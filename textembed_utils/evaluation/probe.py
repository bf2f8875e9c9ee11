"""Linear-probe accuracy: how linearly separable the classes are (the paper's second metric)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .knn import split_indices


def linear_probe_correct(
    embeddings: np.ndarray,
    labels: Sequence,
    test_size: float = 0.1,
    seed: int = 42,
    stratify: bool = False,
    max_iter: int = 1000,
) -> np.ndarray:
    """Whether StandardScaler + unregularised logistic regression gets each held-out text right.

    Trained on the same 90/10 split as kNN; the outcomes are in the test split's
    order, so they pair text by text with ``knn_correct``'s. The authors used
    ``LogisticRegression(penalty=None, solver="saga", tol=1e-2)``; ``C=inf`` is
    today's spelling of "no penalty".
    """
    labels = np.asarray(labels)
    train_idx, test_idx = split_indices(labels, test_size, seed, stratify)
    clf = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=np.inf, solver="saga", tol=1e-2, max_iter=max_iter, random_state=seed),
    )
    clf.fit(embeddings[train_idx], labels[train_idx])
    return clf.predict(embeddings[test_idx]) == labels[test_idx]
