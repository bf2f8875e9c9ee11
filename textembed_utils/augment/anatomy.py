"""A look inside the crop rule, for one text and for a whole corpus.

``anatomy`` shows what ``crop_windows`` does to one text: every raw piece the
split gives, its length, whether the 100–250-character rule keeps it, and the
windows made of the kept pieces. ``windows_histogram`` counts windows per text
over a corpus, which decides how varied the crop pairs are from epoch to epoch:
a text with two windows gives the same pair in every epoch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .cropping import MAX_SENTENCE_CHARS, MIN_SENTENCE_CHARS, crop_windows, split_sentences


@dataclass(frozen=True)
class CropAnatomy:
    """The raw pieces of one text, which of them the crop rule keeps, and the windows it makes."""

    text: str
    pieces: tuple[str, ...]
    windows: tuple[str, ...]
    n_sentences: int

    def pieces_table(self, width: int = 90) -> pd.DataFrame:
        """One row per raw piece: its characters, whether it is kept, its start."""
        return pd.DataFrame([
            {"characters": len(piece), "kept": MIN_SENTENCE_CHARS <= len(piece) <= MAX_SENTENCE_CHARS,
             "piece": piece.strip()[:width] + ("…" if len(piece.strip()) > width else "")}
            for piece in self.pieces
        ])


def anatomy(text: str, n_sentences: int = 2, splitter: str = "naive") -> CropAnatomy:
    """How the crop rule cuts ``text`` (the same functions the sampler uses)."""
    return CropAnatomy(text, tuple(split_sentences(text, splitter)),
                       tuple(crop_windows(text, n_sentences, splitter=splitter)), n_sentences)


def example_text(texts: Sequence[str], n_sentences: int, windows: int = 3, max_chars: int = 900,
                 splitter: str = "naive") -> str:
    """The first text of ``texts`` with exactly ``windows`` crop windows and at most ``max_chars`` characters.

    Falls back to the first text with at least two windows, so a tiny corpus still has an example.
    """
    counts = [(t, len(crop_windows(t, n_sentences, splitter=splitter))) for t in texts]
    exact = [t for t, n in counts if n == windows and len(t) <= max_chars]
    usable = [t for t, n in counts if n >= 2]
    if not (exact or usable):
        raise ValueError(f"no text has two windows of {n_sentences} sentence(s)")
    return (exact or usable)[0]


def windows_histogram(texts: Sequence[str], n_sentences: int, splitter: str = "naive") -> pd.Series:
    """Number of texts by number of crop windows (texts with fewer than two cannot train)."""
    counts = Counter(len(crop_windows(t, n_sentences, splitter=splitter)) for t in texts)
    return pd.Series(dict(sorted(counts.items())), name="texts").rename_axis("windows")
