"""Chapter 5: the runs it trains, Table S6 beside ours and the findings, on hand-made scored runs.

Per-text outcomes are nested (a model right on the first ``n`` of 100 test texts, ``tests/scored.py``),
so every accuracy and paired difference is known exactly; the notebook runs end
to end on the tiny profile in tests/test_notebooks.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from textembed_utils.chapters import from_scratch
from textembed_utils.evaluation.intervals import wilson_interval
from textembed_utils import experiments as ex
from textembed_utils.experiments import Evaluated, Run
from textembed_utils.results import paper_table, tables
from textembed_utils.results.verdicts import Verdict

from scored import evaluated

TRAINING_NONE = dict.fromkeys(("batch_size", "lr", "temperature", "n_sentences", "epochs", "steps", "eval_every",
                               "seed", "device", "precision"))
N_TEST = 100
METRICS = ("knn_euclidean", "knn_cosine")
ACCURACY = {("pretrained", "untrained"): 80, ("pretrained", "crops"): 82, ("pretrained", "dropout"): 81,
            ("scratch", "untrained"): 50, ("scratch", "crops"): 72, ("scratch", "dropout"): 55,
            ("bare", "untrained"): 54, ("bare", "crops"): 83, ("bare", "dropout"): 63}


def scratch_results(skip: tuple[str, str] | None = None) -> dict[Run, Evaluated]:
    return {Run(start, augmentation): evaluated(Run(start, augmentation), np.arange(N_TEST) < right, metrics=METRICS)
            for (start, augmentation), right in ACCURACY.items() if (start, augmentation) != skip}


def test_table_s6_puts_the_papers_gaps_beside_ours():
    frame = from_scratch.table_s6(scratch_results(), "wiki")
    paper = paper_table("Table S6").loc["Average"]
    assert frame.loc["Embedding layer + crops", "paper: Average (%)"] == paper["Embedding layer + crops"]
    assert frame.loc["BERT from scratch + crops", "ours: wiki (%)"] == pytest.approx(72.0)
    assert frame.loc["BERT from scratch + crops", "ours: gap to pretrained/crops (p.p.)"] == pytest.approx(-10.0)
    expected = round(paper["Embedding layer + crops"] - paper["MPNet + crops"], 1)
    assert frame.loc["Embedding layer + crops", "paper: gap to MPNet + crops (p.p.)"] == pytest.approx(expected)
    low, high = wilson_interval(72, N_TEST)
    assert frame.loc["BERT from scratch + crops", "ours: 95 % interval"] == f"{100 * low:.1f}–{100 * high:.1f}"
    assert frame.loc["BERT from scratch + crops", "test texts"] == N_TEST
    assert frame.loc["BERT from scratch + crops", "ours: run"] == "scratch/crops"


def test_table_s6_uses_the_papers_own_row_for_its_corpus_and_leaves_missing_runs_empty():
    frame = from_scratch.table_s6(scratch_results(skip=("scratch", "crops")), "iclr")
    assert "paper: ICLR (%)" in frame.columns
    assert frame.loc["MPNet + crops", "paper: ICLR (%)"] == paper_table("Table S6").loc["ICLR", "MPNet + crops"]
    assert math.isnan(frame.loc["BERT from scratch + crops", "ours: iclr (%)"])
    assert frame.loc["BERT from scratch + crops", "ours: run"] == "–"


def test_findings_state_the_computed_comparisons_with_paired_intervals():
    results = scratch_results()
    gaps = {run: results[run] for run in from_scratch.gap_runs(results)}
    found = from_scratch.findings(results, gaps)
    by_pair = {(f.first, f.second): f for f in found}
    bare = by_pair[("bare/crops", "bare/dropout")]
    assert bare.claim == "crops beat dropout" and bare.difference == pytest.approx(0.20)
    assert bare.verdict is Verdict.HOLDS and bare.low > 0 and bare.n_test == N_TEST
    assert by_pair[("scratch/crops", "scratch/untrained")].difference == pytest.approx(0.22)
    # The paper's from-scratch models sit a few p.p. below fine-tuned MPNet: the expected sign is negative.
    scratch_gap = by_pair[("scratch/crops", "pretrained/crops")]
    assert scratch_gap.difference == pytest.approx(-0.10) and scratch_gap.verdict is Verdict.HOLDS
    bare_gap = by_pair[("bare/crops", "pretrained/crops")]  # +1 p.p. on a single text: no gap to resolve
    assert bare_gap.difference == pytest.approx(0.01) and bare_gap.verdict is Verdict.WITHIN_NOISE
    assert len(found) == 3 * 2 + 2


def test_without_gap_scores_there_is_no_gap_finding_and_a_missing_dropout_run_drops_its_comparison():
    found = from_scratch.findings(scratch_results(skip=("bare", "dropout")))
    assert [(f.first, f.second) for f in found if f.first.startswith("bare")] == [("bare/crops", "bare/untrained")]
    assert not [f for f in found if f.second == "pretrained/crops"]


def test_gap_runs_are_the_fine_tuned_reference_then_the_crops_models_from_scratch():
    assert from_scratch.gap_runs(scratch_results()) == [Run("pretrained", "crops"), Run("scratch", "crops"),
                                                        Run("bare", "crops")]
    assert from_scratch.gap_runs(scratch_results(skip=("pretrained", "crops"))) == []


def test_the_accuracy_figure_reads_tidy_rows_per_start_and_training():
    frame = tables.rows_frame(tables.tidy_rows(scratch_results()))
    assert len(frame) == 2 * 9 and set(frame["metric"]) == {"knn_euclidean", "knn_cosine"}
    assert set(frame["start"]) == {"pretrained", "scratch", "bare"}
    assert set(frame["augmentation"]) == {"untrained", "crops", "dropout"}


def test_from_scratch_runs_default_to_every_start_with_both_augmentations():
    settings = from_scratch.validate({"profile": "tiny", "runs": None, **TRAINING_NONE})
    assert {Run(s, a) for s in ("bare", "scratch", "pretrained") for a in ("crops", "dropout")} == set(settings["runs"])


def test_the_readers_overrides_apply_to_every_run_and_runs_are_found_whatever_their_overrides():
    settings = from_scratch.validate({"profile": "tiny", **TRAINING_NONE, "runs": "bare:crops,bare:dropout",
                                      "lr": 0.1})
    assert settings["runs"] == [Run.of("bare", "crops", lr=0.1), Run.of("bare", "dropout", lr=0.1)]
    runs = ex.with_untrained(settings["runs"])
    assert runs == [Run("bare"), Run.of("bare", "crops", lr=0.1), Run.of("bare", "dropout", lr=0.1)]
    assert ex.find_run(dict.fromkeys(runs), "bare", "crops") == Run.of("bare", "crops", lr=0.1)
    assert ex.find_run(dict.fromkeys(runs), "scratch", "crops") is None
