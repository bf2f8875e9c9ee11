"""Can kNN accuracy mean anything on these labels? Say so before scoring, never score nonsense.

Accuracy of a k-nearest-neighbour classifier on a stratified split is defined only
when the labels form real classes. ``check_measurable`` refuses, with the classes
or texts to blame and what to do:

- fewer than two classes (every text in one class: accuracy is 1 whatever the model);
- labels one-to-one with texts (an id or title column: no neighbour can share a label);
- a class too small for the stratified split (scikit-learn needs 2 texts per class)
  or for ``k`` neighbours: a class with fewer than ⌈k/2⌉ training texts can never
  make up half of a text's ``k`` neighbours, so its texts count as errors whatever
  the embedding;
- more classes than test texts (the split cannot hold one test text per class);
- fewer training texts than ``k``.

``drop_rare=True`` leaves the too-small classes out (and says which); ``skip=True``
skips evaluation altogether. Unlabelled entries (``None``) are ignored, as in kNN.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import TextembedError

SHOWN = 8  # classes named in a report; the rest are counted


@dataclass(frozen=True)
class LabelReport:
    """Whether accuracy is measurable on some labels, why not, and which entries are scored.

    ``keep`` are the indices (into the labels given) that an evaluation should use:
    the labelled ones, less those of ``dropped`` classes. ``problem`` and ``fix``
    are empty when ``measurable``.
    """

    measurable: bool
    keep: np.ndarray = field(repr=False)
    classes: int
    dropped: dict[str, int] = field(default_factory=dict)
    problem: str = ""
    fix: str = ""
    skipped: bool = False

    def raise_if_not_measurable(self) -> None:
        """A ``TextembedError`` with the problem and the fix, unless measurable (or skipped on request)."""
        if not self.measurable and not self.skipped:
            raise TextembedError(self.problem, self.fix)

    def as_dict(self) -> dict:
        """For a report or a results record: measurable, why not, what was dropped."""
        return {"measurable": self.measurable, "skipped": self.skipped, "classes": self.classes,
                "scored_texts": int(len(self.keep)), "dropped_classes": self.dropped,
                "not_measurable_because": self.problem or None}


def min_class_size(k: int, test_size: float) -> int:
    """Texts a class needs so that its training part can be half of ``k`` neighbours (and be split at all)."""
    return max(2, math.ceil(math.ceil(k / 2) / (1 - test_size)))


def _named(counts: Counter, classes: Sequence) -> str:
    shown = ", ".join(f"'{c}' ({counts[c]})" for c in list(classes)[:SHOWN])
    more = len(classes) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _problem(counts: Counter, n: int, k: int, test_size: float, smallest: int) -> tuple[str, str] | None:
    """The first reason accuracy cannot be measured on ``counts`` (class → texts), with its fix; or None."""
    n_test = math.ceil(test_size * n)  # scikit-learn's rounding of a fractional test size
    remedies = ("merge related classes, pass drop_rare=True (CLI: --drop-rare-classes) to leave "
                "the small ones out, or skip=True (CLI: --no-eval) to skip the accuracy")
    if len(counts) < 2:
        what = f"all {n} labelled texts are in one class ('{next(iter(counts))}')" if counts else "no text has a label"
        return (f"kNN accuracy cannot be measured: {what}; accuracy needs at least two classes.",
                "use a label column with two or more classes, or skip=True (CLI: --no-eval) to skip the accuracy.")
    if all(count == 1 for count in counts.values()):
        return (f"kNN accuracy cannot be measured: each of the {n} labelled texts has its own label "
                "(an id or title column?), so no neighbour can share it.",
                "pass the column that holds classes shared by many texts (e.g. a topic), not an identifier, "
                "or skip=True (CLI: --no-eval) to skip the accuracy.")
    small = sorted((c for c, count in counts.items() if count < smallest), key=lambda c: (counts[c], str(c)))
    if small:
        return (f"kNN accuracy cannot be measured: {len(small)} of {len(counts)} classes have fewer than "
                f"{smallest} texts, too few for a stratified {1 - test_size:.0%}/{test_size:.0%} split with "
                f"k={k} neighbours: {_named(counts, small)}.", f"{remedies}.")
    if len(counts) > n_test:
        return (f"kNN accuracy cannot be measured: {len(counts)} classes but only {n_test} test texts "
                f"({test_size:.0%} of {n}); the split cannot test every class.",
                f"label more texts (or raise --eval-size), {remedies}.")
    if n - n_test < k:
        return (f"kNN accuracy cannot be measured: {n - n_test} training texts, fewer than k={k} neighbours.",
                f"label at least {math.ceil(k / (1 - test_size)) + 1} texts, or skip=True (CLI: --no-eval).")
    return None


def check_measurable(labels: Sequence, k: int = 10, test_size: float = 0.1, *, drop_rare: bool = False,
                     skip: bool = False) -> LabelReport:
    """Whether kNN accuracy with ``k`` neighbours on a stratified ``test_size`` split means anything on ``labels``.

    Returns a ``LabelReport``; call ``raise_if_not_measurable()`` to turn a refusal
    into an error. With ``drop_rare`` the classes too small to be measured are left
    out of ``keep`` and listed in ``dropped``, and what is left is checked again.
    """
    labelled = np.array([i for i, label in enumerate(labels) if label is not None], dtype=int)
    counts = Counter(labels[i] for i in labelled)
    if skip:
        return LabelReport(False, labelled[:0], len(counts), skipped=True,
                           problem="evaluation skipped on request (skip=True / --no-eval)")
    smallest = min_class_size(k, test_size)
    dropped: dict[str, int] = {}
    if drop_rare:
        dropped = {str(c): n for c, n in sorted(counts.items(), key=lambda item: str(item[0])) if n < smallest}
        labelled = np.array([i for i in labelled if counts[labels[i]] >= smallest], dtype=int)
        counts = Counter(labels[i] for i in labelled)
    found = _problem(counts, len(labelled), k, test_size, smallest)
    if found is None:
        return LabelReport(True, labelled, len(counts), dropped)
    problem, fix = found
    if dropped:
        problem += f" (after leaving out {len(dropped)} class(es) under {smallest} texts)"
    return LabelReport(False, labelled, len(counts), dropped, problem, fix)
