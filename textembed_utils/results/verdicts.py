"""Whether one comparison went the paper's way: one rule, read off a paired interval.

A comparison is a difference with an expected sign ("crops beat dropout": crops
minus dropout > 0). It *holds* only when the difference has the paper's sign and
its 95 % interval (``evaluation.intervals.paired_difference``) excludes 0; an
interval that contains 0 is *within noise*, whatever the sign of the point
estimate; an interval wholly on the other side is *opposite*. No fixed
percentage-point threshold: the interval already says how large a difference
this many test texts can resolve.

That is a comparison's word, not a claim's: whether a claim of the paper is
reproduced, or only consistent on a proxy, is ``results.claims``'s judgement,
which knows what the claim says and which setup measured it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Protocol

from ..errors import TextembedError


class Verdict(str, Enum):
    """The status of one claim; its value is the word the book prints (and records store)."""

    HOLDS = "holds"
    WITHIN_NOISE = "within noise"
    OPPOSITE = "opposite"
    MIXED = "mixed"  # several comparisons of one claim (e.g. one per start) disagree
    NOT_MEASURED = "not measured"

    def __str__(self) -> str:
        return self.value


class Interval(Protocol):
    """What a verdict reads: a point estimate and its interval (``intervals.Difference`` has them)."""

    delta: float
    low: float
    high: float


def _check_sign(expected_sign: int) -> None:
    if expected_sign not in (1, -1):
        raise TextembedError(f"expected_sign={expected_sign}.",
                             "use +1 (the paper expects a positive difference) or -1 (a negative one).")


def verdict(difference: Interval | None, expected_sign: int = 1) -> Verdict:
    """The verdict on a difference whose paper sign is ``expected_sign``; None (not run) → NOT_MEASURED."""
    _check_sign(expected_sign)
    if difference is None:
        return Verdict.NOT_MEASURED
    low, high = sorted((expected_sign * difference.low, expected_sign * difference.high))
    if low > 0:
        return Verdict.HOLDS
    if high < 0:
        return Verdict.OPPOSITE
    return Verdict.WITHIN_NOISE


def combine(verdicts: Iterable[Verdict]) -> Verdict:
    """One verdict for a claim tested several times (per start, per source): the common one, else MIXED.

    Comparisons that were not measured are left out; none measured → NOT_MEASURED.
    """
    measured = {v for v in verdicts if v is not Verdict.NOT_MEASURED}
    if not measured:
        return Verdict.NOT_MEASURED
    return measured.pop() if len(measured) == 1 else Verdict.MIXED


def describe(first: str, second: str, difference: Interval | None, expected_sign: int = 1,
             method: str = "paired bootstrap") -> str:
    """One line a reader can check, e.g.

    ``crops beat dropout by 12.3 p.p. [9.8, 14.9] (paired bootstrap, 904 test texts): holds``.

    ``difference`` is ``first`` minus ``second`` (accuracies in [0, 1]); the
    interval printed is that of the stated gap, so a negative difference reads
    "``first`` trail ``second`` by 3.0 p.p. [0.9, 5.1]".
    """
    status = verdict(difference, expected_sign)
    if difference is None:
        return f"{first} vs {second}: {status}"
    delta, low, high = (100 * x for x in (difference.delta, difference.low, difference.high))
    if delta > 0:
        gap = f"{first} beat {second} by {delta:.1f} p.p. [{low:.1f}, {high:.1f}]"
    elif delta < 0:
        gap = f"{first} trail {second} by {-delta:.1f} p.p. [{-high:.1f}, {-low:.1f}]"
    else:
        gap = f"{first} and {second} tie, 0.0 p.p. [{low:.1f}, {high:.1f}]"
    n_test = getattr(difference, "n_test", None)
    where = f"{method}, {n_test:,} test texts" if n_test is not None else method
    return f"{gap} ({where}): {status}"
