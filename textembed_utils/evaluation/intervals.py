"""How sure an accuracy is: 95 % intervals, paired differences and the spread over training seeds.

Two sources of noise sit in every accuracy this book reports, and they add up:

- **Which texts were tested.** A trained model is a fixed function; its kNN or
  probe accuracy on the 10 % test split is the share of a sample of texts it
  gets right. Another draw of test texts from the same corpus would give another
  share, so the *test text* is the resampling unit: each is an independent
  Bernoulli trial of the same fixed model. ``wilson_interval`` is the closed-form
  binomial interval for one accuracy (good coverage even near 0 or 1 and on a few
  dozen texts); a bootstrap would resample the test texts instead.
- **Which model training produced.** Another training seed (batch order, crops,
  initialisation) gives another model. Test-text intervals say nothing about
  this; ``seed_spread`` summarises the same comparison repeated over training
  seeds, with a t interval over them.

Two models scored on the same test texts are compared with ``paired_difference``:
a bootstrap that resamples *texts*, keeping each text's pair of outcomes
together. Texts that both models get right (or both wrong) then cancel, so the
between-text variance, most of the variance of each accuracy alone, drops out
of the difference; two unpaired intervals that overlap can still hide a clear
paired difference.

Bootstraps use the percentile method of ``scipy.stats.bootstrap`` with
``RESAMPLES`` resamples and a fixed seed, so a rebuild reports the same
interval: 2,000 resamples of 1,000 texts take about 20 ms, and their Monte Carlo
error on the interval's ends (a few tenths of a percentage point at most) is
small against the interval's width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from ..errors import TextembedError

LEVEL = 0.95
RESAMPLES = 2_000
SEED = 0


@dataclass(frozen=True)
class Accuracy:
    """An accuracy (a fraction in [0, 1]), its interval, the number of test texts and how it was computed."""

    value: float
    low: float
    high: float
    n_test: int
    method: str
    level: float = LEVEL

    def percent(self, digits: int = 1) -> str:
        """E.g. ``84.3 % [82.0, 86.5], n = 904``."""
        return (f"{100 * self.value:.{digits}f} % [{100 * self.low:.{digits}f}, {100 * self.high:.{digits}f}], "
                f"n = {self.n_test:,}")

    def __str__(self) -> str:
        return self.percent()

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Difference:
    """Accuracy of a first model minus a second's on the same ``n_test`` texts, with its paired interval."""

    delta: float
    low: float
    high: float
    n_test: int
    level: float = LEVEL

    def __str__(self) -> str:
        return f"{100 * self.delta:+.1f} p.p. [{100 * self.low:+.1f}, {100 * self.high:+.1f}], n = {self.n_test:,}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Spread:
    """The mean of one figure over ``n`` training seeds, its standard deviation and t interval.

    With one seed there is no spread to estimate: ``sd``, ``low`` and ``high`` are None.
    """

    mean: float
    sd: float | None
    low: float | None
    high: float | None
    n: int
    level: float = LEVEL

    def __str__(self) -> str:
        if self.low is None:
            return f"{self.mean:.3g} (1 seed: no interval)"
        return f"{self.mean:.3g} ± {self.sd:.2g} sd [{self.low:.3g}, {self.high:.3g}], {self.n} seeds"

    def to_dict(self) -> dict:
        return asdict(self)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise TextembedError(f"Confidence level {level} asked for.", "use a level between 0 and 1, e.g. 0.95.")


def _per_text(values: Sequence, name: str = "correct") -> np.ndarray:
    """Per-text outcomes as a 1-D float array; at least two, or an error (one text has no spread to resample)."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) < 2:
        raise TextembedError(
            f"An interval needs one outcome per test text, at least two; '{name}' has shape {array.shape}.",
            "pass the per-text correctness of the whole test split (e.g. from knn_correct).",
        )
    return array


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / n`` (Wilson 1927), closed form.

    ``(p + z²/2n ± z √(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` with ``z`` the normal
    quantile of the level. Unlike the plain normal (Wald) interval it stays
    inside [0, 1] and keeps its coverage when the accuracy is near 1 or ``n`` small.
    """
    _check_level(level)
    if n < 1 or not 0 <= successes <= n:
        raise TextembedError(f"{successes} successes out of {n} trials.", "use n ≥ 1 and 0 ≤ successes ≤ n.")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p, z2n = successes / n, z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _percentile_bootstrap(samples: tuple[np.ndarray, ...], statistic, level: float, resamples: int,
                          seed: int) -> tuple[float, float]:
    _check_level(level)
    result = stats.bootstrap(samples, statistic, n_resamples=resamples, confidence_level=level,
                             method="percentile", paired=len(samples) > 1, vectorized=True, rng=seed)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def accuracy_with_interval(correct: Sequence[bool], level: float = LEVEL) -> Accuracy:
    """The accuracy of per-text outcomes ``correct`` with its Wilson interval and the number of test texts."""
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 1 or len(correct) == 0:
        raise TextembedError(f"No per-text outcomes to score (shape {correct.shape}).",
                             "pass the correctness of each test text, e.g. from knn_correct.")
    hits, n = int(correct.sum()), len(correct)
    low, high = wilson_interval(hits, n, level)
    return Accuracy(hits / n, low, high, n, "wilson", level)


def paired_difference(correct_a: Sequence, correct_b: Sequence, level: float = LEVEL, resamples: int = RESAMPLES,
                      seed: int = SEED) -> Difference:
    """``mean(correct_a) - mean(correct_b)`` with a paired percentile-bootstrap interval over the test texts.

    Both arrays hold one outcome per test text, in the same text order (two
    models scored on the same split). Outcomes may be booleans or numbers, so a
    contrast of several models also fits, e.g. ``paired_difference(source,
    (target + untrained) / 2)`` asks whether training on a source gives more
    than half of the in-domain gain.

    Only texts on which the models disagree move the difference. With a handful
    of them (fewer than about ten) the percentile interval is too narrow: 5 texts
    fixed and none broken out of 900 give an interval excluding 0, where
    McNemar's exact test (``scipy.stats.binomtest(5, 5)``) gives p = 0.06.
    """
    a, b = _per_text(correct_a, "correct_a"), _per_text(correct_b, "correct_b")
    if len(a) != len(b):
        raise TextembedError(
            f"A paired difference needs the same test texts, but the models were scored on {len(a)} and {len(b)}.",
            "score both models on the same split (same eval texts, split seed and test size).",
        )
    low, high = _percentile_bootstrap((a, b), _mean_difference, level, resamples, seed)
    return Difference(float(np.mean(a) - np.mean(b)), low, high, len(a), level)


@dataclass(frozen=True)
class Share:
    """A share of a gain (``value``, e.g. 0.8 = 80 %) with its interval, over ``n_test`` texts."""

    value: float
    low: float
    high: float
    n_test: int
    level: float = LEVEL

    def __str__(self) -> str:
        return f"{100 * self.value:.0f} % [{100 * self.low:.0f}, {100 * self.high:.0f}]"


def paired_share(before: Sequence, partway: Sequence, after: Sequence, level: float = LEVEL,
                 resamples: int = RESAMPLES, seed: int = SEED) -> Share:
    """Which share of the gain from ``before`` to ``after`` is reached at ``partway``, with a bootstrap interval.

    ``(mean(partway) - mean(before)) / (mean(after) - mean(before))`` over per-text
    outcomes of three models on the same test texts (e.g. a learning curve's first,
    100th-batch and last point). The texts are resampled together, as in
    ``paired_difference``. Written out instead of ``scipy.stats.bootstrap``: a
    resample whose gain is exactly zero has no share, and scipy cannot leave it out.
    """
    outcomes = [_per_text(x, name) for x, name in ((before, "before"), (partway, "partway"), (after, "after"))]
    if len({len(x) for x in outcomes}) != 1:
        raise TextembedError(
            f"A share of a gain needs the same test texts, but the models were scored on "
            f"{', '.join(str(len(x)) for x in outcomes)}.", "score all three on the same split.")
    _check_level(level)
    start, middle, end = (x.astype(float) for x in outcomes)
    gain = end.mean() - start.mean()
    if gain == 0:
        raise TextembedError("There is no gain to share: the models before and after score the same.",
                             "judge a share only where the gain itself is measurable.")
    picks = np.random.default_rng(seed).integers(len(start), size=(resamples, len(start)))
    gains = end[picks].mean(axis=1) - start[picks].mean(axis=1)
    kept = gains != 0
    shares = (middle[picks].mean(axis=1) - start[picks].mean(axis=1))[kept] / gains[kept]
    low, high = np.percentile(shares, [50 * (1 - level), 50 * (1 + level)])
    return Share(float((middle.mean() - start.mean()) / gain), float(low), float(high), len(start), level)


def seed_spread(values: Sequence[float], level: float = LEVEL) -> Spread:
    """Mean, sample standard deviation and t interval of one figure over training seeds.

    ``mean ± t(level, n-1) · sd / √n``: the interval for the mean over seeds,
    assuming seed-to-seed values scatter normally. One seed gives no interval.
    """
    _check_level(level)
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) == 0:
        raise TextembedError(f"No per-seed values (shape {array.shape}).", "pass one value per training seed.")
    mean = float(array.mean())
    if len(array) == 1:
        return Spread(mean, None, None, None, 1, level)
    sd = float(array.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, df=len(array) - 1)) * sd / math.sqrt(len(array))
    return Spread(mean, sd, mean - half, mean + half, len(array), level)
