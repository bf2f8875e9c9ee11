"""The neighbours behind a kNN accuracy: which training texts vote for a test text's class.

kNN accuracy counts, over the test split, how often the majority label of a
text's k nearest training texts is its own. ``neighbour_table`` shows that
vote for a few test texts, so a reader sees what the number counts.
scikit-learn's ``NearestNeighbors`` does the search: a handful of queries
needs no custom kernel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from .scoring import EvalSpec


def _snippet(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def neighbour_table(vectors: np.ndarray, texts: Sequence[str], labels: Sequence, query: int,
                    spec: EvalSpec = EvalSpec(), metric: str = "euclidean", width: int = 70) -> pd.DataFrame:
    """The ``spec.k`` nearest training texts of test text number ``query`` (of the split's test side).

    One row per neighbour, nearest first: its label, whether it matches the
    query's label, and the start of its text. ``attrs["vote"]`` holds the
    majority label (ties go to the nearest, as in the accuracy's own rule).
    """
    labels = np.asarray(labels, dtype=object)
    train_idx, test_idx = spec.split(labels)
    target = test_idx[query]
    search = NearestNeighbors(n_neighbors=spec.k, metric=metric).fit(vectors[train_idx])
    _, found = search.kneighbors(vectors[target : target + 1])
    rows = [{"label": labels[train_idx[i]], "same label": labels[train_idx[i]] == labels[target],
             "text": _snippet(texts[train_idx[i]], width)} for i in found[0]]
    frame = pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="rank"))
    votes = Counter(frame["label"])
    best = max(votes.values())
    frame.attrs["vote"] = next(label for label in frame["label"] if votes[label] == best)
    frame.attrs["query"] = {"label": labels[target], "text": _snippet(texts[target], 2 * width)}
    return frame
