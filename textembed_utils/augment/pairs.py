"""Positive pairs per epoch for each augmentation.

- ``crops``: two distinct windows of the same text (anchor, positive).
- ``dropout``: one window, used twice; the two dropout masks of the model in
  train mode make the pair (SimCSE).
- ``masking``: the whole text twice; token masking (applied after tokenization
  by the trainer) makes the pair.
- ``crops+masking``: two crops, then masking on top.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import TextembedError
from .cropping import CropStats, windows_per_text

AUGMENTATIONS = ("crops", "dropout", "masking", "crops+masking")


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
        if augmentation == "masking":
            self._units = [[t] for t in texts if t.strip()]
            self.stats = CropStats(texts=len(texts), croppable=len(self._units), n_sentences=0)
            if not self._units:
                raise TextembedError("Every text is empty.", "give a corpus with text in it.")
        else:
            self._units, self.stats = windows_per_text(texts, n_sentences, splitter)

    def __len__(self) -> int:
        """Number of pairs per epoch (one per usable text)."""
        return len(self._units)

    def epoch(self, epoch: int) -> list[tuple[str, str]]:
        """The shuffled pairs of one epoch."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self._units))
        pairs = []
        for i in order:
            windows = self._units[i]
            if self.augmentation in ("crops", "crops+masking"):
                a, b = rng.choice(len(windows), size=2, replace=False)
                pairs.append((windows[a], windows[b]))
            else:
                one = windows[rng.integers(len(windows))]
                pairs.append((one, one))
        return pairs

    def batches_per_epoch(self, batch_size: int) -> int:
        return len(self) // batch_size
