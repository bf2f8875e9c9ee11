"""The embedded wiki corpus: size, classes and a stable order; a copy of its file where the package is absent."""

import shutil

import pytest

from textembed_utils.corpora import load_corpus
from textembed_utils.corpora.wiki import WIKI_FILE_VARIABLE, load_wiki, wiki_json_path
from textembed_utils.errors import TextembedError


def test_wiki_has_9033_texts_in_11_topics():
    corpus = load_wiki()
    counts = corpus.class_counts()
    assert len(corpus) == 9033
    assert len(counts) == 11
    assert "Uncategorized" not in counts
    assert counts["People"] == 1828
    assert all(text and text == text.strip() for text in corpus.texts)
    assert "CC BY-SA 4.0" in corpus.info["license"]


def test_wiki_is_deterministic_and_reachable_by_name():
    first, second = load_wiki(), load_corpus("wiki")
    assert first.fingerprint() == second.fingerprint()
    assert first.texts[0].startswith("1 is a number")  # sorted by title: "1" comes first


def test_a_named_copy_of_the_summaries_file_stands_in_for_the_package(tmp_path, monkeypatch):
    copy = shutil.copy(wiki_json_path(), tmp_path / "summaries.json")
    monkeypatch.setenv(WIKI_FILE_VARIABLE, str(copy))
    assert load_wiki().source == str(copy)
    monkeypatch.setenv(WIKI_FILE_VARIABLE, str(tmp_path / "missing.json"))
    with pytest.raises(TextembedError, match="names no file"):
        load_wiki()
