"""2-D t-SNE maps of embeddings with openTSNE (the paper's Fig. 2 settings)."""

from __future__ import annotations

import numpy as np


def tsne_map(embeddings: np.ndarray, seed: int = 42, n_jobs: int = 2, perplexity: float = 30.0) -> np.ndarray:
    """openTSNE ``TSNE(random_state=seed)`` with its defaults (PCA init); returns (n, 2)."""
    from openTSNE import TSNE

    perplexity = min(perplexity, max(2.0, (len(embeddings) - 1) / 3.0))
    return np.asarray(TSNE(random_state=seed, n_jobs=n_jobs, perplexity=perplexity).fit(embeddings))
