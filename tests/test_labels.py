"""Degenerate labels are reported as not measurable, never scored (issue 14): each class of problem."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from textembed_utils.errors import TextembedError
from textembed_utils.evaluation.labels import check_measurable, min_class_size


def classes(**sizes: int) -> list[str]:
    return [name for name, n in sizes.items() for _ in range(n)]


def sklearn_splits(labels: list) -> bool:
    """Whether scikit-learn's stratified 90/10 split (the one kNN uses) accepts ``labels``."""
    try:
        train_test_split(np.arange(len(labels)), test_size=0.1, random_state=42, stratify=labels)
    except ValueError:
        return False
    return True


def test_real_classes_are_measurable_and_keep_every_labelled_text():
    labels = classes(a=30, b=30, c=20) + [None, None]
    report = check_measurable(labels)
    assert report.measurable and report.classes == 3 and report.keep.tolist() == list(range(80))
    report.raise_if_not_measurable()  # no error
    assert sklearn_splits(labels[:80])


@pytest.mark.parametrize(
    ("labels", "words"),
    [(classes(a=50), "all 50 labelled texts are in one class ('a')"),
     ([None] * 20, "no text has a label"),
     ([f"id{i}" for i in range(60)], "each of the 60 labelled texts has its own label")],
    ids=["one class", "no labels", "one-to-one"],
)
def test_fewer_than_two_classes_or_an_identifier_column(labels, words):
    report = check_measurable(labels)
    assert not report.measurable and words in report.problem
    with pytest.raises(TextembedError, match="cannot be measured"):
        report.raise_if_not_measurable()


def test_a_class_too_small_for_the_split_is_named_with_its_size():
    labels = classes(a=40, b=40, lonely=1)
    assert not sklearn_splits(labels)  # scikit-learn refuses it too
    report = check_measurable(labels)
    assert not report.measurable and "'lonely' (1)" in report.problem
    assert "drop_rare=True" in report.fix and "skip=True" in report.fix and "merge" in report.fix


def test_a_class_too_small_for_k_neighbours():
    # 5 texts split fine (sklearn accepts) but leave at most 4 training texts: never half of k=10 neighbours.
    labels = classes(a=40, b=40, rare=5)
    assert sklearn_splits(labels)
    assert min_class_size(10, 0.1) == 6
    report = check_measurable(labels, k=10)
    assert not report.measurable and "'rare' (5)" in report.problem and "k=10" in report.problem
    assert check_measurable(labels, k=3).measurable  # with 3 neighbours, 5 texts are enough


def test_more_classes_than_test_texts():
    labels = classes(**{f"c{i}": 6 for i in range(12)})  # 72 texts → 8 test texts for 12 classes
    assert not sklearn_splits(labels)
    report = check_measurable(labels, k=3)
    assert not report.measurable and "12 classes but only 8 test texts" in report.problem


def test_fewer_training_texts_than_k():
    labels = classes(a=6, b=6)
    report = check_measurable(labels, k=20, test_size=0.1)
    assert not report.measurable and "fewer than" in report.problem


def test_drop_rare_leaves_the_small_classes_out_and_says_which():
    labels = classes(a=40, b=40, rare=2, tiny=1)
    report = check_measurable(labels, drop_rare=True)
    assert report.measurable and report.dropped == {"rare": 2, "tiny": 1}
    assert [labels[i] for i in report.keep] == classes(a=40, b=40)
    assert report.as_dict()["dropped_classes"] == {"rare": 2, "tiny": 1}


def test_drop_rare_that_leaves_one_class_is_still_not_measurable():
    report = check_measurable(classes(a=40, b=3), drop_rare=True)
    assert not report.measurable and "all 40 labelled texts are in one class ('a')" in report.problem
    assert "after leaving out 1 class(es)" in report.problem


def test_skip_reports_not_measured_without_raising():
    report = check_measurable(classes(a=50), skip=True)
    assert report.skipped and not report.measurable and len(report.keep) == 0
    report.raise_if_not_measurable()  # skipped on request: not an error
    assert report.as_dict()["skipped"]


def test_many_small_classes_are_counted_not_all_listed():
    labels = classes(a=40, b=40) + [f"s{i}" for i in range(20) for _ in range(2)]
    report = check_measurable(labels)
    assert "20 of 22 classes" in report.problem and "and 12 more" in report.problem
