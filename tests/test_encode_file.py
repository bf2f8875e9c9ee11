"""Embeddings written slice by slice into a .npy file (issue 14: large corpora in bounded memory)."""

from __future__ import annotations

import numpy as np
import pytest

from textembed_utils.evaluation import encode
from textembed_utils.evaluation.encode_file import StoredRows, encode_in_slices, encode_to_npy


@pytest.mark.parametrize("model", ["tiny_encoder", "tiny_bare"])
def test_slices_give_the_rows_encode_gives(request, toy_corpus, tmp_path, model):
    encoder = request.getfixturevalue(model)
    path = tmp_path / "v.npy"
    shape = encode_to_npy(encoder, toy_corpus.texts, path, batch_size=8, slice_texts=7, progress=False)
    written = np.load(path)
    assert shape == written.shape == (len(toy_corpus), encoder.hidden_size) and written.dtype == np.float32
    np.testing.assert_allclose(written, encode(encoder, toy_corpus.texts, batch_size=8, progress=False), atol=1e-5)


def test_one_array_filled_slice_by_slice_equals_encode(tiny_encoder, toy_corpus):
    whole = encode_in_slices(tiny_encoder, toy_corpus.texts, batch_size=8, slice_texts=5, progress=False)
    assert whole.dtype == np.float32 and whole.shape == (len(toy_corpus), tiny_encoder.hidden_size)
    np.testing.assert_allclose(whole, encode(tiny_encoder, toy_corpus.texts, batch_size=8, progress=False), atol=1e-5)


def test_normalized_rows_have_unit_length(tiny_bare, toy_corpus, tmp_path):
    encode_to_npy(tiny_bare, toy_corpus.texts, tmp_path / "v.npy", normalize=True, slice_texts=10, progress=False)
    np.testing.assert_allclose(np.linalg.norm(np.load(tmp_path / "v.npy"), axis=1), 1.0, atol=1e-5)


def test_an_interruption_mid_corpus_leaves_no_file(tiny_bare, toy_corpus, tmp_path, monkeypatch):
    import textembed_utils.evaluation.encode_file as encode_file

    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return encode(*args, **kwargs)

    monkeypatch.setattr(encode_file, "encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        encode_to_npy(tiny_bare, toy_corpus.texts, tmp_path / "v.npy", slice_texts=10, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_stored_rows_are_the_files_rows_in_the_order_asked(tmp_path):
    matrix = np.random.default_rng(0).standard_normal((1000, 7)).astype(np.float32)
    for version in ((1, 0), (2, 0)):
        path = tmp_path / f"m{version[0]}.npy"
        with open(path, "wb") as fh:
            np.lib.format.write_array(fh, matrix, version=version)
        stored = StoredRows(path)
        rows = np.array([999, 3, 3, 0, 512])
        assert stored.shape == (1000, 7) and len(stored) == 1000
        np.testing.assert_array_equal(stored[rows], matrix[rows])
        assert stored[[]].shape == (0, 7)
        stored.close()
    np.save(tmp_path / "v.npy", np.arange(5.0))
    with pytest.raises(ValueError, match="1-D array"):
        StoredRows(tmp_path / "v.npy")
