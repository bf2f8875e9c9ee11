"""Chapter 5 — training from scratch (paper §3.4, Table S6).

A randomly initialised transformer (the profile's ``scratch`` start) and the bare
token-embedding layer (``bare``), each trained with crops and with dropout, beside
the pre-trained start (``pretrained``) untrained and fine-tuned. Runs go through
chapter 1's ``train_runs``, so identical runs (same start, augmentation and
settings) come from the model cache instead of being trained twice.

Record ``05_from_scratch``:
- ``metrics["<start>/<augmentation>"]`` = ``{"knn_euclidean", "knn_cosine", "linear_probe"}``
  (accuracies in [0, 1]; ``augmentation`` is ``untrained``, ``crops`` or ``dropout``);
- ``curves["<start>/<augmentation>"]`` = ``[{"step", "knn_euclidean", "knn_cosine"}, ...]``
  for starts whose profile sets ``eval_every``;
- ``config["eval_texts"]`` = ``{"<start>": number of labelled texts scored}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .. import experiments as ex
from ..params import Param
from ..results import paper_table
from .augmentations import curves, losses, results_table, train_runs
from .common import PROFILE, TRAINING
from .common import validate as _validate

# Chapter 1's steps, used here unchanged (the notebook calls them through this module).
__all__ = ["SPEC", "before_after", "curves", "findings", "losses", "record", "results_table", "table_s6",
           "train_runs", "validate"]

DEFAULT_RUNS = "bare:crops,bare:dropout,scratch:crops,scratch:dropout,pretrained:crops,pretrained:dropout"

# Table S6's columns and the run of ours that plays the same role.
PAPER_COUNTERPARTS = {
    "MPNet + dropout": "pretrained/dropout",
    "MPNet + crops": "pretrained/crops",
    "BERT from scratch + crops": "scratch/crops",
    "Embedding layer + crops": "bare/crops",
}
FINE_TUNED = "MPNet + crops"

SPEC: dict[str, Param] = {
    **PROFILE,
    "runs": Param(str, optional=True, expected="start:augmentation pairs, e.g. 'bare:crops,scratch:dropout'"),
    **TRAINING,
}


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings; ``runs`` None → every start with crops and with dropout."""
    settings = _validate(namespace, SPEC)
    settings["runs"] = ex.parse_runs(settings["runs"] or DEFAULT_RUNS, settings["profile_settings"])
    return settings


def _paper_row(corpus_name: str) -> str:
    """The row of Table S6 for the profile's corpus when the paper has one (ICLR), else its average."""
    rows = {row.lower(): row for row in paper_table("Table S6").index}
    return rows.get(corpus_name.lower(), "Average")


def table_s6(table: pd.DataFrame, corpus_name: str) -> pd.DataFrame:
    """Table S6 beside our runs: kNN accuracy (%, Euclidean) and the gap to the fine-tuned pretrained model.

    Rows are the paper's models. The paper's numbers are its row for our corpus
    when it has one (ICLR on the paper profile), otherwise its average over six
    datasets; ours are measured on the profile's corpus. Absolute numbers are
    not comparable across corpora, so the gaps ("how far below the fine-tuned
    pre-trained model") are the columns to compare. Runs we did not do stay NaN.
    """
    row = _paper_row(corpus_name)
    paper = paper_table("Table S6").loc[row]
    ours = {name: 100 * table.loc[run, "knn_euclidean"] if run in table.index else float("nan")
            for name, run in PAPER_COUNTERPARTS.items()}
    frame = pd.DataFrame({
        f"paper: {row} (%)": paper[list(PAPER_COUNTERPARTS)],
        "ours: run": pd.Series(PAPER_COUNTERPARTS),
        f"ours: {corpus_name} (%)": pd.Series(ours),
    })
    frame["paper: gap to MPNet + crops (p.p.)"] = frame[f"paper: {row} (%)"] - paper[FINE_TUNED]
    frame["ours: gap to pretrained/crops (p.p.)"] = frame[f"ours: {corpus_name} (%)"] - ours[FINE_TUNED]
    return frame.round(1)


def before_after(table: pd.DataFrame) -> pd.DataFrame:
    """Long form for the bar chart: one row per run and metric (Euclidean / cosine kNN)."""
    frame = table[["knn_euclidean", "knn_cosine"]].rename(columns={"knn_euclidean": "kNN (Euclidean)",
                                                                  "knn_cosine": "kNN (cosine)"})
    long = frame.reset_index(names="run").melt(id_vars="run", var_name="metric", value_name="accuracy")
    long[["start", "training"]] = long["run"].str.split("/", n=1, expand=True)
    return long


def findings(table: pd.DataFrame) -> list[str]:
    """Sentences stating what this run found, from the computed table."""
    def acc(run: str) -> str:
        return f"{table.loc[run, 'knn_euclidean']:.3f} ({table.loc[run, 'knn_cosine']:.3f} cosine)"

    lines = []
    for start in dict.fromkeys(name.split("/")[0] for name in table.index):
        present = {aug for aug in ("untrained", "crops", "dropout") if f"{start}/{aug}" in table.index}
        if present == {"untrained", "crops", "dropout"}:
            crops, dropout = table.loc[f"{start}/crops", "knn_euclidean"], table.loc[f"{start}/dropout", "knn_euclidean"]
            lines.append(f"{start}: untrained {acc(f'{start}/untrained')} → crops {acc(f'{start}/crops')}, "
                         f"dropout {acc(f'{start}/dropout')}; crops − dropout = {100 * (crops - dropout):+.1f} p.p. "
                         f"(Euclidean): crops {'beat' if crops > dropout else 'did not beat'} dropout.")
    reference = "pretrained/crops" if "pretrained/crops" in table.index else "pretrained/untrained"
    if reference in table.index:
        for run in ("scratch/crops", "bare/crops"):
            if run in table.index:
                gap = table.loc[run, "knn_euclidean"] - table.loc[reference, "knn_euclidean"]
                lines.append(f"{run} − {reference} = {100 * gap:+.1f} p.p. (Euclidean kNN).")
    return lines


def record(settings: Mapping[str, Any], runs: Mapping[str, dict], seconds: float):
    """Write the chapter's results record."""
    from ..results import write_record

    profile = settings["profile_settings"]
    config = {k: v for k, v in settings.items() if k != "profile_settings"}
    config["train_configs"] = {name: run["summary"].get("config") for name, run in runs.items()}
    config["eval_texts"] = {name.split("/")[0]: run["eval_texts"] for name, run in runs.items()}
    return write_record(
        profile["name"], "05_from_scratch", config=config,
        metrics={name: run["metrics"] for name, run in runs.items()},
        curves=curves(runs), wall_time_s=seconds, device=profile["device"],
        data_fingerprint=ex.profile_corpus(profile).fingerprint(),
    )
