"""The crop rule made visible (augment.anatomy) and a masked view of one text (augment.masking)."""

from __future__ import annotations

import pytest

from textembed_utils.augment import anatomy, crop_windows, example_text, masked_view, windows_histogram

LONG = "x" * 120
TEXT = f"{LONG} one. Short bit. {LONG} two. {LONG} three"


def test_anatomy_shows_every_raw_piece_and_the_windows_the_sampler_uses():
    cut = anatomy(TEXT, n_sentences=1)
    table = cut.pieces_table()
    assert table["kept"].tolist() == [True, False, True, True]
    assert table["characters"].tolist() == [len(p) for p in TEXT.split(".")]
    assert list(cut.windows) == crop_windows(TEXT, 1)  # exactly the sampler's windows
    assert len(anatomy(TEXT, n_sentences=2).windows) == 2


def test_example_text_prefers_the_asked_number_of_windows_then_any_croppable_text():
    two = f"{LONG} a. {LONG} b"
    assert example_text(["nothing here", two, TEXT], n_sentences=1, windows=3) == TEXT
    assert example_text(["nothing here", two], n_sentences=1, windows=3) == two
    with pytest.raises(ValueError, match="no text"):
        example_text(["nothing here"], n_sentences=1)


def test_windows_histogram_counts_texts_by_their_number_of_windows():
    counts = windows_histogram([TEXT, f"{LONG} a. {LONG} b", "short"], n_sentences=1)
    assert counts.to_dict() == {0: 1, 2: 1, 3: 1}


def test_a_masked_view_masks_about_the_asked_fraction_and_is_seeded(tiny_bare):
    tokenizer = tiny_bare.tokenizer
    text = "the quick brown fox jumps over the lazy dog " * 10
    view = masked_view(tokenizer, text, 0.3, seed=1)
    share = view.split().count("[MASK]") / len(view.split())
    assert 0.15 < share < 0.45
    assert view == masked_view(tokenizer, text, 0.3, seed=1) != masked_view(tokenizer, text, 0.3, seed=2)
    assert "[MASK]" not in masked_view(tokenizer, text, 0.0)
