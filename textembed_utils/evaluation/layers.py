"""Layer by layer (paper §4, Fig. 4b–c): how good each hidden state is, and how far training moved it.

``layer_scores`` scores the pooled output of every hidden state (layer 0 = the
embedding output, layer i = the output of transformer block i) with the same
``score`` as the final embeddings; ``linear_cka`` measures how similar two
representations of the same texts are, so ``1 − CKA`` between a layer before
and after training says how much training changed it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .scoring import EvalSpec, Scores, score


def layer_scores(per_layer: np.ndarray, labels: Sequence, spec: EvalSpec = EvalSpec()) -> list[Scores]:
    """kNN accuracy (Euclidean, cosine) of every layer of ``per_layer`` (layers, texts, dim), layer 0 first."""
    return [score(layer, labels, spec, probe=False) for layer in per_layer]


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centered kernel alignment of two representations of the same texts (Kornblith et al., 2019).

    1 for representations equal up to rotation and isotropic scaling, near 0 for unrelated ones.
    """
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x, "fro") ** 2
    return float(cross / (np.linalg.norm(x.T @ x, "fro") * np.linalg.norm(y.T @ y, "fro")))
