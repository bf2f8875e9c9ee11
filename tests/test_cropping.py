"""Cropping exactly as the authors' code: split on '.', keep raw pieces of 100–250 characters, slide windows.

Every window is its sentences, each stripped and followed by ". " (the last one
too): the authors' strings, character for character.
"""

from __future__ import annotations

import pytest

from textembed_utils.augment import crop_windows, split_sentences
from textembed_utils.augment.cropping import windows_per_text
from textembed_utils.errors import TextembedError


def sentence(length: int, letter: str = "a") -> str:
    """A sentence piece of exactly ``length`` characters with no '.' in it."""
    return (letter * length)[:length]


def text_of(*pieces: str) -> str:
    """Pieces joined the way the naive split will take them apart again."""
    return ".".join(pieces) + "."


def test_naive_split_is_str_split_on_dot():
    text = "One. Two e.g. three.  Four"
    assert split_sentences(text) == text.split(".")


def test_length_bounds_are_inclusive_and_measured_before_strip():
    keep_99_plus_space = " " + sentence(99, "b")  # 100 raw characters, 99 after strip: kept
    pieces = [sentence(99, "a"), sentence(100, "c"), sentence(250, "d"), sentence(251, "e"), keep_99_plus_space]
    windows = crop_windows(text_of(*pieces), n_sentences=1)
    assert windows == [f"{sentence(100, 'c')}. ", f"{sentence(250, 'd')}. ", f"{sentence(99, 'b')}. "]


def test_stripped_sentence_of_250_plus_spaces_is_dropped():
    # 248 letters + 3 spaces = 251 raw characters: too long although only 248 after strip.
    assert crop_windows(text_of("  " + sentence(248) + " ", sentence(120, "x")), 1) == [f"{sentence(120, 'x')}. "]


def test_windows_join_consecutive_kept_sentences_and_overlap():
    a, b, c, d = (sentence(120, letter) for letter in "abcd")
    short = "Too short"
    windows = crop_windows(text_of(a, short, b, c, short, d), n_sentences=2)
    # Failing sentences are skipped: windows run over *kept* sentences, neighbours share one.
    assert windows == [f"{a}. {b}. ", f"{b}. {c}. ", f"{c}. {d}. "]
    assert crop_windows(text_of(a, b, c, d), n_sentences=3) == [f"{a}. {b}. {c}. ", f"{b}. {c}. {d}. "]
    assert crop_windows(text_of(a, b, c, d), n_sentences=4) == [f"{a}. {b}. {c}. {d}. "]
    assert crop_windows(text_of(a, b, c, d), n_sentences=5) == []


def test_a_written_out_text_gives_the_authors_windows():
    # Two kept sentences with inner spaces, one too short between them, a trailing piece of spaces.
    first = "The river rises in the northern hills and flows south through three towns before it reaches the coast"
    second = "Its lower valley was settled early, and the old mill at the ford still stands beside the stone bridge"
    text = f"{first}. Too short. {second}.  "
    assert crop_windows(text, 1) == [
        "The river rises in the northern hills and flows south through three towns before it reaches the coast. ",
        "Its lower valley was settled early, and the old mill at the ford still stands beside the stone bridge. ",
    ]
    assert crop_windows(text, 2) == [
        "The river rises in the northern hills and flows south through three towns before it reaches the coast. "
        "Its lower valley was settled early, and the old mill at the ford still stands beside the stone bridge. "
    ]


def authors_windows(text: str, n: int) -> list[str]:
    """The authors' rule as the paper's method describes it, written independently of ``crop_windows``.

    From every raw piece that passes the length rule, walk forward collecting
    passing pieces (each stripped, then ". ") until ``n`` are collected; a start
    with fewer than ``n`` passing pieces after it makes no window.
    """
    pieces = text.split(".")
    passing = [100 <= len(piece) <= 250 for piece in pieces]
    windows = []
    for start, ok in enumerate(passing):
        if not ok:
            continue
        collected = [pieces[j].strip() + ". " for j in range(start, len(pieces)) if passing[j]][:n]
        if len(collected) == n:
            windows.append("".join(collected))
    return windows


@pytest.mark.parametrize("n", [1, 2])
def test_every_wiki_window_is_the_authors_string(wiki, n):
    for text in wiki.texts:
        assert crop_windows(text, n) == authors_windows(text, n)


def test_wiki_text_0_window_ends_with_its_full_stop(wiki):
    windows = crop_windows(wiki.texts[0], 1)
    assert windows and all(window.endswith(". ") for window in windows)


def test_window_count_is_kept_minus_n_plus_one():
    text = text_of(*(sentence(150, letter) for letter in "abcdefg"))
    for n in range(1, 9):
        assert len(crop_windows(text, n)) == max(0, 7 - n + 1)


def test_regex_splitter_keeps_abbreviations_and_decimals_inside_a_sentence():
    first = "The value rose to 3.5 units, e.g. in the U.S. and elsewhere, " + "x" * 60
    second = "Then it fell again over many years of careful observation by " + "y" * 60
    text = f"{first}. {second}."
    assert len(crop_windows(text, 1, splitter="naive")) < 2
    assert crop_windows(text, 1, splitter="regex") == [f"{first}. ", f"{second}. "]


@pytest.mark.parametrize("bad", [0, -1])
def test_n_sentences_below_one_is_an_error(bad):
    with pytest.raises(TextembedError, match="n_sentences"):
        crop_windows("anything", bad)


def test_unknown_splitter_is_an_error():
    with pytest.raises(TextembedError, match="naive, regex"):
        split_sentences("text", "spacy")


def test_texts_with_one_window_are_dropped_and_counted():
    two = text_of(sentence(120, "a"), sentence(130, "b"))
    one = text_of(sentence(120, "c"))
    none = "Short. Texts. Only."
    kept, stats = windows_per_text([two, one, none, two], n_sentences=1)
    assert kept == [[f"{sentence(120, 'a')}. ", f"{sentence(130, 'b')}. "]] * 2
    assert (stats.texts, stats.croppable, stats.dropped, stats.n_sentences) == (4, 2, 2, 1)
    assert "2 of 4 texts" in stats.describe() and "2 dropped" in stats.describe()


def test_no_croppable_text_names_the_fix():
    with pytest.raises(TextembedError) as err:
        windows_per_text(["Short. Texts. Only.", text_of(sentence(120))], n_sentences=1)
    assert "0 of 2 texts" in err.value.problem
    assert "n_sentences" in err.value.fix and "masking" in err.value.fix


@pytest.mark.parametrize(("n", "croppable"), [(1, 6257), (2, 3314), (3, 1312)])
def test_wiki_croppable_counts(wiki, n, croppable):
    _, stats = windows_per_text(wiki.texts, n_sentences=n)
    assert (stats.texts, stats.croppable) == (9033, croppable)
