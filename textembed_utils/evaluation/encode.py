"""Encoding texts to vectors: length-sorted batches, per-batch padding, inference mode.

Sorting by token length before batching means each batch pads only to its own
longest text, which is where most of the speed over naive batching comes from.
Under ``torchrun``, ``distributed=True`` deals those batches out to the ranks in
turn and gathers the vectors back in corpus order: each text is encoded in the
same batch as in one process, so the result is the single-process one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..models import TextEncoder
from ..training.distributed import World, gather_rows, join_process_group
from ..training.precision import autocast, resolve_precision


def _length_order(encoder: TextEncoder, texts: Sequence[str], max_length: int) -> np.ndarray:
    """Indices of ``texts`` from longest to shortest (in tokens, after truncation)."""
    lengths = encoder.tokenizer(
        list(texts), truncation=True, max_length=max_length,
        add_special_tokens=encoder.kind == "transformer", return_length=True,
    )["length"]
    return np.argsort(-np.asarray(lengths), kind="stable")


def _no_vectors_shape(encoder: TextEncoder, all_layers: bool) -> tuple[int, ...]:
    return (encoder.num_layers + 1, 0, encoder.hidden_size) if all_layers else (0, encoder.hidden_size)


@torch.inference_mode()
def encode(
    encoder: TextEncoder,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int | None = None,
    all_layers: bool = False,
    normalize: bool = False,
    progress: bool = True,
    desc: str = "Encoding",
    distributed: bool = False,
    precision: str = "fp32",
) -> np.ndarray:
    """Embed ``texts``: (n, dim), or (layers + 1, n, dim) with ``all_layers``.

    Raw (non-normalised) vectors by default, as the paper's Euclidean kNN uses.
    Runs on the encoder's device, in eval mode, in fp32 unless asked otherwise:
    ``precision`` is as in training (``training.precision``), ``auto`` being bf16
    autocast on CUDA and on CPUs that multiply bf16 natively. The book encodes
    with its profile's precision; benchmarks/bench_encode_precision.py measures
    what bf16 does to kNN on the wiki corpus. A static model is always fp32.
    ``distributed=True`` in a ``torchrun`` process group: every rank must call
    it with the same texts; each encodes its share and all get the whole result.
    """
    if len(texts) == 0:
        return np.zeros(_no_vectors_shape(encoder, all_layers), dtype=np.float32)
    max_length = max_length or encoder.max_length
    if encoder.is_static:  # a look-up and a mean, tokenised once, no padding (models.static); every rank does all
        vectors = encoder.encode_static(texts, max_length, progress=progress, desc=desc)
        vectors = (torch.nn.functional.normalize(vectors, dim=-1) if normalize else vectors).cpu().numpy()
        return vectors[None] if all_layers else vectors
    was_training = encoder.training
    encoder.eval()
    device = encoder.device
    order = _length_order(encoder, texts, max_length)
    here = join_process_group() if distributed else World()
    # Dealt out in turn, so that every rank gets long and short batches alike.
    batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
    shares = [batches[rank :: here.size] for rank in range(here.size)]
    chunks = []
    arithmetic = autocast(resolve_precision(precision, device), device)
    for idx in tqdm(shares[here.rank], desc=desc, disable=not (progress and here.is_main), leave=False):
        batch = encoder.tokenize([texts[i] for i in idx], max_length=max_length)
        ids = batch["input_ids"].to(device, non_blocking=True)
        mask = batch["attention_mask"].to(device, non_blocking=True)
        with arithmetic:
            out = encoder.layer_embeddings(ids, mask) if all_layers else encoder(ids, mask)
        chunks.append(out.float())
    encoder.train(was_training)
    axis = 1 if all_layers else 0
    if not chunks:  # a rank with no batch (more ranks than batches) still joins the gather
        chunks = [torch.zeros(_no_vectors_shape(encoder, all_layers), device=device)]
    stacked = torch.cat(chunks, dim=axis)
    if here.distributed:
        counts = [sum(len(idx) for idx in share) for share in shares]
        stacked = gather_rows(stacked.movedim(axis, 0), counts).movedim(0, axis)
        order = np.concatenate([idx for share in shares for idx in share])
    if normalize:
        stacked = torch.nn.functional.normalize(stacked, dim=-1)
    result = np.empty_like(stacked.cpu().numpy())
    if all_layers:
        result[:, order] = stacked.cpu().numpy()
    else:
        result[order] = stacked.cpu().numpy()
    return result
