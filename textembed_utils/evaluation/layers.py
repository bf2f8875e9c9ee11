"""Layer-wise representation quality (paper §4, Fig. 4b–c)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..models import TextEncoder
from .encode import encode
from .knn import knn_accuracy


def layerwise_knn(
    encoder: TextEncoder,
    texts: Sequence[str],
    labels: Sequence,
    *,
    k: int = 10,
    metric: str = "euclidean",
    batch_size: int = 64,
    progress: bool = True,
) -> list[float]:
    """kNN accuracy of the pooled output of every hidden state, embeddings (layer 0) first."""
    per_layer = encode(encoder, texts, batch_size=batch_size, all_layers=True, progress=progress,
                       desc="Encoding all layers")
    labels = np.asarray(labels)
    return [knn_accuracy(layer, labels, k=k, metric=metric) for layer in per_layer]
