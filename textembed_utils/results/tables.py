"""Tables people read, and the tidy rows that results records store.

Accuracies are shown as the paper shows them, percentages with one decimal,
each with its 95 % interval and the number of test texts it was measured on; a
record stores one row per run × metric (``tidy_rows``), so pages that compare
chapters read columns instead of searching names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from typing import TYPE_CHECKING

import pandas as pd

from ..evaluation.scoring import METRICS

if TYPE_CHECKING:
    from ..evaluation.intervals import Accuracy

METRIC_LABELS = {"knn_euclidean": "kNN Euclidean (%)", "knn_cosine": "kNN cosine (%)",
                 "linear_probe": "linear probe (%)"}


def percent(accuracy: Accuracy) -> str:
    """``84.3 (82.0–86.5)``: the accuracy and its 95 % interval, in percent."""
    return f"{100 * accuracy.value:.1f} ({100 * accuracy.low:.1f}–{100 * accuracy.high:.1f})"


def accuracy_columns(accuracies: Mapping[str, Accuracy], metrics: Iterable[str] = METRICS) -> dict[str, object]:
    """One table row's accuracy cells (with intervals) and its number of test texts."""
    present = [m for m in metrics if m in accuracies]
    row: dict[str, object] = {METRIC_LABELS[m]: percent(accuracies[m]) for m in present}
    if present:
        row["test texts"] = accuracies[present[0]].n_test
    return row


def tidy_rows(scored: Mapping, **columns: object) -> list[dict]:
    """Rows ``{run columns…, evaluation, metric, value, low, high, n_test}`` for every run × metric of ``scored``.

    ``scored`` maps each ``Run`` to an object with ``.scores`` and ``.evaluation``
    (``experiments.Evaluated``); ``columns`` are added to every row (e.g. ``part="sweep"``).
    """
    return [{**run.fields(), **columns, "evaluation": getattr(evaluated, "evaluation", ""), **row}
            for run, evaluated in scored.items() for row in evaluated.scores.rows()]


def stored_accuracy_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per run of a record's tidy rows: each metric as ``84.3 (82.0–86.5)`` and the test texts."""
    table: dict[str, dict[str, object]] = {}
    for row in rows.itertuples(index=False):
        cells = table.setdefault(row.run, {})
        cells[METRIC_LABELS.get(row.metric, row.metric)] = (
            f"{100 * row.value:.1f} ({100 * row.low:.1f}–{100 * row.high:.1f})")
        cells["test texts"] = int(row.n_test)
    labels = [label for label in (*METRIC_LABELS.values(), "test texts")
              if any(label in cells for cells in table.values())]
    return pd.DataFrame.from_dict(table, orient="index").reindex(columns=labels).fillna("–")


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    """A record's tidy rows as a DataFrame (empty, with the columns, when there are none)."""
    columns = ["run", "start", "augmentation", "trained_on", "evaluation", "metric", "value", "low", "high", "n_test"]
    return pd.DataFrame(rows, columns=None if rows else columns)


PAPER_AVERAGE = "Block average"


def blocks_like_with_like(frame: pd.DataFrame) -> pd.DataFrame:
    """Table S1 with ours (``ours: …`` columns) averaged over the same blocks as the paper's.

    Our block average covers only the blocks we ran, the paper's all five, so the two are
    not comparable: the paper's row keeps its own average (ours left empty), and a row
    "average of the blocks run here" averages the paper's columns and ours over the same blocks.
    """
    ours = [column for column in frame.columns if column.startswith("ours:")]
    blocks = [row for row in frame.index if row != PAPER_AVERAGE and ours and frame.loc[row, ours].notna().all()]
    frame = frame.rename(index={PAPER_AVERAGE: "Block average (the paper's 5 blocks)"})
    frame.loc["Block average (the paper's 5 blocks)", ours] = float("nan")
    if blocks:
        frame.loc[f"Average of the blocks run here ({', '.join(blocks).lower()})"] = frame.loc[blocks].mean()
    return frame.round(1)
