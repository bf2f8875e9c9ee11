"""Positive pairs per epoch for each augmentation.

- ``crops``: two distinct windows of the same text (anchor, positive).
- ``dropout``: one window, used twice; the two dropout masks of the model in
  train mode make the pair (SimCSE).
- ``masking``: the whole text twice; token masking (applied after tokenization
  by the trainer) makes the pair.
- ``crops+masking``: two crops, then masking on top.

The sampler keeps the corpus's texts and, per usable text, only its number of
windows; an epoch draws every pair's (text, window, window) up front and cuts the
windows when a batch asks for them. Holding every window of a 500,000-text
corpus as a string, and every epoch's pairs, would take as much memory again as
the texts themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..errors import TextembedError
from .cropping import CropStats, crop_windows, window_counts

AUGMENTATIONS = ("crops", "dropout", "masking", "crops+masking")


class EpochPairs(Sequence):
    """One epoch's (anchor, positive) pairs, in order; the strings are made when they are read."""

    def __init__(self, sampler: "PairSampler", rows: np.ndarray):
        self._sampler, self._rows = sampler, rows  # rows: (pairs, 3) = usable text, anchor window, positive window

    def __len__(self) -> int:
        return len(self._rows)

    def _pair(self, row: np.ndarray) -> tuple[str, str]:
        windows = self._sampler.windows(int(row[0]))
        return windows[row[1]], windows[row[2]]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._pair(row) for row in self._rows[index]]
        return self._pair(self._rows[index])

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return (self._pair(row) for row in self._rows)

    def __eq__(self, other: object) -> bool:
        """The same pairs in the same order (as a list of them would compare)."""
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # a sequence compared by content


class PairSampler:
    """Deterministic (anchor, positive) pairs for every epoch of a corpus.

    The pairs of epoch ``e`` depend only on ``(seed, e)``, so a resumed run
    replays exactly the pairs an uninterrupted run would have seen.
    """

    def __init__(
        self,
        texts: Sequence[str],
        augmentation: str = "crops",
        n_sentences: int = 2,
        seed: int = 42,
        splitter: str = "naive",
    ):
        if augmentation not in AUGMENTATIONS:
            raise TextembedError(
                f"Unknown augmentation '{augmentation}'.",
                f"use one of: {', '.join(AUGMENTATIONS)}.",
            )
        self.augmentation = augmentation
        self.seed = seed
        self.uses_masking = augmentation.endswith("masking")
        self._texts, self._n_sentences, self._splitter = texts, n_sentences, splitter
        if augmentation == "masking":
            self._usable = np.array([i for i, t in enumerate(texts) if t.strip()], dtype=np.int64)
            self._counts = np.ones(len(self._usable), dtype=np.int64)
            self.stats = CropStats(texts=len(texts), croppable=len(self._usable), n_sentences=0)
            if not len(self._usable):
                raise TextembedError("Every text is empty.", "give a corpus with text in it.")
        else:
            self._usable, self._counts, self.stats = window_counts(texts, n_sentences, splitter)

    def __len__(self) -> int:
        """Number of pairs per epoch (one per usable text)."""
        return len(self._usable)

    def windows(self, unit: int) -> list[str]:
        """The views the ``unit``-th usable text offers: its crop windows, or the text itself for masking."""
        text = self._texts[self._usable[unit]]
        if self.augmentation == "masking":
            return [text]
        return crop_windows(text, self._n_sentences, splitter=self._splitter)

    def epoch(self, epoch: int) -> EpochPairs:
        """The shuffled pairs of one epoch."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self._usable))
        two_windows = self.augmentation in ("crops", "crops+masking")
        rows = np.empty((len(order), 3), dtype=np.int64)
        for row, unit in enumerate(order):
            count = int(self._counts[unit])
            if two_windows:
                anchor, positive = rng.choice(count, size=2, replace=False)
            else:
                anchor = positive = rng.integers(count)
            rows[row] = (unit, anchor, positive)
        return EpochPairs(self, rows)

    def batches_per_epoch(self, batch_size: int, smallest_last: int = 1) -> int:
        """Batches in one epoch: every full batch, then the rest as a last, smaller batch.

        The authors' DataLoader keeps that partial batch (``drop_last=False``), so
        every usable text trains once per epoch. ``smallest_last``: the fewest pairs
        the last batch must hold to be kept (in several processes, one per process).
        """
        full, rest = divmod(len(self), batch_size)
        return full + int(rest >= smallest_last)
