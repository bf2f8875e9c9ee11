"""Chapter 2 — MTEB (paper §3.2, Table 1, Table S1).

Scores the profile's models with the ``mteb`` library through
``textembed_utils.evaluation.mteb_eval``: offline, two local tasks over the
profile's labelled corpus (k-means clustering scored by v-measure, logistic
regression classification scored by accuracy); under the paper profile, the
paper's 19 tasks from the hub. The notebook fits each run with
``experiments.fit`` and scores it with ``mteb_scores``; the local classification
task's per-text outcomes give its accuracy a 95 % interval and let two models be
compared on the same test texts (``findings``).

Record ``02_mteb``: ``metrics[<run name>]`` = ``{"<task>": score, ..., "block/<block>": score,
"block_average": score}`` with scores as fractions in [0, 1] (mteb reports percent; we
divide by 100); ``rows`` = one row per run × local classification task (``metric`` = the
task name, ``value``, ``low``, ``high``, ``n_test``); ``findings`` = per start crops vs
dropout and each augmentation vs untrained on that task, with paired 95 % intervals.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import experiments as ex
from ..evaluation import mteb_eval
from ..evaluation.intervals import accuracy_with_interval
from ..evaluation.scoring import Scores
from ..experiments import Run
from ..models import TextEncoder
from ..params import Param
from ..results import paper_table, tables
from ..results.findings import Finding, compare
from .common import PROFILE, PROFILE_WIDE
from .common import validate as _validate

PAPER_MODELS = ["MPNet", "MPNet + dropout", "MPNet + crops"]

SPEC: dict[str, Param] = {
    **PROFILE,
    "models": Param(str, optional=True, expected="start:augmentation pairs"),
    "tasks": Param(str, optional=True, choices=("local", "paper")),
    "size": Param(int, optional=True),  # its range: ranges.OTHER_RANGES
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


@dataclass
class MtebScored:
    """One model's MTEB results: main score per task and block averages (percent), and the per-text
    outcomes of the local classification tasks as ``Scores`` (accuracy, 95 % interval, test texts)."""

    run: Run
    tasks: dict[str, float]
    blocks: dict[str, float]
    scores: Scores = field(repr=False)


def _has_outcomes(task: Any) -> bool:
    """Whether ``task`` is a classification task object we built (one experiment: one outcome per text)."""
    return not isinstance(task, str) and task.metadata.type == "Classification" \
        and str(task.metadata.dataset.get("path", "")).startswith("local/")


def mteb_scores(run: Run, encoder: TextEncoder, tasks: list, blocks: Mapping[str, tuple[str, ...]],
                settings: Mapping[str, Any]) -> MtebScored:
    """``encoder`` through ``mteb_eval.run_mteb`` on ``tasks``, with its classification outcomes per text."""
    profile = settings["profile_settings"]
    with tempfile.TemporaryDirectory() as predictions:
        task_scores = mteb_eval.run_mteb(encoder, tasks, batch_size=profile["eval"]["batch_size"],
                                         max_length=settings["max_length"], prediction_folder=predictions)
        correct = {task.metadata.name: mteb_eval.classification_correct(task, predictions)
                   for task in tasks if _has_outcomes(task)}
    scores = Scores({name: accuracy_with_interval(hits) for name, hits in correct.items()}, correct)
    return MtebScored(run, task_scores, mteb_eval.block_averages(task_scores, blocks), scores)


def scores_table(scored: Mapping[Run, MtebScored]) -> pd.DataFrame:
    """Tasks, then block averages, as rows; models as columns (percent, one decimal), like the paper's Table 1.

    A classification task scored per text shows its 95 % interval, and its number
    of test texts in the last column.
    """
    columns: dict[str, dict[str, str]] = {}
    test_texts: dict[str, object] = {}
    for run, result in scored.items():
        column = {}
        for task, value in result.tasks.items():
            accuracy = result.scores.accuracies.get(task)
            column[task] = tables.percent(accuracy) if accuracy else f"{value:.1f}"
            test_texts[task] = accuracy.n_test if accuracy else "–"
        column.update({f"block: {block}" if block != "Block average" else block: f"{value:.1f}"
                       for block, value in result.blocks.items()})
        columns[run.name] = column
    frame = pd.DataFrame(columns)
    frame["test texts"] = pd.Series(test_texts)
    return frame.fillna("–")


def table_s1(scored: Mapping[Run, MtebScored]) -> pd.DataFrame:
    """Table S1 (block averages, %) of MPNet before and after fine-tuning, beside ours for the blocks we ran."""
    frame = paper_table("Table S1")[PAPER_MODELS].rename(columns=lambda c: f"paper: {c}")
    for run, result in scored.items():
        frame[f"ours: {run.name}"] = pd.Series(result.blocks)
    return tables.blocks_like_with_like(frame)


def findings(scored: Mapping[Run, MtebScored]) -> list[Finding]:
    """Per start and classification task scored per text: crops vs dropout, each augmentation vs untrained.

    Paired 95 % intervals over the task's test texts (``results.findings.compare``);
    the clustering and hub tasks give one score per model, so they have none.
    """
    found = []
    for start in dict.fromkeys(run.start for run in scored):
        crops, dropout, untrained = (ex.find_run(scored, start, aug) for aug in ("crops", "dropout", ex.UNTRAINED))
        for task in scored[next(run for run in scored if run.start == start)].scores.correct:
            if crops and dropout:
                found.append(compare(scored[crops], scored[dropout], task, claim="crops beat dropout"))
            for trained in (run for run in (crops, dropout) if run and untrained):
                found.append(compare(scored[trained], scored[untrained], task,
                                     claim=f"training with {trained.augmentation} improves on the untrained model"))
    return found


def record(settings: Mapping[str, Any], scored: Mapping[Run, MtebScored], found: list[Finding], seconds: float):
    """Write the chapter's results record (scores as fractions)."""
    from ..results import write_record

    profile = settings["profile_settings"]
    metrics = {
        run.name: {**{task: value / 100 for task, value in result.tasks.items()},
                   **{("block_average" if block == "Block average" else f"block/{block}"): value / 100
                      for block, value in result.blocks.items()}}
        for run, result in scored.items()
    }
    config = {k: v for k, v in settings.items() if k not in ("profile_settings", "models")}
    config["models"] = [run.fields() for run in scored]
    return write_record(profile["name"], "02_mteb", config=config, metrics=metrics, rows=tables.tidy_rows(scored),
                        findings=[f.to_dict() for f in found], wall_time_s=seconds, device=profile["device"],
                        data_fingerprint=ex.profile_corpus(profile).fingerprint())
