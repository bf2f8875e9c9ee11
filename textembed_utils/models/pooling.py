"""Pooling token states into one text vector (paper §A.1, Fig. S1a).

- ``mean``: masked mean over all real tokens, [CLS] and [SEP] included (default);
- ``cls``: the first token;
- ``sep``: the last real token ([SEP]/[EOS]);
- ``token<k>``: the token at position k, counting [CLS] as position 0 — the k-th
  token after [CLS]. ``token7`` is the paper's "7th token": the authors'
  ``seventh_pool`` reads index 7. A text with no position k (k or fewer tokens
  after [CLS]) gets its last real token ([SEP]); the authors' code reads
  position 7 regardless, a padding state that depends on the rest of the batch,
  so the book's choice is a stated deviation for texts that short.
"""

from __future__ import annotations

import re

import torch

from ..errors import TextembedError

POOLINGS = ("mean", "cls", "sep", "token<k>")
_KTH = re.compile(r"^token([1-9]\d*)$")  # token0 would be [CLS]: written "cls"

# How each pooling is written in a SentenceTransformer folder (1_Pooling/config.json).
ST_POOLING_MODES = {"mean": "mean", "cls": "cls", "sep": "lasttoken"}


def check_pooling(pooling: str) -> str:
    """Return ``pooling`` if valid, else raise a clear error listing the choices."""
    if pooling in ("mean", "cls", "sep") or _KTH.match(pooling):
        return pooling
    raise TextembedError(
        f"Unknown pooling '{pooling}'.", "use mean, cls, sep or token<k> (e.g. token7)."
    )


def pool(states: torch.Tensor, attention_mask: torch.Tensor, pooling: str = "mean") -> torch.Tensor:
    """Pool ``states`` (batch, tokens, dim) under ``attention_mask`` (batch, tokens)."""
    mask = attention_mask.to(states.dtype)
    if pooling == "mean":
        summed = (states * mask.unsqueeze(-1)).sum(dim=1)
        return summed / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
    rows = torch.arange(states.shape[0], device=states.device)
    last = attention_mask.sum(dim=1).long().clamp(min=1) - 1
    if pooling == "cls":
        return states[:, 0]
    if pooling == "sep":
        return states[rows, last]
    match = _KTH.match(pooling)
    if match:
        return states[rows, torch.clamp(last, max=int(match.group(1)))]
    check_pooling(pooling)
    raise AssertionError("unreachable")
