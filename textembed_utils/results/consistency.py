"""One number per model: the same model, evaluation and metric must have one value in every record of a build.

Chapters share trained models and embeddings through the cache, so when two of
them score the same run on the same evaluation (eval set and encoding length,
``experiments.EvalSet.evaluation``) they must print the same accuracy. Two
values mean a page shows a model with a number another page contradicts; a
different evaluation must carry a different name instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Conflict:
    """One model, evaluation and metric with more than one value, and where each value was written."""

    run: str
    evaluation: str
    metric: str
    values: dict[str, float]  # "<experiment>" (or "<experiment> (<part>)") → value

    def describe(self) -> str:
        found = ", ".join(f"{100 * value:.1f} % in {where}" for where, value in self.values.items())
        return f"{self.run} on {self.evaluation or 'an unnamed evaluation'}, {self.metric}: {found}"


def measurements(records: Mapping[str, Mapping]) -> dict[tuple[str, str, str], dict[str, float]]:
    """Every stored accuracy of a build, keyed by (run, evaluation, metric): where it was written → its value."""
    found: dict[tuple[str, str, str], dict[str, float]] = {}
    for experiment, record in records.items():
        for row in record.get("rows", []):
            where = f"{experiment} ({row['part']})" if row.get("part") else experiment
            found.setdefault((row["run"], row.get("evaluation", ""), row["metric"]), {})[where] = row["value"]
    return found


def conflicts(records: Mapping[str, Mapping], tolerance: float = 1e-9) -> list[Conflict]:
    """The measurements of ``records`` whose values differ by more than ``tolerance`` (fractions)."""
    return [Conflict(run, evaluation, metric, values)
            for (run, evaluation, metric), values in measurements(records).items()
            if max(values.values()) - min(values.values()) > tolerance]
