"""The MTEB P2P clustering data sets of the paper (arXiv, bioRxiv, medRxiv, Reddit, StackExchange).

We load exactly the Hugging Face dataset path and revision that mteb's own task
metadata pins, so our texts are the ones MTEB evaluates on. These v1 ("legacy")
data sets store a ``test`` split whose rows are *groups*: ``sentences`` (texts)
and ``labels`` (one per text). The same paper appears in several groups, so we
flatten all groups and keep each (text, label) pair once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..errors import TextembedError
from .base import Corpus

TASKS = {
    "arxiv": "ArxivClusteringP2P",
    "biorxiv": "BiorxivClusteringP2P",
    "medrxiv": "MedrxivClusteringP2P",
    "reddit": "RedditClusteringP2P",
    "stackexchange": "StackExchangeClusteringP2P",
}
# The subsample sizes of the paper's Fig. 3 (pass as ``max_texts``).
PAPER_SUBSAMPLE = {"reddit": 73_041, "biorxiv": 24_347, "arxiv": 29_216}
SPLIT = "test"


def short_name(name: str) -> str:
    """Our short name ("arxiv") for a short name or an mteb task name ("ArxivClusteringP2P")."""
    for short, task in TASKS.items():
        if name in (short, task):
            return short
    raise TextembedError(
        f"Unknown MTEB P2P data set '{name}'.",
        f"use one of {', '.join(TASKS)} (or the mteb names {', '.join(TASKS.values())}).",
    )


def pinned_dataset(name: str) -> tuple[str, str]:
    """(dataset path, revision) that mteb pins for the task ``name`` (short or mteb name)."""
    import mteb  # slow (~5-10 s): only when an MTEB corpus is asked for

    dataset = mteb.get_task(TASKS[short_name(name)]).metadata.dataset
    return dataset["path"], dataset["revision"]


def flatten_groups(split: Any) -> tuple[list[str], list[str]]:
    """Texts and labels of all groups of a legacy clustering split, duplicates dropped.

    ``split`` is anything with ``split["sentences"]`` and ``split["labels"]`` columns
    (a ``datasets.Dataset``); a row holding a single text instead of a list counts
    as a group of one. Order is kept: first occurrence wins.
    """
    seen: set[tuple[str, str]] = set()
    texts: list[str] = []
    labels: list[str] = []
    for group_texts, group_labels in zip(split["sentences"], split["labels"]):
        if isinstance(group_texts, str):
            group_texts, group_labels = [group_texts], [group_labels]
        for text, label in zip(group_texts, group_labels):
            pair = (text, str(label))
            if pair not in seen:
                seen.add(pair)
                texts.append(text)
                labels.append(pair[1])
    return texts, labels


def load_mteb_p2p(
    name: str,
    max_texts: int | None = None,
    seed: int = 42,
    load_fn: Callable[..., Iterable] | None = None,
) -> Corpus:
    """The flattened ``test`` split of an MTEB P2P data set, optionally subsampled.

    ``max_texts`` draws a seeded random subset (the paper's sizes are in
    ``PAPER_SUBSAMPLE``). ``load_fn`` replaces ``datasets.load_dataset`` in tests.
    """
    short = short_name(name)
    path, revision = pinned_dataset(short)
    if load_fn is None:
        from datasets import load_dataset as load_fn
    try:
        split = load_fn(path, revision=revision, split=SPLIT)
    except (ConnectionError, TimeoutError) as exc:
        raise TextembedError(
            f"Could not load {path}@{revision[:8]} from the Hugging Face hub ({exc}): "
            "this data set needs internet.",
            "use the paper profile on a machine with internet (the download is cached, "
            "so later runs work offline).",
        ) from exc
    texts, labels = flatten_groups(split)
    corpus = Corpus(
        name=short,
        texts=texts,
        labels=labels,
        source=f"hf://datasets/{path}@{revision}",
        info={"mteb_task": TASKS[short], "path": path, "revision": revision, "split": SPLIT},
    )
    return corpus.subset(max_texts, seed=seed)
