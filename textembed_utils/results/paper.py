"""The paper's numbers, stored once as data, and side-by-side tables with ours."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..errors import TextembedError

PAPER_TABLES_FILE = Path(__file__).with_name("paper_tables.json")


@lru_cache(maxsize=1)
def _paper_data() -> dict:
    return json.loads(PAPER_TABLES_FILE.read_text())


def paper_claims() -> dict[str, str]:
    """The paper's main claims, keyed by a short id used in the reproduction-status page."""
    return dict(_paper_data()["claims"])


def paper_table(name: str) -> pd.DataFrame:
    """One of the paper's tables (``"Table 1"``, ``"Table 2"``, ``"Table S1"``, ``"Table S3"``, ``"Table S6"``)."""
    tables = _paper_data()["tables"]
    if name not in tables:
        raise TextembedError(f"The paper has no stored table '{name}'.", f"use one of: {', '.join(tables)}.")
    table = tables[name]
    frame = pd.DataFrame.from_dict(table["rows"], orient="index", columns=table["columns"])
    frame.attrs.update(caption=table["caption"], metric=table["metric"], table=name)
    return frame


def side_by_side(
    table: str, paper_columns: list[str], ours: dict[str, dict[str, float]], rows: list[str] | None = None
) -> pd.DataFrame:
    """The paper's ``paper_columns`` of ``table`` next to our columns.

    ``ours`` maps a column label to ``{row: value}``; rows we did not measure stay
    empty (NaN) rather than being filled with anything.
    """
    paper = paper_table(table)
    missing = [c for c in paper_columns if c not in paper.columns]
    if missing:
        raise TextembedError(f"{table} has no column(s) {missing}.", f"use some of: {list(paper.columns)}.")
    frame = paper[paper_columns].rename(columns=lambda c: f"paper: {c}")
    for label, values in ours.items():
        frame[f"ours: {label}"] = pd.Series(values, dtype=float)
    if rows is not None:
        frame = frame.reindex(rows)
    frame.attrs.update(paper_table(table).attrs)
    return frame
