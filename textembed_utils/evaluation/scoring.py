"""One way to score embeddings, used by every chapter and by ``textembed finetune`` / ``evaluate``.

``EvalSpec`` holds the paper's evaluation constants (k = 10 neighbours, a 90/10
split with seed 42, not stratified, as the authors' ``train_test_split``) in one
place, and a profile may stratify instead (the embedded one does); ``eval_sample`` is the one seeded
subset of labelled texts that bounds the cost of an evaluation; ``score`` gives
kNN accuracy (Euclidean on raw embeddings, and cosine) and linear-probe accuracy
of one set of vectors on that split, each with the number of test texts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .knn import split_indices

if TYPE_CHECKING:
    from .intervals import Accuracy

KNN_METRICS = ("knn_euclidean", "knn_cosine")
METRICS = (*KNN_METRICS, "linear_probe")


@dataclass(frozen=True)
class EvalSpec:
    """How accuracy is measured: the paper's kNN (k = 10) on a seeded 90/10 split, unstratified unless asked."""

    k: int = 10
    test_size: float = 0.1
    seed: int = 42
    stratify: bool = False

    @classmethod
    def from_profile(cls, profile: Mapping) -> "EvalSpec":
        """The profile's ``eval`` section and seed (the profile may leave any of them at the paper's value)."""
        section = profile.get("eval", {})
        defaults = cls()
        return cls(k=section.get("k", defaults.k), test_size=section.get("test_size", defaults.test_size),
                   seed=profile.get("seed", defaults.seed), stratify=section.get("stratify", defaults.stratify))

    def split(self, labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Train and test indices of ``labels`` under this spec."""
        return split_indices(np.asarray(labels), self.test_size, self.seed, self.stratify)

    def as_dict(self) -> dict:
        return {"k": self.k, "test_size": self.test_size, "split_seed": self.seed, "stratify": self.stratify}


def eval_sample(labels: Sequence, size: int | None, seed: int) -> np.ndarray:
    """Sorted indices of up to ``size`` labelled entries of ``labels`` (None = unlabelled), seeded.

    All labelled entries when ``size`` is None or at least their number. Sorted, so
    the sample keeps the corpus order. The one subset sampler of the project: the
    CLI and the chapters evaluate on the same texts for the same size and seed.
    """
    labelled = np.array([i for i, label in enumerate(labels) if label is not None], dtype=int)
    if size is not None and size < len(labelled):
        labelled = np.sort(np.random.default_rng(seed).choice(labelled, size=size, replace=False))
    return labelled


@dataclass(frozen=True)
class Scores:
    """Accuracies of one set of vectors on one split: value, 95 % interval and test size per metric."""

    accuracies: dict[str, Accuracy]
    correct: dict[str, np.ndarray] = field(repr=False, compare=False)

    def __getitem__(self, metric: str) -> float:
        return self.accuracies[metric].value

    def values(self) -> dict[str, float]:
        """Plain accuracies in [0, 1], e.g. for a quick print."""
        return {metric: acc.value for metric, acc in self.accuracies.items()}

    @property
    def n_test(self) -> int:
        return next(iter(self.accuracies.values())).n_test

    def rows(self) -> list[dict]:
        """One dict per metric: ``metric``, ``value``, ``low``, ``high``, ``n_test`` (a tidy table's rows)."""
        return [{"metric": metric, "value": acc.value, "low": acc.low, "high": acc.high, "n_test": acc.n_test}
                for metric, acc in self.accuracies.items()]


def score(vectors: np.ndarray, labels: Sequence, spec: EvalSpec = EvalSpec(), *, probe: bool = True) -> Scores:
    """kNN accuracy (Euclidean, cosine) and, with ``probe``, linear-probe accuracy of ``vectors``.

    Every metric is scored on the same test texts, so differences between two
    models scored here can be compared text by text (a paired interval).
    """
    from .intervals import accuracy_with_interval
    from .knn import knn_correct
    from .probe import linear_probe_correct

    labels = np.asarray(labels)
    common = dict(test_size=spec.test_size, seed=spec.seed, stratify=spec.stratify)
    correct = {f"knn_{metric}": knn_correct(vectors, labels, k=spec.k, metric=metric, **common)
               for metric in ("euclidean", "cosine")}
    if probe:
        correct["linear_probe"] = linear_probe_correct(vectors, labels, **common)
    return Scores({metric: accuracy_with_interval(hits) for metric, hits in correct.items()}, correct)
