"""Intervals against independent computations: scipy's binomial test, normal approximations, simulated coverage,
scipy's t distribution, and the per-text outcomes they are computed from against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import (
    knn_accuracy, knn_correct, linear_probe_correct, split_indices,
)
from textembed_utils.evaluation.intervals import (
    Accuracy, accuracy_with_interval, paired_difference, seed_spread, wilson_interval,
)


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("successes, n", [(0, 10), (10, 10), (1, 30), (80, 100), (733, 904), (8000, 9033)])
def test_wilson_matches_scipy_binomtest(successes, n, level):
    want = stats.binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    assert wilson_interval(successes, n, level) == pytest.approx((want.low, want.high), abs=1e-12)


def test_accuracy_with_interval_is_the_mean_with_its_wilson_interval():
    correct = np.r_[np.ones(733, bool), np.zeros(171, bool)]
    acc = accuracy_with_interval(correct)
    assert (acc.value, acc.n_test, acc.method) == (733 / 904, 904, "wilson")
    assert (acc.low, acc.high) == wilson_interval(733, 904)
    assert acc.percent() == str(acc) == "81.1 % [78.4, 83.5], n = 904"
    assert Accuracy(0.843, 0.820, 0.865, 9033, "wilson").percent() == "84.3 % [82.0, 86.5], n = 9,033"


def bootstrap_interval(correct, resamples=2_000, seed=0):
    """The percentile bootstrap of one accuracy: the paired bootstrap against a model that gets nothing right."""
    correct = np.asarray(correct)
    diff = paired_difference(correct, np.zeros(len(correct)), resamples=resamples, seed=seed)
    return diff.low, diff.high


def test_bootstrap_is_close_to_wilson_for_a_thousand_texts():
    """n = 1000, p = 0.8: both are ±2.5 p.p.; each end agrees within 0.5 p.p.

    (Monte Carlo error of 2,000 resamples ≈ 0.15 p.p., the 1/n grid 0.1 p.p., and
    Wilson's slight shift towards 0.5 a few hundredths.)"""
    correct = np.r_[np.ones(800, bool), np.zeros(200, bool)]
    np.random.default_rng(0).shuffle(correct)
    assert bootstrap_interval(correct) == pytest.approx(wilson_interval(800, 1000), abs=0.005)


def test_bootstrap_and_wilson_cover_the_true_accuracy_in_about_95_percent_of_draws():
    """300 seeded test sets of 200 texts at p = 0.8: coverage within 0.91-0.99 (±3 binomial s.e. of 300 draws)."""
    rng, p, n, draws = np.random.default_rng(12), 0.8, 200, 300
    covered = {"bootstrap": 0, "wilson": 0}
    for _ in range(draws):
        correct = rng.random(n) < p
        low, high = bootstrap_interval(correct, resamples=1_000)
        covered["bootstrap"] += low <= p <= high
        acc = accuracy_with_interval(correct)
        covered["wilson"] += acc.low <= p <= acc.high
    for method, hits in covered.items():
        assert 0.91 <= hits / draws <= 0.99, (method, hits / draws)


def test_paired_difference_of_identical_outcomes_is_exactly_zero():
    correct = np.random.default_rng(3).random(500) < 0.7
    diff = paired_difference(correct, correct.copy())
    assert (diff.delta, diff.low, diff.high, diff.n_test) == (0.0, 0.0, 0.0, 500)


def test_paired_difference_matches_the_normal_approximation_of_discordant_pairs():
    """Var(mean(a - b)) = (p10 + p01 - (p10 - p01)²) / n in closed form (McNemar's setting)."""
    rng = np.random.default_rng(4)
    n = 2_000
    a = rng.random(n) < 0.8
    b = np.where(rng.random(n) < 0.85, a, ~a)  # b agrees with a on 85 % of the texts
    diff = paired_difference(a, b)
    p10, p01 = np.mean(a & ~b), np.mean(~a & b)
    half = stats.norm.ppf(0.975) * math.sqrt((p10 + p01 - (p10 - p01) ** 2) / n)
    assert diff.delta == pytest.approx(p10 - p01)
    assert (diff.low, diff.high) == pytest.approx((diff.delta - half, diff.delta + half), abs=0.003)


def test_pairing_removes_the_between_text_variance():
    """Two models that agree on most texts: the paired interval is far narrower than unpaired intervals suggest."""
    rng = np.random.default_rng(5)
    a = rng.random(900) < 0.75
    b = a.copy()
    b[np.flatnonzero(~a)[:30]] = True  # b fixes 30 of a's errors and nothing else
    diff = paired_difference(b, a)
    acc_a, acc_b = accuracy_with_interval(a), accuracy_with_interval(b)
    assert acc_a.high > acc_b.low  # the two accuracies' intervals overlap...
    assert diff.low > 0  # ...yet the paired difference excludes 0
    assert diff.high - diff.low < 0.5 * (acc_b.high - acc_b.low)


def test_paired_difference_accepts_a_contrast_of_numeric_outcomes():
    rng = np.random.default_rng(6)
    source, target, untrained = (rng.random(400) < p for p in (0.7, 0.8, 0.5))
    diff = paired_difference(source, (target.astype(float) + untrained) / 2)
    assert diff.delta == pytest.approx(source.mean() - (target.mean() + untrained.mean()) / 2)
    assert diff.low < diff.delta < diff.high


def test_bootstrap_intervals_are_reproducible_and_seeded():
    correct = np.random.default_rng(7).random(300) < 0.6
    assert bootstrap_interval(correct) == bootstrap_interval(correct)
    assert bootstrap_interval(correct, seed=1) != bootstrap_interval(correct, seed=2)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(TextembedError, match="same test texts"):
        paired_difference(np.ones(10, bool), np.ones(11, bool))
    with pytest.raises(TextembedError, match="at least two"):
        bootstrap_interval([True])
    with pytest.raises(TextembedError, match="between 0 and 1"):
        wilson_interval(3, 10, level=95)
    with pytest.raises(TextembedError, match="0 ≤ successes ≤ n"):
        wilson_interval(11, 10)
    with pytest.raises(TextembedError, match="No per-text outcomes"):
        accuracy_with_interval([])


def test_seed_spread_is_the_t_interval_over_seeds():
    values = [0.812, 0.845, 0.791, 0.830]
    spread = seed_spread(values)
    mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
    half = stats.t.ppf(0.975, df=3) * sd / 2
    assert (spread.mean, spread.sd, spread.n) == (pytest.approx(mean), pytest.approx(sd), 4)
    assert (spread.low, spread.high) == pytest.approx((mean - half, mean + half))
    want = stats.t.interval(0.95, df=3, loc=mean, scale=stats.sem(values))
    assert (spread.low, spread.high) == pytest.approx(want)


def test_one_seed_gives_no_interval():
    spread = seed_spread([0.8])
    assert (spread.mean, spread.sd, spread.low, spread.high, spread.n) == (0.8, None, None, None, 1)
    assert "no interval" in str(spread)


# The per-text outcomes the intervals are computed from.

def blobs(seed: int = 0, n: int = 400, classes: int = 4):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    return rng.normal(size=(n, 12)) + 1.2 * np.eye(classes, 12)[labels], labels


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_knn_correct_matches_sklearn_text_by_text_and_averages_to_knn_accuracy(metric):
    embeddings, labels = blobs()
    correct = knn_correct(embeddings, labels, metric=metric)
    train_idx, test_idx = split_indices(labels)
    clf = KNeighborsClassifier(n_neighbors=10, algorithm="brute", metric=metric)
    want = clf.fit(embeddings[train_idx], labels[train_idx]).predict(embeddings[test_idx]) == labels[test_idx]
    assert correct.dtype == bool and len(correct) == len(test_idx) == 40
    np.testing.assert_array_equal(correct, want)
    assert knn_accuracy(embeddings, labels, metric=metric) == float(np.mean(correct))
    assert 0 < correct.mean() < 1  # a real mix of hits and misses, so the comparison means something


def test_linear_probe_correct_matches_sklearn_text_by_text():
    embeddings, labels = blobs(seed=1)
    correct = linear_probe_correct(embeddings, labels)
    train_idx, test_idx = split_indices(labels)
    clf = make_pipeline(StandardScaler(),
                        LogisticRegression(C=np.inf, solver="saga", tol=1e-2, max_iter=1000, random_state=42))
    want = clf.fit(embeddings[train_idx], labels[train_idx]).predict(embeddings[test_idx]) == labels[test_idx]
    np.testing.assert_array_equal(correct, want)
