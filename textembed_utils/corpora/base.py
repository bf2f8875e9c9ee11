"""The ``Corpus`` container every loader returns."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..errors import TextembedError


@dataclass
class Corpus:
    """Texts with optional class labels.

    ``labels[i]`` is ``None`` for an unlabelled text (e.g. ICLR's "unlabeled"):
    such texts still train, but kNN accuracy uses labelled texts only, as in the paper.
    """

    name: str
    texts: list[str]
    labels: list[str | None] | None = None
    source: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.texts:
            raise TextembedError(
                f"The corpus '{self.name}' holds no texts.",
                "check the file and the text column; an empty file cannot be trained on.",
            )
        if self.labels is not None and len(self.labels) != len(self.texts):
            raise TextembedError(
                f"The corpus '{self.name}' has {len(self.texts)} texts but {len(self.labels)} labels.",
                "give exactly one label (or an empty value) per text.",
            )
        self._check_types()

    def _check_types(self) -> None:
        """Texts must be strings and labels strings or None, so nothing is silently stringified later."""
        bad = next((i for i, text in enumerate(self.texts) if not isinstance(text, str)), None)
        if bad is not None:
            raise TextembedError(
                f"Text {bad} of the corpus '{self.name}' is a {type(self.texts[bad]).__name__} "
                f"({self.texts[bad]!r:.60}), not a string.",
                "pass texts as strings; load_user_file reads and checks files for you.",
            )
        bad = next((i for i, lab in enumerate(self.labels or []) if lab is not None and not isinstance(lab, str)),
                   None)
        if bad is not None:
            raise TextembedError(
                f"Label {bad} of the corpus '{self.name}' is a {type(self.labels[bad]).__name__} "
                f"({self.labels[bad]!r:.60}), not a string.",
                "pass labels as strings (e.g. [str(label) for label in labels]) or None for unlabelled texts.",
            )

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def has_labels(self) -> bool:
        return self.labels is not None and any(lab is not None for lab in self.labels)

    def labelled(self) -> tuple[list[str], np.ndarray]:
        """Texts that carry a label and their labels as an array of strings."""
        if not self.has_labels:
            raise TextembedError(
                f"The corpus '{self.name}' has no labels, so accuracy cannot be measured.",
                "pass a label column (e.g. --label-column topic) or use a labelled corpus.",
            )
        pairs = [(t, lab) for t, lab in zip(self.texts, self.labels) if lab is not None]
        return [t for t, _ in pairs], np.array([lab for _, lab in pairs], dtype=object)

    def class_counts(self) -> Counter:
        return Counter(lab for lab in (self.labels or []) if lab is not None)

    def subset(self, n: int | None, seed: int = 42) -> "Corpus":
        """A random subset of ``n`` texts (all when ``n`` is None or ≥ the size), seeded."""
        if n is None or n >= len(self):
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        labels = [self.labels[i] for i in idx] if self.labels is not None else None
        return Corpus(
            name=f"{self.name}[{n}]",
            texts=[self.texts[i] for i in idx],
            labels=labels,
            source=self.source,
            info={**self.info, "subset_of": len(self), "subset_seed": seed},
        )

    def fingerprint(self) -> str:
        """SHA-256 over texts and labels: identifies the data a result was computed on."""
        h = hashlib.sha256()
        for i, text in enumerate(self.texts):
            h.update(text.encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
            h.update(str(self.labels[i] if self.labels is not None else "").encode())
            h.update(b"\x01")
        return h.hexdigest()

    def summary(self) -> dict:
        lengths = np.array([len(t) for t in self.texts])
        return {
            "name": self.name,
            "texts": len(self),
            "labelled": sum(1 for lab in (self.labels or []) if lab is not None),
            "classes": len(self.class_counts()),
            "mean_chars": float(lengths.mean()),
            "std_chars": float(lengths.std()),
        }
