"""Encoding texts to vectors: one tokenisation, length-sorted batches, per-batch padding, inference mode.

The texts are tokenised once (``TextEncoder.token_ids``, the Rust tokenizer on
torch's threads); their lengths give the order and the same ids are padded batch
by batch. Sorting by token length before batching means each batch pads only to
its own longest text, which is where most of the speed over naive batching comes from.
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
    # Tokenised once: the lengths give the order, the same ids are padded batch by batch.
    token_ids = encoder.token_ids(texts, max_length)
    order = np.argsort(-np.fromiter(map(len, token_ids), dtype=np.int64, count=len(token_ids)), kind="stable")
    here = join_process_group() if distributed else World()
    # Dealt out in turn, so that every rank gets long and short batches alike.
    batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
    shares = [batches[rank :: here.size] for rank in range(here.size)]
    chunks = []
    arithmetic = autocast(resolve_precision(precision, device), device)
    for idx in tqdm(shares[here.rank], desc=desc, disable=not (progress and here.is_main), leave=False):
        ids, mask = encoder.pad([token_ids[i] for i in idx])
        ids, mask = ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)
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
