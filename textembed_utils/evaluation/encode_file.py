"""Embeddings of a large corpus, slice by slice: into a ``.npy`` file or one array, in bounded memory.

``encode`` holds every text's tokens and two copies of every vector at once; for
a corpus of hundreds of thousands of texts that is several times the result.
``encode_slices`` runs it on slices of ``SLICE_TEXTS`` texts in turn.
``encode_to_npy`` appends each slice's rows to a file after a ``.npy`` header
written with ``numpy.lib.format``, so memory holds one slice's work whatever the
corpus size; ``encode_in_slices`` fills one array (the result plus one slice).
A memory map from ``open_memmap`` would avoid the copy too, but the pages written
into it count as the process's resident memory until the kernel writes them
back, so its peak RSS would still grow with the result. Within a slice
``encode`` sorts texts by length, which is where its speed comes from; slices of
16k texts pad about as little as the whole corpus would. The file is staged and
renamed into place (``atomic_path``): an interrupted run leaves no truncated
``.npy``. With ``distributed=True`` under ``torchrun`` each rank encodes its share
of every slice (``encode``'s ``distributed``) and rank 0 alone writes the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

import numpy as np

from ..atomic import atomic_path
from ..models import TextEncoder
from ..training.distributed import join_process_group
from .encode import encode

SLICE_TEXTS = 16_384


def encode_slices(
    encoder: TextEncoder, texts: Sequence[str], *, batch_size: int = 64, normalize: bool = False,
    progress: bool = True, slice_texts: int = SLICE_TEXTS, distributed: bool = False, precision: str = "fp32",
) -> Iterator[np.ndarray]:
    """The float32 embeddings of ``texts`` in order, one slice of at most ``slice_texts`` rows at a time.

    ``precision`` is ``encode``'s: the arithmetic of the forward passes, the result is float32 either way.
    """
    slices = range(0, len(texts), slice_texts)
    for number, start in enumerate(slices, start=1):
        vectors = encode(encoder, texts[start : start + slice_texts], batch_size=batch_size, normalize=normalize,
                         progress=progress, desc=f"Encoding {number}/{len(slices)}", distributed=distributed,
                         precision=precision)
        yield np.ascontiguousarray(vectors, dtype=np.float32)


def encode_to_npy(
    encoder: TextEncoder, texts: Sequence[str], path: str | os.PathLike, **options,
) -> tuple[int, int]:
    """Write the (n, dim) float32 embeddings of ``texts`` to ``path``, row i for text i; return the shape.

    ``options`` are those of ``encode_slices`` (batch size, normalisation, progress, slice size).
    """
    shape = (len(texts), encoder.hidden_size)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": shape}
    main = not options.get("distributed") or join_process_group().is_main
    target = atomic_path(path) if main else contextlib.nullcontext(os.devnull)  # the other ranks write nothing
    with target as staged, open(staged, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for vectors in encode_slices(encoder, texts, **options):
            fh.write(vectors.tobytes())
    return shape


class StoredRows:
    """Rows of a 2-D ``.npy`` file read on demand with positioned reads (``os.pread``), not a memory map.

    A scattered sample through ``np.load(mmap_mode="r")`` is not cheap in memory: each
    page fault reads ahead around the row, and those file pages count as resident
    memory. Measured: 2,000 random rows of a 732 MB embeddings file (500,000 texts)
    took 725 MB of RSS through a memory map; read here they take the rows' 3 MB.
    """

    def __init__(self, path: str | os.PathLike):
        self._file = open(path, "rb")
        version = np.lib.format.read_magic(self._file)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran_order, self.dtype = read_header(self._file)
        if len(shape) != 2 or fortran_order:
            raise ValueError(f"{path} holds a {len(shape)}-D array in {'Fortran' if fortran_order else 'C'} order; "
                             "expected the 2-D C-order matrix that encode_to_npy writes.")
        self.shape = shape
        self._start = self._file.tell()
        self._row_bytes = shape[1] * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The rows ``rows`` (in that order) as one array."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        fd = self._file.fileno()
        for k, row in enumerate(rows):
            out[k] = np.frombuffer(os.pread(fd, self._row_bytes, self._start + int(row) * self._row_bytes),
                                   dtype=self.dtype)
        return out

    def close(self) -> None:
        self._file.close()


def encode_in_slices(encoder: TextEncoder, texts: Sequence[str], **options) -> np.ndarray:
    """The (n, dim) float32 embeddings of ``texts`` in one array, filled slice by slice.

    Memory: the result plus one slice's work, where ``encode`` on all texts at once
    also holds every text's tokens and a second copy of the vectors.
    """
    result = np.empty((len(texts), encoder.hidden_size), dtype=np.float32)
    start = 0
    for vectors in encode_slices(encoder, texts, **options):
        result[start : start + len(vectors)] = vectors
        start += len(vectors)
    return result


__all__ = ["SLICE_TEXTS", "StoredRows", "encode_in_slices", "encode_slices", "encode_to_npy"]
