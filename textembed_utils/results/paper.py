"""The paper's numbers and claims, stored once as data."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..errors import TextembedError
from .claims import Claim

PAPER_TABLES_FILE = Path(__file__).with_name("paper_tables.json")


@lru_cache(maxsize=1)
def _paper_data() -> dict:
    return json.loads(PAPER_TABLES_FILE.read_text())


def paper_claims() -> dict[str, Claim]:
    """The paper's main claims as typed values (kind, the paper's figure, what testing them needs), by key."""
    return {key: Claim.from_dict(key, stored) for key, stored in _paper_data()["claims"].items()}


def paper_table(name: str) -> pd.DataFrame:
    """One of the paper's tables (``"Table 1"``, ``"Table 2"``, ``"Table S1"``, ``"Table S3"``, ``"Table S6"``)."""
    tables = _paper_data()["tables"]
    if name not in tables:
        raise TextembedError(f"The paper has no stored table '{name}'.", f"use one of: {', '.join(tables)}.")
    table = tables[name]
    frame = pd.DataFrame.from_dict(table["rows"], orient="index", columns=table["columns"])
    frame.attrs.update(caption=table["caption"], metric=table["metric"], table=name)
    return frame
