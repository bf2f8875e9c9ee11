"""Cropping texts into windows of consecutive sentences, exactly as the authors' code does.

The rule (paper §3.1 and the authors' ``MultOverlappingSentencesPairDataset``):
split on '.', keep raw pieces of 100–250 characters, and form windows of ``n``
consecutive *kept* sentences, each stripped and followed by ". " — the last one
too, so a window ends with its full stop (and a space no tokenizer sees), as the
paper's example crops do. The strings are the authors', character for character.
Windows slide, so neighbours overlap. A text with fewer than two windows cannot
give a crop pair and is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import TextembedError

MIN_SENTENCE_CHARS = 100
MAX_SENTENCE_CHARS = 250

# Sentence end: ., ! or ? followed by whitespace and an upper-case letter, digit or
# quote. Better than a bare '.' split on "e.g.", "3.5" or "U.S." in the middle of a
# sentence; offered as an option because the paper uses the naive split.
_REGEX_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")

SPLITTERS = ("naive", "regex")


def split_sentences(text: str, splitter: str = "naive") -> list[str]:
    """Split ``text`` into raw sentence pieces (not yet stripped or filtered)."""
    if splitter == "naive":
        return text.split(".")
    if splitter == "regex":
        return [piece.rstrip(".!?") for piece in _REGEX_BOUNDARY.split(text)]
    raise TextembedError(
        f"Unknown sentence splitter '{splitter}'.", f"use one of {', '.join(SPLITTERS)}."
    )


def crop_windows(
    text: str,
    n_sentences: int = 2,
    *,
    min_chars: int = MIN_SENTENCE_CHARS,
    max_chars: int = MAX_SENTENCE_CHARS,
    splitter: str = "naive",
) -> list[str]:
    """All windows of ``n_sentences`` consecutive kept sentences of ``text``.

    A raw piece is kept when ``min_chars <= len(piece) <= max_chars`` (measured
    before stripping, as the authors' code does); each kept sentence enters its
    windows stripped and followed by ". " (the authors' strings, final stop included).
    """
    if n_sentences < 1:
        raise TextembedError(
            f"n_sentences must be at least 1, got {n_sentences}.", "pass n_sentences >= 1."
        )
    kept = [
        piece.strip()
        for piece in split_sentences(text, splitter)
        if min_chars <= len(piece) <= max_chars
    ]
    ended = [f"{sentence}. " for sentence in kept]
    return ["".join(ended[i : i + n_sentences]) for i in range(len(ended) - n_sentences + 1)]


@dataclass(frozen=True)
class CropStats:
    """How many texts of a corpus can give a crop pair, and how many were dropped."""

    texts: int
    croppable: int
    n_sentences: int

    @property
    def dropped(self) -> int:
        return self.texts - self.croppable

    def describe(self) -> str:
        return (
            f"{self.croppable:,} of {self.texts:,} texts have at least two crops of "
            f"{self.n_sentences} sentence(s) of {MIN_SENTENCE_CHARS}–{MAX_SENTENCE_CHARS} "
            f"characters; {self.dropped:,} dropped."
        )


def _no_crops(texts: Sequence[str], n_sentences: int) -> TextembedError:
    return TextembedError(
        f"No text has two crops of {n_sentences} sentence(s) with "
        f"{MIN_SENTENCE_CHARS}–{MAX_SENTENCE_CHARS} characters each "
        f"(0 of {len(texts)} texts usable).",
        "lower n_sentences (e.g. 1), try splitter='regex', or use "
        "augmentation='masking' which needs no sentence structure.",
    )


def windows_per_text(
    texts: Sequence[str], n_sentences: int, splitter: str = "naive"
) -> tuple[list[list[str]], CropStats]:
    """Windows of every text that has at least two, plus the drop statistics.

    Raises a clear error when no text at all can be cropped, naming the usual
    fixes (fewer sentences per crop, or the dropout/masking augmentations).
    """
    windows = [crop_windows(t, n_sentences, splitter=splitter) for t in texts]
    kept = [w for w in windows if len(w) >= 2]
    stats = CropStats(texts=len(texts), croppable=len(kept), n_sentences=n_sentences)
    if not kept:
        raise _no_crops(texts, n_sentences)
    return kept, stats


def window_counts(
    texts: Sequence[str], n_sentences: int, splitter: str = "naive"
) -> tuple[np.ndarray, np.ndarray, CropStats]:
    """Which texts have at least two windows (indices into ``texts``), how many each has, and the statistics.

    The same texts as ``windows_per_text`` keeps, without holding their windows:
    for a large corpus those strings would double the memory the texts take.
    """
    usable, counts = [], []
    for i, text in enumerate(texts):
        count = len(crop_windows(text, n_sentences, splitter=splitter))
        if count >= 2:
            usable.append(i)
            counts.append(count)
    if not usable:
        raise _no_crops(texts, n_sentences)
    stats = CropStats(texts=len(texts), croppable=len(usable), n_sentences=n_sentences)
    return np.asarray(usable, dtype=np.int64), np.asarray(counts, dtype=np.int64), stats
