"""The bare token-embedding model of the paper's §3.4.

A token embedding matrix and a pooling, no position embeddings, no transformer.
Written by hand because no library ships it as a trainable module with
per-batch padding; it saves as sentence-transformers' ``StaticEmbedding`` (an
``EmbeddingBag`` mean), so the result loads with ``SentenceTransformer(folder)``.
"""

from __future__ import annotations

import torch
from torch import nn


class BareEmbedding(nn.Module):
    """Token embeddings with optional dropout on them (the "dropout" augmentation).

    The paper gives no placement for dropout in this model; dropout on the token
    embeddings before pooling is the natural reading (stated in the book).
    """

    def __init__(self, vocab_size: int, dim: int, dropout: float = 0.1, pad_token_id: int = 0):
        super().__init__()
        self.embeddings = nn.Embedding(vocab_size, dim, padding_idx=None)
        nn.init.normal_(self.embeddings.weight, std=1.0)
        self.dropout = nn.Dropout(dropout)
        self.pad_token_id = pad_token_id
        self.dim = dim

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Token states (batch, tokens, dim)."""
        return self.dropout(self.embeddings(input_ids))
