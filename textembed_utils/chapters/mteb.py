"""Chapter 2 — MTEB (paper §3.2, Table 1, Table S1).

Scores the profile's models with the ``mteb`` library through
``textembed_utils.evaluation.mteb_eval``: offline, two local tasks over the
profile's labelled corpus (k-means clustering scored by v-measure, logistic
regression classification scored by accuracy); under the paper profile, the
paper's 19 tasks from the hub.

Record ``02_mteb``: ``metrics["<start>/<augmentation>"]`` = ``{"<task>": score,
..., "block/<block>": score, "block_average": score}`` with scores as fractions in
[0, 1] (mteb reports percent; we divide by 100).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .. import experiments as ex
from ..evaluation import mteb_eval
from ..params import Param, positive
from .common import PROFILE, PROFILE_WIDE
from .common import validate as _validate

SPEC: dict[str, Param] = {
    **PROFILE,
    "models": Param(str, optional=True, expected="start:augmentation pairs"),
    "tasks": Param(str, optional=True, choices=("local", "paper")),
    "size": Param(int, optional=True, **positive("a number of texts ≥ 20")),
    "max_length": Param(int, optional=True, check=lambda v: v >= 8, expected="≥ 8 tokens"),
    **PROFILE_WIDE,
}


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings; None → the profile's ``mteb`` section."""
    settings = _validate(namespace, SPEC)
    profile = settings["profile_settings"]
    defaults = profile["mteb"]
    for key in ("models", "tasks", "size", "max_length"):
        if settings[key] is None:
            settings[key] = defaults.get(key)
    settings["models"] = ex.parse_runs(settings["models"], profile)
    return settings


def tasks_and_blocks(settings: Mapping[str, Any]) -> tuple[list, dict[str, tuple[str, ...]]]:
    """The mteb tasks to run and the blocks their scores average over."""
    if settings["tasks"] == "paper":
        return mteb_eval.paper_task_names(), mteb_eval.PAPER_TASKS
    profile = settings["profile_settings"]
    corpus = ex.profile_corpus(profile).subset(settings["size"], seed=profile["seed"])
    clustering = mteb_eval.local_clustering_task(corpus, name="WikiTopicClustering", seed=profile["seed"])
    classification = mteb_eval.local_classification_task(corpus, name="WikiTopicClassification", seed=profile["seed"])
    return [clustering, classification], {"Clustering": ("WikiTopicClustering",),
                                          "Classification": ("WikiTopicClassification",)}


def score_models(settings: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """MTEB main scores (percent) per model and task, plus block averages."""
    profile = settings["profile_settings"]
    corpus = ex.profile_corpus(profile)
    tasks, blocks = tasks_and_blocks(settings)
    scores = {}
    for start, augmentation in settings["models"]:
        encoder, _, _ = ex.run_model(profile, start, augmentation, corpus)
        task_scores = mteb_eval.run_mteb(encoder, tasks, batch_size=profile["eval"]["batch_size"],
                                         max_length=settings["max_length"])
        averages = mteb_eval.block_averages(task_scores, blocks)
        scores[f"{start}/{augmentation}"] = {**task_scores, **{f"block/{k}": v for k, v in averages.items()}}
        print(f"{start}/{augmentation}: block average {averages['Block average']:.1f}")
    return scores


def scores_table(scores: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Tasks and block averages as rows, models as columns (percent), like the paper's Table 1."""
    return pd.DataFrame(scores).round(1)


def record(settings: Mapping[str, Any], scores: Mapping[str, Mapping[str, float]], seconds: float):
    """Write the chapter's results record (scores as fractions)."""
    from ..results import write_record

    profile = settings["profile_settings"]
    metrics = {
        run: {("block_average" if k == "block/Block average" else k): v / 100 for k, v in values.items()}
        for run, values in scores.items()
    }
    config = {k: v for k, v in settings.items() if k != "profile_settings"}
    return write_record(profile["name"], "02_mteb", config=config, metrics=metrics, wall_time_s=seconds,
                        device=profile["device"], data_fingerprint=ex.profile_corpus(profile).fingerprint())
