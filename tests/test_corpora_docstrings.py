"""The docstrings domain: labelled by package, long enough, identical on every run."""

import pytest

from textembed_utils.corpora.docstrings import _normalise, _own_doc, load_docstrings
from textembed_utils.errors import TextembedError

PACKAGES = ("json", "email", "seaborn", "no_such_package_xyz")


def test_docstrings_are_labelled_long_and_deterministic():
    corpus = load_docstrings(packages=PACKAGES, min_chars=150)
    assert set(corpus.labels) == {"json", "email", "seaborn"}
    assert all(len(text) >= 150 for text in corpus.texts)
    assert len(set(corpus.texts)) == len(corpus.texts)
    assert corpus.info["skipped"] == {"no_such_package_xyz": "not installed"}
    assert sum(corpus.info["per_package"].values()) == len(corpus)
    assert load_docstrings(packages=PACKAGES, min_chars=150).fingerprint() == corpus.fingerprint()


def test_max_per_package_is_a_seeded_subset():
    full = load_docstrings(packages=("email", "json"), min_chars=100)
    small = load_docstrings(packages=("email", "json"), min_chars=100, max_per_package=5, seed=3)
    assert small.info["per_package"] == {"email": 5, "json": 5}
    assert set(small.texts) <= set(full.texts)
    same = load_docstrings(packages=("email", "json"), min_chars=100, max_per_package=5, seed=3)
    assert same.texts == small.texts


def test_inherited_docstrings_are_not_taken():
    class Base:
        """Documented here."""

    class Child(Base):
        pass

    assert _own_doc(Base) == "Documented here."
    assert _own_doc(Child) is None


def test_random_example_output_is_dropped():
    doc = "Draw samples.\n\n>>> X.sample(4)\narray([0.1, 0.7])  # may vary\n>>> 1 + 1\n2"
    assert _normalise(doc) == "Draw samples.\n\n>>> X.sample(4)\n>>> 1 + 1\n2"


def test_no_installed_package_is_an_error():
    with pytest.raises(TextembedError, match="No docstrings found"):
        load_docstrings(packages=("no_such_package_xyz",))
