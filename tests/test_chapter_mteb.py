"""Chapter 2: MTEB scores per run, the classification task's per-text outcomes, tables and findings.

The outcomes are checked against mteb's own accuracy on a real local task (a
tiny random encoder, offline); tables and findings on hand-made scores.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import json

import numpy as np
import pytest

from textembed_utils.chapters import mteb as chapter
from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import mteb_eval
from textembed_utils.evaluation.intervals import accuracy_with_interval
from textembed_utils.evaluation.scoring import Scores
from textembed_utils.experiments import Run, make_encoder
from textembed_utils.results import paper_table
from textembed_utils.results.verdicts import Verdict

TASK = "WikiTopicClassification"
N_TEST = 200


def tiny_settings(**values):
    return chapter.validate({"profile": "tiny", "models": None, "tasks": None, "size": None, "max_length": None,
                             "seed": None, "device": None, "precision": None, **values})


def test_validate_takes_the_profiles_mteb_section_as_runs():
    settings = tiny_settings()
    assert settings["models"] == [Run("bare"), Run("bare", "crops")]
    assert (settings["tasks"], settings["size"], settings["max_length"]) == ("local", 120, 48)
    assert tiny_settings(models="bare:dropout")["models"] == [Run("bare", "dropout")]


def test_per_text_outcomes_of_the_local_classification_task_agree_with_mtebs_accuracy():
    settings = tiny_settings()
    tasks, blocks = chapter.tasks_and_blocks(settings)
    encoder = make_encoder(settings["profile_settings"], "bare")
    scored = chapter.mteb_scores(Run("bare"), encoder, tasks, blocks, settings)
    accuracy = scored.scores.accuracies[TASK]
    classification = next(task for task in tasks if task.metadata.name == TASK)
    assert accuracy.n_test == len(classification.dataset["test"]) == 60  # half of the 120 texts
    assert 100 * accuracy.value == pytest.approx(scored.tasks[TASK])
    assert accuracy.low <= accuracy.value <= accuracy.high
    assert "WikiTopicClustering" not in scored.scores.correct  # v-measure is not a share of texts
    assert scored.blocks["Block average"] == pytest.approx(np.mean(list(scored.tasks.values())))


def test_classification_outcomes_need_the_predictions_and_a_single_experiment(tmp_path):
    tasks, _ = chapter.tasks_and_blocks(tiny_settings())
    task = tasks[1]
    with pytest.raises(TextembedError, match="No predictions of the MTEB task"):
        mteb_eval.classification_correct(task, tmp_path)
    (tmp_path / f"{task.metadata.name}_predictions.json").write_text(json.dumps({"default": {"test": [[0], [1]]}}))
    with pytest.raises(TextembedError, match="ran 2 experiments"):
        mteb_eval.classification_correct(task, tmp_path)


def scored(run: Run, right: int) -> chapter.MtebScored:
    """``run`` right on the first ``right`` of N_TEST classification test texts."""
    correct = {TASK: np.arange(N_TEST) < right}
    value = 100 * right / N_TEST
    blocks = {"Clustering": 40.0, "Classification": value, "Block average": (40 + value) / 2}
    return chapter.MtebScored(run, {"WikiTopicClustering": 40.0, TASK: value}, blocks,
                              Scores({TASK: accuracy_with_interval(correct[TASK])}, correct))


def three_models() -> dict:
    runs = (Run("bare"), Run("bare", "dropout"), Run("bare", "crops"))
    return {run: scored(run, right) for run, right in zip(runs, (100, 110, 150))}


def test_findings_compare_on_the_classification_texts_with_paired_intervals():
    found = chapter.findings(three_models())
    assert [(f.claim, f.first, f.second) for f in found] == [
        ("crops beat dropout", "bare/crops", "bare/dropout"),
        ("training with crops improves on the untrained model", "bare/crops", "bare/untrained"),
        ("training with dropout improves on the untrained model", "bare/dropout", "bare/untrained"),
    ]
    assert [f.difference for f in found] == pytest.approx([0.20, 0.25, 0.05])
    assert [f.verdict for f in found] == [Verdict.HOLDS] * 3  # nested outcomes: every change one way
    assert all(f.metric == TASK and f.n_test == N_TEST for f in found)


def test_models_without_per_text_outcomes_give_no_findings():
    models = {run: chapter.MtebScored(run, ev.tasks, ev.blocks, Scores({}, {})) for run, ev in three_models().items()}
    assert chapter.findings(models) == []


def test_scores_table_shows_percent_intervals_and_test_texts():
    table = chapter.scores_table(three_models())
    assert list(table.columns) == ["bare/untrained", "bare/dropout", "bare/crops", "test texts"]
    assert list(table.index) == ["WikiTopicClustering", TASK, "block: Clustering", "block: Classification",
                                 "Block average"]
    accuracy = accuracy_with_interval(np.arange(N_TEST) < 150)
    assert table.loc[TASK, "bare/crops"] == f"75.0 ({100 * accuracy.low:.1f}–{100 * accuracy.high:.1f})"
    assert table.loc["Block average", "bare/crops"] == "57.5"
    assert table.loc[TASK, "test texts"] == N_TEST and table.loc["WikiTopicClustering", "test texts"] == "–"


def test_table_s1_puts_ours_beside_the_papers_blocks():
    frame = chapter.table_s1(three_models())
    paper = paper_table("Table S1")
    five_blocks = "Block average (the paper's 5 blocks)"
    assert frame.loc[five_blocks, "paper: MPNet + crops"] == paper.loc["Block average", "MPNet + crops"]
    assert frame.loc["Classification", "ours: bare/crops"] == pytest.approx(75.0)
    assert np.isnan(frame.loc["STS", "ours: bare/crops"])  # offline: no STS block


def test_table_s1_compares_averages_over_the_same_blocks_only():
    frame = chapter.table_s1(three_models())
    paper = paper_table("Table S1")
    five_blocks, same_blocks = "Block average (the paper's 5 blocks)", "Average of the blocks run here (clustering, classification)"
    # ours averages two blocks, the paper's five: no number of ours stands beside the paper's 5-block average
    assert frame.loc[five_blocks].filter(like="ours:").isna().all()
    expected = paper.loc[["Clustering", "Classification"], "MPNet + crops"].mean()
    assert frame.loc[same_blocks, "paper: MPNet + crops"] == pytest.approx(round(expected, 1))
    ours = frame.loc[["Clustering", "Classification"], "ours: bare/crops"].mean()
    assert frame.loc[same_blocks, "ours: bare/crops"] == pytest.approx(ours, abs=0.051)
