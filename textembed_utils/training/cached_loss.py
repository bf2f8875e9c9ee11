"""The cached (GradCache) loss: a batch larger than memory, with the loss and gradients of one pass.

InfoNCE needs the whole batch's vectors at once, so its memory grows with the
batch. GradCache (Gao et al. 2021, "Scaling deep contrastive learning batch size
under memory limited setup"; sentence-transformers'
``CachedMultipleNegativesRankingLoss``) cuts the graph at the pooled vectors:

1. embed the batch in mini-batches *without* a graph, recording the random state
   before each one;
2. compute the loss on all vectors and its gradient with respect to the vectors
   only (cheap: no encoder graph behind them);
3. replay each mini-batch *with* a graph, under the random state recorded for it
   (so dropout draws the same masks as in step 1: the dropout augmentation's pair
   stays the pair the loss saw), and back-propagate the cached gradient of its
   vectors into the weights.

By the chain rule the weights' gradient is that of the whole batch in one pass;
memory holds one mini-batch's activations; the price is one extra forward pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from .rng import rng_state, set_rng_state


def cached_backward(
    embed_chunk: Callable[[int], torch.Tensor],
    chunks: int,
    loss_of: Callable[[list[torch.Tensor]], torch.Tensor],
    no_sync: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> torch.Tensor:
    """Back-propagate ``loss_of([embed_chunk(0), …, embed_chunk(chunks − 1)])`` one chunk's graph at a time.

    ``embed_chunk(c)`` returns the float vectors of mini-batch ``c`` (it must draw
    its randomness from torch's generators only); ``loss_of`` maps the list of
    chunk vectors to the scalar loss. ``no_sync`` is DDP's context that defers the
    gradient all-reduce: every replay but the last accumulates locally. Returns
    the detached loss; the gradients are left in the parameters' ``.grad``.
    """
    states, cached = [], []
    with torch.no_grad():
        for chunk in range(chunks):
            states.append(rng_state())
            cached.append(embed_chunk(chunk))
    leaves = [vectors.detach().requires_grad_() for vectors in cached]
    loss = loss_of(leaves)
    loss.backward()
    # The last replay leaves the generators where step 1 left them: the next step draws as without caching.
    for chunk, leaf in enumerate(leaves):
        set_rng_state(states[chunk])
        with no_sync() if chunk < chunks - 1 else contextlib.nullcontext():
            embed_chunk(chunk).backward(leaf.grad)
    return loss.detach()
