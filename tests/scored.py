"""Hand-made scored runs for the chapters' tests: per-text outcomes with exact accuracies, no training."""

from __future__ import annotations

import numpy as np

from textembed_utils.evaluation.intervals import accuracy_with_interval
from textembed_utils.evaluation.scoring import Scores
from textembed_utils.experiments import Evaluated, Run, RunResult
from textembed_utils.training import TrainConfig

N_TEST = 400


def outcomes(accuracy: float, seed: int = 0, n: int = N_TEST) -> np.ndarray:
    """``n`` per-text outcomes with exactly ``accuracy`` of them right, shuffled with ``seed``."""
    hits = np.zeros(n, dtype=bool)
    hits[: round(accuracy * n)] = True
    return np.random.default_rng(seed).permutation(hits)


def nested(accuracies: list[float], n: int = N_TEST) -> list[np.ndarray]:
    """Outcomes where each better model gets right a superset of a worse one's texts (as training often does)."""
    order = np.random.default_rng(1).permutation(n)
    result = []
    for accuracy in accuracies:
        hits = np.zeros(n, dtype=bool)
        hits[order[: round(accuracy * n)]] = True
        result.append(hits)
    return result


def evaluated(run: Run, hits: np.ndarray, steps: int = 5, metrics: tuple[str, ...] = ("knn_euclidean",)) -> Evaluated:
    """``run`` scored with ``hits`` on every metric of ``metrics``, with a training record of ``steps`` batches."""
    scores = Scores({m: accuracy_with_interval(hits) for m in metrics}, {m: hits for m in metrics})
    fitted = RunResult(run, encoder=None, model_key=run.name, total_steps=steps if run.trained else 0,
                       batches_per_epoch=195, train_seconds=1.0,
                       config=TrainConfig(steps=steps).to_dict() if run.trained else None)
    return Evaluated(run, scores, None, fitted)
