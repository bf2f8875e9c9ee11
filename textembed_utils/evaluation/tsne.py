"""2-D t-SNE maps of embeddings with openTSNE (the paper's Fig. 2 settings).

A map of a large corpus shows a seeded random sample of ``TSNE_MAX_POINTS``
texts (``tsne_sample``): t-SNE's time and memory grow at least linearly with the
points (about 14 s for 10k and, extrapolated, 90 s for 100k on two cores;
benchmarks/bench_scaling.py), its input is copied in float64, and a scatter of
more than 50k points shows no more structure than one of 50k.
"""

from __future__ import annotations

import numpy as np

SINGLE_THREAD_BELOW = 1000
TSNE_MAX_POINTS = 50_000


def tsne_sample(n: int, max_points: int = TSNE_MAX_POINTS, seed: int = 42) -> tuple[np.ndarray, str | None]:
    """Sorted indices of the points a map of ``n`` shows, and a note when they are a sample.

    All ``n`` points (note None) up to ``max_points``; above it a seeded random
    subset of ``max_points``, and a note saying so, to print under the map.
    """
    if n <= max_points:
        return np.arange(n), None
    idx = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
    return idx, (f"t-SNE of a random sample of {max_points:,} of the {n:,} texts (seed {seed}): "
                 f"maps above {max_points:,} points are subsampled to bound time and memory.")


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
