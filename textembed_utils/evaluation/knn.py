"""Exact kNN classification accuracy, the paper's main in-domain metric (§3.3).

Written over chunked torch matrix products instead of scikit-learn's brute force
because it is the inner loop of every learning curve: the same predictions
(tested against ``KNeighborsClassifier(algorithm="brute")``), several times
faster, and memory bounded by ``chunk_size × n_train`` distances at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from ..errors import TextembedError

METRICS = ("euclidean", "cosine")


def _distances(queries: torch.Tensor, refs: torch.Tensor, ref_sq: torch.Tensor, metric: str) -> torch.Tensor:
    if metric == "cosine":
        return 1.0 - queries @ refs.T
    # ||q||² - 2 q·r + ||r||², the same expansion scikit-learn's euclidean_distances uses.
    q_sq = (queries * queries).sum(dim=1, keepdim=True)
    return (q_sq - 2.0 * queries @ refs.T + ref_sq).clamp_(min=0.0)


def knn_predict(
    train_x: np.ndarray,
    train_y: Sequence,
    test_x: np.ndarray,
    k: int = 10,
    metric: str = "euclidean",
    chunk_size: int = 1024,
) -> np.ndarray:
    """Majority label among the ``k`` nearest training points of each test point.

    Ties in the vote go to the smallest label (in sorted order), as in
    scikit-learn. Distances are computed in float64 for exact neighbour order.
    """
    if metric not in METRICS:
        raise TextembedError(f"Unknown kNN metric '{metric}'.", f"use one of: {', '.join(METRICS)}.")
    classes, codes = np.unique(np.asarray(train_y), return_inverse=True)
    if k > len(codes):
        raise TextembedError(
            f"k={k} neighbours asked for, but only {len(codes)} labelled training texts exist.",
            f"use k ≤ {len(codes)} or a larger labelled corpus.",
        )
    refs = torch.as_tensor(np.asarray(train_x), dtype=torch.float64)
    queries_all = torch.as_tensor(np.asarray(test_x), dtype=torch.float64)
    if metric == "cosine":
        refs = torch.nn.functional.normalize(refs, dim=1)
        queries_all = torch.nn.functional.normalize(queries_all, dim=1)
    ref_sq = (refs * refs).sum(dim=1).unsqueeze(0)
    codes_t = torch.as_tensor(codes)
    predictions = []
    for start in range(0, len(queries_all), chunk_size):
        dist = _distances(queries_all[start : start + chunk_size], refs, ref_sq, metric)
        neighbours = torch.topk(dist, k, dim=1, largest=False, sorted=True).indices
        votes = torch.zeros(len(dist), len(classes), dtype=torch.int64)
        votes.scatter_add_(1, codes_t[neighbours], torch.ones_like(neighbours))
        predictions.append(votes.argmax(dim=1))  # first maximum = smallest label
    return classes[torch.cat(predictions).numpy()] if predictions else classes[:0]


def split_indices(
    labels: Sequence, test_size: float = 0.1, seed: int = 42, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Train/test indices of a 90/10 split, stratified by label when every class allows it."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise TextembedError(
            f"All labelled texts belong to one class ('{classes[0] if len(classes) else ''}'), so "
            "classification accuracy is meaningless.",
            "use a label column with at least two classes.",
        )
    can_stratify = stratify and counts.min() >= 2
    return train_test_split(
        np.arange(len(labels)), test_size=test_size, random_state=seed,
        stratify=labels if can_stratify else None,
    )


def knn_accuracy(
    embeddings: np.ndarray,
    labels: Sequence,
    k: int = 10,
    metric: str = "euclidean",
    test_size: float = 0.1,
    seed: int = 42,
    stratify: bool = True,
) -> float:
    """kNN accuracy on a held-out 10% (paper: k = 10, Euclidean on raw embeddings, seed 42)."""
    labels = np.asarray(labels)
    if len(labels) != len(embeddings):
        raise TextembedError(
            f"{len(embeddings)} embeddings but {len(labels)} labels.", "pass one label per embedded text."
        )
    train_idx, test_idx = split_indices(labels, test_size, seed, stratify)
    pred = knn_predict(embeddings[train_idx], labels[train_idx], embeddings[test_idx], k, metric)
    return float(np.mean(pred == labels[test_idx]))
