"""Chapter 5 — training from scratch (paper §3.4, Table S6).

A randomly initialised transformer (the profile's ``scratch`` start) and the bare
token-embedding layer (``bare``), each trained with crops and with dropout, beside
the pre-trained start (``pretrained``) untrained and fine-tuned. The notebook fits
every run with ``experiments.fit`` (identical runs of chapters 1 and 4 come from
the model cache) and scores it with ``evaluation.scoring.score``; this module says
which runs, and holds Table S6 beside ours, the findings and the record.

Record ``05_from_scratch``: ``rows`` = one row per run × metric (``run``, ``start``,
``augmentation``, ``overrides``, ``part`` = "runs", or "gap" for the crops models
scored again on the pretrained start's texts, ``metric``, ``value``, ``low``, ``high``,
``n_test``; accuracies in [0, 1]); ``findings`` = per start crops vs dropout and
crops vs untrained, and each from-scratch crops model vs the fine-tuned
pretrained one on the same texts, with paired 95 % intervals and verdicts;
``curves[<run name>]`` = ``[{"step", "knn_euclidean", "knn_cosine"}, ...]`` for starts
whose profile sets ``eval_every``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .. import experiments as ex
from ..experiments import Evaluated, Run
from ..params import Param
from ..results import paper_table, tables
from ..results.findings import Finding, compare
from .common import PROFILE, TRAINING, starts_table, training_overrides
from .common import validate as _validate

DEFAULT_RUNS = "bare:crops,bare:dropout,scratch:crops,scratch:dropout,pretrained:crops,pretrained:dropout"
REFERENCE_START = "pretrained"  # the fine-tuned pre-trained model is the bar the from-scratch models are held to

# Table S6's columns and the (start, augmentation) of ours that plays the same role.
PAPER_COUNTERPARTS = {
    "MPNet + dropout": ("pretrained", "dropout"),
    "MPNet + crops": ("pretrained", "crops"),
    "BERT from scratch + crops": ("scratch", "crops"),
    "Embedding layer + crops": ("bare", "crops"),
}
FINE_TUNED = "MPNet + crops"
FROM_SCRATCH_GAP = "from random weights, a little below the fine-tuned pretrained model"  # the gap findings' claim

SPEC: dict[str, Param] = {
    **PROFILE,
    "runs": Param(str, optional=True, expected="start:augmentation pairs, e.g. 'bare:crops,scratch:dropout'"),
    **TRAINING,
}


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings: ``runs`` (trained runs, the reader's overrides applied); None → every start
    with crops and with dropout."""
    settings = _validate(namespace, SPEC)
    parsed = ex.parse_runs(settings["runs"] or DEFAULT_RUNS, settings["profile_settings"])
    overrides = training_overrides(settings)
    settings["runs"] = [run.with_overrides(**overrides) for run in parsed if run.trained]
    return settings


def results_table(results: Mapping[Run, Evaluated]) -> pd.DataFrame:
    """One row per run: accuracies (%, 95 % interval), test texts, parameters, batches, training seconds."""
    rows = {}
    for run, evaluated in results.items():
        fitted = evaluated.result
        rows[run.name] = {
            **tables.accuracy_columns(evaluated.scores.accuracies),
            "parameters": f"{fitted.encoder.parameter_count():,}",
            "batches": fitted.total_steps,
            "train s": round(fitted.train_seconds),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _paper_row(corpus_name: str) -> str:
    """The row of Table S6 for the profile's corpus when the paper has one (ICLR), else its average."""
    rows = {row.lower(): row for row in paper_table("Table S6").index}
    return rows.get(corpus_name.lower(), "Average")


def table_s6(results: Mapping[Run, Evaluated], corpus_name: str) -> pd.DataFrame:
    """Table S6 beside our runs: kNN accuracy (%, Euclidean) and the gap to the fine-tuned pretrained model.

    Rows are the paper's models. The paper's numbers are its row for our corpus
    when it has one (ICLR on the paper profile), otherwise its average over six
    datasets; ours are measured on the profile's corpus, with their 95 % interval
    and test texts. Absolute numbers are not comparable across corpora, so the
    gaps ("how far below the fine-tuned pre-trained model") are the columns to
    compare (``findings`` tests ours on the same texts). Runs we did not do stay NaN.
    """
    row = _paper_row(corpus_name)
    paper = paper_table("Table S6").loc[row]
    ours = {name: ex.find_run(results, *counterpart) for name, counterpart in PAPER_COUNTERPARTS.items()}
    accuracy = {name: results[run].scores.accuracies["knn_euclidean"] for name, run in ours.items() if run}
    frame = pd.DataFrame({
        f"paper: {row} (%)": paper[list(PAPER_COUNTERPARTS)],
        "ours: run": pd.Series({name: run.name if run else "–" for name, run in ours.items()}),
        f"ours: {corpus_name} (%)": pd.Series({name: 100 * acc.value for name, acc in accuracy.items()},
                                              index=list(PAPER_COUNTERPARTS), dtype=float),
        "ours: 95 % interval": pd.Series({name: f"{100 * acc.low:.1f}–{100 * acc.high:.1f}"
                                          for name, acc in accuracy.items()}),
        "test texts": pd.Series({name: acc.n_test for name, acc in accuracy.items()}),
    })
    frame["paper: gap to MPNet + crops (p.p.)"] = frame[f"paper: {row} (%)"] - paper[FINE_TUNED]
    reference = frame.loc[FINE_TUNED, f"ours: {corpus_name} (%)"]
    frame[f"ours: gap to {ours[FINE_TUNED].name if ours[FINE_TUNED] else 'pretrained/crops'} (p.p.)"] = (
        frame[f"ours: {corpus_name} (%)"] - reference)
    return frame.round(1).fillna({"ours: 95 % interval": "–", "test texts": "–"})


def gap_runs(results: Mapping[Run, Evaluated]) -> list[Run]:
    """The fine-tuned pretrained model and the from-scratch crops models: scored together for the gap."""
    reference = ex.find_run(results, REFERENCE_START, "crops")
    if reference is None:
        return []
    return [reference, *(run for run in results if run.augmentation == "crops" and run.start != REFERENCE_START)]


def findings(results: Mapping[Run, Evaluated], gaps: Mapping[Run, Evaluated] | None = None,
             metric: str = "knn_euclidean") -> list[Finding]:
    """Per start: crops vs dropout and crops vs untrained; then each from-scratch crops model vs the fine-tuned
    pretrained model (``gaps``: all scored on the same texts, the pretrained start's), with paired intervals.

    The paper found the from-scratch models a few p.p. *below* fine-tuned MPNet,
    so that comparison's expected sign is negative: "within noise" there means no
    gap this many test texts can resolve.
    """
    found = []
    for start in dict.fromkeys(run.start for run in results):
        crops, dropout = ex.find_run(results, start, "crops"), ex.find_run(results, start, "dropout")
        if crops and dropout:
            found.append(compare(results[crops], results[dropout], metric, claim="crops beat dropout"))
        if crops and Run(start) in results:
            found.append(compare(results[crops], results[Run(start)], metric,
                                 claim="training with crops improves on the untrained model"))
    runs = gap_runs(gaps or {})
    for run in runs[1:]:
        found.append(compare(gaps[run], gaps[runs[0]], metric, expected_sign=-1, claim=FROM_SCRATCH_GAP))
    return found


def record(settings: Mapping[str, Any], results: Mapping[Run, Evaluated], gaps: Mapping[Run, Evaluated],
           found: list[Finding], seconds: float):
    """Write the chapter's results record."""
    from ..results import write_record

    profile = settings["profile_settings"]
    config = {k: v for k, v in settings.items() if k not in ("profile_settings", "runs")}
    config["runs"] = [run.fields() for run in results]
    config["train_configs"] = {run.name: ev.result.config for run, ev in results.items()}
    curves = {run.name: ev.result.curve for run, ev in results.items() if ev.result.curve}
    return write_record(
        profile["name"], "05_from_scratch", config=config,
        rows=tables.tidy_rows(results, part="runs") + tables.tidy_rows(gaps, part="gap"),
        findings=[f.to_dict() for f in found], curves=curves, wall_time_s=seconds, device=profile["device"],
        data_fingerprint=ex.profile_corpus(profile).fingerprint(),
    )
