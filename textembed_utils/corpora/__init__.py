"""Texts and labels: the corpora of the paper and your own files, behind one name.

``load_corpus("wiki")``, ``load_corpus("iclr")``, ``load_corpus("docstrings")``,
``load_corpus("arxiv")`` (or biorxiv, medrxiv, reddit, stackexchange), or
``load_corpus("my_texts.csv", label_column="topic")``; each returns a ``Corpus``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from ..errors import TextembedError
from .base import Corpus
from .docstrings import load_docstrings
from .iclr import load_iclr
from .mteb_p2p import TASKS as MTEB_TASKS
from .mteb_p2p import load_mteb_p2p
from .user_file import SUPPORTED, load_user_file
from .wiki import load_wiki

LOADERS: dict[str, Callable[..., Corpus]] = {
    "wiki": load_wiki,
    "iclr": load_iclr,
    "docstrings": load_docstrings,
    **{name: partial(load_mteb_p2p, name) for name in MTEB_TASKS},
}


def load_corpus(name_or_path: str, **kwargs) -> Corpus:
    """The corpus called ``name_or_path``, or the file at that path.

    A known name wins; otherwise a string with a supported extension, or one that
    names an existing file, is read by ``load_user_file`` (which explains any
    problem with the file). ``kwargs`` go to the loader.
    """
    if name_or_path in LOADERS:
        return LOADERS[name_or_path](**kwargs)
    if Path(name_or_path).suffix.lower() in SUPPORTED or Path(name_or_path).exists():
        return load_user_file(name_or_path, **kwargs)
    raise TextembedError(
        f"Unknown corpus '{name_or_path}': neither a known name nor an existing file.",
        f"use one of {', '.join(LOADERS)}, or the path of a {'/'.join(SUPPORTED)} file.",
    )


__all__ = [
    "Corpus",
    "LOADERS",
    "load_corpus",
    "load_docstrings",
    "load_iclr",
    "load_mteb_p2p",
    "load_user_file",
    "load_wiki",
]
