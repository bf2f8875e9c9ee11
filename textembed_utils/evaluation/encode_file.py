"""Embeddings of a large corpus written straight into a ``.npy`` file, in bounded memory.

``encode`` keeps every vector of its texts (and their tokenisation) in memory at
once; for a corpus of hundreds of thousands of texts that is several times the
size of the result. ``encode_to_npy`` encodes the texts in slices of
``SLICE_TEXTS`` and appends each slice's rows to the file after a ``.npy``
header written with ``numpy.lib.format``, so memory holds one slice's work
whatever the corpus size. (A memory map from ``open_memmap`` would do the same,
but the pages written into it count as the process's resident memory until the
kernel writes them back, so its peak RSS would still grow with the result.)
Within a slice ``encode`` sorts texts by length, which is where its speed comes
from; slices of 16k texts pad about as little as the whole corpus would. The file
is staged and renamed into place (``atomic_path``): an interrupted run leaves no
truncated ``.npy``.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..atomic import atomic_path
from ..models import TextEncoder
from .encode import encode

SLICE_TEXTS = 16_384


def encode_to_npy(
    encoder: TextEncoder,
    texts: Sequence[str],
    path: str | os.PathLike,
    *,
    batch_size: int = 64,
    normalize: bool = False,
    progress: bool = True,
    slice_texts: int = SLICE_TEXTS,
) -> tuple[int, int]:
    """Write the (n, dim) float32 embeddings of ``texts`` to ``path``, row i for text i; return the shape."""
    shape = (len(texts), encoder.hidden_size)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": shape}
    with atomic_path(path) as staged, open(staged, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        slices = range(0, len(texts), slice_texts)
        for number, start in enumerate(slices, start=1):
            vectors = encode(encoder, texts[start : start + slice_texts], batch_size=batch_size, normalize=normalize,
                             progress=progress, desc=f"Encoding {number}/{len(slices)}")
            fh.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return shape


__all__ = ["SLICE_TEXTS", "encode_to_npy"]

