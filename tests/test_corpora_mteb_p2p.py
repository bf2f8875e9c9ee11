"""MTEB P2P loaders: pinned revisions, flattening of grouped splits, offline errors."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from datasets import Dataset  # noqa: E402

from textembed_utils.corpora import load_corpus  # noqa: E402
from textembed_utils.corpora.mteb_p2p import (  # noqa: E402
    flatten_groups,
    load_mteb_p2p,
    pinned_dataset,
)
from textembed_utils.errors import TextembedError  # noqa: E402

PINNED = {
    "arxiv": ("mteb/arxiv-clustering-p2p", "a122ad7f3f0291bf49cc6f4d32aa80929df69d5d"),
    "biorxiv": ("mteb/biorxiv-clustering-p2p", "65b79d1d13f80053f67aca9498d9402c2d9f1f40"),
    "medrxiv": ("mteb/medrxiv-clustering-p2p", "e7a26af6f3ae46b30dde8737f02c07b1505bcc73"),
    "reddit": ("mteb/reddit-clustering-p2p", "385e3cb46b4cfa89021f56c4380204149d0efe33"),
    "stackexchange": (
        "mteb/stackexchange-clustering-p2p",
        "815ca46b2622cec33ccafc3735d572c266efdb44",
    ),
}

STANDIN = Dataset.from_dict(
    {
        "sentences": [["p1", "p2", "p3"], ["p1", "p4"], ["p2"]],
        "labels": [["cs", "math", "cs"], ["physics", "cs"], ["math"]],
    }
)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_path_and_revision_come_from_mteb(name):
    assert pinned_dataset(name) == PINNED[name]


def test_flatten_drops_repeated_pairs_in_order():
    texts, labels = flatten_groups(STANDIN)
    # ("p1", "physics") differs from ("p1", "cs") in its label, so both stay.
    assert texts == ["p1", "p2", "p3", "p1", "p4"]
    assert labels == ["cs", "math", "cs", "physics", "cs"]


def test_loader_uses_pin_and_subsamples_with_seed():
    calls = []

    def fake_load(path, revision, split):
        calls.append((path, revision, split))
        return STANDIN

    full = load_corpus("arxiv", load_fn=fake_load)
    assert calls == [(*PINNED["arxiv"], "test")]
    assert len(full) == 5 and full.info["revision"] == PINNED["arxiv"][1]
    small = load_mteb_p2p("ArxivClusteringP2P", max_texts=3, seed=1, load_fn=fake_load)
    again = load_mteb_p2p("arxiv", max_texts=3, seed=1, load_fn=fake_load)
    assert len(small) == 3 and small.texts == again.texts
    assert set(zip(small.texts, small.labels)) <= set(zip(full.texts, full.labels))


def test_offline_load_gives_a_clear_error():
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'mteb/reddit-clustering-p2p' on the Hub")

    with pytest.raises(TextembedError, match="needs internet") as err:
        load_mteb_p2p("reddit", load_fn=offline)
    assert "paper profile" in err.value.fix


def test_real_load_dataset_offline_gives_a_clear_error(tmp_path, monkeypatch):
    # An empty cache, so a copy downloaded earlier on this machine cannot answer.
    monkeypatch.setattr("datasets.config.HF_DATASETS_CACHE", tmp_path / "datasets")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("datasets.config.HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(TextembedError, match="needs internet"):
        load_mteb_p2p("medrxiv")


def test_unknown_name():
    with pytest.raises(TextembedError, match="Unknown MTEB"):
        pinned_dataset("pubmed")
