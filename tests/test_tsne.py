"""t-SNE maps of large corpora show a seeded sample, with a note (issue 14)."""

from __future__ import annotations

import numpy as np

from textembed_utils.evaluation.tsne import TSNE_MAX_POINTS, tsne_map, tsne_sample


def test_up_to_the_limit_every_point_is_mapped_without_a_note():
    idx, note = tsne_sample(TSNE_MAX_POINTS)
    assert note is None and np.array_equal(idx, np.arange(TSNE_MAX_POINTS))


def test_above_the_limit_a_seeded_sample_with_a_note():
    idx, note = tsne_sample(500_000, seed=7)
    assert len(idx) == TSNE_MAX_POINTS == len(np.unique(idx)) and np.all(np.diff(idx) > 0) and idx[-1] < 500_000
    assert np.array_equal(idx, tsne_sample(500_000, seed=7)[0]) and not np.array_equal(idx, tsne_sample(500_000)[0])
    assert "random sample of 50,000 of the 500,000 texts (seed 7)" in note


def test_the_sample_is_what_gets_mapped():
    vectors = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    idx, note = tsne_sample(len(vectors), max_points=120)
    coords = tsne_map(vectors[idx], seed=0)
    assert coords.shape == (120, 2) and np.isfinite(coords).all() and "120 of the 300" in note
