"""Findings: one model against another on the same test texts, with a paired interval and a verdict.

A chapter's claims ("crops beat dropout", "training improves on the untrained
model") are differences of accuracy between two runs scored on the same split.
``compare`` turns two scored runs into a ``Finding``: the difference, its paired
95 % bootstrap interval over the test texts, and the verdict of
``results.verdicts`` (it holds only when the interval excludes zero).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from ..evaluation.intervals import paired_difference
from .verdicts import Verdict, verdict

METRIC_NAMES = {"knn_euclidean": "kNN (Euclidean)", "knn_cosine": "kNN (cosine)", "linear_probe": "linear probe"}


@dataclass(frozen=True)
class Finding:
    """``first`` minus ``second`` on ``metric``: the claim, the difference and its interval, the verdict."""

    claim: str
    first: str
    second: str
    metric: str
    difference: float
    low: float
    high: float
    n_test: int
    verdict: Verdict

    def sentence(self) -> str:
        """E.g. ``bare: crops beat dropout — +12.3 p.p. (9.8 to 14.9), 904 test texts: holds``."""
        return (f"{self.first} − {self.second}: {100 * self.difference:+.1f} p.p. "
                f"(95% interval {100 * self.low:+.1f} to {100 * self.high:+.1f}; {self.n_test:,} test texts, "
                f"{METRIC_NAMES.get(self.metric, self.metric)}) → '{self.claim}': {self.verdict.value}")

    def row(self) -> dict:
        """The finding as a table row people read."""
        return {"claim": self.claim, "comparison": f"{self.first} − {self.second}",
                f"{METRIC_NAMES.get(self.metric, self.metric)}, p.p.":
                    f"{100 * self.difference:+.1f} ({100 * self.low:+.1f} to {100 * self.high:+.1f})",
                "test texts": self.n_test, "verdict": self.verdict.value}

    def to_dict(self) -> dict:
        return {**asdict(self), "verdict": self.verdict.value}


def compare(first, second, metric: str, claim: str, expected_sign: int = 1) -> Finding:
    """``first`` against ``second`` (each with ``.run`` and ``.scores``, e.g. ``experiments.Evaluated``).

    Both must have been scored on the same test texts, which ``score`` guarantees
    for the same eval set and spec; a different number of test texts is refused.
    """
    a, b = first.scores.correct[metric], second.scores.correct[metric]
    if len(a) != len(b):
        raise ValueError(f"{first.run.name} and {second.run.name} were scored on different test sets "
                         f"({len(a)} vs {len(b)} texts); a paired comparison needs the same texts")
    diff = paired_difference(a, b)
    return Finding(claim, first.run.name, second.run.name, metric, diff.delta, diff.low, diff.high,
                   diff.n_test, verdict(diff, expected_sign))


def findings_table(found: list[Finding]) -> pd.DataFrame:
    """Findings as a table people read: comparison, metric, difference in p.p. with its interval, verdict."""
    return pd.DataFrame([finding.row() for finding in found])
