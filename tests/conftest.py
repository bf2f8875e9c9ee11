"""Shared fixtures: offline environment, throw-away storage, tiny models and small corpora.

- The whole session runs offline (no Hugging Face hub) on at most 2 CPU threads, and
  writes its caches and results records under a temporary folder, never into the
  project's ``cache/`` or ``results/``.
- ``fresh_storage`` gives one test its own empty cache and results folders.
- Models: ``tiny_encoder`` (a 2-layer × 64 random-init BERT with the MiniLM tokenizer)
  and ``tiny_bare`` (a 32-d bare token-embedding layer) are built fresh per test, in
  well under a second; the real all-MiniLM-L6-v2 is loaded once per session (``minilm``).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import random
from pathlib import Path

import pytest
import torch

from textembed_utils.corpora import Corpus
from textembed_utils.models import TextEncoder, load_encoder

torch.set_num_threads(min(2, torch.get_num_threads()))

TINY_CONFIG = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128)

# Two topics with disjoint vocabularies: a model that learns anything separates them.
TOPIC_WORDS = {
    "animals": "cat dog horse cow sheep goat wolf fox bear deer rabbit mouse owl eagle".split(),
    "machines": "engine motor gear piston turbine lever pump valve shaft bolt circuit sensor drill".split(),
}


def topic_text(rng: random.Random, topic: str, sentences: int = 3) -> str:
    """``sentences`` sentences of 25 topic words each (≈ 120–190 characters: croppable)."""
    return ". ".join(
        " ".join(rng.choice(TOPIC_WORDS[topic]) for _ in range(25)).capitalize() for _ in range(sentences)
    ) + "."


def make_toy_corpus(n: int = 48, seed: int = 0) -> Corpus:
    rng = random.Random(seed)
    topics = [list(TOPIC_WORDS)[i % 2] for i in range(n)]
    return Corpus("toy", [topic_text(rng, t) for t in topics], topics)


@pytest.fixture(scope="session", autouse=True)
def isolated_storage(tmp_path_factory) -> Path:
    """Point TEXTEMBED_CACHE / TEXTEMBED_RESULTS at a session-wide temporary folder."""
    root = tmp_path_factory.mktemp("storage")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEXTEMBED_CACHE", str(root / "cache"))
        mp.setenv("TEXTEMBED_RESULTS", str(root / "results"))
        yield root


@pytest.fixture
def fresh_storage(tmp_path, monkeypatch) -> Path:
    """An empty cache and results folder for this test only."""
    monkeypatch.setenv("TEXTEMBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TEXTEMBED_RESULTS", str(tmp_path / "results"))
    return tmp_path


@pytest.fixture
def tiny_encoder() -> TextEncoder:
    """A fresh 2-layer × 64 random-init transformer (MiniLM tokenizer), seed 0."""
    return load_encoder(init="random", config_overrides=TINY_CONFIG, max_length=48, seed=0)


@pytest.fixture
def tiny_bare() -> TextEncoder:
    """A fresh 32-d bare token-embedding model over the MiniLM vocabulary, seed 0."""
    return load_encoder("bare", config_overrides={"hidden_size": 32}, max_length=48, seed=0)


@pytest.fixture(scope="session")
def minilm() -> TextEncoder:
    """The real all-MiniLM-L6-v2, loaded once per session."""
    return load_encoder()


@pytest.fixture(scope="session")
def toy_corpus() -> Corpus:
    """48 labelled texts of two topics, three croppable sentences each."""
    return make_toy_corpus()


@pytest.fixture(scope="session")
def wiki() -> Corpus:
    """The embedded corpus: 9,033 Wikipedia lead summaries in 11 topics."""
    from textembed_utils.corpora import load_corpus

    return load_corpus("wiki")
