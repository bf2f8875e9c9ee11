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
# The paper's metric (§2.3: kNN with Euclidean distance on the raw embeddings): when a comparison was made on
# several metrics, its verdict is this one's, and the others are shown beside it.
PRIMARY_METRIC = "knn_euclidean"


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

    @property
    def metric_name(self) -> str:
        return METRIC_NAMES.get(self.metric, self.metric)

    def difference_text(self) -> str:
        """``+1.2 (+0.3 to +2.1)`` in p.p.; the interval's parts never break across lines in a table."""
        return f"{100 * self.difference:+.1f} ({100 * self.low:+.1f}\u00a0to\u00a0{100 * self.high:+.1f})"

    def row(self) -> dict:
        """The finding as a table row people read."""
        return {"claim": self.claim, "comparison": f"{self.first} − {self.second}",
                f"{self.metric_name}, p.p.": self.difference_text(), "test texts": self.n_test,
                "verdict": self.verdict.value}

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


def _comparison(finding: Finding) -> tuple[str, str, str]:
    return finding.claim, finding.first, finding.second


def primary_findings(found: list[Finding]) -> list[Finding]:
    """One finding per comparison: the one on ``PRIMARY_METRIC`` where it was measured, else the first."""
    chosen: dict[tuple[str, str, str], Finding] = {}
    for finding in found:
        kept = chosen.setdefault(_comparison(finding), finding)
        if finding.metric == PRIMARY_METRIC and kept.metric != PRIMARY_METRIC:
            chosen[_comparison(finding)] = finding
    return list(chosen.values())


def findings_table(found: list[Finding]) -> pd.DataFrame:
    """Findings as a table people read: one row per comparison, each metric's difference in p.p. with its
    interval as a column, the number of test texts and the verdict.

    A comparison made on several metrics gets the verdict of ``PRIMARY_METRIC`` (the paper's), and the
    column says so; a cell whose metric was not measured for that comparison reads "–".
    """
    metrics = list(dict.fromkeys(finding.metric for finding in found))
    verdict_column = "verdict" if len(metrics) < 2 else f"verdict ({METRIC_NAMES.get(PRIMARY_METRIC)})"
    rows: dict[tuple[str, str, str], dict] = {}
    for finding in found:
        row = rows.setdefault(_comparison(finding), {"claim": finding.claim,
                                                     "comparison": f"{finding.first} − {finding.second}"})
        row[f"{finding.metric_name}, p.p."] = finding.difference_text()
        row["test texts"] = finding.n_test
    for finding in primary_findings(found):
        rows[_comparison(finding)][verdict_column] = finding.verdict.value
    columns = ["claim", "comparison", *(f"{METRIC_NAMES.get(m, m)}, p.p." for m in metrics), "test texts",
               verdict_column]
    return pd.DataFrame(list(rows.values()), columns=columns).fillna("–")
