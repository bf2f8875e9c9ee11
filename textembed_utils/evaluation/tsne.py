"""2-D t-SNE maps of embeddings with openTSNE (the paper's Fig. 2 settings)."""

from __future__ import annotations

import numpy as np

SINGLE_THREAD_BELOW = 1000


def tsne_map(embeddings: np.ndarray, seed: int = 42, n_jobs: int = 2, perplexity: float = 30.0) -> np.ndarray:
    """openTSNE ``TSNE(random_state=seed)`` with its defaults (PCA init); returns (n, 2).

    Maps of fewer than ``SINGLE_THREAD_BELOW`` points run on one thread: there the
    threads' synchronisation costs more than it saves (0.5 s vs 30 s for 180 points
    on a busy 2-core machine).
    """
    from openTSNE import TSNE

    perplexity = min(perplexity, max(2.0, (len(embeddings) - 1) / 3.0))
    n_jobs = 1 if len(embeddings) < SINGLE_THREAD_BELOW else n_jobs
    return np.asarray(TSNE(random_state=seed, n_jobs=n_jobs, perplexity=perplexity).fit(embeddings))
