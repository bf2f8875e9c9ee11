"""Encoding texts to vectors: length-sorted batches, per-batch padding, inference mode.

Sorting by token length before batching means each batch pads only to its own
longest text, which is where most of the speed over naive batching comes from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..models import TextEncoder


def _length_order(encoder: TextEncoder, texts: Sequence[str], max_length: int) -> np.ndarray:
    """Indices of ``texts`` from longest to shortest (in tokens, after truncation)."""
    lengths = encoder.tokenizer(
        list(texts), truncation=True, max_length=max_length,
        add_special_tokens=encoder.kind == "transformer", return_length=True,
    )["length"]
    return np.argsort(-np.asarray(lengths), kind="stable")


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
) -> np.ndarray:
    """Embed ``texts``: (n, dim), or (layers + 1, n, dim) with ``all_layers``.

    Raw (non-normalised) vectors by default, as the paper's Euclidean kNN uses.
    Runs on the encoder's device, in eval mode, in bf16 autocast on CUDA.
    """
    if len(texts) == 0:
        shape = (encoder.num_layers + 1, 0, encoder.hidden_size) if all_layers else (0, encoder.hidden_size)
        return np.zeros(shape, dtype=np.float32)
    max_length = max_length or encoder.max_length
    if encoder.is_static:  # a look-up and a mean, tokenised once, no padding (models.static)
        vectors = encoder.encode_static(texts, max_length, progress=progress, desc=desc)
        vectors = (torch.nn.functional.normalize(vectors, dim=-1) if normalize else vectors).cpu().numpy()
        return vectors[None] if all_layers else vectors
    was_training = encoder.training
    encoder.eval()
    device = encoder.device
    order = _length_order(encoder, texts, max_length)
    chunks = []
    starts = range(0, len(texts), batch_size)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    for start in tqdm(starts, desc=desc, disable=not progress, leave=False):
        idx = order[start : start + batch_size]
        batch = encoder.tokenize([texts[i] for i in idx], max_length=max_length)
        ids = batch["input_ids"].to(device, non_blocking=True)
        mask = batch["attention_mask"].to(device, non_blocking=True)
        with autocast:
            out = encoder.layer_embeddings(ids, mask) if all_layers else encoder(ids, mask)
        chunks.append(out.float())
    encoder.train(was_training)
    axis = 1 if all_layers else 0
    stacked = torch.cat(chunks, dim=axis) if chunks else torch.empty(0)
    if normalize:
        stacked = torch.nn.functional.normalize(stacked, dim=-1)
    result = np.empty_like(stacked.cpu().numpy())
    if all_layers:
        result[:, order] = stacked.cpu().numpy()
    else:
        result[order] = stacked.cpu().numpy()
    return result
