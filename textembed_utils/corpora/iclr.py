"""The ICLR dataset (abstracts of ICLR submissions 2017–2024) in the paper's version.

The Berens lab publishes it as ``data/iclr24v1.parquet.gzip`` (a parquet file
despite the name) in github.com/berenslab/iclr-dataset. Versions differ in their
class sets: ``iclr24v1`` (git blob 44f0e6cd…) has the paper's 45 classes plus
"unlabeled", while the newer ``iclr24v2`` (blob 5e83bbe6…) relabels. We therefore
pin the commit and the blob id, and ``fetch_verified`` refuses any other file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..paths import cache_dir
from .base import Corpus
from .download import fetch_verified

ICLR_COMMIT = "37df25fa306c0cd97f023f11741f2d350e1de730"
ICLR_URL = (
    f"https://github.com/berenslab/iclr-dataset/raw/{ICLR_COMMIT}/data/iclr24v1.parquet.gzip"
)
ICLR_BLOB_ID = "44f0e6cd835c4606084e38d907cf37c085c01209"
UNLABELED = "unlabeled"


def load_iclr(
    url: str = ICLR_URL, blob_id: str = ICLR_BLOB_ID, cache: str | Path | None = None
) -> Corpus:
    """Abstracts as texts, the ``labels`` column as labels ("unlabeled" → ``None``).

    The file is downloaded once into ``<cache>/iclr/`` (default ``cache_dir()``) and
    verified against ``blob_id``; ``url`` and ``blob_id`` exist so tests can serve a
    stand-in. Unlabelled papers stay in the corpus (they train) but kNN skips them.
    """
    dest = Path(cache or cache_dir()) / "iclr" / url.rstrip("/").rsplit("/", 1)[-1]
    table = pd.read_parquet(fetch_verified(url, dest, blob_id), engine="pyarrow")
    abstracts = table["abstract"].fillna("").astype(str).str.strip()
    kept = abstracts != ""
    table, texts = table[kept], abstracts[kept]
    labels = [None if pd.isna(lab) or lab == UNLABELED else str(lab) for lab in table["labels"]]
    return Corpus(
        name="iclr",
        texts=texts.tolist(),
        labels=labels,
        source=url,
        info={
            "commit": ICLR_COMMIT if url == ICLR_URL else None,
            "blob_id": blob_id,
            "years": sorted(int(y) for y in table["year"].unique()),
            "unlabelled": labels.count(None),
            "dropped_empty": int((~kept).sum()),
        },
    )
